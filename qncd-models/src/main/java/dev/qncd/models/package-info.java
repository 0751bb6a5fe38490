/**
 * Diffusion model architectures built from DJL blocks, with parameter names that map 1:1 to the
 * original checkpoints' keys; noise schedules, samplers and pipelines. Filled by the model issues
 * (DDIM CIFAR-10 UNet first); this module depends only on {@code qncd-core}.
 */
package dev.qncd.models;
