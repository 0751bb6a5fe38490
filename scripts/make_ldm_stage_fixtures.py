#!/usr/bin/env python3
"""Parity fixtures for the latent-diffusion first stages and conditioning models (qncd-models
dev.qncd.models.autoencoder / dev.qncd.models.cond).

The reference code needs packages Debian does not ship (pytorch_lightning, einops, transformers, ftfy),
so this script re-implements the reference modules in plain torch, line by line after:
  - CompVis latent-diffusion ldm/modules/diffusionmodules/model.py: Normalize, Upsample, Downsample,
    ResnetBlock (temb_channels=0), AttnBlock, Encoder, Decoder;
  - ldm/models/autoencoder.py: VQModelInterface.encode/decode, AutoencoderKL.encode/decode;
    taming/modules/vqvae/quantize.py VectorQuantizer2.forward (legacy, no remap);
  - ldm/modules/distributions/distributions.py DiagonalGaussianDistribution;
  - ldm/models/diffusion/ddpm.py LatentDiffusion.get_first_stage_encoding / decode_first_stage;
  - ldm/modules/encoders/modules.py ClassEmbedder and FrozenCLIPEmbedder (tokenizer call + last_hidden_state);
  - HuggingFace transformers 4.22 models/clip/modeling_clip.py CLIPTextModel (embeddings, causal
    self-attention, quick_gelu MLP, final_layer_norm) and tokenization_clip.py CLIPTokenizer (bytes_to_unicode,
    bpe, the CLIP split regex, whitespace_clean(ftfy.fix_text(text)).lower(), bos + ids[:75] + eos padded with
    eos to 77). ftfy.fix_text is reproduced for its table-driven fixers only (c1 controls, ligatures,
    character width, quotes, surrogates, terminal escapes, control characters, NFC), as qncd documents.
Module and attribute names follow the originals, so the state-dict keys are the originals'.

Regenerate (Debian: apt-get install python3-torch python3-numpy python3-regex):
    /usr/bin/python3 scripts/make_ldm_stage_fixtures.py qncd-models/src/test/resources/fixtures/ldm_stages

Writes tiny random-weight models (ch 32, 1-2 levels; weights exactly representable in float16 and saved as
float16 to keep the files small) inside LDM-style checkpoints ({"state_dict": {first_stage_model.*,
cond_stage_model.*, model.diffusion_model.*}}), their YAML configs, inputs and the reference outputs (.npz),
and a tiny CLIP BPE vocabulary (vocab.json + merges.txt, and the same as an openai-style .txt.gz) with
the expected token ids of tricky prompts (prompts.json).
"""
import argparse
import gzip
import html  # noqa: F401  (ftfy's unescape_html is not reproduced; see the docstring)
import json
import math
import os
import unicodedata

import numpy as np
import regex as re
import torch
import torch.nn as nn

# ----------------------------------------------------------------------------------------------
# ldm/modules/diffusionmodules/model.py (encoder/decoder parts)


def nonlinearity(x):
    return x * torch.sigmoid(x)


def Normalize(in_channels, num_groups=32):
    return torch.nn.GroupNorm(num_groups=num_groups, num_channels=in_channels, eps=1e-6, affine=True)


class Upsample(nn.Module):
    def __init__(self, in_channels, with_conv):
        super().__init__()
        self.with_conv = with_conv
        if with_conv:
            self.conv = nn.Conv2d(in_channels, in_channels, kernel_size=3, stride=1, padding=1)

    def forward(self, x):
        x = torch.nn.functional.interpolate(x, scale_factor=2.0, mode="nearest")
        return self.conv(x) if self.with_conv else x


class Downsample(nn.Module):
    def __init__(self, in_channels, with_conv):
        super().__init__()
        self.with_conv = with_conv
        if with_conv:
            self.conv = nn.Conv2d(in_channels, in_channels, kernel_size=3, stride=2, padding=0)

    def forward(self, x):
        if self.with_conv:
            x = torch.nn.functional.pad(x, (0, 1, 0, 1), mode="constant", value=0)
            return self.conv(x)
        return torch.nn.functional.avg_pool2d(x, kernel_size=2, stride=2)


class ResnetBlock(nn.Module):
    def __init__(self, *, in_channels, out_channels, dropout=0.0):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.norm1 = Normalize(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1)
        self.norm2 = Normalize(out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=1, padding=1)
        if in_channels != out_channels:
            self.nin_shortcut = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=1, padding=0)

    def forward(self, x, temb):
        h = self.conv1(nonlinearity(self.norm1(x)))
        h = self.conv2(self.dropout(nonlinearity(self.norm2(h))))
        if self.in_channels != self.out_channels:
            x = self.nin_shortcut(x)
        return x + h


class AttnBlock(nn.Module):
    def __init__(self, in_channels):
        super().__init__()
        self.norm = Normalize(in_channels)
        self.q = nn.Conv2d(in_channels, in_channels, kernel_size=1, stride=1, padding=0)
        self.k = nn.Conv2d(in_channels, in_channels, kernel_size=1, stride=1, padding=0)
        self.v = nn.Conv2d(in_channels, in_channels, kernel_size=1, stride=1, padding=0)
        self.proj_out = nn.Conv2d(in_channels, in_channels, kernel_size=1, stride=1, padding=0)

    def forward(self, x):
        h_ = self.norm(x)
        q, k, v = self.q(h_), self.k(h_), self.v(h_)
        b, c, h, w = q.shape
        q = q.reshape(b, c, h * w).permute(0, 2, 1)   # b,hw,c
        k = k.reshape(b, c, h * w)                    # b,c,hw
        w_ = torch.bmm(q, k) * (int(c) ** (-0.5))     # b,hw,hw
        w_ = torch.nn.functional.softmax(w_, dim=2)
        v = v.reshape(b, c, h * w)
        w_ = w_.permute(0, 2, 1)
        h_ = torch.bmm(v, w_).reshape(b, c, h, w)
        return x + self.proj_out(h_)


class Encoder(nn.Module):
    def __init__(self, *, ch, out_ch, ch_mult, num_res_blocks, attn_resolutions, dropout=0.0, resamp_with_conv=True,
                 in_channels, resolution, z_channels, double_z=True, **ignore):
        super().__init__()
        self.num_resolutions = len(ch_mult)
        self.num_res_blocks = num_res_blocks
        self.conv_in = nn.Conv2d(in_channels, ch, kernel_size=3, stride=1, padding=1)
        curr_res = resolution
        in_ch_mult = (1,) + tuple(ch_mult)
        self.down = nn.ModuleList()
        for i_level in range(self.num_resolutions):
            block, attn = nn.ModuleList(), nn.ModuleList()
            block_in = ch * in_ch_mult[i_level]
            block_out = ch * ch_mult[i_level]
            for _ in range(num_res_blocks):
                block.append(ResnetBlock(in_channels=block_in, out_channels=block_out, dropout=dropout))
                block_in = block_out
                if curr_res in attn_resolutions:
                    attn.append(AttnBlock(block_in))
            down = nn.Module()
            down.block = block
            down.attn = attn
            if i_level != self.num_resolutions - 1:
                down.downsample = Downsample(block_in, resamp_with_conv)
                curr_res = curr_res // 2
            self.down.append(down)
        self.mid = nn.Module()
        self.mid.block_1 = ResnetBlock(in_channels=block_in, out_channels=block_in, dropout=dropout)
        self.mid.attn_1 = AttnBlock(block_in)
        self.mid.block_2 = ResnetBlock(in_channels=block_in, out_channels=block_in, dropout=dropout)
        self.norm_out = Normalize(block_in)
        self.conv_out = nn.Conv2d(block_in, 2 * z_channels if double_z else z_channels, kernel_size=3, stride=1,
                                  padding=1)

    def forward(self, x):
        temb = None
        hs = [self.conv_in(x)]
        for i_level in range(self.num_resolutions):
            for i_block in range(self.num_res_blocks):
                h = self.down[i_level].block[i_block](hs[-1], temb)
                if len(self.down[i_level].attn) > 0:
                    h = self.down[i_level].attn[i_block](h)
                hs.append(h)
            if i_level != self.num_resolutions - 1:
                hs.append(self.down[i_level].downsample(hs[-1]))
        h = hs[-1]
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h, temb)), temb)
        return self.conv_out(nonlinearity(self.norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, *, ch, out_ch, ch_mult, num_res_blocks, attn_resolutions, dropout=0.0, resamp_with_conv=True,
                 in_channels, resolution, z_channels, give_pre_end=False, tanh_out=False, **ignore):
        super().__init__()
        self.num_resolutions = len(ch_mult)
        self.num_res_blocks = num_res_blocks
        self.give_pre_end = give_pre_end
        self.tanh_out = tanh_out
        block_in = ch * ch_mult[self.num_resolutions - 1]
        curr_res = resolution // 2 ** (self.num_resolutions - 1)
        self.conv_in = nn.Conv2d(z_channels, block_in, kernel_size=3, stride=1, padding=1)
        self.mid = nn.Module()
        self.mid.block_1 = ResnetBlock(in_channels=block_in, out_channels=block_in, dropout=dropout)
        self.mid.attn_1 = AttnBlock(block_in)
        self.mid.block_2 = ResnetBlock(in_channels=block_in, out_channels=block_in, dropout=dropout)
        self.up = nn.ModuleList()
        for i_level in reversed(range(self.num_resolutions)):
            block, attn = nn.ModuleList(), nn.ModuleList()
            block_out = ch * ch_mult[i_level]
            for _ in range(num_res_blocks + 1):
                block.append(ResnetBlock(in_channels=block_in, out_channels=block_out, dropout=dropout))
                block_in = block_out
                if curr_res in attn_resolutions:
                    attn.append(AttnBlock(block_in))
            up = nn.Module()
            up.block = block
            up.attn = attn
            if i_level != 0:
                up.upsample = Upsample(block_in, resamp_with_conv)
                curr_res = curr_res * 2
            self.up.insert(0, up)
        self.norm_out = Normalize(block_in)
        self.conv_out = nn.Conv2d(block_in, out_ch, kernel_size=3, stride=1, padding=1)

    def forward(self, z):
        temb = None
        h = self.conv_in(z)
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h, temb)), temb)
        for i_level in reversed(range(self.num_resolutions)):
            for i_block in range(self.num_res_blocks + 1):
                h = self.up[i_level].block[i_block](h, temb)
                if len(self.up[i_level].attn) > 0:
                    h = self.up[i_level].attn[i_block](h)
            if i_level != 0:
                h = self.up[i_level].upsample(h)
        if self.give_pre_end:
            return h
        h = self.conv_out(nonlinearity(self.norm_out(h)))
        return torch.tanh(h) if self.tanh_out else h


# ----------------------------------------------------------------------------------------------
# taming VectorQuantizer2 (inference path), ldm autoencoders, DiagonalGaussianDistribution


class VectorQuantizer2(nn.Module):
    def __init__(self, n_e, e_dim):
        super().__init__()
        self.n_e, self.e_dim = n_e, e_dim
        self.embedding = nn.Embedding(n_e, e_dim)

    def forward(self, z):
        z = z.permute(0, 2, 3, 1).contiguous()  # rearrange 'b c h w -> b h w c'
        z_flattened = z.view(-1, self.e_dim)
        d = torch.sum(z_flattened ** 2, dim=1, keepdim=True) + \
            torch.sum(self.embedding.weight ** 2, dim=1) - 2 * \
            torch.einsum('bd,dn->bn', z_flattened, self.embedding.weight.t())
        min_encoding_indices = torch.argmin(d, dim=1)
        z_q = self.embedding(min_encoding_indices).view(z.shape)
        z_q = z + (z_q - z).detach()
        z_q = z_q.permute(0, 3, 1, 2).contiguous()
        return z_q, None, (None, None, min_encoding_indices)


class VQModelInterface(nn.Module):
    def __init__(self, ddconfig, n_embed, embed_dim):
        super().__init__()
        self.encoder = Encoder(**ddconfig)
        self.decoder = Decoder(**ddconfig)
        self.quantize = VectorQuantizer2(n_embed, embed_dim)
        self.quant_conv = nn.Conv2d(ddconfig["z_channels"], embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(embed_dim, ddconfig["z_channels"], 1)

    def encode(self, x):
        return self.quant_conv(self.encoder(x))

    def decode(self, h, force_not_quantize=False):
        if not force_not_quantize:
            quant, _, _ = self.quantize(h)
        else:
            quant = h
        return self.decoder(self.post_quant_conv(quant))


class DiagonalGaussianDistribution:
    def __init__(self, parameters):
        self.mean, self.logvar = torch.chunk(parameters, 2, dim=1)
        self.logvar = torch.clamp(self.logvar, -30.0, 20.0)
        self.std = torch.exp(0.5 * self.logvar)

    def sample(self, noise):  # the reference draws torch.randn(self.mean.shape); the noise is recorded here
        return self.mean + self.std * noise


class AutoencoderKL(nn.Module):
    def __init__(self, ddconfig, embed_dim):
        super().__init__()
        self.encoder = Encoder(**ddconfig)
        self.decoder = Decoder(**ddconfig)
        self.quant_conv = nn.Conv2d(2 * ddconfig["z_channels"], 2 * embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(embed_dim, ddconfig["z_channels"], 1)

    def encode(self, x):
        return DiagonalGaussianDistribution(self.quant_conv(self.encoder(x)))

    def decode(self, z):
        return self.decoder(self.post_quant_conv(z))


class ClassEmbedder(nn.Module):
    def __init__(self, embed_dim, n_classes=1000, key='class'):
        super().__init__()
        self.key = key
        self.embedding = nn.Embedding(n_classes, embed_dim)

    def forward(self, batch):
        return self.embedding(batch[self.key][:, None])


# ----------------------------------------------------------------------------------------------
# HuggingFace transformers 4.22 modeling_clip.py: CLIPTextModel


class CLIPTextEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.token_embedding = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.position_embedding = nn.Embedding(c["max_position_embeddings"], c["hidden_size"])
        self.register_buffer("position_ids", torch.arange(c["max_position_embeddings"]).expand((1, -1)))

    def forward(self, input_ids):
        seq_length = input_ids.shape[-1]
        position_ids = self.position_ids[:, :seq_length]
        return self.token_embedding(input_ids) + self.position_embedding(position_ids)


class CLIPAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_dim = c["hidden_size"]
        self.num_heads = c["num_attention_heads"]
        self.head_dim = self.embed_dim // self.num_heads
        self.scale = self.head_dim ** -0.5
        self.k_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.v_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.q_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.out_proj = nn.Linear(self.embed_dim, self.embed_dim)

    def _shape(self, tensor, seq_len, bsz):
        return tensor.view(bsz, seq_len, self.num_heads, self.head_dim).transpose(1, 2).contiguous()

    def forward(self, hidden_states, causal_attention_mask):
        bsz, tgt_len, embed_dim = hidden_states.size()
        query_states = self.q_proj(hidden_states) * self.scale
        key_states = self._shape(self.k_proj(hidden_states), -1, bsz)
        value_states = self._shape(self.v_proj(hidden_states), -1, bsz)
        proj_shape = (bsz * self.num_heads, -1, self.head_dim)
        query_states = self._shape(query_states, tgt_len, bsz).view(*proj_shape)
        key_states = key_states.view(*proj_shape)
        value_states = value_states.view(*proj_shape)
        src_len = key_states.size(1)
        attn_weights = torch.bmm(query_states, key_states.transpose(1, 2))
        attn_weights = attn_weights.view(bsz, self.num_heads, tgt_len, src_len) + causal_attention_mask
        attn_weights = attn_weights.view(bsz * self.num_heads, tgt_len, src_len)
        attn_weights = nn.functional.softmax(attn_weights, dim=-1)
        attn_output = torch.bmm(attn_weights, value_states)
        attn_output = attn_output.view(bsz, self.num_heads, tgt_len, self.head_dim).transpose(1, 2)
        attn_output = attn_output.reshape(bsz, tgt_len, embed_dim)
        return self.out_proj(attn_output)


class CLIPMLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.fc1 = nn.Linear(c["hidden_size"], c["intermediate_size"])
        self.fc2 = nn.Linear(c["intermediate_size"], c["hidden_size"])

    def forward(self, h):
        h = self.fc1(h)
        h = h * torch.sigmoid(1.702 * h)  # quick_gelu
        return self.fc2(h)


class CLIPEncoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = CLIPAttention(c)
        self.layer_norm1 = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.mlp = CLIPMLP(c)
        self.layer_norm2 = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, h, causal_attention_mask):
        residual = h
        h = self.self_attn(self.layer_norm1(h), causal_attention_mask)
        h = residual + h
        residual = h
        h = self.mlp(self.layer_norm2(h))
        return residual + h


class CLIPEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layers = nn.ModuleList([CLIPEncoderLayer(c) for _ in range(c["num_hidden_layers"])])


class CLIPTextTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = CLIPTextEmbeddings(c)
        self.encoder = CLIPEncoder(c)
        self.final_layer_norm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, input_ids):
        bsz, seq_len = input_ids.shape
        h = self.embeddings(input_ids)
        mask = torch.empty(bsz, seq_len, seq_len)  # _build_causal_attention_mask
        mask.fill_(torch.tensor(float("-inf")))
        mask.triu_(1)
        mask = mask.unsqueeze(1)
        for layer in self.encoder.layers:
            h = layer(h, mask)
        return self.final_layer_norm(h)  # last_hidden_state


class CLIPTextModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.text_model = CLIPTextTransformer(c)

    def forward(self, input_ids):
        return self.text_model(input_ids)


class FrozenCLIPEmbedder(nn.Module):
    def __init__(self, tokenizer, c):
        super().__init__()
        self.tokenizer = tokenizer
        self.transformer = CLIPTextModel(c)

    def forward(self, text):
        tokens = self.tokenizer(text)  # truncation=True, max_length=77, padding="max_length"
        return tokens, self.transformer(input_ids=tokens)


# ----------------------------------------------------------------------------------------------
# HuggingFace CLIPTokenizer (tokenization_clip.py) with the reproduced part of ftfy.fix_text


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2 ** 8):
        if b not in bs:
            bs.append(b)
            cs.append(2 ** 8 + n)
            n += 1
    return dict(zip(bs, [chr(n) for n in cs]))


LIGATURES = {ord("Ĳ"): "IJ", ord("ĳ"): "ij", ord("ŉ"): "ʼn", ord("Ǳ"): "DZ", ord("ǲ"): "Dz", ord("ǳ"): "dz",
             ord("Ǆ"): "DŽ", ord("ǅ"): "Dž", ord("ǆ"): "dž", ord("Ǉ"): "LJ", ord("ǈ"): "Lj", ord("ǉ"): "lj",
             ord("Ǌ"): "NJ", ord("ǋ"): "Nj", ord("ǌ"): "nj", ord("ﬀ"): "ff", ord("ﬁ"): "fi", ord("ﬂ"): "fl",
             ord("ﬃ"): "ffi", ord("ﬄ"): "ffl", ord("ﬅ"): "ſt", ord("ﬆ"): "st"}
WIDTH_MAP = {0x3000: " "}
for _i in range(0xFF01, 0xFFF0):
    _alt = unicodedata.normalize("NFKC", chr(_i))
    if _alt != chr(_i):
        WIDTH_MAP[_i] = _alt
CONTROL_CHARS = {i: None for i in list(range(0x00, 0x09)) + [0x0B] + list(range(0x0E, 0x20)) + [0x7F]
                 + list(range(0x206A, 0x2070)) + [0xFEFF] + list(range(0xFFF9, 0xFFFD))}
ANSI_RE = re.compile("\033\\[((?:\\d|;)*)([a-zA-Z])")


def sloppy_cp1252(ch):
    try:
        return ch.encode("latin-1").decode("cp1252")
    except UnicodeDecodeError:  # bytes cp1252 leaves undefined decode to themselves in ftfy's sloppy codec
        return ch


def fix_text_subset(text):
    while True:
        orig = text
        text = re.sub("[\x80-\x9f]", lambda m: sloppy_cp1252(m.group(0)), text)  # fix_c1_controls
        text = text.translate(LIGATURES)                                       # fix_latin_ligatures
        text = text.translate(WIDTH_MAP)                                       # fix_character_width
        text = re.sub("[\u201c-\u201f]", '"', text)                            # uncurl_quotes
        text = re.sub("[\u02bc\u2018-\u201b]", "'", text)
        text = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)  # fix_surrogates (lone)
        text = ANSI_RE.sub("", text)                                           # remove_terminal_escapes
        text = text.translate(CONTROL_CHARS)                                   # remove_control_chars
        text = unicodedata.normalize("NFC", text)
        if text == orig:
            return text


def whitespace_clean(text):
    import re as stdre  # the reference uses the standard re here: \s is str.isspace
    return stdre.sub(r"\s+", " ", text).strip()


class CLIPTokenizer:
    def __init__(self, vocab_file, merges_file):
        with open(vocab_file, encoding="utf-8") as f:
            self.encoder = json.load(f)
        self.byte_encoder = bytes_to_unicode()
        with open(merges_file, encoding="utf-8") as f:
            bpe_merges = f.read().strip().split("\n")[1:49152 - 256 - 2 + 1]
        bpe_merges = [tuple(m.split()) for m in bpe_merges]
        self.bpe_ranks = dict(zip(bpe_merges, range(len(bpe_merges))))
        self.cache = {"<|startoftext|>": "<|startoftext|>", "<|endoftext|>": "<|endoftext|>"}
        self.pat = re.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
                              re.IGNORECASE)
        self.bos, self.eos = self.encoder["<|startoftext|>"], self.encoder["<|endoftext|>"]

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
        if not pairs:
            return token + "</w>"
        while True:
            bigram = min(pairs, key=lambda p: self.bpe_ranks.get(p, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word, i = [], 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                except ValueError:
                    new_word.extend(word[i:])
                    break
                new_word.extend(word[i:j])
                i = j
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
        word = " ".join(word)
        self.cache[token] = word
        return word

    def tokenize(self, text):
        out = []
        text = whitespace_clean(fix_text_subset(text)).lower()
        for token in re.findall(self.pat, text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            out.extend(self.bpe(token).split(" "))
        return out

    def __call__(self, texts, max_length=77):
        rows = []
        for t in texts:
            ids = [self.encoder.get(p, self.encoder["<|endoftext|>"]) for p in self.tokenize(t)]
            ids = [self.bos] + ids[:max_length - 2] + [self.eos]  # truncation=True: longest_first keeps the head
            rows.append(ids + [self.eos] * (max_length - len(ids)))  # padding="max_length", pad = <|endoftext|>
        return torch.tensor(rows, dtype=torch.long)


# ----------------------------------------------------------------------------------------------
# fixtures

PROMPTS = [
    "a photograph of an astronaut riding a horse",
    "",
    "   A  Photo\tof\n\nthe   CAT   ",
    "It's a dog's life, you'll see; we're fine, I'd say... they've I'm can't",
    "hello,world!!! (test) -- [x] {y} #1 @me $5.00 100% a&b &amp; <b>",
    "café crème brûlée naïve Ångström cafe\u0301",
    "東京タワー 🐱🐶 ＡＢＣ１２３ ﬁne ﬂower",
    "\u201ccurly\u201d \u2018quotes\u2019 and \x93cp1252\x94 dog\u2019s \x85",
    "zero\u200bwidth \u00a0nbsp\u3000ideographic \x1b[31mred\x1b[0m \x07bell \ufeffbom\x1ffs",
    "<|startoftext|>special<|endoftext|> tokens in TEXT <|ENDOFTEXT|>",
    "İstanbul ΟΔΟΣ straße ǅemal Ĳssel",
    "1234567 3.14 ab12cd x²",
    " ".join(["a photo of the cat and the dog on the horse"] * 9),
]
CORPUS = ("a photograph of an astronaut riding a horse photo the cat dog and on in it is life see we fine say "
          "they hello world test tokens special text quotes curly red bell ").split()


def learn_merges(words, n_merges):
    """A deterministic byte-level BPE on a few words: the hand-made vocabulary of the fixture."""
    be = bytes_to_unicode()
    vocab = {}
    for w in words:
        sym = [be[b] for b in w.encode("utf-8")]
        sym[-1] += "</w>"
        vocab[tuple(sym)] = vocab.get(tuple(sym), 0) + 1
    merges = []
    for _ in range(n_merges):
        counts = {}
        for sym, c in vocab.items():
            for i in range(len(sym) - 1):
                counts[(sym[i], sym[i + 1])] = counts.get((sym[i], sym[i + 1]), 0) + c
        if not counts:
            break
        best = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        merges.append(best)
        new = {}
        for sym, c in vocab.items():
            out, i = [], 0
            while i < len(sym):
                if i < len(sym) - 1 and (sym[i], sym[i + 1]) == best:
                    out.append(sym[i] + sym[i + 1])
                    i += 2
                else:
                    out.append(sym[i])
                    i += 1
            new[tuple(out)] = new.get(tuple(out), 0) + c
        vocab = new
    return merges


def write_tokenizer(out):
    merges = learn_merges(CORPUS, 60)
    # the vocabulary as openai's SimpleTokenizer builds it (so vocab.json and the .gz give the same ids)
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    encoder = dict(zip(vocab, range(len(vocab))))
    tok_dir = os.path.join(out, "tokenizer")
    os.makedirs(tok_dir, exist_ok=True)
    with open(os.path.join(tok_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(encoder, f, ensure_ascii=False)
    with open(os.path.join(tok_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")
    with gzip.GzipFile(os.path.join(out, "bpe_tiny.txt.gz"), "wb", mtime=0) as f:
        f.write(("\"bpe_tiny.txt\"#version: 0.2\n" + "\n".join(" ".join(m) for m in merges)).encode("utf-8"))
    tok = CLIPTokenizer(os.path.join(tok_dir, "vocab.json"), os.path.join(tok_dir, "merges.txt"))
    cases = [{"prompt": p, "pieces": tok.tokenize(p), "ids": tok([p])[0].tolist()} for p in PROMPTS]
    with open(os.path.join(out, "prompts.json"), "w", encoding="utf-8") as f:
        json.dump({"vocab_size": len(vocab), "cases": cases}, f, ensure_ascii=True, indent=1)
    return tok, len(vocab)


def randomize(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "embedding" in name:
                p.copy_(torch.randn_like(p) * 0.5)
            elif p.dim() == 1 and name.endswith(".weight"):  # GroupNorm / LayerNorm scales
                p.copy_(1 + torch.randn_like(p) * 0.1)
            elif p.dim() == 1:  # biases
                p.copy_(torch.randn_like(p) * 0.05)
            else:
                p.copy_(torch.randn_like(p) / math.sqrt(p[0].numel()))
            p.copy_(p.half().float())  # exactly representable in float16, so the file can be half


def half_sd(prefix, module):
    return {prefix + k: (v.half() if v.is_floating_point() else v) for k, v in module.state_dict().items()}


def ddconfig_yaml(dd, indent):
    pad = " " * indent
    return "\n".join(pad + f"{k}: {json.dumps(v)}" for k, v in dd.items())


VQ_DD = dict(double_z=False, z_channels=3, resolution=16, in_channels=3, out_ch=3, ch=32, ch_mult=[1, 1],
             num_res_blocks=1, attn_resolutions=[8], dropout=0.0)
KL_DD = dict(double_z=True, z_channels=4, resolution=16, in_channels=3, out_ch=3, ch=32, ch_mult=[2, 1],
             num_res_blocks=1, attn_resolutions=[], dropout=0.0, resamp_with_conv=False)
CLIP_CFG = dict(vocab_size=None, hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=2,
                max_position_embeddings=77, layer_norm_eps=1e-5)


def vq_yaml():
    return f"""# tiny class-conditional LDM (first stage and conditioning only), shaped like cin256-v2.yaml
# (scripts/make_ldm_stage_fixtures.py)
model:
  target: ldm.models.diffusion.ddpm.LatentDiffusion
  params:
    linear_start: 0.0015
    linear_end: 0.0195
    timesteps: 1000
    first_stage_key: image
    cond_stage_key: class_label
    image_size: 8
    channels: 3
    conditioning_key: crossattn
    first_stage_config:
      target: ldm.models.autoencoder.VQModelInterface
      params:
        embed_dim: 3
        n_embed: 16
        ddconfig:
{ddconfig_yaml(VQ_DD, 10)}
        lossconfig:
          target: torch.nn.Identity
    cond_stage_config:
      target: ldm.modules.encoders.modules.ClassEmbedder
      params:
        n_classes: 1001
        embed_dim: 32
        key: class_label
"""


def kl_yaml():
    return f"""# tiny text-to-image LDM (first stage and conditioning only), shaped like stable-diffusion/v1-inference.yaml
# (scripts/make_ldm_stage_fixtures.py)
model:
  target: ldm.models.diffusion.ddpm.LatentDiffusion
  params:
    linear_start: 0.00085
    linear_end: 0.0120
    timesteps: 1000
    first_stage_key: "jpg"
    cond_stage_key: "txt"
    image_size: 8
    channels: 4
    conditioning_key: crossattn
    scale_factor: 0.18215
    use_ema: False
    first_stage_config:
      target: ldm.models.autoencoder.AutoencoderKL
      params:
        embed_dim: 4
        monitor: val/rec_loss
        ddconfig:
{ddconfig_yaml(KL_DD, 10)}
        lossconfig:
          target: torch.nn.Identity
    cond_stage_config:
      target: ldm.modules.encoders.modules.FrozenCLIPEmbedder
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out", nargs="?", default="qncd-models/src/test/resources/fixtures/ldm_stages")
    args = ap.parse_args()
    out = args.out
    os.makedirs(out, exist_ok=True)
    p = lambda f: os.path.join(out, f)
    torch.manual_seed(0)

    tok, vocab_size = write_tokenizer(out)

    # VQ-f2 first stage + class embedder (cin256-v2 style)
    vq = VQModelInterface(VQ_DD, n_embed=16, embed_dim=3).eval()
    randomize(vq)
    cls = ClassEmbedder(32, n_classes=1001, key="class_label").eval()
    randomize(cls)
    sd = {**half_sd("model.diffusion_model.", nn.Conv2d(3, 3, 1)), **half_sd("first_stage_model.", vq),
          **half_sd("cond_stage_model.", cls)}
    torch.save({"state_dict": sd, "global_step": 7}, p("tiny_vq.ckpt"))
    open(p("tiny_vq.yaml"), "w").write(vq_yaml())
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    z_in = torch.randn(2, 3, 8, 8) * 2
    labels = torch.tensor([0, 999, 1000, 5])
    with torch.no_grad():
        h = vq.encode(x)
        zq, _, (_, _, idx) = vq.quantize(h)
        dec = vq.decode(h)
        dec_nq = vq.decode(h, force_not_quantize=True)
        scale = 1.0  # cin256-v2 sets no scale_factor: LatentDiffusion's default
        latent = scale * h  # get_first_stage_encoding of a tensor
        dec_latent = vq.decode(1. / scale * z_in)  # decode_first_stage
        ctx = cls({"class_label": labels})
    np.savez(p("tiny_vq_io.npz"), x=x.numpy(), h=h.numpy(), indices=idx.reshape(2, 8, 8).numpy(), zq=zq.numpy(),
             dec=dec.numpy(), dec_nq=dec_nq.numpy(), latent=latent.numpy(), z_in=z_in.numpy(),
             dec_latent=dec_latent.numpy(), labels=labels.numpy(), class_ctx=ctx.numpy())

    # KL-f2 first stage + CLIP text transformer (SD v1 style)
    kl = AutoencoderKL(KL_DD, embed_dim=4).eval()
    randomize(kl)
    CLIP_CFG["vocab_size"] = vocab_size
    clip = FrozenCLIPEmbedder(tok, CLIP_CFG).eval()
    randomize(clip)
    sd = {**half_sd("model.diffusion_model.", nn.Conv2d(4, 4, 1)), **half_sd("first_stage_model.", kl),
          **half_sd("cond_stage_model.", clip)}
    torch.save({"state_dict": sd, "global_step": 3}, p("tiny_kl.ckpt"))
    open(p("tiny_kl.yaml"), "w").write(kl_yaml())
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    noise = torch.randn(2, 4, 8, 8)
    z_in = torch.randn(2, 4, 8, 8)
    prompts = [PROMPTS[0], PROMPTS[3], PROMPTS[-1]]
    with torch.no_grad():
        post = kl.encode(x)
        moments = kl.quant_conv(kl.encoder(x))
        sample = post.sample(noise)
        latent = 0.18215 * sample  # get_first_stage_encoding
        dec = kl.decode(sample)
        dec_latent = kl.decode(1. / 0.18215 * z_in)  # decode_first_stage
        ids, hidden = clip(prompts)
    np.savez(p("tiny_kl_io.npz"), x=x.numpy(), moments=moments.numpy(), mean=post.mean.numpy(), std=post.std.numpy(),
             noise=noise.numpy(), sample=sample.numpy(), latent=latent.numpy(), dec=dec.numpy(), z_in=z_in.numpy(),
             dec_latent=dec_latent.numpy(), ids=ids.numpy(), hidden=hidden.numpy())
    with open(p("tiny_kl_prompts.json"), "w", encoding="utf-8") as f:
        json.dump(prompts, f, ensure_ascii=True)
    print("fixtures in", out, "with torch", torch.__version__)


if __name__ == "__main__":
    main()
