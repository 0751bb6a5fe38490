/**
 * The conditioning models of latent diffusion ({@code ldm/modules/encoders/modules.py}): the class
 * embedder of the class-conditional ImageNet LDM ({@code ClassEmbedder}, with the unconditional class
 * of cin256-v2), and Stable Diffusion v1's {@code FrozenCLIPEmbedder}: the CLIP ViT-L/14 text transformer
 * (HuggingFace {@code CLIPTextModel}, keys {@code cond_stage_model.transformer.text_model.*}) and CLIP's
 * byte-level BPE tokenizer with the 77-token padding of HuggingFace's {@code CLIPTokenizer}.
 */
package dev.qncd.models.cond;
