/**
 * The query-attention view's numbers (issue 14, "Per-patch views"): a block's attention rows
 * from the float64 reference trunk on ml-aim's fixture model, checked against a direct
 * softmax(QKᵀ/√dh) written here from ml-aim's own block activations; the prefix-causal mask
 * (rows sum to 1 over attended keys, exactly 0 elsewhere); the mapping back to image space
 * for non-raster orderings; and the worker's path from a real checkpoint and dataset.
 * Fixture: img 32, patch 4 (8×8 = 64 patches), width 64, 4 blocks, 4 heads.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { evalBatch } from '../src/data/batch';
import { makeProceduralDataset } from '../src/data/procedural';
import { SafetensorsFile } from '../src/data/safetensors';
import { PRESETS, headDim, type AimConfig } from '../src/model/config';
import { patchOrder, type Ordering } from '../src/model/orderings';
import { initParameters, paramSpecs, trunkParamSpecs } from '../src/model/params';
import { blockAttentionReference } from '../src/model/queryAttention';
import { inverseOrder, queryRow } from '../src/model/queryAttentionRows';
import { attentionForwardReference } from '../src/reference/attention';
import { attentionProbabilitiesReference, trunkForwardReference } from '../src/model/reference';
import { encodeCheckpoint } from '../src/training/checkpoint';
import {
  attentionCaption,
  attentionFileName,
  drawPrefix,
  maskText,
} from '../src/ui/queryAttentionCaption';
import { queryAttentionOfRun } from '../src/worker/queryAttention';
import { FIXTURE_DIR } from './fixtures';

const FIXTURE_CONFIG: AimConfig = {
  ...PRESETS['aim-micro'],
  name: 'aim-v1-tiny-public',
  imageSize: 32,
  patchSize: 4,
  width: 64,
  depth: 4,
  heads: 4,
};
const K = 64;
const D = 64;
const H = 4;
const DH = headDim(FIXTURE_CONFIG);
const RASTER = Array.from({ length: K }, (_, i) => i);

function load() {
  const weights = SafetensorsFile.parse(
    readFileSync(`${FIXTURE_DIR}/weights.safetensors`),
    'weights',
  );
  const cases = SafetensorsFile.parse(readFileSync(`${FIXTURE_DIR}/cases.safetensors`), 'cases');
  const trunk = new Map(
    trunkParamSpecs(FIXTURE_CONFIG).map((s) => [s.name, weights.float32(s.name)] as const),
  );
  const input = cases.float32('input');
  const per = 3 * 32 * 32;
  const prefixes = cases.integers('prefix_lengths');
  // Each sample of the fixture's batch (its prefixes are 1, causal, and K − 1).
  return prefixes.map((prefix, b) => {
    const sample = (a: Float32Array, n: number) => a.subarray(b * n, (b + 1) * n);
    return {
      trunk,
      image: sample(input, per),
      prefix,
      /** ml-aim's own activations of this sample: the input of block l is inputs[l]. */
      inputs: [
        sample(cases.float32('tokens_after_preprocessor'), K * D),
        ...Array.from({ length: FIXTURE_CONFIG.depth }, (_, l) =>
          sample(cases.float32(`block${l}_prefix_causal`), K * D),
        ),
      ],
    };
  });
}

/**
 * softmax(QKᵀ/√dh) of block `l` straight from its weights and an input x [K, D], written out
 * here (LayerNorm, the q and k rows of the fused qkv weight, masked softmax): [H, K, K].
 */
function directAttention(
  trunk: ReadonlyMap<string, Float32Array>,
  l: number,
  x: ArrayLike<number>,
  attends: (i: number, j: number) => boolean,
): Float64Array {
  const w = (n: string) => trunk.get(`trunk.blocks.${l}.${n}`)!;
  const [gamma, beta, wqkv] = [w('norm_1.weight'), w('norm_1.bias'), w('attn.qkv.weight')];
  const ln = new Float64Array(K * D);
  for (let t = 0; t < K; t++) {
    let mean = 0;
    for (let d = 0; d < D; d++) mean += x[t * D + d] / D;
    let v = 0;
    for (let d = 0; d < D; d++) v += (x[t * D + d] - mean) ** 2 / D;
    const r = 1 / Math.sqrt(v + FIXTURE_CONFIG.trunkNormEps);
    for (let d = 0; d < D; d++) ln[t * D + d] = (x[t * D + d] - mean) * r * gamma[d] + beta[d];
  }
  const project = (rowOffset: number) => {
    const out = new Float64Array(K * D);
    for (let t = 0; t < K; t++)
      for (let o = 0; o < D; o++) {
        let s = 0;
        for (let d = 0; d < D; d++) s += ln[t * D + d] * wqkv[(rowOffset + o) * D + d];
        out[t * D + o] = s;
      }
    return out;
  };
  const [q, k] = [project(0), project(D)];
  const probs = new Float64Array(H * K * K);
  for (let h = 0; h < H; h++)
    for (let i = 0; i < K; i++) {
      const scores = new Float64Array(K).fill(-Infinity);
      for (let j = 0; j < K; j++) {
        if (!attends(i, j)) continue;
        let s = 0;
        for (let d = 0; d < DH; d++) s += q[i * D + h * DH + d] * k[j * D + h * DH + d];
        scores[j] = s / Math.sqrt(DH);
      }
      const max = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - max));
      const sum = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j < K; j++) probs[(h * K + i) * K + j] = e[j] / sum;
    }
  return probs;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/*
 * The direct computation starts from ml-aim's stored f32 activations, the reference from its
 * own float64 trunk: inputs agree to ≤ 1e-6 (test/modelFixture.test.ts), which moves the
 * probabilities by ≤ 4e-8 (measured). A mask off by one key, another block's weights or a
 * transposed Q/K move rows by ≥ 1e-2.
 */
const TOL = 1e-6;

describe('query attention on the ml-aim fixture', () => {
  const samples = load();
  // The sample with the long prefix, for the checks below.
  const f = samples.reduce((a, b) => (b.prefix > a.prefix ? b : a));
  const prefixMask = (S: number) => (i: number, j: number) => j < S || j <= i;

  it('every block matches a direct softmax(QKᵀ/√dh) under the prefix mask', () => {
    expect(samples.map((s) => s.prefix).sort((a, b) => a - b)).toEqual([1, K - 1]);
    for (const s of samples)
      for (let l = 0; l < FIXTURE_CONFIG.depth; l++) {
        const got = blockAttentionReference(FIXTURE_CONFIG, s.trunk, {
          image: s.image,
          order: RASTER,
          prefix: s.prefix,
          block: l,
        });
        expect(got.positions).toBe(K);
        expect(got.heads).toBe(H);
        const want = directAttention(s.trunk, l, s.inputs[l], prefixMask(s.prefix));
        const diff = maxAbsDiff(got.probs, want);
        console.log(`S = ${s.prefix}, block ${l}: max |Δp| = ${diff.toExponential(1)}`);
        expect(diff).toBeLessThanOrEqual(TOL);
        // Negative controls: another mask (a prefix of half the tokens), or the next
        // block's weights, do not match.
        const masked = directAttention(s.trunk, l, s.inputs[l], prefixMask(K / 2));
        expect(maxAbsDiff(got.probs, masked)).toBeGreaterThan(1e-2);
        const other = directAttention(s.trunk, (l + 1) % 4, s.inputs[l], prefixMask(s.prefix));
        expect(maxAbsDiff(got.probs, other)).toBeGreaterThan(1e-2);
      }
  });

  it('rows sum to 1 over attended keys and are exactly 0 on masked ones', () => {
    for (const S of [1, 2, f.prefix, K - 1, K]) {
      const { probs } = blockAttentionReference(FIXTURE_CONFIG, f.trunk, {
        image: f.image,
        order: RASTER,
        prefix: S,
        block: 2,
      });
      for (let h = 0; h < H; h++)
        for (let i = 0; i < K; i++) {
          let sum = 0;
          for (let j = 0; j < K; j++) {
            const p = probs[(h * K + i) * K + j];
            // Prefix rows see the whole prefix (bidirectional), later rows keys ≤ i (causal).
            const attended = i < S ? j < S : j <= i;
            if (attended) expect(p, `S ${S} h ${h} i ${i} j ${j}`).toBeGreaterThan(0);
            else expect(p, `S ${S} h ${h} i ${i} j ${j}`).toBe(0);
            sum += p;
          }
          expect(Math.abs(sum - 1)).toBeLessThan(1e-12);
        }
    }
  });

  it('the rows are those the attention output was computed with (P·V = out)', () => {
    const tr = trunkForwardReference(
      FIXTURE_CONFIG,
      f.trunk,
      { batch: 1, images: f.image, order: RASTER, prefixLengths: [f.prefix] },
      2,
    );
    expect(tr.blocks).toHaveLength(2);
    const shape = { batch: 1, seqLen: K, heads: H, headDim: DH };
    const { qkv } = tr.blocks[1];
    const probs = attentionProbabilitiesReference(qkv, [f.prefix], shape);
    const { out } = attentionForwardReference(qkv, [f.prefix], shape);
    let worst = 0;
    for (let h = 0; h < H; h++)
      for (let i = 0; i < K; i++)
        for (let d = 0; d < DH; d++) {
          let s = 0;
          for (let j = 0; j < K; j++)
            s += probs[(h * K + i) * K + j] * qkv[j * 3 * D + 2 * D + h * DH + d];
          worst = Math.max(worst, Math.abs(s - out[i * D + h * DH + d]));
        }
    expect(worst).toBeLessThan(1e-12);
    // Stopping after 2 blocks changes nothing in them.
    const all = trunkForwardReference(FIXTURE_CONFIG, f.trunk, {
      batch: 1,
      images: f.image,
      order: RASTER,
      prefixLengths: [f.prefix],
    });
    expect(maxAbsDiff(all.blocks[1].output, tr.blocks[1].output)).toBe(0);
  });

  it('maps rows to image space through a non-raster ordering', () => {
    // Fully bidirectional attention does not care about the token order (positions travel
    // with the patches), so each patch's row in image space is the same for every ordering:
    // a check of the mapping that does not use the mapping's own inverse.
    const computed = new Map<Ordering, { order: number[]; probs: Float64Array }>();
    const rows = (ordering: Ordering, head: number | 'mean', patch: number) => {
      let c = computed.get(ordering);
      if (!c) {
        const order = patchOrder(ordering, 8, 8);
        const got = blockAttentionReference(FIXTURE_CONFIG, f.trunk, {
          image: f.image,
          order,
          prefix: K,
          block: 1,
        });
        c = { order, probs: got.probs };
        computed.set(ordering, c);
      }
      return queryRow(c.probs, K, H, head, inverseOrder(c.order)[patch], K, c.order);
    };
    for (const patch of [0, 9, 27, 63])
      for (const head of [0, 3, 'mean'] as const) {
        const raster = rows('raster', head, patch);
        for (const ordering of ['spiral', 'checkerboard', 'random'] as const) {
          const r = rows(ordering, head, patch);
          expect(maxAbsDiff(r.image, raster.image)).toBeLessThan(1e-12);
          // Negative control: the sequence-order row is not the image, unless raster.
          expect(maxAbsDiff(r.sequence, raster.image)).toBeGreaterThan(1e-3);
        }
      }
  });

  it('the mask in image space is the first max(S, t + 1) patches of the ordering', () => {
    const order = patchOrder('spiral', 8, 8);
    const S = 10;
    const got = blockAttentionReference(FIXTURE_CONFIG, f.trunk, {
      image: f.image,
      order,
      prefix: S,
      block: 0,
    });
    for (const t of [0, 5, 9, 10, 40, 63]) {
      const row = queryRow(got.probs, K, H, 'mean', t, S, order);
      const visible = new Set(order.slice(0, Math.max(S, t + 1)));
      for (let p = 0; p < K; p++) {
        expect(row.attendedImage[p]).toBe(visible.has(p));
        if (visible.has(p)) expect(row.image[p]).toBeGreaterThan(0);
        else expect(row.image[p]).toBe(0);
      }
      expect(Math.abs(row.image.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-12);
      // The mean over heads is the mean of the heads' rows.
      const heads = [0, 1, 2, 3].map((h) => queryRow(got.probs, K, H, h, t, S, order).sequence);
      row.sequence.forEach((v, j) =>
        expect(Math.abs(v - heads.reduce((a, r) => a + r[j], 0) / H)).toBeLessThan(1e-15),
      );
    }
  });

  it('refuses a block, prefix or query outside the model with a clear error', () => {
    const base = { image: f.image, order: RASTER, prefix: 3, block: 0 };
    expect(() => blockAttentionReference(FIXTURE_CONFIG, f.trunk, { ...base, block: 4 })).toThrow(
      /block 5 does not exist: the trunk has blocks 1 to 4/,
    );
    expect(() => blockAttentionReference(FIXTURE_CONFIG, f.trunk, { ...base, prefix: 0 })).toThrow(
      /prefix length 0 is outside 1 … 64/,
    );
    expect(() =>
      blockAttentionReference(FIXTURE_CONFIG, f.trunk, { ...base, order: [...RASTER, 64] }),
    ).toThrow(/not a permutation/);
    expect(() => queryRow(new Float64Array(H * K * K), K, H, 0, K, 3, RASTER)).toThrow(
      /query position 64/,
    );
  });
});

describe("the worker's query attention from a stored checkpoint", () => {
  const settings = { ...PRESETS['aim-micro'] };
  const params = initParameters(settings, 7);
  const shapes = new Map(paramSpecs(settings).map((s) => [s.name, s.shape] as const));
  const checkpoint = encodeCheckpoint({
    params: new Map([...params].map(([k, data]) => [k, { shape: shapes.get(k)!, data }] as const)),
    step: 12,
    rngState: 1,
    modelConfig: settings,
    runConfig: { ordering: 'checkerboard' },
  });
  const dataset = makeProceduralDataset({ size: 16, trainCount: 8, valCount: 5, seed: 1 });
  const data = () => Promise.resolve(dataset);
  const req = {
    runId: 'r1',
    dataset: { kind: 'procedural' as const, size: 16 },
    ordering: 'raster' as const,
    imageIndex: 3,
    block: 1,
    prefix: 5,
  };

  it('uses the checkpoint’s ordering and weights, one validation image, every head', async () => {
    const got = await queryAttentionOfRun(req, checkpoint, data);
    expect(got.ordering).toBe('checkerboard');
    expect(got.order).toEqual(patchOrder('checkerboard', 4, 4));
    expect([got.step, got.positions, got.heads, got.side, got.depth]).toEqual([12, 16, 2, 4, 2]);
    expect(got.imageCount).toBe(5);
    expect(got.probs).toHaveLength(2 * 16 * 16);
    expect(got.picture.data).toHaveLength(16 * 16 * 3);
    const row = queryRow(got.probs, 16, 2, 1, 9, 5, got.order);
    expect(Math.abs(row.sequence.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-6);
    expect(row.sequence.slice(10).every((v) => v === 0)).toBe(true);
    // Another image gives other rows.
    const other = await queryAttentionOfRun({ ...req, imageIndex: 0 }, checkpoint, data);
    expect(maxAbsDiff(other.probs, got.probs)).toBeGreaterThan(1e-4);
  });

  it('a second block of the same image comes from the kept forward, with the same rows', async () => {
    const first = await queryAttentionOfRun(req, checkpoint, data);
    const again = await queryAttentionOfRun({ ...req, block: 0 }, checkpoint, data);
    const fresh = blockAttentionReference(settings, params, {
      image: evalBatch(dataset.val, [3], 16).images,
      order: patchOrder('checkerboard', 4, 4),
      prefix: 5,
      block: 0,
    });
    expect(again.block).toBe(0);
    expect(maxAbsDiff(again.probs, fresh.probs)).toBeLessThan(1e-7);
    expect(maxAbsDiff(again.probs, first.probs)).toBeGreaterThan(1e-4);
    // Another prefix is another forward (the mask changes every block's input).
    const other = await queryAttentionOfRun({ ...req, block: 0, prefix: 9 }, checkpoint, data);
    const want = blockAttentionReference(settings, params, {
      image: evalBatch(dataset.val, [3], 16).images,
      order: patchOrder('checkerboard', 4, 4),
      prefix: 9,
      block: 0,
    });
    expect(maxAbsDiff(other.probs, want.probs)).toBeLessThan(1e-7);
  });

  it('says why when there is no checkpoint or no such image', async () => {
    let loaded = false;
    const watched = () => ((loaded = true), data());
    await expect(queryAttentionOfRun(req, undefined, watched)).rejects.toThrow(
      expect.objectContaining({
        name: 'NoCheckpointError',
        message: expect.stringMatching(/no checkpoint/),
      }),
    );
    expect(loaded).toBe(false);
    await expect(queryAttentionOfRun({ ...req, imageIndex: 5 }, checkpoint, data)).rejects.toThrow(
      /validation image 6 does not exist/,
    );
    await expect(queryAttentionOfRun({ ...req, block: 2 }, checkpoint, data)).rejects.toThrow(
      /block 3 does not exist/,
    );
    await expect(queryAttentionOfRun(req, new Uint8Array([1, 2, 3]), data)).rejects.toThrow(
      /checkpoint/,
    );
  });
});

describe('the view’s words', () => {
  it('draws S from 1 … K − 1, every value, as training does', () => {
    const seen = new Set<number>();
    for (let seed = 0; seed < 2000; seed++) {
      const S = drawPrefix(16, seed);
      expect(S).toBeGreaterThanOrEqual(1);
      expect(S).toBeLessThanOrEqual(15);
      seen.add(S);
    }
    expect(seen.size).toBe(15);
    expect(drawPrefix(2, 9)).toBe(1);
  });

  it('names run, image, block, head, prefix and query in the caption and file name', () => {
    const order = patchOrder('spiral', 4, 4);
    const r = {
      runId: 'r',
      step: 3,
      ordering: 'spiral' as const,
      order,
      imageIndex: 2,
      imageCount: 9,
      block: 0,
      depth: 2,
      prefix: 12,
      positions: 16,
      heads: 2,
      side: 4,
      probs: new Float32Array(0),
      picture: { data: new Uint8Array(0), width: 0, height: 0 },
    };
    const run = { name: 'my run', dataset: { kind: 'fashion-mnist' as const } };
    // Position 8 of the spiral is raster 11: row 3, column 4.
    expect(attentionCaption(run, r, 1, 8)).toBe(
      'my run (spiral ordering, step 3) · Fashion-MNIST validation image 3 · block 1 of 2 · head 2 of 2 · prefix S = 12 · query row 3, column 4 (position 9 of 16)',
    );
    expect(attentionCaption(run, { ...r, prefix: 1 }, 'mean', 15)).toContain(
      'mean over 2 heads · causal (S = 1) · query row 1, column 1 (position 16 of 16)',
    );
    expect(maskText(16, 16)).toBe('bidirectional (S = K = 16)');
    expect(attentionFileName(run, r, 'mean', 11)).toBe(
      'my-run-attention-image-3-block-1-mean-S-12-query-r3c4.png',
    );
  });
});
