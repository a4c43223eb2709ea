/**
 * The scale-out bundle: what `npm run scale-out` writes and the Runs view's "Continue on a
 * cluster" downloads — config.yaml (ml-l3m's schema), launch.sh (torchrun, one node or
 * several), README.md (what ml-l3m needs), the run's weights as ml-l3m's state dict
 * (checkpoint.pth, when there is a checkpoint) and, for a non-raster ordering, the
 * playground_orderings.py blocks the config names. Pure TypeScript (no Node, no DOM), so the
 * CLI and the page share it.
 */
import { zipSync } from 'fflate';
import { PRESETS, type PresetName } from '../model/config';
import { decodeCheckpoint } from '../training/checkpoint';
import type { RunSettings } from '../training/settings';
import { SETTING_KEYS, settingSpec, type SettingKey } from '../training/settingsSchema';
import {
  specFromRun,
  ScaleOutError,
  splitBatch,
  type Coverage,
  type ScaleOutOptions,
} from './fromRun';
import { l3mExperiment, recipeSpec, type L3mSpec } from './l3mConfig';
import { ORDERING_MODULE, ORDERING_PYTHON } from './orderingExtension';
import { aimToL3m } from './stateDict';
import { torchSaveStateDict } from './torchSave';
import { emitYaml } from './yaml';

export const RECIPES = ['aim-v1-600M'] as const;
export type RecipeName = (typeof RECIPES)[number];

/** ml-l3m's README: "Installing l3m requires the latest versions of torch (2.7)". */
export const ML_L3M_TORCH = '2.7';

export interface NotCarried {
  key: SettingKey | 'other';
  label: string;
  reason: string;
  /** A few words, for the one-line summary (absent: a note, left out of the line). */
  brief?: string;
}

export interface Bundle {
  /** File name → contents, in the order they are listed in the README. */
  files: Map<string, Uint8Array>;
  configYaml: string;
  notCarried: NotCarried[];
  /** One line for the page and the CLI: what was not carried over, and why. */
  summary: string;
}

export type BundleRequest =
  | {
      kind: 'run';
      settings: RunSettings;
      /** The run's checkpoint (this project's safetensors), if its weights should travel. */
      checkpoint?: Uint8Array;
      options: Omit<ScaleOutOptions, 'checkpoint'>;
      /** What the run is called (README title). */
      name?: string;
    }
  | {
      kind: 'recipe';
      recipe: RecipeName;
      preset: PresetName;
      worldSize?: number;
      dataTrain?: string;
      dataVal?: string;
    };

const CHECKPOINT_FILE = 'checkpoint.pth';
const encode = (s: string) => new TextEncoder().encode(s);

function launchScript(spec: L3mSpec, globalBatch: number, microBatch: number | undefined): string {
  const micro = microBatch ?? 0;
  return `#!/usr/bin/env bash
# Launches this bundle's config.yaml with ml-l3m (https://github.com/apple/ml-l3m).
#
#   one node:      ./launch.sh TRAIN_DIR VAL_DIR [GPUS_PER_NODE]
#   several nodes: NNODES=4 NODE_RANK=<0..3> MASTER_ADDR=<host of rank 0> ./launch.sh TRAIN_DIR VAL_DIR [GPUS_PER_NODE]
#                  (run it on every node)
#
# L3M_DIR is your ml-l3m checkout (default: the current directory). The global batch stays
# ${globalBatch}: the per-GPU batch is ${globalBatch} / (nodes × GPUs per node), which must divide.
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,10p' "$0"; exit 2
fi
BUNDLE="$(cd "$(dirname "$0")" && pwd)"
TRAIN_DIR="$(cd "$1" && pwd)"
VAL_DIR="$(cd "$2" && pwd)"
GPUS_PER_NODE="\${3:-$(nvidia-smi -L 2>/dev/null | wc -l)}"
NNODES="\${NNODES:-1}"
L3M_DIR="\${L3M_DIR:-$PWD}"
GLOBAL_BATCH=${globalBatch}
MICRO_BATCH=${micro}   # 0: the whole per-GPU batch in one pass
WORLD=$((NNODES * GPUS_PER_NODE))
if [ "$WORLD" -lt 1 ] || [ $((GLOBAL_BATCH % WORLD)) -ne 0 ]; then
  echo "launch.sh: batch $GLOBAL_BATCH does not split over $WORLD GPUs (ml-l3m's global batch is per-GPU batch × GPUs)" >&2
  exit 2
fi
PER_GPU=$((GLOBAL_BATCH / WORLD))
ACCUM=1
if [ "$MICRO_BATCH" -gt 0 ]; then
  while [ $((PER_GPU % ACCUM)) -ne 0 ] || [ $((PER_GPU / ACCUM)) -gt "$MICRO_BATCH" ]; do ACCUM=$((ACCUM + 1)); done
fi
if [ ! -f "$L3M_DIR/run/launcher.py" ]; then
  echo "launch.sh: $L3M_DIR/run/launcher.py not found: set L3M_DIR to your ml-l3m checkout" >&2
  exit 2
fi
OVERRIDES=(
  "data.train.dataset.base_dataset.root=$TRAIN_DIR"
  "data.validation.dataset.imagenet.base_dataset.root=$VAL_DIR"
  "data.train.dataloader.batch_size=$PER_GPU"
  "data.validation.dataloader.batch_size=$PER_GPU"
  "optim.gradient_accumulation_steps=$ACCUM"
${spec.checkpoint ? `  "model.checkpoint=$BUNDLE/${CHECKPOINT_FILE}"\n` : ''})
cd "$L3M_DIR"
export PYTHONPATH="$BUNDLE:\${PYTHONPATH:-}"
if [ "$NNODES" -eq 1 ]; then
  exec torchrun --nnodes=1 --nproc_per_node="$GPUS_PER_NODE" --standalone \\
    run/launcher.py --config "$BUNDLE/config.yaml" "\${OVERRIDES[@]}"
else
  exec torchrun --nnodes="$NNODES" --nproc_per_node="$GPUS_PER_NODE" --node_rank="\${NODE_RANK:?set NODE_RANK}" \\
    --master_addr="\${MASTER_ADDR:?set MASTER_ADDR}" --master_port="\${MASTER_PORT:-29500}" \\
    run/launcher.py --config "$BUNDLE/config.yaml" "\${OVERRIDES[@]}"
fi
`;
}

function readme(
  title: string,
  spec: L3mSpec,
  globalBatch: number,
  notCarried: NotCarried[],
  files: string[],
): string {
  const lines = [
    `# ${title}: an ml-l3m experiment`,
    '',
    'Written by the AIM Playground. Files:',
    '',
    ...files.map((f) => `- \`${f}\``),
    '',
    '## What ml-l3m needs',
    '',
    `- A checkout of https://github.com/apple/ml-l3m installed with \`pip install -e .\` (PyTorch ≥ ${ML_L3M_TORCH}, as its README states; CUDA GPUs: flex attention and bf16).`,
    '- Images in ImageFolder layout (ml-l3m’s `CustomImageFolder`): `TRAIN_DIR/<class>/<image>.jpg` and `VAL_DIR/<class>/<image>.jpg`; the class folders are not used by the loss, one folder is enough.',
    `- \`./launch.sh TRAIN_DIR VAL_DIR [GPUS_PER_NODE]\` from the ml-l3m checkout (or with \`L3M_DIR\` set); several nodes: set \`NNODES\`, \`NODE_RANK\` and \`MASTER_ADDR\` on each. The global batch stays ${globalBatch}: the script sets the per-GPU batch to ${globalBatch} / GPUs (and the gradient-accumulation chunks) for the GPUs you have.`,
    ...(spec.checkpoint
      ? [
          `- \`${CHECKPOINT_FILE}\` is the run’s weights in ml-l3m’s state-dict layout (separate q/k/v); ml-l3m loads it with \`load_state_dict(strict=False)\`, the fixed sin-cos tables come from its own init. AdamW’s moments are not carried over.`,
        ]
      : []),
    ...(spec.order
      ? [
          `- \`${ORDERING_MODULE}.py\` must be importable (launch.sh puts the bundle on PYTHONPATH).`,
        ]
      : []),
    '',
    '## Not carried over',
    '',
    ...(notCarried.length ? notCarried.map((n) => `- **${n.label}**: ${n.reason}`) : ['- nothing']),
    '',
    '## Back into the playground',
    '',
    'A checkpoint ml-l3m writes (`torch.save`, or its `model` entry) is read with ml-l3m’s keys:',
    '`npm run scale-out -- --import checkpoint.pth --config config.yaml --out DIR` writes an',
    'ml-aim `config.json` and weights there for `npm run export -- DIR`, whose ONNX model loads in the Inference tab.',
    '',
  ];
  return lines.join('\n');
}

function summaryLine(notCarried: NotCarried[]): string {
  const settings = notCarried.filter((n) => n.brief);
  if (settings.length === 0) return 'Every setting of the run is in the config.';
  return `Not carried over: ${settings.map((n) => `${n.label} (${n.brief})`).join('; ')}. Details in README.md.`;
}

function fromCoverage(coverage: Record<SettingKey, Coverage>, notes: string[]): NotCarried[] {
  const out: NotCarried[] = SETTING_KEYS.filter((k) => coverage[k].notCarried).map((k) => ({
    key: k,
    label: settingSpec(k).label,
    reason: coverage[k].notCarried!,
    brief: coverage[k].brief ?? coverage[k].notCarried!,
  }));
  for (const note of notes) out.push({ key: 'other', label: 'Note', reason: note });
  return out;
}

/** Builds the bundle's files (the checkpoint converted when one is given). */
export function buildBundle(req: BundleRequest): Bundle {
  let spec: L3mSpec;
  let notCarried: NotCarried[];
  let title: string;
  let globalBatch: number;
  let microBatch: number | undefined;
  let params: ReturnType<typeof decodeCheckpoint>['params'] | undefined;
  if (req.kind === 'recipe') {
    if (!RECIPES.includes(req.recipe))
      throw new ScaleOutError(
        `unknown recipe ${String(req.recipe)} (known: ${RECIPES.join(', ')})`,
      );
    const preset = PRESETS[req.preset];
    if (!preset) throw new ScaleOutError(`unknown preset ${String(req.preset)}`);
    spec = recipeSpec(preset, {
      train: req.dataTrain ?? '/mnt/data/imagenet/train',
      val: req.dataVal ?? '/mnt/data/imagenet/val',
    });
    // The paper's global batch: 4096 = 256 per GPU × 16 GPUs in the published config.
    globalBatch = 4096;
    const { perGpu } = splitBatch(globalBatch, req.worldSize ?? globalBatch / spec.batchPerGpu);
    spec.batchPerGpu = perGpu;
    microBatch = 256;
    notCarried = [];
    title = `${req.recipe} (${req.preset})`;
  } else {
    if (req.checkpoint) params = decodeCheckpoint(req.checkpoint, 'the run’s checkpoint').params;
    const run = specFromRun(req.settings, {
      ...req.options,
      checkpoint: params ? CHECKPOINT_FILE : null,
    });
    spec = run.spec;
    notCarried = fromCoverage(run.coverage, run.notes);
    title = req.name ?? `AIM Playground run (${req.settings.preset})`;
    globalBatch = req.settings.batch;
    microBatch = req.options.microBatch;
  }
  const config = l3mExperiment(spec);
  const header = [
    `${title}, written by the AIM Playground in ml-l3m's config schema.`,
    'Data roots, batch per GPU and the checkpoint path are set by launch.sh.',
    ...notCarried.map((n) => `Not carried over — ${n.label}: ${n.reason}`),
  ];
  const configYaml = emitYaml(config, { constants: header });
  const files = new Map<string, Uint8Array>();
  files.set('config.yaml', encode(configYaml));
  files.set('launch.sh', encode(launchScript(spec, globalBatch, microBatch)));
  if (spec.order) files.set(`${ORDERING_MODULE}.py`, encode(ORDERING_PYTHON));
  if (params) files.set(CHECKPOINT_FILE, torchSaveStateDict(aimToL3m(params)));
  const names = [...files.keys(), 'README.md'];
  files.set('README.md', encode(readme(title, spec, globalBatch, notCarried, names)));
  const summary =
    req.kind === 'recipe'
      ? `ml-l3m’s published AIM v1 recipe (configs/aimv1/001_aim_v1_600M.yaml) with the ${req.preset} trunk.`
      : summaryLine(notCarried);
  return { files, configYaml, notCarried, summary };
}

/** The bundle as one zip under a folder (launch.sh keeps its executable bit). */
export function zipBundle(bundle: Bundle, folder: string): Uint8Array {
  const entries: Record<string, [Uint8Array, { level: 0 | 6; os?: number; attrs?: number }]> = {};
  for (const [name, data] of bundle.files) {
    const executable = name.endsWith('.sh');
    entries[`${folder}/${name}`] = [
      data,
      {
        level: name.endsWith('.pth') ? 0 : 6,
        ...(executable ? { os: 3, attrs: (0o100755 << 16) >>> 0 } : {}),
      },
    ];
  }
  return zipSync(entries);
}
