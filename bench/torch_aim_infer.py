#!/usr/bin/env python3
"""AIM v1 inference (trunk + attentive probe) in PyTorch, timed one batch at a time.

The PyTorch side of the ONNX inference benchmark (bench/onnx_infer.ts, `"name":"onnx-infer"`
lines): the same architecture as src/onnx/export.ts's graph, with random weights:

- ml-aim's trunk: Conv2d patch embedding (kernel = stride = 14, with bias) + LayerNorm
  (eps 1e-6), fixed 2-D sin-cos positions (torch_aim.sincos_2d), bidirectional pre-norm blocks
  x + proj(attn(LN1(x))), x + fc2(GELU(fc1(LN2(x)))) without biases, exact GELU, attention
  through scaled_dot_product_attention; run only up to the deepest probe layer (7B: 20 of 32
  blocks), as the export does;
- features = the mean of the probe layers' block outputs (ml-aim's AverageLayers);
- ml-aim's AttentionPoolingClassifier: BatchNorm1d(affine=False, eps 1e-6) in eval mode, one
  learnable query attending over k(x), v(x) with the trunk's heads, the mean over queries,
  Linear(D -> 1000) with bias.

Weights: truncated normal std 0.02 (cut at 2 sigma) for Linear/Conv weights and the query,
LayerNorm weights 1 + noise, small biases, BatchNorm running_var 1 + noise (positive) — the
distributions of src/onnx/randomWeights.ts, not its values (the latency does not depend on
them). Built and drawn directly on the device, so a 7B never passes through host memory.

Modes (impl "torch-<device>-<mode>"):
  eager-fp32        fp32 weights and arithmetic, TF32 off (as bench/torch_bench.py)
  eager-bf16        fp32 weights under torch.autocast(bfloat16): what a training checkpoint
                    gets with one line; every Linear casts its weight on each call
  bf16-weights      the model converted to bfloat16 (weights stored bf16, like int4 a
                    reduced-precision copy of the weights)

Timing per mode: the first forward (`firstRunMs`, cuBLAS/cuDNN set-up included), `--warmup`
more, then `--runs` forwards each between CUDA events (`medianMs`, `p10Ms`, `p90Ms`) and each
wall-clock with a synchronize (`wallMedianMs`). Memory: torch.cuda.max_memory_allocated()
since a reset before the model was built, less what was allocated then (`peakBytes`: weights
+ activations + allocator transients), and the weights alone (`weightBytes`). The CUDA
context and cached-but-free blocks are not in it; nvidia-smi sampled beside the run is.

Usage: python3 bench/torch_aim_infer.py [--presets aim-600M,aim-7B] [--modes eager-fp32,...]
                                        [--runs 20] [--batch 1] [--device cuda|cpu]
Without CUDA it runs on the CPU (slowly: use --presets aim-test for a check); without PyTorch
it prints an error line and exits 2. One JSON object per line on stdout.
"""

from __future__ import annotations

import argparse
import datetime
import math
import statistics
import sys
import time

from torch_aim import set_fp32_precision, sincos_2d
from torch_common import emit, sig

# (image, patch, width, blocks, heads, probe layers) as src/model/config.ts PRESETS and
# src/onnx/randomWeights.ts's best probe layers; aim-test is a seconds-on-a-CPU check.
INFER_PRESETS = {
    "aim-600M": (224, 14, 1536, 24, 12, range(14, 20)),
    "aim-1B": (224, 14, 2048, 24, 16, range(12, 18)),
    "aim-3B": (224, 14, 3072, 24, 24, range(12, 18)),
    "aim-7B": (224, 14, 4096, 32, 32, range(14, 20)),
    "aim-test": (28, 7, 48, 4, 3, range(1, 3)),
}
DEFAULT_PRESETS = ["aim-600M", "aim-7B"]
MODES = ["eager-fp32", "eager-bf16", "bf16-weights"]
CLASSES = 1000
TRUNK_EPS = 1e-6
BN_EPS = 1e-6
STD = 0.02


def build_model(torch, preset: str, device: str):
    """nn.Module on `device`: images [B, 3, H, W] -> (logits [B, 1000], features [B, K, D])."""
    import torch.nn as nn
    import torch.nn.functional as F

    image, patch, width, depth, heads, probe = INFER_PRESETS[preset]
    probe = list(probe)
    grid = image // patch
    head_dim = width // heads
    on = {"device": device}  # every tensor made in place: a 7B never passes through host memory

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm_1 = nn.LayerNorm(width, eps=TRUNK_EPS, **on)
            self.qkv = nn.Linear(width, 3 * width, bias=False, **on)
            self.proj = nn.Linear(width, width, bias=False, **on)
            self.norm_2 = nn.LayerNorm(width, eps=TRUNK_EPS, **on)
            self.fc1 = nn.Linear(width, 4 * width, bias=False, **on)
            self.fc2 = nn.Linear(4 * width, width, bias=False, **on)

        def forward(self, x):
            b, k, _ = x.shape
            qkv = self.qkv(self.norm_1(x)).view(b, k, 3, heads, head_dim)
            q, kk, v = qkv.permute(2, 0, 3, 1, 4)
            a = F.scaled_dot_product_attention(q, kk, v)  # bidirectional: no mask
            x = x + self.proj(a.transpose(1, 2).reshape(b, k, width))
            return x + self.fc2(F.gelu(self.fc1(self.norm_2(x))))  # exact (erf) GELU

    class AttentionProbe(nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = nn.BatchNorm1d(width, affine=False, eps=BN_EPS, **on)
            self.cls_token = nn.Parameter(torch.zeros(1, 1, width, **on))
            self.k = nn.Linear(width, width, bias=False, **on)
            self.v = nn.Linear(width, width, bias=False, **on)
            self.linear = nn.Linear(width, CLASSES, bias=True, **on)

        def forward(self, x):
            b, k, _ = x.shape
            x = self.bn(x.transpose(1, 2)).transpose(1, 2)
            q = self.cls_token.expand(b, -1, -1).reshape(b, -1, heads, head_dim).transpose(1, 2)
            kk = self.k(x).reshape(b, k, heads, head_dim).transpose(1, 2)
            v = self.v(x).reshape(b, k, heads, head_dim).transpose(1, 2)
            pooled = F.scaled_dot_product_attention(q, kk, v)  # [B, H, Q, dh]
            pooled = pooled.transpose(1, 2).reshape(b, -1, width).mean(dim=1)
            return self.linear(pooled)

    class AimV1Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Conv2d(3, width, kernel_size=patch, stride=patch, bias=True, **on)
            self.patch_norm = nn.LayerNorm(width, eps=TRUNK_EPS, **on)
            pos = sincos_2d(torch, grid, width).to(device)
            self.register_buffer("pos", pos, persistent=False)
            # Blocks past the deepest probe layer are never run: not built either.
            self.blocks = nn.ModuleList(Block() for _ in range(max(probe) + 1))
            self.head = AttentionProbe()

        def forward(self, images):
            x = self.patch_norm(self.proj(images).flatten(2).transpose(1, 2)) + self.pos
            picked = []
            for i, block in enumerate(self.blocks):
                x = block(x)
                if i in probe:
                    picked.append(x)
            features = torch.stack(picked, dim=-1).mean(dim=-1)
            return self.head(features), features

    model = AimV1Probe()
    model.num_blocks = depth
    return model


def randomize(torch, model) -> None:
    """src/onnx/randomWeights.ts's distributions, drawn with torch's generator on the device."""
    import torch.nn as nn

    def tn(t, mean=0.0, std=STD):
        nn.init.trunc_normal_(t, mean=mean, std=std, a=mean - 2 * std, b=mean + 2 * std)

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                tn(m.weight)
                if m.bias is not None:
                    tn(m.bias)
            elif isinstance(m, nn.LayerNorm):
                tn(m.weight, mean=1.0)
                tn(m.bias)
            elif isinstance(m, nn.BatchNorm1d):
                tn(m.running_mean)
                tn(m.running_var, mean=1.0, std=0.1)
        tn(model.head.cls_token)


def quantile(sorted_values: list[float], q: float) -> float:
    """numpy's default (linear) quantile, as bench/onnx_infer.ts."""
    at = q * (len(sorted_values) - 1)
    lo = math.floor(at)
    hi = min(len(sorted_values) - 1, lo + 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (at - lo)


def bench_case(
    torch, device: str, preset: str, mode: str, batch: int, runs: int, warmup: int
) -> bool:
    image, patch, width, _, heads, probe = INFER_PRESETS[preset]
    cuda = device == "cuda"
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    torch.manual_seed(0)
    built = time.perf_counter()
    model = build_model(torch, preset, device)
    randomize(torch, model)
    model.eval()
    if mode == "bf16-weights":
        model = model.to(torch.bfloat16)
    dtype = torch.bfloat16 if mode == "bf16-weights" else torch.float32
    if cuda:
        torch.cuda.synchronize()
        weight_bytes = torch.cuda.memory_allocated() - before
    build_ms = (time.perf_counter() - built) * 1e3
    gen = torch.Generator(device=device).manual_seed(1)
    images = (torch.rand(batch, 3, image, image, device=device, generator=gen) * 4 - 2).to(dtype)
    autocast = mode == "eager-bf16"

    def forward():
        with torch.inference_mode():
            with torch.autocast(device, dtype=torch.bfloat16, enabled=autocast):
                return model(images)

    def sync():
        if cuda:
            torch.cuda.synchronize()

    t0 = time.perf_counter()
    logits, features = forward()
    sync()
    first_ms = (time.perf_counter() - t0) * 1e3
    for _ in range(warmup):
        forward()
    sync()
    gpu_ms, wall_ms = [], []
    for _ in range(runs):
        if cuda:
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            t0 = time.perf_counter()
            start.record()
            logits, features = forward()
            end.record()
            end.synchronize()
            wall_ms.append((time.perf_counter() - t0) * 1e3)
            gpu_ms.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            logits, features = forward()
            wall_ms.append((time.perf_counter() - t0) * 1e3)
    times = sorted(gpu_ms if cuda else wall_ms)
    out = logits.float()
    finite = bool(torch.isfinite(out).all()) and bool(torch.isfinite(features.float()).all())
    emit(
        {
            "name": "torch-infer",
            "impl": f"torch-{device}-{mode}",
            "preset": preset,
            "mode": mode,
            "device": device,
            "adapter": torch.cuda.get_device_name() if cuda else "cpu",
            "batch": batch,
            "imageShape": [3, image, image],
            "blocks": len(model.blocks),
            "numBlocks": model.num_blocks,
            "embedDim": width,
            "heads": heads,
            "probeLayers": list(probe),
            "parameters": sum(p.numel() for p in model.parameters()),
            "buildMs": sig(build_ms),
            "firstRunMs": sig(first_ms),
            "runs": runs,
            "warmup": warmup,
            "timing": "cuda-events" if cuda else "wall-clock",
            "medianMs": sig(statistics.median(times)),
            "p10Ms": sig(quantile(times, 0.1)),
            "p90Ms": sig(quantile(times, 0.9)),
            "minMs": sig(times[0]),
            "wallMedianMs": sig(statistics.median(wall_ms)),
            "imgPerSec": sig(batch * 1000 / statistics.median(times)),
            "weightBytes": weight_bytes if cuda else None,
            "peakBytes": torch.cuda.max_memory_allocated() - before if cuda else None,
            "check": {
                "finite": finite,
                "top1": int(out[0].argmax()),
                "logitsHead": [sig(float(v), 6) for v in out[0, :4]],
                "ok": finite,
            },
        }
    )
    del model, images, logits, features
    return finite


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--presets", default=",".join(DEFAULT_PRESETS), help=", ".join(INFER_PRESETS)
    )
    parser.add_argument("--modes", default=",".join(MODES), help=", ".join(MODES))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--device", choices=["cuda", "cpu"], help="default: cuda when available")
    args = parser.parse_args(argv)
    presets = [p for p in args.presets.split(",") if p]
    modes = [m for m in args.modes.split(",") if m]
    for name, values, known in (("preset", presets, INFER_PRESETS), ("mode", modes, MODES)):
        unknown = [v for v in values if v not in known]
        if unknown:
            parser.error(f"unknown {name}(s) {unknown}; choose from {list(known)}")
    if args.runs < 1 or args.batch < 1 or args.warmup < 0:
        parser.error("--runs and --batch must be >= 1, --warmup >= 0")
    try:
        import torch
    except ImportError as error:
        emit({"name": "torch", "impl": "torch", "error": f"PyTorch is not installed: {error}"})
        return 2
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        emit({"name": "torch", "impl": "torch-cuda", "error": "CUDA is not available to PyTorch"})
        return 2
    set_fp32_precision(torch)
    emit(
        {
            "name": "adapter",
            "impl": f"torch-{device}",
            "adapter": torch.cuda.get_device_name() if device == "cuda" else "cpu",
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "suite": "infer",
            "python": sys.version.split()[0],
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        }
    )
    failures = 0
    for preset in presets:
        for mode in modes:
            try:
                ok = bench_case(torch, device, preset, mode, args.batch, args.runs, args.warmup)
                failures += 0 if ok else 1
            except Exception as error:  # noqa: BLE001 - e.g. out of memory: report, go on
                failures += 1
                impl = f"torch-{device}-{mode}"
                emit({"name": "torch-infer", "impl": impl, "preset": preset, "error": repr(error)})
            if device == "cuda":
                torch.cuda.empty_cache()
    if failures:
        print(f"torch_aim_infer: {failures} failure(s), see error/check fields", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
