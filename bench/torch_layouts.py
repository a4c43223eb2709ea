"""bench/torch_bench.py's layouts suite: bench/layouts.ts's cases as eager PyTorch runs them."""

from __future__ import annotations

import math

from torch_common import (
    IMPL,
    LAYOUT_PRESETS,
    check_product,
    emit,
    layout_cases,
    sample_positions,
    sig,
    tflops,
    time_cuda,
    timing_fields,
)


def bench_layouts(torch, env: dict, batch: int) -> int:
    import torch.nn.functional as F

    failures = 0
    plan = {"reps": 20, "warmup": 3, "trials": 3}
    for preset, (image, patch, width) in LAYOUT_PRESETS.items():
        rows = batch * (image // patch) ** 2
        ms_by_id: dict[str, float] = {}
        for n, c in enumerate(layout_cases(rows, width)):
            base = {"name": "layout", "impl": IMPL, "preset": preset, "case": c["id"]}
            try:
                gen = torch.Generator(device="cuda").manual_seed(100 * n + 1)

                def rand(*shape: int, lo: float = -1.0, hi: float = 1.0):
                    return torch.rand(*shape, device="cuda", generator=gen) * (hi - lo) + lo

                a, b = rand(*c["a"]), rand(*c["b"])
                a_op = a.t() if c["transA"] else a
                b_op = b.t() if c["transB"] else b
                m, k = a_op.shape
                cols = b_op.shape[1]
                e = c["epilogue"]
                bias = rand(cols) if e.get("bias") else None
                residual = rand(m, cols) if e.get("residual") else None
                aux = rand(m, cols, lo=-3.0, hi=3.0) if e.get("gelu_grad") else None
                previous = rand(m, cols) if e.get("accumulate") else None
                out = torch.empty(m, cols, device="cuda") if previous is None else previous.clone()
                fn = layout_op(torch, F, e, a_op, b_op, out, bias, residual, aux)
                t = time_cuda(torch, fn, plan)
                if previous is not None:
                    out.copy_(previous)  # accumulate: start again from C0 for the check
                result = fn()
                torch.cuda.synchronize()
                epilogue = layout_epilogue(e, bias, residual, aux, previous)
                positions = sample_positions(m, cols)
                check = check_product(torch, a_op, b_op, result, positions, epilogue)
                ms_by_id[c["id"]] = t["ms"]
                baseline_ms = ms_by_id.get(c["baseline"]) if c["baseline"] else None
                emit(
                    {
                        **base,
                        "shape": [m, cols, k],
                        "aShape": c["a"],
                        "bShape": c["b"],
                        "tflops": tflops(2 * m * cols * k, t["ms"]),
                        "baseline": c["baseline"],
                        "vsBaseline": sig(t["ms"] / baseline_ms, 3) if baseline_ms else None,
                        "adapter": env["adapter"],
                        **timing_fields(t, plan),
                        "check": check,
                    }
                )
                failures += 0 if check["ok"] else 1
            except Exception as error:  # noqa: BLE001
                failures += 1
                emit({**base, "error": repr(error)})
    return failures


def layout_op(torch, F, e: dict, a_op, b_op, out, bias, residual, aux):
    """The eager PyTorch call for one layout case; returns a function giving the result."""
    if e.get("gelu"):
        # Two kernels, as eager PyTorch runs a Linear then GELU (the pre-activation stays alive).
        def linear_gelu():
            pre = torch.addmm(bias, a_op, b_op) if bias is not None else torch.mm(a_op, b_op)
            return F.gelu(pre)

        return linear_gelu
    if e.get("gelu_grad"):
        return lambda: torch.ops.aten.gelu_backward(torch.mm(a_op, b_op), aux)
    if e.get("accumulate"):
        return lambda: out.addmm_(a_op, b_op)
    if bias is not None:
        return lambda: torch.addmm(bias, a_op, b_op, out=out)
    if residual is not None:
        return lambda: torch.addmm(residual, a_op, b_op, out=out)
    return lambda: torch.mm(a_op, b_op, out=out)


def layout_epilogue(e: dict, bias, residual, aux, previous):
    """The float64 epilogue of one sampled element (None: a plain product)."""
    if not e:
        return None

    def gelu(x: float) -> float:
        return 0.5 * x * math.erfc(-x / math.sqrt(2))

    def gelu_grad(x: float) -> float:
        density = math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return 0.5 * math.erfc(-x / math.sqrt(2)) + x * density

    def apply(i: int, j: int, v: float) -> float:
        if bias is not None:
            v += float(bias[j])
        if e.get("gelu"):
            v = gelu(v)
        if e.get("gelu_grad"):
            v *= gelu_grad(float(aux[i, j]))
        if residual is not None:
            v += float(residual[i, j])
        if previous is not None:
            v += float(previous[i, j])
        return v

    return apply
