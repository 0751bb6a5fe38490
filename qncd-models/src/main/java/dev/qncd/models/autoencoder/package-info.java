/**
 * The first stages of latent diffusion (CompVis {@code ldm/models/autoencoder.py} with the
 * {@code Encoder}/{@code Decoder} of {@code ldm/modules/diffusionmodules/model.py}): the VQ autoencoder
 * ({@code VQModelInterface}, e.g. VQ-f4 of the LDM-4 ImageNet and LSUN models) with its codebook lookup
 * ({@code taming VectorQuantizer2}), and the KL autoencoder ({@code AutoencoderKL}, the f8 model of
 * Stable Diffusion v1) with its diagonal Gaussian posterior; the latent {@code scale_factor} of the
 * LDM config. Parameters load from the original keys, with or without the {@code first_stage_model.}
 * prefix of a full LDM/SD checkpoint.
 */
package dev.qncd.models.autoencoder;
