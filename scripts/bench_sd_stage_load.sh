#!/usr/bin/env bash
# Reading one part of a Stable-Diffusion-v1-sized checkpoint (issue 7): writes a 4.3 GB torch.save file
# shaped like sd-v1-4.ckpt ({"state_dict": ...}: the real AutoencoderKL-f8 first stage and CLIP ViT-L/14
# text encoder under their original keys, built with the modules of make_ldm_stage_fixtures.py, plus a
# UNet stand-in of the same size and tensor count: 686 tensors, 859.5M float32 parameters), then runs
# `qncd bench load` once per part, one JVM each (time and peak resident memory above the JVM's level).
#   apt-get install -y python3-torch python3-regex && scripts/bench_sd_stage_load.sh [outdir]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${1:-$ROOT/bench-out/sd-stages}"
mkdir -p "$OUT"
CKPT="$OUT/sd-v1-shaped.ckpt"
if [ ! -f "$CKPT" ]; then
/usr/bin/python3 - "$ROOT" "$CKPT" <<'PY'
import importlib.util, os, sys, torch
root, ckpt = sys.argv[1:3]
spec = importlib.util.spec_from_file_location("ref", os.path.join(root, "scripts/make_ldm_stage_fixtures.py"))
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)
dd = dict(double_z=True, z_channels=4, resolution=256, in_channels=3, out_ch=3, ch=128, ch_mult=[1, 2, 4, 4],
          num_res_blocks=2, attn_resolutions=[], dropout=0.0)  # configs/stable-diffusion/v1-inference.yaml
kl = ref.AutoencoderKL(dd, embed_dim=4)
clip = ref.CLIPTextModel(dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                              num_attention_heads=12, max_position_embeddings=77, layer_norm_eps=1e-5))
sd = {}
for i in range(524):  # UNet stand-in: 524 x 1280x1280 + 162 x 6168 = 859.52M parameters in 686 tensors
    sd[f"model.diffusion_model.w{i}"] = torch.randn(1280, 1280)
for i in range(162):
    sd[f"model.diffusion_model.b{i}"] = torch.randn(6168)
sd.update({"first_stage_model." + k: v for k, v in kl.state_dict().items()})
sd.update({"cond_stage_model.transformer." + k: v for k, v in clip.state_dict().items()})
torch.save({"state_dict": sd, "global_step": 470000}, ckpt)
n = lambda p: sum(v.numel() for k, v in sd.items() if k.startswith(p))
print(f"wrote {ckpt}: {len(sd)} tensors, {os.path.getsize(ckpt) / 1e9:.2f} GB; unet {n('model.')/1e6:.1f}M, "
      f"first stage {n('first_stage_model.')/1e6:.1f}M, text encoder {n('cond_stage_model.')/1e6:.1f}M parameters")
PY
fi
for sel in "--prefix first_stage_model.decoder. --prefix first_stage_model.post_quant_conv." \
           "--prefix first_stage_model." \
           "--prefix cond_stage_model.transformer." \
           "--prefix cond_stage_model.transformer. --float-type float16" \
           ""; do
  echo "== qncd bench load ${sel:-(whole file)}"
  # shellcheck disable=SC2086
  QNCD_JAVA_OPTS="${QNCD_JAVA_OPTS:--Xmx8g}" "$ROOT/qncd" bench load "$CKPT" $sel --repeat "${REPEAT:-3}" -q
done
