/**
 * Probes on a checkpoint from the command line (issue 14), in Node through Dawn:
 *
 *   npm run probe -- --checkpoint runs/x/checkpoint.safetensors --kind attentive|linear|both
 *                    --layers L [--causal] --out DIR
 *     trains the probe(s) on the frozen trunk (src/probe/trainProbe.ts) with the labelled
 *     training images and scores them on the held-out ones. One kind writes to DIR, both to
 *     DIR/attentive and DIR/linear: probe.safetensors (trunk + head.* under ml-aim's keys,
 *     src/probe/probeFile.ts), probe.json (kind, layers, causal, top1, trainTop1, the
 *     recipe, epoch losses) and predictions.jsonl (held-out index, label, predicted, logits).
 *
 *   npm run probe -- --probe DIR/probe.safetensors --classify input.safetensors --out DIR
 *     runs the trunk and that probe on `input` (float32 NCHW, already preprocessed) and
 *     writes DIR/logits.json, a [batch][classes] array.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { evalBatch } from '../data/batch';
import { fromFashionMnist, type ImageDataset, type RgbImages } from '../data/dataset';
import { loadFashionMnist } from '../data/fashionMnist';
import { makeProceduralDataset } from '../data/procedural';
import { SafetensorsFile } from '../data/safetensors';
import { GpuContext } from '../gpu/context';
import { fileShaderSource } from '../gpu/shaderSource.node';
import { validateConfig, type AimConfig } from '../model/config';
import { classifyWithProbe } from '../probe/classifyProbe';
import { decodeProbeFile, encodeProbeFile } from '../probe/probeFile';
import { PROBE_RECIPE, type ProbeKind, type ProbeRecipe } from '../probe/recipe';
import { trainProbes, type ProbeResult } from '../probe/trainProbe';
import { decodeCheckpoint } from '../training/checkpoint';
import { choiceFlag, numberFlag, parseFlags } from './flags.node';

const DATASETS = ['fashion-mnist', 'procedural'] as const;
const KINDS = ['attentive', 'linear', 'both'] as const;

const FLAGS = {
  checkpoint: { type: 'string' },
  kind: { type: 'string' },
  layers: { type: 'string' },
  causal: { type: 'boolean' },
  dataset: { type: 'string' },
  'train-images': { type: 'string' },
  'held-out-images': { type: 'string' },
  epochs: { type: 'string' },
  batch: { type: 'string' },
  lr: { type: 'string' },
  seed: { type: 'string' },
  probe: { type: 'string' },
  classify: { type: 'string' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const USAGE = `usage: npm run probe -- --checkpoint FILE --kind attentive|linear|both --layers L [--causal] --out DIR
       npm run probe -- --probe FILE --classify INPUT --out DIR
  --checkpoint FILE      a checkpoint from npm run train (its trunk is frozen)
  --kind K               attentive (ml-aim's AttentionPoolingClassifier), linear, or both (default both)
  --layers L             features = mean of the last L blocks' outputs (default: a quarter of the blocks, ≥ 1)
  --causal               run the trunk causally (raster order) instead of bidirectionally (Table 3d)
  --dataset D            ${DATASETS.join('|')}: labelled images (default fashion-mnist, the embedded set)
  --train-images N       use the first N training images (default all)
  --held-out-images N    use the first N validation images (default all)
  --epochs N, --batch N, --lr X   override the recipe (default ${PROBE_RECIPE.epochs}, ${PROBE_RECIPE.batch}, ${PROBE_RECIPE.lr})
  --seed N               the probes' initialisation and minibatch order (default 0)
  --probe FILE --classify INPUT   classify INPUT (safetensors, float32 NCHW tensor "input",
                         preprocessed) with a probe file; writes DIR/logits.json
  --out DIR              where the files go (required)
  --help, -h             this text`;

type Flags = ReturnType<typeof parseFlags<typeof FLAGS>>['values'];

async function loadDataset(kind: (typeof DATASETS)[number]): Promise<ImageDataset> {
  if (kind === 'procedural')
    return makeProceduralDataset({ trainCount: 2000, valCount: 500, size: 32, seed: 0 });
  const root = process.env.AIM_DATASET_DIR ?? 'public/datasets/fashion-mnist';
  return fromFashionMnist(
    await loadFashionMnist(async (name) => new Uint8Array(readFileSync(join(root, name)))),
  );
}

function labelled(set: RgbImages, limit: number | undefined, size: number) {
  const n = Math.min(limit ?? set.count, set.count);
  const b = evalBatch(
    set,
    Array.from({ length: n }, (_, i) => i),
    size,
  );
  return { images: b.images, labels: b.labels };
}

function readFile(path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (error) {
    throw new Error(`cannot read the ${what} ${path}: ${(error as Error).message}`);
  }
}

function writeProbe(
  dir: string,
  r: ProbeResult,
  config: AimConfig,
  trunk: Map<string, Float32Array>,
  classNames?: readonly string[],
) {
  mkdirSync(dir, { recursive: true });
  const info = {
    kind: r.kind,
    layers: r.layers,
    causal: r.causal,
    top1: r.top1,
    trainTop1: r.trainTop1,
    recipe: r.recipe,
  };
  writeFileSync(
    join(dir, 'probe.safetensors'),
    encodeProbeFile(config, trunk, r.weights, info, classNames),
  );
  writeFileSync(
    join(dir, 'probe.json'),
    JSON.stringify({ ...info, epochLosses: r.epochLosses }, null, 2),
  );
  writeFileSync(
    join(dir, 'predictions.jsonl'),
    r.predictions.map((p) => JSON.stringify(p)).join('\n') + '\n',
  );
}

async function train(ctx: GpuContext, v: Flags, out: string): Promise<void> {
  if (!v.checkpoint) throw new Error('--checkpoint FILE is required (or --probe with --classify)');
  const checkpoint = decodeCheckpoint(readFile(v.checkpoint, 'checkpoint'), v.checkpoint);
  const config = checkpoint.modelConfig as AimConfig;
  const problems = validateConfig(config);
  if (problems.length) throw new Error(`${v.checkpoint}: ${problems.join(' ')}`);
  const kind = v.kind ? choiceFlag('kind', v.kind, KINDS) : 'both';
  const kinds: ProbeKind[] = kind === 'both' ? ['attentive', 'linear'] : [kind];
  const layers = v.layers
    ? numberFlag('layers', v.layers, { integer: true, min: 1, max: config.depth })
    : Math.max(1, Math.round(config.depth / 4));
  const count = (flag: 'train-images' | 'held-out-images') =>
    v[flag] ? numberFlag(flag, v[flag], { integer: true, min: 1 }) : undefined;
  const recipe: ProbeRecipe = {
    ...PROBE_RECIPE,
    ...(v.epochs && { epochs: numberFlag('epochs', v.epochs, { integer: true, min: 1 }) }),
    ...(v.batch && { batch: numberFlag('batch', v.batch, { integer: true, min: 1 }) }),
    ...(v.lr && {
      lr: numberFlag('lr', v.lr, { integer: false, min: 0, minExclusive: true, max: 10 }),
    }),
  };
  const dataset = await loadDataset(
    v.dataset ? choiceFlag('dataset', v.dataset, DATASETS) : DATASETS[0],
  );
  const params = new Map([...checkpoint.params].map(([k, t]) => [k, t.data]));
  const started = performance.now();
  const results = await trainProbes(ctx, {
    config,
    params,
    train: labelled(dataset.train, count('train-images'), config.imageSize),
    heldOut: labelled(dataset.val, count('held-out-images'), config.imageSize),
    numClasses: dataset.classes.length,
    kinds,
    layers,
    causal: !!v.causal,
    recipe,
    seed: v.seed ? numberFlag('seed', v.seed, { integer: true, min: 0 }) : 0,
    onProgress: (p) => {
      if (p.phase === 'train')
        console.error(
          `epoch ${p.epoch}/${p.epochs}: ` +
            Object.entries(p.losses)
              .map(([k, l]) => `${k} loss ${l.toFixed(4)}`)
              .join(', '),
        );
    },
  });
  for (const r of results) {
    const dir = results.length === 1 ? out : join(out, r.kind);
    writeProbe(dir, r, config, params, dataset.classes);
    console.error(
      `${r.kind} probe (last ${layers} blocks, ${r.causal ? 'causal' : 'bidirectional'} trunk): ` +
        `held-out top-1 ${(100 * r.top1).toFixed(1)} %, train ${(100 * r.trainTop1).toFixed(1)} %; wrote ${dir}`,
    );
  }
  console.error(`probes took ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

async function classify(ctx: GpuContext, v: Flags, out: string): Promise<void> {
  if (!v.probe || !v.classify)
    throw new Error('--classify needs --probe FILE, and --probe needs --classify INPUT');
  const probe = decodeProbeFile(readFile(v.probe, 'probe file'), v.probe);
  const input = SafetensorsFile.parse(readFile(v.classify, 'input'), v.classify);
  if (!input.names.includes('input')) throw new Error(`${v.classify} has no tensor named "input"`);
  const entry = input.entry('input');
  const size = probe.config.imageSize;
  if (
    entry.dtype !== 'F32' ||
    entry.shape.length !== 4 ||
    entry.shape[1] !== 3 ||
    entry.shape[2] !== size ||
    entry.shape[3] !== size
  )
    throw new Error(
      `${v.classify}: "input" is ${entry.dtype} [${entry.shape.join(', ')}], expected F32 [batch, 3, ${size}, ${size}]`,
    );
  const logits = await classifyWithProbe(ctx, {
    config: probe.config,
    params: probe.params,
    kind: probe.info.kind,
    layers: probe.info.layers,
    causal: probe.info.causal,
    classes: probe.classes,
    images: input.float32('input'),
  });
  const rows = Array.from({ length: entry.shape[0] }, (_, b) =>
    Array.from(logits.subarray(b * probe.classes, (b + 1) * probe.classes)),
  );
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'logits.json'), JSON.stringify(rows));
  console.error(`wrote ${join(out, 'logits.json')} (${rows.length} × ${probe.classes})`);
}

async function main() {
  let values: Flags;
  try {
    values = parseFlags(process.argv.slice(2), FLAGS).values;
    if (!values.help && !values.out) throw new Error('--out DIR is required');
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(64);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const ctx = await GpuContext.create({ shaderSource: fileShaderSource() });
  try {
    if (values.probe || values.classify) await classify(ctx, values, values.out!);
    else await train(ctx, values, values.out!);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
  process.exit(0);
}

void main();
