#!/usr/bin/env python3
"""PyTorch side of the benchmark: the same measurements as bench/main.ts, on a CUDA GPU.

Prints one JSON object per line in bench/main.ts's schema, with "impl": "torch-cuda", so that
bench/compare.ts can join the two outputs into aim-over-torch ratio lines:

- "matmul": torch.mm of square f32 n x n x n (n = 1024, 4096, 8192);
- "attention": torch.nn.functional.scaled_dot_product_attention forward, backward and
  forward+backward, fp32, with the boolean mask equivalent to AIM's prefix-causal attention
  (attn_mask[b, 0, i, j] = j < S_b or j <= i, True = may attend), at the attention suite's
  shapes and with the very same prefix lengths (the same mulberry32 generator and seeds);
- "layout": the layouts suite's matmuls and epilogues as eager PyTorch computes them;
- "train-step": whole AIM training steps (bench/torch_aim.py: the same model, loss and
  AdamW as the WGSL trainer) in eager fp32 / bf16 and torch.compile fp32 / bf16.

Everything is fp32 with TF32 off (torch.backends.cuda.matmul.allow_tf32 = False,
torch.backends.cudnn.allow_tf32 = False, float32 matmul precision "highest"); the matmul
check (sampled elements within the f32 dot-product bound) fails if TF32 were in use.

Timing, as bench/timing.ts does it for WebGPU: warm-up runs, then
- ms / gpuMs: CUDA events around `reps` back-to-back calls, divided by reps, median of trials;
- wallBatchedMs: the same with time.perf_counter and torch.cuda.synchronize();
- wallMedianMs: median over reps of one call followed by torch.cuda.synchronize().

Attention timing covers the SDPA call (and its autograd backward) only: q, k, v are strided
views of one [B, T, 3D] tensor, like the WGSL kernel's qkv; the gradients are taken with
respect to q, k, v directly and the output stays [B, H, T, dh], so no layout copy is timed —
PyTorch's best case. Usage:
python3 bench/torch_bench.py [--suite matmul|attention|layouts|train|all]
"""

from __future__ import annotations

import argparse
import datetime
import math
import sys

from torch_common import (
    ATTENTION_BATCH,
    ATTENTION_HEAD_DIMS,
    ATTENTION_SEQ_LENS,
    ATTENTION_WIDTH,
    IMPL,
    MATMUL_SIZES,
    PASS_FLOP_FACTOR,
    aim_prefixes,
    allowed_pairs,
    check_product,
    emit,
    prefix_seed,
    sample_positions,
    sig,
    tflops,
    time_cuda,
    timing_fields,
)
from torch_aim import DEFAULT_MODES, MODES, TRAIN_PRESETS, bench_train
from torch_layouts import bench_layouts

# ---------------------------------------------------------------- matmul


def matmul_case(torch, env: dict, n: int) -> bool:
    """Times torch.mm at n x n x n and emits its line; returns whether its check passed."""
    plan = {"reps": 10 if n >= 8192 else 20, "warmup": 3, "trials": 3}
    gen = torch.Generator(device="cuda").manual_seed(1000 + n)
    a = torch.rand(n, n, device="cuda", generator=gen) * 2 - 1
    b = torch.rand(n, n, device="cuda", generator=gen) * 2 - 1
    c = torch.empty(n, n, device="cuda")
    t = time_cuda(torch, lambda: torch.mm(a, b, out=c), plan)
    check = check_product(torch, a, b, c, sample_positions(n, n))
    emit(
        {
            "name": "matmul",
            "impl": IMPL,
            "shape": [n, n, n],
            "tflops": tflops(2 * n**3, t["ms"]),
            "adapter": env["adapter"],
            **timing_fields(t, plan),
            "check": check,
        }
    )
    return check["ok"]


def bench_matmul(torch, env: dict, sizes: list[int]) -> int:
    failures = 0
    for n in sizes:
        try:
            failures += 0 if matmul_case(torch, env, n) else 1
        except Exception as error:  # noqa: BLE001 - report it and go on with the next size
            failures += 1
            emit({"name": "matmul", "impl": IMPL, "shape": [n, n, n], "error": repr(error)})
        torch.cuda.empty_cache()
    return failures


# ---------------------------------------------------------------- attention


def sdpa_backend_name(torch, q, k, v, mask) -> str | None:
    """Which fused kernel SDPA picks for these inputs (a private API; None if unavailable)."""
    try:
        choice = torch._fused_sdp_choice(q, k, v, mask, 0.0, False)
        from torch.nn.attention import SDPBackend

        return SDPBackend(choice).name
    except Exception:  # noqa: BLE001
        return None


def forced_backend(torch, name: str):
    """A context manager restricting SDPA to one backend (None: PyTorch's own choice)."""
    import contextlib

    if name == "default":
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    backend = {"efficient": SDPBackend.EFFICIENT_ATTENTION, "math": SDPBackend.MATH}[name]
    return sdpa_kernel([backend])


def attention_check(torch, q, k, v, mask, out, b: int, prefix: int) -> dict:
    """Sample b, every head, against a float64 softmax with the same mask.

    A loose absolute bound (1e-4 on outputs of magnitude <= 2): fp32 SDPA errs by ~1e-6, while
    a wrong or inverted mask moves outputs by ~1/T or more, and TF32 by ~1e-3.
    """
    with torch.no_grad():
        qd, kd, vd = q[b].double(), k[b].double(), v[b].double()
        scores = qd @ kd.transpose(-1, -2) / math.sqrt(q.shape[-1])
        scores = scores.masked_fill(~mask[b], float("-inf"))
        want = torch.softmax(scores, dim=-1) @ vd
        err = float((out[b].double() - want).abs().max())
    return {"sample": b, "prefix": prefix, "maxAbsError": sig(err, 3), "ok": err <= 1e-4}


def attention_passes(torch, qkv_heads, mask, d_out, plan: dict, check_sample: tuple[int, int]):
    """Times SDPA forward, backward and both under the current backend; returns (timings, check).

    q, k, v are leaves that are strided [B, H, T, dh] views of one [B, T, 3D] tensor.
    """
    import torch.nn.functional as F

    q, k, v = qkv_heads

    def forward():
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)

    out = forward()
    check = attention_check(torch, q, k, v, mask, out.detach(), *check_sample)

    def backward():
        torch.autograd.grad(out, (q, k, v), d_out, retain_graph=True)

    def forward_backward():
        torch.autograd.grad(forward(), (q, k, v), d_out)

    timed = {
        "forward": time_cuda(torch, forward, plan),
        "backward": time_cuda(torch, backward, plan),
        "forward+backward": time_cuda(torch, forward_backward, plan),
    }
    return timed, check


def attention_inputs(torch, batch: int, seq_len: int, head_dim: int, prefixes: list[int]):
    """qkv in [-2, 2) as q, k, v leaves [B, H, T, dh], dO in [-1, 1), the [B, 1, T, T] mask."""
    width = ATTENTION_WIDTH
    heads = width // head_dim
    gen = torch.Generator(device="cuda").manual_seed(9000 + seq_len)
    qkv = torch.rand(batch, seq_len, 3 * width, device="cuda", generator=gen) * 4 - 2
    views = qkv.view(batch, seq_len, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
    qkv_heads = tuple(views[n].detach().requires_grad_() for n in range(3))
    d_out = torch.rand(batch, heads, seq_len, head_dim, device="cuda", generator=gen) * 2 - 1
    s = torch.tensor(prefixes, device="cuda").view(batch, 1, 1, 1)
    i = torch.arange(seq_len, device="cuda").view(1, 1, seq_len, 1)
    j = torch.arange(seq_len, device="cuda").view(1, 1, 1, seq_len)
    mask = (j < s) | (j <= i)  # True = may attend: the prefix, and causal after it
    return qkv_heads, mask, d_out


def bench_attention(torch, env: dict, batch: int, seq_lens, head_dims, backends) -> int:
    failures = 0
    plan = {"reps": 20, "warmup": 3, "trials": 3}
    for seq_len in seq_lens:
        prefixes = aim_prefixes(batch, seq_len, prefix_seed(seq_len))
        pairs = sum(allowed_pairs(p, seq_len) for p in prefixes)
        dense_pairs = batch * seq_len * seq_len
        for head_dim in head_dims:
            heads = ATTENTION_WIDTH // head_dim
            qkv_heads, mask, d_out = attention_inputs(torch, batch, seq_len, head_dim, prefixes)
            chosen = sdpa_backend_name(torch, *qkv_heads, mask)
            forward_flop = 4 * heads * head_dim * pairs
            dense_flop = 4 * heads * head_dim * dense_pairs
            for backend in backends:
                base = {
                    "name": "attention",
                    "impl": IMPL,
                    "shape": [batch, seq_len, heads, head_dim],
                    "sdpaBackend": backend,
                    "adapter": env["adapter"],
                }
                try:
                    with forced_backend(torch, backend):
                        sample = (batch - 1, prefixes[-1])
                        timed, check = attention_passes(torch, qkv_heads, mask, d_out, plan, sample)
                except Exception as error:  # noqa: BLE001 - e.g. a backend refusing fp32 + mask
                    failures += 1 if backend == "default" else 0
                    emit({**base, "error": repr(error)})
                    continue
                for pass_name, t in timed.items():
                    factor = PASS_FLOP_FACTOR[pass_name]
                    emit(
                        {
                            **base,
                            "pass": pass_name,
                            "width": ATTENTION_WIDTH,
                            "prefixSeed": prefix_seed(seq_len),
                            "prefixSum": sum(prefixes),
                            "allowedFraction": sig(pairs / dense_pairs, 6),
                            "tflops": tflops(forward_flop * factor, t["ms"]),
                            "denseTflops": tflops(dense_flop * factor, t["ms"]),
                            "gflop": sig(forward_flop * factor / 1e9),
                            **timing_fields(t, plan),
                            "check": check,
                            "fusedChoice": chosen if backend == "default" else None,
                        }
                    )
                failures += 0 if check["ok"] else 1
            torch.cuda.empty_cache()
    return failures


# ---------------------------------------------------------------- main


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--suite", choices=["matmul", "attention", "layouts", "train", "all"], default="all"
    )
    parser.add_argument("--sizes", default=",".join(map(str, MATMUL_SIZES)))
    parser.add_argument(
        "--batch",
        type=int,
        default=ATTENTION_BATCH,
        help="batch of the attention, layouts and train suites",
    )
    parser.add_argument("--train-presets", default=",".join(TRAIN_PRESETS))
    parser.add_argument(
        "--train-modes", default=",".join(DEFAULT_MODES), help="of " + ", ".join(MODES)
    )
    parser.add_argument(
        "--sdpa-backends",
        default="default,efficient,math",
        help="SDPA backends to time: default (PyTorch's choice), efficient, math",
    )
    args = parser.parse_args(argv)

    try:
        import torch
    except ImportError as error:
        emit({"name": "torch", "impl": IMPL, "error": f"PyTorch is not installed: {error}"})
        return 2
    if not torch.cuda.is_available():
        emit({"name": "torch", "impl": IMPL, "error": "CUDA is not available to PyTorch"})
        return 2

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    adapter = torch.cuda.get_device_name()
    env = {"adapter": adapter}
    emit(
        {
            "name": "adapter",
            "impl": IMPL,
            "adapter": adapter,
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(),
            "allowTf32Matmul": torch.backends.cuda.matmul.allow_tf32,
            "allowTf32Cudnn": torch.backends.cudnn.allow_tf32,
            "float32MatmulPrecision": torch.get_float32_matmul_precision(),
            "suite": args.suite,
            "python": sys.version.split()[0],
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        }
    )

    failures = 0
    if args.suite in ("matmul", "all"):
        sizes = [int(s) for s in args.sizes.split(",") if s]
        failures += bench_matmul(torch, env, sizes)
    if args.suite in ("attention", "all"):
        backends = [b for b in args.sdpa_backends.split(",") if b]
        failures += bench_attention(
            torch, env, args.batch, ATTENTION_SEQ_LENS, ATTENTION_HEAD_DIMS, backends
        )
    if args.suite in ("layouts", "all"):
        failures += bench_layouts(torch, env, args.batch)
    if args.suite in ("train", "all"):
        presets = [p for p in args.train_presets.split(",") if p]
        modes = [m for m in args.train_modes.split(",") if m]
        failures += bench_train(torch, env, presets, args.batch, modes)
    if failures:
        print(f"torch_bench: {failures} failure(s), see the error/check fields", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
