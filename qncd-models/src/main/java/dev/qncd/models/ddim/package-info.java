/**
 * The DDIM / pytorch_diffusion UNet (the CIFAR-10 model of the QNCD paper) with its original YAML config
 * and state-dict keys.
 */
package dev.qncd.models.ddim;
