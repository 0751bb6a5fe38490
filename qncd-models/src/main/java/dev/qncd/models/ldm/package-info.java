/**
 * The openai-style UNet of latent diffusion and Stable Diffusion v1 (CompVis latent-diffusion's
 * {@code ldm/modules/diffusionmodules/openaimodel.py} and {@code ldm/modules/attention.py}), the model
 * QNCD quantizes on ImageNet, LSUN and MS-COCO: {@link dev.qncd.models.ldm.LdmUNet} with its
 * {@link dev.qncd.models.ldm.LdmResBlock}s, {@link dev.qncd.models.ldm.LdmAttentionBlock}s and
 * {@link dev.qncd.models.ldm.SpatialTransformer}s, configured by the original YAML
 * ({@link dev.qncd.models.ldm.LdmUNetConfig}) and loading the original checkpoint keys.
 */
package dev.qncd.models.ldm;
