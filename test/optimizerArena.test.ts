/**
 * The one-pass optimizer: parameters, gradients and AdamW's moments as views into arenas
 * (TensorPool.f32Arena, the allocation the model and the Trainer use), so that the gradient
 * norm's partial sums and AdamW each cover many tensors in ONE dispatch per arena buffer.
 * Checked against the same float64 references as the per-tensor kernels (adamw.test.ts,
 * gradNorm.test.ts), with the same bounds, on awkward sizes (1, not multiples of the 1024-value
 * blocks, many tensors), with a decay mask, a NaN in the last tensor, and the arenas' padding
 * filled with NaN: a kernel that read or wrote outside its tensors would show.
 */
import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context';
import { KERNEL_CASES } from '../src/diagnostics/kernelCases';
import { releaseDispatch, runDispatches, type PreparedDispatch } from '../src/gpu/dispatch';
import { Tensor } from '../src/gpu/tensor';
import { createAdamWStep, prepareAdamW, writeAdamWStep } from '../src/kernels/adamw';
import { prepareGradNorm } from '../src/kernels/gradNorm';
import { REDUCE_BLOCK, REDUCE_DEPTH_PER_PASS, reducePassLengths } from '../src/kernels/reduceSum';
import { arenaLayout } from '../src/model/allocation';
import { TensorPool } from '../src/model/gpuBuffers';
import { adamWStepReference, type AdamWState } from '../src/reference/adamw';
import { clipGradNormReference } from '../src/reference/gradNorm';
import { gammaF32 } from '../src/reference/matmul';
import {
  makeGradient,
  makeParams,
  stepBound,
  u,
  worstBoundRatio,
  type Bounds,
} from './adamwBounds';
import { testGpu } from './gpuContext';

/** One value, block edges (255/256/257, 1023/1024/1025), a long one, small odd ones. */
const SIZES = [1, 3, 255, 256, 257, 1023, 1024, 1025, 2049, 7, 1, 4099];
/** The no-decay exclusions (biases, norms, positions) as a mask: every third tensor. */
const DECAY = SIZES.map((_, i) => (i % 3 === 1 ? 0 : 0.05));

interface Arena {
  pool: TensorPool;
  views: Tensor<'f32'>[];
  /** The arena's buffers (one here: the sizes are far below ARENA_MAX_BYTES). */
  buffers: GPUBuffer[];
}

/** An arena of SIZES whose every byte, padding included, starts as NaN; views then written. */
function makeArena(ctx: GpuContext, label: string, data?: readonly Float32Array[]): Arena {
  const pool = new TensorPool(ctx);
  const views = pool.f32Arena(
    SIZES.map((n) => [n]),
    label,
  );
  const buffers = [...new Set(views.map((v) => v.buffer))];
  for (const b of buffers)
    ctx.device.queue.writeBuffer(b, 0, new Float32Array(b.size / 4).fill(NaN));
  views.forEach((v, i) => v.upload(data?.[i] ?? new Float32Array(v.size)));
  return { pool, views, buffers };
}

async function readBuffer(ctx: GpuContext, buffer: GPUBuffer): Promise<Uint32Array> {
  const staging = ctx.device.createBuffer({
    size: buffer.size,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  await ctx.submit('read arena', (e) => e.copyBufferToBuffer(buffer, 0, staging, 0, buffer.size));
  await staging.mapAsync(GPUMapMode.READ);
  const bits = new Uint32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  return bits;
}

/** The bytes no view owns: every slot's tail, as a list of [start, end) value ranges. */
function padding(): Array<[number, number]> {
  const { slots, bufferBytes } = arenaLayout(SIZES);
  return slots.map((s, i) => [
    s.byteOffset / 4 + SIZES[i],
    (slots[i + 1]?.byteOffset ?? bufferBytes[0]) / 4,
  ]);
}

const isNaNBits = (bits: number) => (bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0;

describe('optimizer arenas: layout', () => {
  it('every tensor starts at a multiple of 256 bytes, after the previous one, in one buffer', () => {
    const { slots, bufferBytes } = arenaLayout(SIZES);
    expect(bufferBytes).toHaveLength(1);
    slots.forEach((s, i) => {
      expect(s.byteOffset % 256).toBe(0);
      if (i > 0)
        expect(s.byteOffset).toBeGreaterThanOrEqual(slots[i - 1].byteOffset + 4 * SIZES[i - 1]);
    });
    expect(bufferBytes[0]).toBe(SIZES.reduce((n, s) => n + Math.ceil((4 * s) / 256) * 256, 0));
  });

  it('a view is bound at its offset and size; disjoint outputs of one arena pass the checks', async () => {
    const ctx = await testGpu();
    const a = makeArena(ctx, 'binding');
    const { slots } = arenaLayout(SIZES);
    expect(a.views[4].binding).toEqual({
      buffer: a.buffers[0],
      offset: slots[4].byteOffset,
      size: 4 * SIZES[4],
    });
    // Round trip through a view: upload and download touch only its own values.
    const values = Float32Array.from({ length: SIZES[3] }, (_, i) => i - 7.5);
    a.views[3].upload(values);
    expect(Array.from(await a.views[3].download())).toEqual(Array.from(values));
    a.pool.destroy();
  });
});

describe('gradient norm over an arena: one partial-sums dispatch for every tensor', () => {
  const grads = SIZES.map((n, i) => {
    const g = makeGradient(n, 300 + i);
    g[n - 1] = 3 + i; // losing any tensor, or its last value, moves Σg² far past the bound
    return g;
  });

  async function normOf(views: readonly Tensor<'f32'>[]) {
    const ctx = await testGpu();
    const norm = Tensor.empty(ctx, [1], 'f32', 'norm');
    const clipScale = Tensor.empty(ctx, [1], 'f32', 'clip scale');
    const nonFiniteSteps = Tensor.empty(ctx, [1], 'u32', 'non-finite steps');
    const dispatches = await prepareGradNorm(ctx, {
      grads: views,
      norm,
      clipScale,
      nonFiniteSteps,
    });
    await runDispatches(ctx, dispatches);
    const out = {
      dispatches: dispatches.map((d) => d.name),
      norm: (await norm.download())[0],
      clipScale: (await clipScale.download())[0],
      nonFinite: (await nonFiniteSteps.download())[0],
    };
    dispatches.forEach(releaseDispatch);
    for (const t of [norm, clipScale, nonFiniteSteps]) t.destroy();
    return out;
  }

  it('the float64 norm within the tree bound, bit-for-bit the per-tensor result, one dispatch', async () => {
    const ctx = await testGpu();
    const arena = makeArena(ctx, 'grads', grads);
    const got = await normOf(arena.views);
    const separate = grads.map((g, i) => Tensor.fromArray(ctx, [g.length], 'f32', g, `g${i}`));
    const perTensor = await normOf(separate);
    // One partials dispatch for the arena against one per tensor before.
    expect(got.dispatches.filter((n) => n.startsWith('grad_norm_partials'))).toHaveLength(1);
    expect(perTensor.dispatches.filter((n) => n.startsWith('grad_norm_partials'))).toHaveLength(
      SIZES.length,
    );
    // Same blocks, same tree, same order of the partials: the same bits.
    expect(got.norm).toBe(perTensor.norm);
    expect(got.clipScale).toBe(perTensor.clipScale);
    // The bound of gradNorm.test.ts: the square, depth 10 per block, 10 per pass over the
    // partials (all terms ≥ 0, so |Ŝ − S| ≤ γ_d·S), halved by sqrt, plus sqrt's own 9u.
    const partials = SIZES.reduce((s, n) => s + Math.max(1, Math.ceil(n / REDUCE_BLOCK)), 0);
    const depth = 1 + REDUCE_DEPTH_PER_PASS * (1 + reducePassLengths(partials).length);
    const want = clipGradNormReference(grads, 1);
    const tol = (gammaF32(depth) / 2 + 9 * u) * want.totalNorm;
    expect(Math.abs(got.norm - want.totalNorm) / tol).toBeLessThanOrEqual(1);
    expect(got.nonFinite).toBe(0);
    // The bound can fail: dropping the last tensor (one value of 3 + 11) is far outside it.
    const without = clipGradNormReference(grads.slice(0, -1), 1).totalNorm;
    expect(Math.abs(without - want.totalNorm) / tol).toBeGreaterThan(1);
    arena.pool.destroy();
    for (const t of separate) t.destroy();
  });

  it('a NaN in the last value of the last tensor: NaN norm and clip scale, counted', async () => {
    const ctx = await testGpu();
    const poisoned = grads.map((g) => Float32Array.from(g));
    poisoned[SIZES.length - 1][SIZES[SIZES.length - 1] - 1] = NaN;
    const arena = makeArena(ctx, 'grads', poisoned);
    const got = await normOf(arena.views);
    expect(got.norm).toBeNaN();
    expect(got.clipScale).toBeNaN();
    expect(got.nonFinite).toBe(1);
    arena.pool.destroy();
  });

  it('many tensors (300, sizes 1 to 40) and two arenas: one dispatch per buffer', async () => {
    const ctx = await testGpu();
    const sizes = Array.from({ length: 300 }, (_, i) => 1 + ((i * 7) % 40));
    const many = sizes.map((n, i) => makeGradient(n, 900 + i));
    const halves = [sizes.slice(0, 150), sizes.slice(150)].map((part) => {
      const pool = new TensorPool(ctx);
      return {
        pool,
        views: pool.f32Arena(
          part.map((n) => [n]),
          'grads',
        ),
      };
    });
    const views = halves.flatMap((h) => h.views);
    views.forEach((v, i) => v.upload(many[i]));
    const got = await normOf(views);
    expect(got.dispatches.filter((n) => n.startsWith('grad_norm_partials'))).toHaveLength(2);
    const want = clipGradNormReference(many, 1);
    const depth = 1 + REDUCE_DEPTH_PER_PASS * (1 + reducePassLengths(300).length);
    const tol = (gammaF32(depth) / 2 + 9 * u) * want.totalNorm;
    expect(Math.abs(got.norm - want.totalNorm) / tol).toBeLessThanOrEqual(1);
    for (const h of halves) h.pool.destroy();
  });
});

describe('AdamW over arenas: the whole model in one dispatch', () => {
  const LRS = [0.02, 0.1, 0.05];
  const CLIP = 0.3;

  interface Optimizer {
    dispatches: PreparedDispatch[];
    destroy: () => void;
    grads: Tensor<'f32'>[];
    params: Tensor<'f32'>[];
    expAvg: Tensor<'f32'>[];
    expAvgSq: Tensor<'f32'>[];
  }

  /** Four arenas (or, `separate`, four tensors per parameter) and their AdamW dispatches. */
  async function makeOptimizer(ctx: GpuContext, separate: boolean, clip: Tensor<'f32'>) {
    const p0 = SIZES.map((n, i) => makeParams(n, 40 + i));
    const step = createAdamWStep(ctx);
    let arenas: Arena[] = [];
    let tensors: Tensor<'f32'>[][];
    if (separate) {
      tensors = [p0, undefined, undefined, undefined].map((data) =>
        SIZES.map((n, i) =>
          data ? Tensor.fromArray(ctx, [n], 'f32', data[i]) : Tensor.empty(ctx, [n], 'f32'),
        ),
      );
    } else {
      arenas = [
        makeArena(ctx, 'p', p0),
        makeArena(ctx, 'g'),
        makeArena(ctx, 'm'),
        makeArena(ctx, 'v'),
      ];
      tensors = arenas.map((a) => a.views);
    }
    const [params, grads, expAvg, expAvgSq] = tensors;
    const dispatches = await prepareAdamW(ctx, {
      params: SIZES.map((_, i) => ({
        param: params[i],
        grad: grads[i],
        expAvg: expAvg[i],
        expAvgSq: expAvgSq[i],
        weightDecay: DECAY[i],
      })),
      step,
      clipScale: clip,
    });
    const o: Optimizer = {
      dispatches,
      grads,
      params,
      expAvg,
      expAvgSq,
      destroy: () => {
        dispatches.forEach(releaseDispatch);
        step.buffer.destroy();
        for (const a of arenas) a.pool.destroy();
        if (separate) for (const t of tensors.flat()) t.destroy();
      },
    };
    return { o, p0, step, arenas };
  }

  it('awkward sizes, decay mask, clip scale 0.3 from the GPU, 3 steps: float64 bounds, per-tensor bits', async () => {
    const ctx = await testGpu();
    const clip = Tensor.fromArray(ctx, [1], 'f32', [CLIP], 'clip scale');
    const arena = await makeOptimizer(ctx, false, clip);
    const single = await makeOptimizer(ctx, true, clip);
    expect(arena.o.dispatches).toHaveLength(1);
    expect(single.o.dispatches).toHaveLength(SIZES.length);
    const zeros = () => SIZES.map((n) => new Float64Array(n));
    let states: AdamWState[] = arena.p0.map((p, i) => ({
      param: Float64Array.from(p),
      expAvg: zeros()[i],
      expAvgSq: zeros()[i],
    }));
    const bounds: Bounds[] = SIZES.map((n) => ({
      param: new Float64Array(n),
      expAvg: new Float64Array(n),
      expAvgSq: new Float64Array(n),
    }));
    for (let k = 0; k < LRS.length; k++) {
      const g = SIZES.map((n, i) => makeGradient(n, 500 + 13 * k + i));
      for (const run of [arena, single]) {
        run.o.grads.forEach((t, i) => t.upload(g[i]));
        writeAdamWStep(ctx, run.step, k + 1, LRS[k]);
        await runDispatches(ctx, run.o.dispatches);
      }
      const clipScale = Math.fround(CLIP);
      const next: AdamWState[] = [];
      for (let i = 0; i < SIZES.length; i++) {
        const cfg = { step: k + 1, lr: LRS[k], weightDecay: DECAY[i], clipScale };
        next.push(adamWStepReference(states[i], g[i], cfg));
        bounds[i] = stepBound(states[i], next[i], bounds[i], g[i], cfg);
        const got = {
          param: await arena.o.params[i].download(),
          expAvg: await arena.o.expAvg[i].download(),
          expAvgSq: await arena.o.expAvgSq[i].download(),
        };
        expect(
          worstBoundRatio(got, next[i], bounds[i]),
          `step ${k + 1} tensor ${i}`,
        ).toBeLessThanOrEqual(1);
        // The same arithmetic value by value as one dispatch per tensor: the same bits.
        expect(Array.from(got.param)).toEqual(Array.from(await single.o.params[i].download()));
        expect(Array.from(got.expAvgSq)).toEqual(Array.from(await single.o.expAvgSq[i].download()));
      }
      states = next;
    }
    // Decay is per range: a decayed tensor run without decay would fall outside its bound.
    const i = 0;
    const plain = adamWStepReference(
      { param: Float64Array.from(arena.p0[i]), expAvg: zeros()[i], expAvgSq: zeros()[i] },
      makeGradient(SIZES[i], 500),
      { step: 1, lr: LRS[0], weightDecay: 0, clipScale: Math.fround(CLIP) },
    );
    expect(plain.param[0]).not.toBe(states[i].param[0]);
    // Nothing wrote the padding: still NaN in every arena.
    for (const a of arena.arenas) {
      const bits = await readBuffer(ctx, a.buffers[0]);
      for (const [start, end] of padding())
        for (let v = start; v < end; v++) expect(isNaNBits(bits[v])).toBe(true);
    }
    arena.o.destroy();
    single.o.destroy();
    clip.destroy();
  });

  it('a NaN in the last tensor: the norm → AdamW pipeline leaves every arena bit-identical', async () => {
    const ctx = await testGpu();
    const norm = Tensor.empty(ctx, [1], 'f32', 'norm');
    const clip = Tensor.empty(ctx, [1], 'f32', 'clip scale');
    const run = await makeOptimizer(ctx, false, clip);
    const normDispatches = await prepareGradNorm(ctx, {
      grads: run.o.grads,
      norm,
      clipScale: clip,
    });
    const g = SIZES.map((n, i) => makeGradient(n, 700 + i));
    g[SIZES.length - 1][SIZES[SIZES.length - 1] - 1] = NaN;
    run.o.grads.forEach((t, i) => t.upload(g[i]));
    const before = await Promise.all(run.arenas.map((a) => readBuffer(ctx, a.buffers[0])));
    writeAdamWStep(ctx, run.step, 1, 0.1);
    await runDispatches(ctx, [...normDispatches, ...run.o.dispatches]);
    expect((await norm.download())[0]).toBeNaN();
    const after = await Promise.all(run.arenas.map((a) => readBuffer(ctx, a.buffers[0])));
    for (const k of [0, 2, 3]) expect(after[k]).toEqual(before[k]); // p, m, v; 1 is the gradient
    // And a clean step afterwards moves the parameters (the test can fail).
    g[SIZES.length - 1][SIZES[SIZES.length - 1] - 1] = 0.5;
    run.o.grads[SIZES.length - 1].upload(g[SIZES.length - 1]);
    await runDispatches(ctx, [...normDispatches, ...run.o.dispatches]);
    expect(await readBuffer(ctx, run.arenas[0].buffers[0])).not.toEqual(before[0]);
    normDispatches.forEach(releaseDispatch);
    run.o.destroy();
    norm.destroy();
    clip.destroy();
  });
});

describe('the browser kernel cases of the arena optimizer, run here', () => {
  for (const c of KERNEL_CASES.filter((k) => k.name.startsWith('optimizer arena'))) {
    it(c.name, async () => {
      const ctx = await testGpu();
      const x = c.inputs();
      const y = await c.run(ctx, x);
      expect(c.grade(x, y)).toBeLessThanOrEqual(1);
      // The grade can fail: one parameter moved by 1e-4.
      const moved = { ...y, param: y.param.map((v, i) => (i === 2 ? v + 1e-4 : v)) };
      expect(c.grade(x, moved)).toBeGreaterThan(1);
    });
  }
});
