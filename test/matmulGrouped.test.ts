/**
 * The grouped matmul (shaders/matmul_grouped.wgsl, src/kernels/matmulGrouped.ts): two
 * products sharing A in one dispatch — against the float64 reference on awkward shapes (M, N,
 * K of 1, tile − 1, not multiples of either tile; every transpose; the backward's epilogues:
 * GELU gradient, accumulate, split-K partials and their reduce), bit for bit against the two
 * separate prepareMatmul dispatches it replaces (whatever the group's tile), its validation,
 * and negative controls that show both comparisons can fail.
 */
import { describe, expect, it } from 'vitest';
import { isMatmulProduct, kernelFamily } from '../bench/profileSuite';
import { KERNEL_CASES } from '../src/diagnostics/kernelCases';
import { adapterProfile } from '../src/gpu/adapterProfiles';
import { GpuContext } from '../src/gpu/context';
import { releaseDispatch } from '../src/gpu/dispatch';
import { fileShaderSource } from '../src/gpu/shaderSource.node';
import { Tensor } from '../src/gpu/tensor';
import { matmul, matmulShape, type MatmulOptions } from '../src/kernels/matmul';
import {
  groupedMatmul,
  groupedMatmulTile,
  prepareGroupedMatmul,
  type GroupedMatmulProblem,
} from '../src/kernels/matmulGrouped';
import { matmulPlan, type MatmulStages, type MatmulTile } from '../src/kernels/matmulPlan';
import { isDeferrable } from '../src/kernels/partialsReduce';
import {
  epilogueReference,
  gammaF32,
  matmulAbsReference,
  matmulReference,
} from '../src/reference/matmul';
import { randomF32 } from '../src/reference/random';
import { worstRatio } from './compare';
import { testGpu } from './gpuContext';

type ProblemOpts = Pick<
  MatmulOptions,
  'transA' | 'transB' | 'activation' | 'accumulate' | 'splitK' | 'tile'
>;

/** One problem of a case: B's stored shape and the options (A is the case's). */
interface ProblemCase {
  b: number[];
  opts: ProblemOpts;
}

interface GroupCase {
  a: number[];
  problems: [ProblemCase, ProblemCase];
  /** The group's tile (default: groupedMatmulTile's choice). */
  tile?: MatmulTile;
  /** The group's shared-memory stages (default: the adapter's choice). */
  stages?: MatmulStages;
}

const size = (shape: readonly number[]) => shape.reduce((x, y) => x * y, 1);

/** Seeded inputs of a case: A, and per problem B, C's previous contents and aux. */
function caseData(c: GroupCase, seed: number) {
  const a = randomF32(size(c.a), seed);
  const problems = c.problems.map((p, i) => {
    const s = matmulShape(c.a, p.b, p.opts);
    return {
      s,
      b: randomF32(size(p.b), seed + 10 * i + 1),
      previous: randomF32(s.m * s.n, seed + 10 * i + 2),
      aux: randomF32(s.m * s.n, seed + 10 * i + 3, -3, 3),
    };
  });
  return { a, problems };
}

/** Runs the case grouped (or, with `separate`, as two prepareMatmul products); returns each C. */
async function runCase(
  ctx: GpuContext,
  c: GroupCase,
  seed: number,
  separate = false,
): Promise<Float32Array[]> {
  const data = caseData(c, seed);
  const a = Tensor.fromArray(ctx, c.a, 'f32', data.a, 'A');
  const made: Tensor<'f32'>[] = [a];
  const make = (shape: number[], values: Float32Array | undefined, label: string) => {
    const t = values
      ? Tensor.fromArray(ctx, shape, 'f32', values, label)
      : Tensor.empty(ctx, shape, 'f32', label);
    made.push(t);
    return t;
  };
  const problems = c.problems.map((p, i): GroupedMatmulProblem => {
    const { s } = data.problems[i];
    const out = [s.m, s.n];
    return {
      b: make(p.b, data.problems[i].b, `B${i}`),
      c: make(out, p.opts.accumulate ? data.problems[i].previous : undefined, `C${i}`),
      aux:
        p.opts.activation === 'gelu-grad' ? make(out, data.problems[i].aux, `aux${i}`) : undefined,
      opts: p.opts,
    };
  }) as [GroupedMatmulProblem, GroupedMatmulProblem];
  try {
    if (separate) {
      for (const p of problems) await matmul(ctx, { a, b: p.b, c: p.c, aux: p.aux }, p.opts);
    } else {
      await groupedMatmul(ctx, a, problems, { tile: c.tile, stages: c.stages });
    }
    return await Promise.all(problems.map((p) => p.c.download()));
  } finally {
    for (const t of made) t.destroy();
  }
}

/** Worst error / tolerance of the grouped outputs against float64 (test/matmulCheck.ts's bound). */
function gradeCase(c: GroupCase, seed: number, got: Float32Array[]): number {
  const data = caseData(c, seed);
  let worst = 0;
  c.problems.forEach((p, i) => {
    const { s, b, previous, aux } = data.problems[i];
    const product = matmulReference(data.a, b, s);
    const absDot = matmulAbsReference(data.a, b, s);
    const { c: want } = epilogueReference(product, s.n, {
      activation: p.opts.activation,
      aux,
      previous: p.opts.accumulate ? previous : undefined,
    });
    const epilogue = p.opts.accumulate || p.opts.activation === 'gelu-grad';
    const tol = (j: number) =>
      1.13 * gammaF32(s.k) * absDot[j] +
      (epilogue ? 6e-7 * (Math.abs(want[j]) + Math.abs(product[j]) + 1) : 0) +
      1e-30;
    worst = Math.max(worst, worstRatio(got[i], want, tol));
  });
  return worst;
}

const sameBits = (x: Float32Array, y: Float32Array) =>
  Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(
    Buffer.from(y.buffer, y.byteOffset, y.byteLength),
  );

/** A backward pair on A = dY [rows, out]: dX = dY·W (W [out, in]) and dW = dYᵀ·X (X [rows, in]). */
function backwardPair(
  rows: number,
  out: number,
  inX: number,
  inW: number,
  dx: ProblemOpts = {},
  dw: ProblemOpts = {},
): GroupCase {
  return {
    a: [rows, out],
    problems: [
      { b: [out, inX], opts: dx },
      { b: [rows, inW], opts: { transA: true, ...dw } },
    ],
  };
}

const CASES: Array<[string, GroupCase]> = [
  ['1×1×1 each', backwardPair(1, 1, 1, 1)],
  ['dX 1 row, dW K = 1', backwardPair(1, 7, 5, 3)],
  // 63 = a small tile − 1, 127 = a large tile − 1, 15 = TILE_K(small) − 1; nothing a multiple.
  ['dX 130×70×63, dW 63×17×130', backwardPair(130, 63, 70, 17)],
  [
    'dX 127×65×15 with the GELU gradient, dW 15×129×127',
    backwardPair(127, 15, 65, 129, { activation: 'gelu-grad' }),
  ],
  [
    'dX with the GELU gradient, dW split-K into 5 accumulating (a micro-batch)',
    backwardPair(301, 33, 67, 20, { activation: 'gelu-grad' }, { splitK: 5, accumulate: true }),
  ],
  [
    'dX accumulating, dW split into 3 (K = 1001)',
    backwardPair(1001, 19, 23, 21, { accumulate: true }, { splitK: 3 }),
  ],
  ['dW accumulating without a split', backwardPair(200, 40, 9, 31, {}, { accumulate: true })],
  [
    'transposed B in both: A·Bᵀ and Aᵀ·Bᵀ',
    {
      a: [77, 30],
      problems: [
        { b: [45, 30], opts: { transB: true, activation: 'gelu-grad' } },
        { b: [12, 77], opts: { transA: true, transB: true, splitK: 4 } },
      ],
    },
  ],
  [
    'both split (different K-ranges), large tiles for the group',
    {
      a: [600, 70],
      problems: [
        { b: [600, 33], opts: { transA: true, splitK: 7, tile: 'large' } },
        { b: [70, 5], opts: { splitK: 2 } },
      ],
      tile: 'large',
    },
  ],
  ['aligned 128×128×64 pair on large tiles', { ...backwardPair(128, 64, 128, 128), tile: 'large' }],
  [
    'small tiles for the group',
    { ...backwardPair(150, 66, 129, 70, {}, { splitK: 3 }), tile: 'small' },
  ],
];

describe('grouped matmul against the float64 reference', () => {
  CASES.forEach(([name, c], i) => {
    it(name, async () => {
      const ctx = await testGpu();
      const got = await runCase(ctx, c, 300 + i);
      expect(gradeCase(c, 300 + i, got)).toBeLessThanOrEqual(1);
    });
  });

  it('negative control: the grade fails when the problems’ outputs are swapped or perturbed', async () => {
    const ctx = await testGpu();
    const [, c] = CASES[2];
    const got = await runCase(ctx, c, 302);
    expect(gradeCase(c, 302, got)).toBeLessThanOrEqual(1);
    const perturbed = [got[0], Float32Array.from(got[1])];
    perturbed[1][got[1].length - 1] += 1e-3;
    expect(gradeCase(c, 302, perturbed)).toBeGreaterThan(1);
    // Another seed's data: every output is wrong.
    expect(gradeCase(c, 303, got)).toBeGreaterThan(1);
  });
});

describe('grouped matmul is bit-identical to the separate dispatches', () => {
  // Each case under both tiles for the group; the separate products use their own plans (the
  // default tile, or the one a problem names) — any tile sums in the same order.
  CASES.forEach(([name, c], i) => {
    for (const tile of ['small', 'large'] as const) {
      it(`${name}, group on ${tile} tiles`, async () => {
        const ctx = await testGpu();
        const grouped = await runCase(ctx, { ...c, tile }, 400 + i);
        const separate = await runCase(ctx, c, 400 + i, true);
        for (let p = 0; p < 2; p++) expect(sameBits(grouped[p], separate[p]), `C${p}`).toBe(true);
      });
    }
  });

  // Two shared-memory stages (what GPUs run) for the group, the adapter's choice (one on a CPU
  // adapter) for the separate products.
  for (const i of [1, 2]) {
    const [name, c] = CASES[i];
    it(`${name}, group on two shared-memory stages`, async () => {
      const ctx = await testGpu();
      const grouped = await runCase(ctx, { ...c, stages: 2 }, 400 + i);
      const separate = await runCase(ctx, c, 400 + i, true);
      for (let p = 0; p < 2; p++) expect(sameBits(grouped[p], separate[p]), `C${p}`).toBe(true);
    });
  }

  it('negative control: a different split of the same product differs in its bits', async () => {
    const ctx = await testGpu();
    const c = backwardPair(2003, 37, 8, 29, {}, { splitK: 11 });
    const grouped = await runCase(ctx, c, 7);
    const otherSplit = backwardPair(2003, 37, 8, 29, {}, { splitK: 3 });
    const separate = await runCase(ctx, otherSplit, 7, true);
    expect(sameBits(grouped[0], separate[0])).toBe(true);
    expect(sameBits(grouped[1], separate[1])).toBe(false);
    expect(gradeCase(otherSplit, 7, separate)).toBeLessThanOrEqual(1);
  });

  it('on a grid folded under a small per-dimension limit (surplus workgroups skipped)', async () => {
    const shared = await testGpu();
    const caps = shared.capabilities;
    // Choices as on an adapter allowing 4 workgroups a dimension: dX's 5 × 2 tiles and dW's
    // 1 tile × 5 splits (15) fold to 4 × 4, one workgroup to skip.
    const folded = await GpuContext.create({
      shaderSource: fileShaderSource(),
      choicesAs: { ...caps, limits: { ...caps.limits, maxComputeWorkgroupsPerDimension: 4 } },
    });
    try {
      const [, c] = CASES[4];
      const a = Tensor.empty(folded, c.a, 'f32', 'A');
      const b = Tensor.empty(folded, c.problems[0].b, 'f32', 'B0');
      const x = Tensor.empty(folded, c.problems[1].b, 'f32', 'B1');
      const dx = Tensor.empty(folded, [301, 67], 'f32', 'C0');
      const dw = Tensor.empty(folded, [33, 20], 'f32', 'C1');
      const probe = await prepareGroupedMatmul(folded, a, [
        { b, c: dx },
        { b: x, c: dw, opts: c.problems[1].opts },
      ]);
      const [gx, gy] = probe[0].workgroups;
      expect([gx, gy]).toEqual([4, 4]);
      probe.forEach(releaseDispatch);
      for (const t of [a, b, x, dx, dw]) t.destroy();
      const got = await runCase(folded, c, 500);
      expect(gradeCase(c, 500, got)).toBeLessThanOrEqual(1);
      const separate = await runCase(shared, c, 500, true);
      for (let p = 0; p < 2; p++) expect(sameBits(got[p], separate[p]), `C${p}`).toBe(true);
    } finally {
      folded.destroy();
    }
  });

  it('two runs give the same bits', async () => {
    const ctx = await testGpu();
    const [, c] = CASES[4];
    const first = await runCase(ctx, c, 11);
    const second = await runCase(ctx, c, 11);
    for (let p = 0; p < 2; p++) expect(sameBits(first[p], second[p])).toBe(true);
  });
});

describe('grouped matmul dispatches', () => {
  it('one grouped dispatch (workgroups of both problems) then the split problem’s reduce, deferrable with own partials', async () => {
    const ctx = await testGpu();
    const a = Tensor.empty(ctx, [1001, 19], 'f32', 'A');
    const w = Tensor.empty(ctx, [19, 23], 'f32', 'W');
    const x = Tensor.empty(ctx, [1001, 21], 'f32', 'X');
    const dx = Tensor.empty(ctx, [1001, 23], 'f32', 'dX');
    const dw = Tensor.empty(ctx, [19, 21], 'f32', 'dW');
    const partials = Tensor.empty(ctx, [7, 19, 21], 'f32', 'partials');
    const dispatches = await prepareGroupedMatmul(ctx, a, [
      { b: w, c: dx },
      { b: x, c: dw, partials, opts: { transA: true, splitK: 7, deferReduce: true } },
    ]);
    try {
      expect(dispatches.map((d) => d.name)).toEqual([
        expect.stringMatching(/^matmul_grouped\[PER_THREAD=4,STAGES=\d,TILE_K=16\]$/),
        expect.stringMatching(/^matmul_split_k_reduce/),
      ]);
      const split = matmulPlan(ctx.choices, matmulShape([1001, 19], [1001, 21], { transA: true }), {
        splitK: 7,
      }).split;
      // dX: 16 × 1 tiles of 64; dW: 1 tile × its splits.
      expect(dispatches[0].workgroups).toEqual([16 + split.splits, 1, 1]);
      const cost = dispatches[0].cost!;
      expect(cost.flops).toBe(2 * 1001 * 19 * 23 + 2 * 19 * 21 * 1001);
      expect(cost.bytesWritten).toBe(4 * (1001 * 23 + split.splits * 19 * 21));
      expect(isDeferrable(dispatches[1])).toBe(true);
      // The step profile counts it as one matrix product of all its workgroups (the
      // "every matmul ≥ 132 workgroups" goal checks the group's total).
      expect(isMatmulProduct(kernelFamily(dispatches[0].name))).toBe(true);
    } finally {
      dispatches.forEach(releaseDispatch);
      for (const t of [a, w, x, dx, dw, partials]) t.destroy();
    }
  });

  it('rejects what it cannot group, with the problem named', async () => {
    const ctx = await testGpu();
    const a = Tensor.empty(ctx, [10, 4], 'f32', 'A');
    const w = Tensor.empty(ctx, [4, 6], 'f32', 'W');
    const x = Tensor.empty(ctx, [10, 3], 'f32', 'X');
    const dx = Tensor.empty(ctx, [10, 6], 'f32', 'dX');
    const dw = Tensor.empty(ctx, [4, 3], 'f32', 'dW');
    const pre = Tensor.empty(ctx, [10, 6], 'f32', 'pre');
    const dwPart: GroupedMatmulProblem = { b: x, c: dw, opts: { transA: true } };
    try {
      await expect(prepareGroupedMatmul(ctx, a, [{ b: x, c: dx }, dwPart])).rejects.toThrow(
        /problem 0: .*inner dimensions differ/,
      );
      await expect(prepareGroupedMatmul(ctx, a, [{ b: w, c: dw }, dwPart])).rejects.toThrow(
        /problem 0: c is \[4,3\], expected \[10,6\]/,
      );
      await expect(
        prepareGroupedMatmul(ctx, a, [{ b: w, c: dx, opts: { activation: 'gelu' } }, dwPart]),
      ).rejects.toThrow(/activation 'gelu' is not grouped/);
      await expect(
        prepareGroupedMatmul(ctx, a, [{ b: w, c: dx, opts: { activation: 'gelu-grad' } }, dwPart]),
      ).rejects.toThrow(/needs an aux tensor/);
      // Not independent: the second product reads what the first writes.
      await expect(
        prepareGroupedMatmul(ctx, a, [
          { b: w, c: dx },
          { b: dx, c: Tensor.empty(ctx, [4, 6], 'f32'), opts: { transA: true } },
        ]),
      ).rejects.toThrow(/c0 must not be the same buffer as b1/);
      await expect(
        prepareGroupedMatmul(ctx, a, [
          { b: w, c: dx },
          { b: w, c: dx },
        ]),
      ).rejects.toThrow(/must not be the same buffer/);
      await expect(
        prepareGroupedMatmul(ctx, a, [{ b: w, c: dx, aux: pre }, dwPart]),
      ).rejects.toThrow(/aux is read only with activation 'gelu-grad'/);
    } finally {
      for (const t of [a, w, x, dx, dw, pre]) t.destroy();
    }
  });
});

describe('groupedMatmulTile', () => {
  const rows = 256 * 64;
  const h100 = adapterProfile('h100');
  const pair = (out: number, inputs: number) => {
    const dx = matmulShape([rows, out], [out, inputs]);
    const dw = matmulShape([rows, out], [rows, inputs], { transA: true });
    return [dx, dw].map((s, i) => ({ s, split: matmulPlan(h100, s, { splitK: i === 1 }).split }));
  };

  it('takes the input gradient’s tile on an H100 (large for B·T rows) and fills its SMs', () => {
    for (const [out, inputs] of [
      [192, 768],
      [768, 192],
      [192, 192],
      [576, 192],
    ]) {
      const problems = pair(out, inputs);
      expect(groupedMatmulTile(h100, problems)).toBe('large');
      const workgroups = problems.reduce(
        (n, p) => n + Math.ceil(p.s.m / 128) * Math.ceil(p.s.n / 128) * p.split.splits,
        0,
      );
      expect(workgroups).toBeGreaterThanOrEqual(132);
    }
  });

  it('small tiles on a fallback adapter and where large ones would not fill the GPU', async () => {
    const ctx = await testGpu();
    expect(groupedMatmulTile(ctx.capabilities, pair(192, 768))).toBe('small');
    const tiny = [
      matmulShape([300, 20], [20, 30]),
      matmulShape([300, 20], [300, 30], { transA: true }),
    ];
    expect(
      groupedMatmulTile(
        h100,
        tiny.map((s) => ({ s, split: { splits: 1, kChunk: s.k } })),
      ),
    ).toBe('small');
  });
});

describe('the browser kernel case of the grouped matmul, run here', () => {
  const cases = KERNEL_CASES.filter((k) => k.name.startsWith('grouped matmul'));
  it('exists', () => expect(cases.length).toBe(1));
  for (const c of cases) {
    it(c.name, async () => {
      const ctx = await testGpu();
      const x = c.inputs();
      const y = await c.run(ctx, x);
      expect(c.grade(x, y)).toBeLessThanOrEqual(1);
      // The grade can fail: one weight gradient off by 0.05.
      const moved = { ...y, dW: y.dW.map((v, i) => (i === 5 ? v + 0.05 : v)) };
      expect(c.grade(x, moved)).toBeGreaterThan(1);
    });
  }
});
