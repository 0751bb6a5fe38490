/** Noise schedules: β schedules of DDIM (and improved DDPM's cosine) and the derived ᾱ. */
package dev.qncd.models.schedule;
