#!/usr/bin/env python3
"""Parity fixtures for the latent-diffusion / Stable Diffusion UNet (qncd-models, dev.qncd.models.ldm).

The model below is a re-implementation, in plain PyTorch, of the reference modules of CompVis
latent-diffusion (as carried by QNCD and Q-Diffusion): ldm/modules/diffusionmodules/openaimodel.py
(UNetModel, ResBlock, AttentionBlock, QKVAttentionLegacy, QKVAttention, Downsample, Upsample,
TimestepEmbedSequential), ldm/modules/attention.py (SpatialTransformer, BasicTransformerBlock,
CrossAttention, FeedForward, GEGLU) and ldm/modules/diffusionmodules/util.py (timestep_embedding,
GroupNorm32, zero_module). Module and parameter names are the reference's, so its state dicts are the
original checkpoint layout. No reference code is imported unless --ldm-repo is given: then every
fixture model is also built with the ORIGINAL UNetModel of that checkout, loaded with the same state
dict (strict) and its eps compared with this re-implementation's (needs the reference's own imports:
einops, and PIL through ldm/util.py; omegaconf is only used for a type check and is stubbed if missing).

Regenerate (Debian: apt-get install python3-torch python3-numpy python3-yaml):
    /usr/bin/python3 scripts/make_ldm_fixtures.py qncd-models/src/test/resources/fixtures/ldm
    # with the cross-check against the reference (a checkout holding ldm/: CompVis/latent-diffusion or QNCD;
    # its imports need einops, e.g. pip install --target /tmp/pydeps einops):
    PYTHONPATH=/tmp/pydeps /usr/bin/python3 scripts/make_ldm_fixtures.py --ldm-repo /tmp/qncd \
        qncd-models/src/test/resources/fixtures/ldm

Writes, per tiny config (model_channels 32, two levels, 8x8 latents):
  <name>.yaml          an LDM-style config (model.target, model.params.unet_config.{target,params})
  <name>.ckpt          torch.save zip of the state dict, float16 (tiny_sd: inside a Lightning-style
                       checkpoint under "state_dict", keys prefixed model.diffusion_model., next to other
                       models' keys and a schedule buffer, as in an SD checkpoint). Every parameter is a
                       view into one of a few shared random storages (one per init scale, at distinct
                       offsets), which torch.save writes once: ~0.5 M parameters take ~0.15-0.25 MB.
  <name>_forward.npz   x (2,C,8,8) float32, t (2) int64, context (2,L,D) float32 / y (2) int64 when the
                       model takes them, eps = the model's output
Configs (tiny_class_new and tiny_cin reuse the checkpoint of tiny_class and tiny_sd):
  tiny_class      class-conditional (num_classes, label_emb), AttentionBlock with num_head_channels,
                  legacy QKV order, use_scale_shift_norm, resblock_updown (LSUN-churches style + labels)
  tiny_class_new  the same weights with use_new_attention_order: True (the other QKV order)
  tiny_sd         SpatialTransformer (depth 2) with cross-attention on a context (SD v1 style: legacy
                  False, num_heads), additive time embedding, conv up/downsampling
  tiny_cin        tiny_sd's weights with cin256-v2's head rule (legacy, num_heads 1), a context of length 1
  tiny_pool       unconditional, conv_resample False (average pooling, plain nearest upsampling),
                  AttentionBlock with num_heads, two res blocks per level

The benchmark (scripts/bench_ldm.sh) imports build_unet() from this file for its PyTorch side.
"""
import argparse
import math
import os
import sys
import types

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

UNET_TARGET = "ldm.modules.diffusionmodules.openaimodel.UNetModel"


# ----------------------------------------------------------------------------------------------------
# util.py
def timestep_embedding(timesteps, dim, max_period=10000):
    """[cos(t f), sin(t f)] with f_i = exp(-ln(max_period) i / half), float32 (util.timestep_embedding)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(0, half, dtype=torch.float32) / half)
    args = timesteps[:, None].float() * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


class GroupNorm32(nn.GroupNorm):
    """util.normalization: 32 groups, eps 1e-5 (the nn.GroupNorm default), computed in float32."""

    def forward(self, x):
        return super().forward(x.float()).type(x.dtype)


def normalization(channels):
    return GroupNorm32(32, channels)


def zero_module(m):
    for p in m.parameters():
        p.detach().zero_()
    return m


# ----------------------------------------------------------------------------------------------------
# openaimodel.py
class Upsample(nn.Module):
    def __init__(self, channels, use_conv, out_channels=None):
        super().__init__()
        self.channels = channels
        self.use_conv = use_conv
        if use_conv:
            self.conv = nn.Conv2d(channels, out_channels or channels, 3, padding=1)

    def forward(self, x):
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.conv(x) if self.use_conv else x


class Downsample(nn.Module):
    def __init__(self, channels, use_conv, out_channels=None):
        super().__init__()
        if use_conv:
            self.op = nn.Conv2d(channels, out_channels or channels, 3, stride=2, padding=1)
        else:
            self.op = nn.AvgPool2d(kernel_size=2, stride=2)

    def forward(self, x):
        return self.op(x)


class ResBlock(nn.Module):
    def __init__(self, channels, emb_channels, out_channels=None, use_scale_shift_norm=False, up=False, down=False):
        super().__init__()
        out_channels = out_channels or channels
        self.use_scale_shift_norm = use_scale_shift_norm
        self.in_layers = nn.Sequential(normalization(channels), nn.SiLU(),
                                       nn.Conv2d(channels, out_channels, 3, padding=1))
        self.updown = up or down
        if up:
            self.h_upd, self.x_upd = Upsample(channels, False), Upsample(channels, False)
        elif down:
            self.h_upd, self.x_upd = Downsample(channels, False), Downsample(channels, False)
        else:
            self.h_upd = self.x_upd = nn.Identity()
        self.emb_layers = nn.Sequential(
            nn.SiLU(), nn.Linear(emb_channels, 2 * out_channels if use_scale_shift_norm else out_channels))
        self.out_layers = nn.Sequential(normalization(out_channels), nn.SiLU(), nn.Dropout(p=0.0),
                                        zero_module(nn.Conv2d(out_channels, out_channels, 3, padding=1)))
        if out_channels == channels:
            self.skip_connection = nn.Identity()
        else:  # use_conv is never set by UNetModel: a 1x1 convolution
            self.skip_connection = nn.Conv2d(channels, out_channels, 1)

    def forward(self, x, emb):
        if self.updown:
            h = self.in_layers[:-1](x)
            h = self.h_upd(h)
            x = self.x_upd(x)
            h = self.in_layers[-1](h)
        else:
            h = self.in_layers(x)
        emb_out = self.emb_layers(emb).type(h.dtype)
        while emb_out.dim() < h.dim():
            emb_out = emb_out[..., None]
        if self.use_scale_shift_norm:
            scale, shift = torch.chunk(emb_out, 2, dim=1)
            h = self.out_layers[0](h) * (1 + scale) + shift
            h = self.out_layers[1:](h)
        else:
            h = self.out_layers(h + emb_out)
        return self.skip_connection(x) + h


class QKVAttentionLegacy(nn.Module):
    """qkv (N, H*3*C, T): split heads, then q, k, v."""

    def __init__(self, n_heads):
        super().__init__()
        self.n_heads = n_heads

    def forward(self, qkv):
        bs, width, length = qkv.shape
        ch = width // (3 * self.n_heads)
        q, k, v = qkv.reshape(bs * self.n_heads, ch * 3, length).split(ch, dim=1)
        scale = 1 / math.sqrt(math.sqrt(ch))
        weight = torch.einsum("bct,bcs->bts", q * scale, k * scale)
        weight = torch.softmax(weight.float(), dim=-1).type(weight.dtype)
        a = torch.einsum("bts,bcs->bct", weight, v)
        return a.reshape(bs, -1, length)


class QKVAttention(nn.Module):
    """qkv (N, 3*H*C, T): split q, k, v, then heads (use_new_attention_order)."""

    def __init__(self, n_heads):
        super().__init__()
        self.n_heads = n_heads

    def forward(self, qkv):
        bs, width, length = qkv.shape
        ch = width // (3 * self.n_heads)
        q, k, v = qkv.chunk(3, dim=1)
        scale = 1 / math.sqrt(math.sqrt(ch))
        weight = torch.einsum("bct,bcs->bts", (q * scale).view(bs * self.n_heads, ch, length),
                              (k * scale).view(bs * self.n_heads, ch, length))
        weight = torch.softmax(weight.float(), dim=-1).type(weight.dtype)
        a = torch.einsum("bts,bcs->bct", weight, v.reshape(bs * self.n_heads, ch, length))
        return a.reshape(bs, -1, length)


class AttentionBlock(nn.Module):
    def __init__(self, channels, num_heads=1, num_head_channels=-1, use_new_attention_order=False):
        super().__init__()
        if num_head_channels == -1:
            self.num_heads = num_heads
        else:
            assert channels % num_head_channels == 0
            self.num_heads = channels // num_head_channels
        self.norm = normalization(channels)
        self.qkv = nn.Conv1d(channels, channels * 3, 1)
        self.attention = (QKVAttention if use_new_attention_order else QKVAttentionLegacy)(self.num_heads)
        self.proj_out = zero_module(nn.Conv1d(channels, channels, 1))

    def forward(self, x):
        b, c, *spatial = x.shape
        x = x.reshape(b, c, -1)
        h = self.proj_out(self.attention(self.qkv(self.norm(x))))
        return (x + h).reshape(b, c, *spatial)


# ----------------------------------------------------------------------------------------------------
# attention.py
class GEGLU(nn.Module):
    def __init__(self, dim_in, dim_out):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out * 2)

    def forward(self, x):
        x, gate = self.proj(x).chunk(2, dim=-1)
        return x * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim, mult=4):
        super().__init__()
        inner = int(dim * mult)
        self.net = nn.Sequential(GEGLU(dim, inner), nn.Dropout(0.0), nn.Linear(inner, dim))

    def forward(self, x):
        return self.net(x)


class CrossAttention(nn.Module):
    def __init__(self, query_dim, context_dim=None, heads=8, dim_head=64):
        super().__init__()
        inner = dim_head * heads
        context_dim = query_dim if context_dim is None else context_dim
        self.scale = dim_head ** -0.5
        self.heads = heads
        self.to_q = nn.Linear(query_dim, inner, bias=False)
        self.to_k = nn.Linear(context_dim, inner, bias=False)
        self.to_v = nn.Linear(context_dim, inner, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, query_dim), nn.Dropout(0.0))

    def forward(self, x, context=None):
        h = self.heads
        q = self.to_q(x)
        context = x if context is None else context
        k, v = self.to_k(context), self.to_v(context)

        def split_heads(t):  # 'b n (h d) -> (b h) n d'
            b, n, hd = t.shape
            return t.reshape(b, n, h, hd // h).permute(0, 2, 1, 3).reshape(b * h, n, hd // h)

        q, k, v = map(split_heads, (q, k, v))
        sim = torch.einsum("bid,bjd->bij", q, k) * self.scale
        attn = sim.softmax(dim=-1)
        out = torch.einsum("bij,bjd->bid", attn, v)
        bh, n, d = out.shape  # '(b h) n d -> b n (h d)'
        out = out.reshape(bh // h, h, n, d).permute(0, 2, 1, 3).reshape(bh // h, n, h * d)
        return self.to_out(out)


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim, n_heads, d_head, context_dim=None):
        super().__init__()
        self.attn1 = CrossAttention(dim, heads=n_heads, dim_head=d_head)
        self.ff = FeedForward(dim)
        self.attn2 = CrossAttention(dim, context_dim=context_dim, heads=n_heads, dim_head=d_head)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)

    def forward(self, x, context=None):
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), context=context) + x
        return self.ff(self.norm3(x)) + x


class SpatialTransformer(nn.Module):
    def __init__(self, in_channels, n_heads, d_head, depth=1, context_dim=None):
        super().__init__()
        inner = n_heads * d_head
        self.norm = nn.GroupNorm(32, in_channels, eps=1e-6, affine=True)  # attention.Normalize
        self.proj_in = nn.Conv2d(in_channels, inner, 1)
        self.transformer_blocks = nn.ModuleList(
            [BasicTransformerBlock(inner, n_heads, d_head, context_dim=context_dim) for _ in range(depth)])
        self.proj_out = zero_module(nn.Conv2d(inner, in_channels, 1))

    def forward(self, x, context=None):
        b, c, hh, ww = x.shape
        x_in = x
        x = self.proj_in(self.norm(x))
        x = x.reshape(b, x.shape[1], hh * ww).permute(0, 2, 1)  # 'b c h w -> b (h w) c'
        for block in self.transformer_blocks:
            x = block(x, context)
        x = x.permute(0, 2, 1).reshape(b, -1, hh, ww)
        return self.proj_out(x) + x_in


class TimestepEmbedSequential(nn.Sequential):
    def forward(self, x, emb, context=None):
        for layer in self:
            if isinstance(layer, ResBlock):
                x = layer(x, emb)
            elif isinstance(layer, SpatialTransformer):
                x = layer(x, context)
            else:
                x = layer(x)
        return x


class UNetModel(nn.Module):
    """openaimodel.UNetModel (dims 2, no n_embed); the arguments are the YAML's unet_config.params."""

    def __init__(self, image_size, in_channels, model_channels, out_channels, num_res_blocks,
                 attention_resolutions, dropout=0, channel_mult=(1, 2, 4, 8), conv_resample=True, dims=2,
                 num_classes=None, use_checkpoint=False, use_fp16=False, num_heads=-1, num_head_channels=-1,
                 num_heads_upsample=-1, use_scale_shift_norm=False, resblock_updown=False,
                 use_new_attention_order=False, use_spatial_transformer=False, transformer_depth=1,
                 context_dim=None, n_embed=None, legacy=True):
        super().__init__()
        assert dims == 2 and n_embed is None and not use_fp16
        if use_spatial_transformer:
            assert context_dim is not None
        if context_dim is not None:
            assert use_spatial_transformer
        if num_heads_upsample == -1:
            num_heads_upsample = num_heads
        assert num_heads != -1 or num_head_channels != -1
        self.model_channels = model_channels
        self.num_classes = num_classes
        emb_dim = model_channels * 4
        self.time_embed = nn.Sequential(nn.Linear(model_channels, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        if num_classes is not None:
            self.label_emb = nn.Embedding(num_classes, emb_dim)

        def res(ch_in, ch_out=None, up=False, down=False):
            return ResBlock(ch_in, emb_dim, ch_out, use_scale_shift_norm=use_scale_shift_norm, up=up, down=down)

        def attention(ch, heads, dim_head, heads_for_block):
            if use_spatial_transformer:
                return SpatialTransformer(ch, heads, dim_head, depth=transformer_depth, context_dim=context_dim)
            return AttentionBlock(ch, num_heads=heads_for_block, num_head_channels=dim_head,
                                  use_new_attention_order=use_new_attention_order)

        def heads_and_dim(ch, heads):
            # the reference reassigns num_heads when num_head_channels is set, and legacy overrides dim_head
            if num_head_channels == -1:
                dim_head = ch // heads
            else:
                heads = ch // num_head_channels
                dim_head = num_head_channels
            if legacy:
                dim_head = ch // heads if use_spatial_transformer else num_head_channels
            return heads, dim_head

        self.input_blocks = nn.ModuleList(
            [TimestepEmbedSequential(nn.Conv2d(in_channels, model_channels, 3, padding=1))])
        chans = [model_channels]
        ch, ds = model_channels, 1
        for level, mult in enumerate(channel_mult):
            for _ in range(num_res_blocks):
                layers = [res(ch, mult * model_channels)]
                ch = mult * model_channels
                if ds in attention_resolutions:
                    num_heads, dim_head = heads_and_dim(ch, num_heads)
                    layers.append(attention(ch, num_heads, dim_head, num_heads))
                self.input_blocks.append(TimestepEmbedSequential(*layers))
                chans.append(ch)
            if level != len(channel_mult) - 1:
                self.input_blocks.append(TimestepEmbedSequential(
                    res(ch, ch, down=True) if resblock_updown else Downsample(ch, conv_resample, ch)))
                chans.append(ch)
                ds *= 2
        num_heads, dim_head = heads_and_dim(ch, num_heads)
        self.middle_block = TimestepEmbedSequential(res(ch), attention(ch, num_heads, dim_head, num_heads), res(ch))
        self.output_blocks = nn.ModuleList([])
        for level, mult in list(enumerate(channel_mult))[::-1]:
            for i in range(num_res_blocks + 1):
                ich = chans.pop()
                layers = [res(ch + ich, model_channels * mult)]
                ch = model_channels * mult
                if ds in attention_resolutions:
                    num_heads, dim_head = heads_and_dim(ch, num_heads)
                    layers.append(attention(ch, num_heads, dim_head, num_heads_upsample))
                if level and i == num_res_blocks:
                    layers.append(res(ch, ch, up=True) if resblock_updown else Upsample(ch, conv_resample, ch))
                    ds //= 2
                self.output_blocks.append(TimestepEmbedSequential(*layers))
        self.out = nn.Sequential(normalization(ch), nn.SiLU(),
                                 zero_module(nn.Conv2d(model_channels, out_channels, 3, padding=1)))

    def forward(self, x, timesteps, context=None, y=None):
        assert (y is not None) == (self.num_classes is not None)
        emb = self.time_embed(timestep_embedding(timesteps, self.model_channels))
        if self.num_classes is not None:
            emb = emb + self.label_emb(y)
        hs = []
        h = x
        for module in self.input_blocks:
            h = module(h, emb, context)
            hs.append(h)
        h = self.middle_block(h, emb, context)
        for module in self.output_blocks:
            h = module(torch.cat([h, hs.pop()], dim=1), emb, context)
        return self.out(h)


def build_unet(params):
    """A UNetModel from a YAML's model.params.unet_config.params (keys the model ignores dropped)."""
    p = dict(params)
    p.pop("use_checkpoint", None)
    return UNetModel(**p).eval()


def build_original(ldm_repo, params):
    """The reference's own UNetModel from a checkout (for the optional cross-check)."""
    if ldm_repo not in sys.path:
        sys.path.insert(0, ldm_repo)
    try:
        import omegaconf.listconfig  # noqa: F401
    except ImportError:  # used only for `type(context_dim) == ListConfig`
        omegaconf = types.ModuleType("omegaconf")
        listconfig = types.ModuleType("omegaconf.listconfig")
        listconfig.ListConfig = type("ListConfig", (list,), {})
        omegaconf.listconfig = listconfig
        sys.modules["omegaconf"], sys.modules["omegaconf.listconfig"] = omegaconf, listconfig
    from ldm.modules.diffusionmodules.openaimodel import UNetModel as Original
    return Original(**params).eval()


def scale_class(key, v):
    """Which shared storage a parameter is a view of: its scale follows PyTorch's default init."""
    if v.dim() == 1:
        return ("norm", 1.0, 0.1) if key.endswith("weight") else ("bias", 0.0, 0.05)
    if key.endswith("label_emb.weight"):
        return ("embedding", 0.0, 1.0)
    fan_in = v[0].numel()
    return ("fan_in %d" % fan_in, 0.0, 0.6 / math.sqrt(fan_in))


def shared_random_state_dict(model, seed):
    """Random float16 weights for every parameter, each a view into one of a few shared storages (one per
    scale class, slightly longer than its largest member, at distinct random offsets): torch.save writes
    each storage once, so a tiny UNet of ~0.5 M parameters takes ~0.2 MB instead of ~1 MB."""
    g = torch.Generator().manual_seed(seed)
    ref = model.state_dict()
    groups = {}
    for k, v in ref.items():
        groups.setdefault(scale_class(k, v), []).append(k)
    sd = {}
    for (_, mean, std), keys in groups.items():
        length = max(ref[k].numel() for k in keys) + 64 * len(keys)
        base = (mean + std * torch.randn(length, generator=g)).half()
        used = set()
        for k in keys:
            n = ref[k].numel()
            off = int(torch.randint(0, length - n + 1, (1,), generator=g))
            while off in used:
                off = int(torch.randint(0, length - n + 1, (1,), generator=g))
            used.add(off)
            sd[k] = base[off:off + n].view(ref[k].shape)
    return {k: sd[k] for k in ref}  # the model's key order


TINY_BASE = dict(image_size=8, in_channels=4, out_channels=4, model_channels=32, num_res_blocks=1,
                 channel_mult=[1, 1])
TINY = {
    "tiny_class": dict(TINY_BASE, attention_resolutions=[2], num_classes=5, num_head_channels=16,
                       use_scale_shift_norm=True, resblock_updown=True, in_channels=3, out_channels=3),
    "tiny_sd": dict(TINY_BASE, attention_resolutions=[2, 1], num_heads=2, use_spatial_transformer=True,
                    transformer_depth=2, context_dim=24, legacy=False, use_checkpoint=True),
    "tiny_pool": dict(TINY_BASE, attention_resolutions=[1], num_heads=2, conv_resample=False, num_res_blocks=2),
}
# Other configs on the same checkpoints: (checkpoint, changed params, context length)
SAME_WEIGHTS = {
    "tiny_class_new": ("tiny_class", dict(use_new_attention_order=True)),
    "tiny_cin": ("tiny_sd", dict(num_heads=1, legacy=True, transformer_depth=2)),
}
CONTEXT_LENGTH = {"tiny_sd": 5, "tiny_cin": 1}
COMMENTS = {
    "tiny_class": "class-conditional, AttentionBlock (num_head_channels, legacy QKV order), scale-shift norm,"
                  " resblock_updown",
    "tiny_class_new": "tiny_class with use_new_attention_order (the other QKV order), same checkpoint",
    "tiny_sd": "SD-v1-like: SpatialTransformer (depth 2) with cross-attention on a context, legacy False",
    "tiny_cin": "cin256-v2-like: tiny_sd's checkpoint with num_heads 1, legacy True, a context of length 1",
    "tiny_pool": "unconditional, conv_resample False (average pooling, plain nearest upsampling), AttentionBlock"
                 " with num_heads, two res blocks per level",
}


def yaml_text(name, params, comment):
    import yaml
    doc = {"model": {"target": "ldm.models.diffusion.ddpm.LatentDiffusion",
                     "params": {"linear_start": 0.0015, "linear_end": 0.0195, "timesteps": 1000,
                                "image_size": params["image_size"], "channels": params["in_channels"],
                                "unet_config": {"target": UNET_TARGET, "params": params}}}}
    return f"# {name}: {comment} (scripts/make_ldm_fixtures.py)\n" + yaml.safe_dump(doc, sort_keys=False)


def inputs_for(name, params, n, g):
    c, s = params["in_channels"], params["image_size"]
    d = {"x": torch.randn(n, c, s, s, generator=g), "t": torch.tensor([3, 917, 500, 42][:n], dtype=torch.int64)}
    if params.get("context_dim") is not None:
        d["context"] = torch.randn(n, CONTEXT_LENGTH[name], params["context_dim"], generator=g)
    if params.get("num_classes") is not None:
        d["y"] = torch.tensor([1, 4, 0, 2][:n], dtype=torch.int64)
    return d


def run(model, d):
    with torch.no_grad():
        return model(d["x"], d["t"], context=d.get("context"), y=d.get("y"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ldm-repo", help="checkout with ldm/ (latent-diffusion, QNCD or Q-Diffusion): cross-check")
    ap.add_argument("out", nargs="?", default="qncd-models/src/test/resources/fixtures/ldm")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    path = lambda f: os.path.join(args.out, f)
    models = {}
    for seed, (name, params) in enumerate(TINY.items()):
        model = build_unet(params)
        sd = shared_random_state_dict(model, seed + 1)
        model.load_state_dict(sd)
        models[name] = (model, params, sd)
        if name == "tiny_sd":  # as in an SD checkpoint: Lightning dict, prefixed keys next to other models'
            full = {"model.diffusion_model." + k: v for k, v in sd.items()}
            full["betas"] = torch.linspace(1e-4, 2e-2, 10, dtype=torch.float64)
            full["first_stage_model.decoder.conv_out.bias"] = torch.zeros(3, dtype=torch.float16)
            full["cond_stage_model.transformer.text_model.final_layer_norm.bias"] = torch.zeros(4, dtype=torch.float16)
            torch.save({"state_dict": full, "global_step": 0}, path(name + ".ckpt"))
        else:
            torch.save(sd, path(name + ".ckpt"))
    for name, (base, extra) in SAME_WEIGHTS.items():
        params = dict(TINY[base], **extra)
        model = build_unet(params)
        model.load_state_dict(models[base][2])
        models[name] = (model, params, models[base][2])

    g = torch.Generator().manual_seed(1234)
    for name, (model, params, sd) in models.items():
        open(path(name + ".yaml"), "w").write(yaml_text(name, params, COMMENTS[name]))
        d = inputs_for(name, params, 2, g)
        eps = run(model, d)
        np.savez(path(name + "_forward.npz"), **{k: v.numpy() for k, v in d.items()}, eps=eps.numpy())
        line = f"{name}: {sum(p.numel() for p in model.parameters())} parameters, max |eps| {eps.abs().max():.3f}"
        if args.ldm_repo:
            original = build_original(args.ldm_repo, params)
            original.load_state_dict(sd, strict=True)
            err = float((run(original, d) - eps).abs().max())
            assert err <= 1e-5 * float(eps.abs().max()), f"{name}: re-implementation differs from the original by {err}"
            line += f", original UNetModel agrees to {err:.1e}"
        print(line)
    print("fixtures in", args.out, "with torch", torch.__version__)


if __name__ == "__main__":
    main()
