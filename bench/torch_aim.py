#!/usr/bin/env python3
"""The AIM v1 pre-training model in PyTorch, timed one training step at a time on CUDA.

The same model, loss and optimizer as this project's WGSL trainer (src/model/, src/training/),
so bench/compare.ts can set the two side by side ("train-step" lines):

- trunk as ml-aim: Conv2d patch embedding (kernel = stride = p, with bias) + LayerNorm
  (eps 1e-6); fixed 2-D sin-cos positions (first half of the width encodes the column, second
  half the row; [sin, cos] in each half) added after that norm; pre-norm blocks
  x + proj(attn(LN1(x))), x + fc2(GELU(fc1(LN2(x)))) with qkv/proj/fc1/fc2 without bias,
  exact (erf) GELU, prefix-causal attention through scaled_dot_product_attention with the
  boolean mask attn_mask[b, 0, i, j] = j < S_b or j <= i; post-trunk LayerNorm;
- head as ml-l3m's AIM v1 recipe (the paper's variant, no extra x + LN(x) term):
  Linear(D -> W) + bias, + sin-cos(W), N blocks x + fc2(GELU(fc1(LN(x)))) (eps 1e-5, no
  biases), LayerNorm, Linear(W -> p*p*3) + bias;
- loss: normalised-pixel MSE. Targets are the input cut into patches with values in
  (row, col, channel) order, each normalised by its mean and unbiased variance (eps 1e-6);
  the prediction at position i is compared with the patch at i + 1, averaged over a patch's
  values, then over the non-prefix targets (i + 1 >= S_b) only;
- AdamW(lr 1e-3, betas (0.9, 0.95), eps 1e-8, weight decay 0.05 on Linear/Conv weights
  only) after clip_grad_norm_(1.0). torch's default (foreach) implementations of both.

One step = zero_grad, forward + loss, backward, clip, AdamW step; no host synchronisation
inside it. Inputs are batch-256 random normal images already on the GPU and prefixes
S_b ~ U{1 ... K-1}; the same batch every step (data loading is not timed; the WGSL side's
GPU time does not include its CPU batch assembly either).

Modes (impl "torch-cuda-<mode>"): eager-fp32 (TF32 off everywhere), eager-bf16
(torch.autocast bf16; the loss in fp32), compile-fp32 and compile-bf16 (the model and loss
under torch.compile, default mode; the optimizer eager). Timing as torch_common.time_cuda:
warm-up steps (compilation included for compile modes), then CUDA events around `reps`
back-to-back steps / reps, median of `trials`; wall-clock fields likewise. Memory
(`peakBytes`): torch.cuda.max_memory_allocated() since a reset just before the model was
built, less what was allocated at that moment, so it covers parameters, gradients, AdamW
state, activations and the caching allocator's transient peaks of this case alone.

Check: the loss of the first step and of one more step after the timed ones (the same
batch, trained on all the while) must both be finite and the later one lower.

Usage: python3 bench/torch_aim.py [--presets aim-tiny,aim-small] [--batch 256]
                                  [--modes eager-fp32,eager-bf16,compile-fp32,compile-bf16]
Also run by `python3 bench/torch_bench.py --suite train` (and `--suite all`).
"""

from __future__ import annotations

import argparse
import datetime
import math
import sys

from torch_common import emit, sig, time_cuda, timing_fields

# Keep in step with src/model/config.ts: (image, patch, width, depth, heads, head width, head depth)
AIM_PRESETS = {
    "aim-micro": (16, 4, 64, 2, 2, 64, 1),
    "aim-tiny": (32, 4, 192, 6, 6, 256, 4),
    "aim-small": (64, 8, 384, 12, 6, 512, 6),
}
TRAIN_PRESETS = ["aim-tiny", "aim-small"]
TRAIN_BATCH = 256
MODES = ["eager-fp32", "eager-bf16", "compile-fp32", "compile-bf16"]
DEFAULT_MODES = MODES
TRUNK_EPS = 1e-6
HEAD_EPS = 1e-5
NORM_PIX_EPS = 1e-6
LR, BETAS, WEIGHT_DECAY, CLIP = 1e-3, (0.9, 0.95), 0.05, 1.0


def sincos_2d(torch, grid: int, dim: int):
    """[grid*grid, dim] raster order, as src/reference/posembed.ts: column half, then row half."""
    quarter = dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)
    index = torch.arange(grid, dtype=torch.float64)
    rows, cols = torch.meshgrid(index, index, indexing="ij")
    col = cols.reshape(-1, 1) * omega
    row = rows.reshape(-1, 1) * omega
    table = torch.cat([col.sin(), col.cos(), row.sin(), row.cos()], dim=1)
    return table.to(torch.get_default_dtype())  # computed in float64, rounded once


def build_model(torch, preset: str):
    """nn.Module whose forward(images, prefixes) returns the loss (definitions need torch)."""
    import torch.nn as nn
    import torch.nn.functional as F

    image, patch, width, depth, heads, head_width, head_depth = AIM_PRESETS[preset]
    grid = image // patch
    patch_values = patch * patch * 3

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(width, 3 * width, bias=False)
            self.proj = nn.Linear(width, width, bias=False)

        def forward(self, x, mask):
            b, k, _ = x.shape
            q, kk, v = self.qkv(x).view(b, k, 3, heads, width // heads).permute(2, 0, 3, 1, 4)
            out = F.scaled_dot_product_attention(q, kk, v, attn_mask=mask)
            return self.proj(out.transpose(1, 2).reshape(b, k, width))

    class Mlp(nn.Module):
        def __init__(self, dim: int):
            super().__init__()
            self.fc1 = nn.Linear(dim, 4 * dim, bias=False)
            self.fc2 = nn.Linear(4 * dim, dim, bias=False)

        def forward(self, x):
            return self.fc2(F.gelu(self.fc1(x)))  # approximate="none": the exact erf form

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm_1 = nn.LayerNorm(width, eps=TRUNK_EPS)
            self.attn = Attention()
            self.norm_2 = nn.LayerNorm(width, eps=TRUNK_EPS)
            self.mlp = Mlp(width)

        def forward(self, x, mask):
            x = x + self.attn(self.norm_1(x), mask)
            return x + self.mlp(self.norm_2(x))

    class HeadBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm = nn.LayerNorm(head_width, eps=HEAD_EPS)
            self.mlp = Mlp(head_width)

        def forward(self, x):
            return x + self.mlp(self.norm(x))

    class AimV1(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Conv2d(3, width, kernel_size=patch, stride=patch, bias=True)
            self.patch_norm = nn.LayerNorm(width, eps=TRUNK_EPS)
            self.register_buffer("pos", sincos_2d(torch, grid, width), persistent=False)
            self.blocks = nn.ModuleList(Block() for _ in range(depth))
            self.post_trunk_norm = nn.LayerNorm(width, eps=TRUNK_EPS)
            self.proj_in = nn.Linear(width, head_width, bias=True)
            self.register_buffer("head_pos", sincos_2d(torch, grid, head_width), persistent=False)
            self.head_blocks = nn.ModuleList(HeadBlock() for _ in range(head_depth))
            self.head_norm = nn.LayerNorm(head_width, eps=HEAD_EPS)
            self.proj_out = nn.Linear(head_width, patch_values, bias=True)
            k = grid * grid
            self.register_buffer("positions", torch.arange(k), persistent=False)
            for m in self.modules():  # src/model/params.ts: xavier weights, zero biases
                if isinstance(m, (nn.Linear, nn.Conv2d)):
                    nn.init.xavier_uniform_(m.weight.view(m.weight.shape[0], -1))
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)

        def forward(self, images, prefixes):
            b = images.shape[0]
            x = self.proj(images).flatten(2).transpose(1, 2)  # [B, K, D], raster order
            x = self.patch_norm(x) + self.pos
            i = self.positions.view(1, 1, -1, 1)
            j = self.positions.view(1, 1, 1, -1)
            mask = (j < prefixes.view(b, 1, 1, 1)) | (j <= i)  # True = may attend
            for block in self.blocks:
                x = block(x, mask)
            h = self.proj_in(self.post_trunk_norm(x)) + self.head_pos
            for block in self.head_blocks:
                h = block(h)
            pred = self.proj_out(self.head_norm(h))
            # Under bf16 autocast the prediction is bf16: the loss is computed in the inputs' dtype.
            return patch_mse_loss(images, pred.to(images.dtype), prefixes, self.positions)

    def patch_mse_loss(images, pred, prefixes, positions):
        b = images.shape[0]
        # [B, 3, g, p, g, p] -> [B, g, g, p, p, 3]: values in (row, col, channel) order.
        t = images.view(b, 3, grid, patch, grid, patch).permute(0, 2, 4, 3, 5, 1)
        t = t.reshape(b, grid * grid, patch_values)
        mean = t.mean(dim=-1, keepdim=True)
        var = t.var(dim=-1, unbiased=True, keepdim=True)
        t = (t - mean) / (var + NORM_PIX_EPS) ** 0.5
        per_position = ((pred[:, :-1] - t[:, 1:]) ** 2).mean(dim=-1)  # [B, K - 1]
        counted = (positions[1:].view(1, -1) >= prefixes.view(b, 1)).to(pred.dtype)
        return (per_position * counted).sum() / counted.sum()

    return AimV1()


def make_optimizer(torch, model):
    """AdamW with weight decay on Linear/Conv weights only (ml-l3m's recipe)."""
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    groups = [
        {"params": decay, "weight_decay": WEIGHT_DECAY},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=LR, betas=BETAS, eps=1e-8)


def bench_case(torch, env: dict, preset: str, batch: int, mode: str, plan: dict) -> bool:
    image, patch = AIM_PRESETS[preset][:2]
    k = (image // patch) ** 2
    impl = f"torch-cuda-{mode}"
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    torch.manual_seed(0)
    model = build_model(torch, preset).cuda()
    opt = make_optimizer(torch, model)
    gen = torch.Generator(device="cuda").manual_seed(1)
    images = torch.randn(batch, 3, image, image, device="cuda", generator=gen)
    prefixes = torch.randint(1, k, (batch,), device="cuda", generator=gen)
    loss_fn = torch.compile(model) if mode.startswith("compile") else model
    bf16 = mode.endswith("bf16")
    params = list(model.parameters())

    def forward():
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            return loss_fn(images, prefixes)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = forward()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, CLIP)
        opt.step()
        return loss

    first = float(step().detach())  # also the first compilation
    t = time_cuda(torch, step, plan)
    last = float(step().detach())  # a training step too (no_grad would recompile)
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - before
    ok = math.isfinite(first) and math.isfinite(last) and last < first
    emit(
        {
            "name": "train-step",
            "impl": impl,
            "preset": preset,
            "batch": batch,
            "tokens": k,
            "parameters": sum(p.numel() for p in params),
            "imgPerSec": sig(batch * 1000 / t["ms"]),
            "peakBytes": peak,
            "adapter": env["adapter"],
            **timing_fields(t, plan),
            "check": {"firstLoss": sig(first, 5), "lastLoss": sig(last, 5), "ok": ok},
        }
    )
    del model, opt, loss_fn, params
    if mode.startswith("compile"):
        torch._dynamo.reset()  # drop the compiled graphs (and what they hold) before the next case
    return ok


def bench_train(torch, env: dict, presets, batch: int, modes) -> int:
    """Every (preset, mode) as one "train-step" line; returns the failure count."""
    failures = 0
    plan = {"reps": 10, "warmup": 3, "trials": 3}
    for preset in presets:
        for mode in modes:
            try:
                failures += 0 if bench_case(torch, env, preset, batch, mode, plan) else 1
            except Exception as error:  # noqa: BLE001 - e.g. torch.compile without a compiler
                failures += 1
                emit(
                    {
                        "name": "train-step",
                        "impl": f"torch-cuda-{mode}",
                        "preset": preset,
                        "batch": batch,
                        "error": repr(error),
                    }
                )
            torch.cuda.empty_cache()
    return failures


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", default=",".join(TRAIN_PRESETS))
    parser.add_argument("--batch", type=int, default=TRAIN_BATCH)
    parser.add_argument("--modes", default=",".join(DEFAULT_MODES), help=", ".join(MODES))
    args = parser.parse_args(argv)
    presets = [p for p in args.presets.split(",") if p]
    modes = [m for m in args.modes.split(",") if m]
    for name, known in (("preset", AIM_PRESETS), ("mode", MODES)):
        values = presets if name == "preset" else modes
        unknown = [v for v in values if v not in known]
        if unknown:
            parser.error(f"unknown {name}(s) {unknown}; choose from {list(known)}")
    try:
        import torch
    except ImportError as error:
        emit({"name": "torch", "impl": "torch-cuda", "error": f"PyTorch is not installed: {error}"})
        return 2
    if not torch.cuda.is_available():
        emit({"name": "torch", "impl": "torch-cuda", "error": "CUDA is not available to PyTorch"})
        return 2
    set_fp32_precision(torch)
    env = {"adapter": torch.cuda.get_device_name()}
    emit(
        {
            "name": "adapter",
            "impl": "torch-cuda",
            "adapter": env["adapter"],
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "suite": "train",
            "python": sys.version.split()[0],
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        }
    )
    failures = bench_train(torch, env, presets, args.batch, modes)
    if failures:
        print(f"torch_aim: {failures} failure(s), see the error/check fields", file=sys.stderr)
    return 1 if failures else 0


def set_fp32_precision(torch) -> None:
    """fp32 means fp32: no TF32 in matmuls or convolutions (torch_bench.py does the same)."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
