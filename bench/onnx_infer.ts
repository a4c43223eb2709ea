/**
 * Times an exported AIM model (src/onnx/export.ts; e.g. `npm run export -- --random aim-7B
 * --format int4`) in onnxruntime-node: session creation, the first run, then `--runs` runs of
 * one seeded random image of the model's size, and prints one JSON line on stdout
 * (`"name":"onnx-infer"`). Bundled into .gpu/onnx-infer.mjs by scripts/bundle-gpu.mjs, with
 * onnxruntime-node left external (a native addon: .gpu/node_modules on the GPU machine).
 *
 *   node .gpu/onnx-infer.mjs <model-dir> [--ep webgpu|cpu] [--runs 20] [--batch 1] [--label L]
 *
 * `--ep webgpu` is onnxruntime's WebGPU EP (its own Dawn, over Vulkan: on a machine without
 * a GPU set VK_ICD_FILENAMES to SwiftShader's ICD first). The session is opened with CPU
 * fallback disabled, so when it opens every node runs on WebGPU and `ep` says what ran; if
 * some node has no WebGPU kernel, it is opened again with fallback allowed and the line says
 * `"cpuFallback":true`.
 *
 * Times are wall-clock around `session.run` (performance.now()), outputs copied back to the
 * CPU included (logits and the [N, K, D] features: 4 MiB for the 7B) — what a caller waits
 * for. `peakRssBytes` is the process's maxRSS (the CPU side: with the CPU EP the weights and
 * activations, with WebGPU the staging copies). onnxruntime-node reports no GPU memory; on a
 * GPU machine the recipe samples nvidia-smi beside this process (BENCHMARKS.md).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { AimOnnxConfig } from '../src/onnx/checkpoint';
import { summarizeModel } from '../src/onnx/graph';
import { randomF32 } from '../src/reference/random';
import { emit, median, sig } from './stats';

const USAGE = `usage: node .gpu/onnx-infer.mjs <model-dir> [options]
  <model-dir>     model.onnx + model.onnx.data_N (npm run export)
  --ep E          webgpu | cpu (default webgpu)
  --runs N        timed runs after the first (default 20)
  --batch N       images per run (default 1)
  --label L       copied into the output line (e.g. aim-7B-int4)
  --model F       the model file inside the directory (default model.onnx)`;

type Ep = 'webgpu' | 'cpu';

interface Args {
  dir: string;
  ep: Ep;
  runs: number;
  batch: number;
  label?: string;
  model: string;
}

function parseArgs(argv: string[]): Args | undefined {
  const args: Args = { dir: '', ep: 'webgpu', runs: 20, batch: 1, model: 'model.onnx' };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const count = (min: number) => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < min) throw new Error(`${flag} must be an integer ≥ ${min}`);
      return n;
    };
    switch (flag) {
      case '--ep': {
        const ep = value();
        if (ep !== 'webgpu' && ep !== 'cpu') throw new Error(`--ep ${ep}: use webgpu or cpu`);
        args.ep = ep;
        break;
      }
      case '--runs':
        args.runs = count(1);
        break;
      case '--batch':
        args.batch = count(1);
        break;
      case '--label':
        args.label = value();
        break;
      case '--model':
        args.model = value();
        break;
      case '-h':
      case '--help':
        return undefined;
      default:
        if (flag.startsWith('-') || args.dir) throw new Error(`unexpected argument ${flag}`);
        args.dir = flag;
    }
  }
  if (!args.dir) throw new Error('the model directory is required');
  return args;
}

/** The q-quantile of sorted values, interpolating between neighbours (numpy's default). */
function quantile(sorted: readonly number[], q: number): number {
  const at = q * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

const FALLBACK_REFUSED = /fallback to CPU EP has been explicitly disabled/;

async function openSession(path: string, ep: Ep) {
  if (ep === 'cpu') return { session: await ort.InferenceSession.create(path), cpuFallback: false };
  try {
    const session = await ort.InferenceSession.create(path, {
      executionProviders: ['webgpu'],
      extra: { session: { disable_cpu_ep_fallback: '1' } },
    });
    return { session, cpuFallback: false };
  } catch (error) {
    if (!FALLBACK_REFUSED.test(String(error))) throw error;
    console.error(`onnx-infer: not every node runs on WebGPU; reopening with CPU fallback`);
    const session = await ort.InferenceSession.create(path, { executionProviders: ['webgpu'] });
    return { session, cpuFallback: true };
  }
}

async function main(): Promise<number> {
  let args: Args | undefined;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`onnx-infer: ${(error as Error).message}\n${USAGE}`);
    return 64;
  }
  if (!args) {
    console.log(USAGE);
    return 0;
  }
  const path = join(args.dir, args.model);
  const summary = summarizeModel(new Uint8Array(readFileSync(path)));
  const input = summary.inputs.find((i) => i.name === 'images');
  const [, channels, height, width] = input?.dims ?? [];
  if (![channels, height, width].every((d) => typeof d === 'number' && d > 0)) {
    throw new Error(`${path}: no images input with fixed [C, H, W] (got ${JSON.stringify(input)})`);
  }
  const [C, H, W] = [channels, height, width] as number[];
  // The model file and every external-data shard it names: what has to be read to load it.
  const shardNames = new Set(
    summary.initializers.flatMap((t) => (t.external ? [t.external.location] : [])),
  );
  const files = [args.model, ...[...shardNames].sort()];
  const modelBytes = files.reduce((s, f) => s + statSync(join(args.dir, f)).size, 0);
  const dirBytes = readdirSync(args.dir).reduce((s, f) => s + statSync(join(args.dir, f)).size, 0);

  const created = performance.now();
  const { session, cpuFallback } = await openSession(path, args.ep);
  const sessionCreateMs = performance.now() - created;
  const rssAfterLoadBytes = process.memoryUsage().rss;

  // ImageNet-normalised pixels span about [-2.1, 2.6]; uniform in [-2, 2] is close enough.
  const images = new ort.Tensor('float32', randomF32(args.batch * C * H * W, 1, -2, 2), [
    args.batch,
    C,
    H,
    W,
  ]);
  const run = async () => {
    const t0 = performance.now();
    const out = await session.run({ images });
    return { ms: performance.now() - t0, out };
  };
  const first = await run();
  const times: number[] = [];
  let last = first.out;
  for (let i = 0; i < args.runs; i++) {
    const r = await run();
    times.push(r.ms);
    last = r.out;
  }
  const logits = last.logits?.data as Float32Array | undefined;
  const features = last.features.data as Float32Array;
  // Enough of the output to tell whether two EPs computed the same thing.
  const check = {
    finite: (logits ?? features).every(Number.isFinite),
    top1: logits
      ? logits.slice(0, logits.length / args.batch).reduce((b, v, i, a) => (v > a[b] ? i : b), 0)
      : undefined,
    logitsHead: logits ? [...logits.slice(0, 4)].map((v) => sig(v, 6)) : undefined,
    featuresHead: [...features.slice(0, 4)].map((v) => sig(v, 6)),
  };
  await session.release();
  const sorted = [...times].sort((a, b) => a - b);
  const config = (
    summary.metadata['aim.config'] ? JSON.parse(summary.metadata['aim.config']) : {}
  ) as Partial<AimOnnxConfig>;
  emit({
    name: 'onnx-infer',
    label: args.label,
    model: args.dir,
    ep: args.ep,
    cpuFallback,
    format: summary.metadata['aim.format'],
    blocks: Number(summary.metadata['aim.blocks']),
    numBlocks: config.numBlocks,
    embedDim: config.embedDim,
    batch: args.batch,
    imageShape: [C, H, W],
    modelBytes,
    modelFiles: files.length,
    dirBytes,
    sessionCreateMs: sig(sessionCreateMs),
    firstRunMs: sig(first.ms),
    runs: args.runs,
    medianMs: sig(median(times)),
    p10Ms: sig(quantile(sorted, 0.1)),
    p90Ms: sig(quantile(sorted, 0.9)),
    minMs: sig(sorted[0]),
    imgPerSec: sig((args.batch * 1000) / median(times)),
    rssAfterLoadBytes,
    // maxRSS is in KiB.
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    check: { ...check, ok: check.finite },
    ort: ort.env.versions.node ?? ort.env.versions.common,
    node: process.version,
    date: new Date().toISOString(),
  });
  return check.finite ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`onnx-infer: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
