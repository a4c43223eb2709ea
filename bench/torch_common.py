"""What bench/torch_bench.py shares: shapes, seeds and output of the TypeScript side, timing.

Everything here must match bench/args.ts, bench/attentionSuite.ts, bench/layouts.ts and
bench/stats.ts, so that bench/compare.ts can join the two sides' lines: the attention
prefixes come from the same mulberry32 generator and seeds, the layout cases have the same
ids and shapes. Functions that need PyTorch take the module as an argument, so this file
imports (and can be checked) where PyTorch is not installed.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import time

# Keep these in step with bench/args.ts, bench/attentionSuite.ts and bench/layouts.ts.
MATMUL_SIZES = [1024, 4096, 8192]
ATTENTION_BATCH = 256
ATTENTION_WIDTH = 384
ATTENTION_SEQ_LENS = [64, 256]
ATTENTION_HEAD_DIMS = [32, 64]
PASS_FLOP_FACTOR = {"forward": 1.0, "backward": 2.5, "forward+backward": 3.5}
# preset: (image size, patch size, width), as src/model/config.ts
LAYOUT_PRESETS = {"aim-tiny": (32, 4, 192), "aim-small": (64, 8, 384)}
IMPL = "torch-cuda"


def mulberry32(seed: int):
    """src/reference/random.ts's generator, bit for bit (32-bit unsigned arithmetic)."""
    state = seed & 0xFFFFFFFF

    def imul(a: int, b: int) -> int:
        return (a * b) & 0xFFFFFFFF

    def next_value() -> float:
        nonlocal state
        state = (state + 0x6D2B79F5) & 0xFFFFFFFF
        t = state
        t = imul(t ^ (t >> 15), t | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296

    return next_value


def prefix_seed(seq_len: int) -> int:
    return 7000 + seq_len


def aim_prefixes(batch: int, seq_len: int, seed: int) -> list[int]:
    """AIM's pre-training prefixes, S_b uniform in {1, ..., T - 1}, as bench/attentionSuite.ts."""
    nxt = mulberry32(seed)
    return [1 + math.floor(nxt() * max(1, seq_len - 1)) for _ in range(batch)]


def allowed_pairs(prefix: int, seq_len: int) -> int:
    s = min(max(prefix, 0), seq_len)
    return s * s + (seq_len * (seq_len + 1) - s * (s + 1)) // 2


def layout_cases(rows: int, width: int) -> list[dict]:
    """bench/layouts.ts's cases: ids, stored shapes, transposes, epilogues, baselines."""
    m, d, f = rows, width, 4 * width

    def case(cid, a_shape, b_shape, trans_a=False, trans_b=False, baseline=None, **epilogue):
        return {
            "id": cid,
            "a": a_shape,
            "b": b_shape,
            "transA": trans_a,
            "transB": trans_b,
            "baseline": baseline,
            "epilogue": epilogue,
        }

    return [
        case("qkv:ABt", [m, d], [3 * d, d], trans_b=True),
        case("fc1:AB", [m, d], [d, f]),
        case("fc1:ABt", [m, d], [f, d], trans_b=True, baseline="fc1:AB"),
        case("fc1:ABt+bias", [m, d], [f, d], trans_b=True, baseline="fc1:ABt", bias=True),
        case("fc1:ABt+gelu", [m, d], [f, d], trans_b=True, baseline="fc1:ABt", gelu=True),
        case(
            "fc1:ABt+bias+gelu",
            [m, d],
            [f, d],
            trans_b=True,
            baseline="fc1:ABt",
            bias=True,
            gelu=True,
        ),
        case("fc2:ABt", [m, f], [d, f], trans_b=True),
        case("fc2:ABt+residual", [m, f], [d, f], trans_b=True, baseline="fc2:ABt", residual=True),
        case("fc2-dgrad:AB+gelu-grad", [m, d], [d, f], baseline="fc1:AB", gelu_grad=True),
        case("fc1-wgrad:AtB", [m, f], [m, d], trans_a=True),
        case(
            "fc1-wgrad:AtB+accumulate",
            [m, f],
            [m, d],
            trans_a=True,
            baseline="fc1-wgrad:AtB",
            accumulate=True,
        ),
        case("fc2-wgrad:AtB", [m, d], [m, f], trans_a=True),
    ]


def sig(value: float, digits: int = 4) -> float:
    if value is None or not math.isfinite(value) or value == 0:
        return value
    return float(f"{value:.{digits - 1}e}")


def emit(record: dict) -> None:
    """One JSON object per line on stdout, fields that are None left out (like JSON.stringify)."""
    clean = {k: v for k, v in record.items() if v is not None}
    sys.stdout.write(json.dumps(clean, ensure_ascii=False, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def sample_positions(m: int, n: int) -> list[tuple[int, int]]:
    raw = [(0, 0), (m - 1, n - 1), (m >> 1, n // 3), (m // 3, n - 1)]
    return list(dict.fromkeys(raw))


def gamma_f32(k: int) -> float:
    ku = k * 2.0**-24
    return ku / (1 - ku)


# ---------------------------------------------------------------- timing


def time_cuda(torch, fn, plan: dict) -> dict:
    for _ in range(plan["warmup"]):
        fn()
    torch.cuda.synchronize()
    reps, trials = plan["reps"], plan["trials"]
    batched, wall_batched, single = [], [], []
    for _ in range(trials):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(reps):
            fn()
        end.record()
        end.synchronize()
        batched.append(start.elapsed_time(end) / reps)
    for _ in range(trials):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        torch.cuda.synchronize()
        wall_batched.append((time.perf_counter() - t0) * 1e3 / reps)
    for _ in range(reps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        single.append((time.perf_counter() - t0) * 1e3)
    ms = statistics.median(batched)
    return {
        "ms": ms,
        "timing": "cuda-events",
        "gpuMs": ms,
        "wallBatchedMs": statistics.median(wall_batched),
        "wallMedianMs": statistics.median(single),
    }


def timing_fields(t: dict, plan: dict) -> dict:
    return {
        "ms": sig(t["ms"]),
        "timing": t["timing"],
        "gpuMs": sig(t["gpuMs"]),
        "wallBatchedMs": sig(t["wallBatchedMs"]),
        "wallMedianMs": sig(t["wallMedianMs"]),
        "reps": plan["reps"],
        "warmup": plan["warmup"],
        "trials": plan["trials"],
    }


def tflops(flop: float, ms: float) -> float:
    return sig(flop / (ms * 1e-3) / 1e12)


# ---------------------------------------------------------------- checks


def check_product(torch, a_op, b_op, got, positions, epilogue=None) -> dict:
    """Sampled elements of op(A)·op(B) (+ epilogue) vs float64, within bench/layouts.ts's bound."""
    k = a_op.shape[1]
    gamma = gamma_f32(k)
    worst = 0.0
    for i, j in positions:
        a_row = a_op[i].double()
        b_col = b_op[:, j].double()
        dot = float(torch.dot(a_row, b_col))
        abs_dot = float(torch.dot(a_row.abs(), b_col.abs()))
        want = dot if epilogue is None else epilogue(i, j, dot)
        rounding = 6e-7 * (abs(want) + abs(dot) + 1) if epilogue else 0.0
        tol = 1.13 * gamma * abs_dot + rounding + 1e-30
        err = abs(float(got[i, j]) - want) / tol
        worst = max(worst, err if math.isfinite(err) else math.inf)
    return {"samples": len(positions), "worstBoundRatio": sig(worst, 3), "ok": worst <= 1}
