/**
 * Joins the JSON lines of bench/main.ts (impl "aim-wgsl", "tfjs-webgpu") and
 * bench/torch_bench.py (impl "torch-cuda"; its train suite, bench/torch_aim.py, prints
 * "train-step" lines with impl "torch-cuda-<mode>") measured on the same GPU into ratio lines:
 *
 *   node .gpu/compare.mjs wgsl.jsonl torch.jsonl   (bundled by scripts/bundle-gpu.mjs)
 *
 * stdout: one `{"name":"aim-vs-torch", ...}` line per measurement both sides have (a
 * train-step line per PyTorch mode), with `aimOverTorch` = torch ms ÷ aim ms (> 1: this
 * project is faster), then one "goals" line checking the speed bars. stderr: the same
 * as Markdown tables for BENCHMARKS.md.
 * Exit status 1 if the two sides used different attention masks (prefixSum or
 * allowedFraction differ) or a joined line failed its correctness check.
 */
import { readFileSync } from 'node:fs';

type Line = Record<string, unknown> & { name: string; impl?: string; ms?: number };

function readLines(path: string): Line[] {
  const lines: Line[] = [];
  for (const text of readFileSync(path, 'utf8').split('\n')) {
    const trimmed = text.trim();
    if (!trimmed.startsWith('{')) continue; // tolerate notes mixed into a log
    try {
      const parsed = JSON.parse(trimmed) as Line;
      if (typeof parsed.name === 'string') lines.push(parsed);
    } catch {
      console.error(`compare: skipping a line that is not JSON: ${trimmed.slice(0, 80)}`);
    }
  }
  return lines;
}

/** The measurement a line is of, independent of who measured it. */
function keyOf(line: Line): string | undefined {
  const shape = JSON.stringify(line.shape ?? null);
  if (line.name === 'matmul') return `matmul ${shape}`;
  if (line.name === 'attention') return `attention ${String(line.pass)} ${shape}`;
  if (line.name === 'layout') return `layout ${String(line.preset)} ${String(line.case)}`;
  return undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function sig(value: number, digits = 4): number {
  return Number.isFinite(value) && value !== 0 ? Number(value.toPrecision(digits)) : value;
}

function checkOk(line: Line): boolean {
  const check = line.check as { ok?: boolean } | undefined;
  return check?.ok === true;
}

interface Joined {
  key: string;
  aim: Line;
  torch: Line;
  /** Forced SDPA backends (attention only): backend → ms. */
  torchBackends: Record<string, number>;
}

function join(lines: readonly Line[]): Joined[] {
  const aim = new Map<string, Line>();
  const torch = new Map<string, Line>();
  const backends = new Map<string, Record<string, number>>();
  for (const line of lines) {
    const key = keyOf(line);
    if (!key || line.error !== undefined || num(line.ms) === undefined) continue;
    if (line.impl === 'aim-wgsl') aim.set(key, line);
    if (line.impl !== 'torch-cuda') continue;
    const backend = typeof line.sdpaBackend === 'string' ? line.sdpaBackend : 'default';
    if (backend === 'default') torch.set(key, line);
    else backends.set(key, { ...backends.get(key), [backend]: line.ms! });
  }
  return [...aim.entries()]
    .filter(([key]) => torch.has(key))
    .map(([key, a]) => ({
      key,
      aim: a,
      torch: torch.get(key)!,
      torchBackends: backends.get(key) ?? {},
    }));
}

function ratioLine(j: Joined): Record<string, unknown> {
  const { aim, torch } = j;
  const aimMs = aim.ms!;
  const torchMs = torch.ms!;
  const best = Math.min(torchMs, ...Object.values(j.torchBackends));
  const sameMask =
    aim.name !== 'attention' ||
    (aim.prefixSum === torch.prefixSum && aim.allowedFraction === torch.allowedFraction);
  return {
    name: 'aim-vs-torch',
    of: aim.name,
    pass: aim.pass,
    preset: aim.preset,
    case: aim.case,
    shape: aim.shape,
    aimMs,
    torchMs,
    aimOverTorch: sig(torchMs / aimMs, 3),
    aimTflops: aim.tflops,
    torchTflops: torch.tflops,
    basis: `${String(aim.timing)} vs ${String(torch.timing)}`,
    torchFusedChoice: torch.fusedChoice,
    torchBackendsMs: Object.keys(j.torchBackends).length > 0 ? j.torchBackends : undefined,
    aimOverTorchBestBackend:
      Object.keys(j.torchBackends).length > 0 ? sig(best / aimMs, 3) : undefined,
    sameMask: aim.name === 'attention' ? sameMask : undefined,
    checksOk: checkOk(aim) && checkOk(torch),
  };
}

const trainKey = (line: Line) => `${String(line.preset)} ${String(line.batch)}`;

/**
 * "train-step": this project's step (GPU time, timestamp queries) against each PyTorch mode
 * (CUDA events), per preset and batch, with both memory figures: aim's allocated bytes
 * (every buffer of the run, allocated up front) and torch's max_memory_allocated.
 */
function trainRatios(lines: readonly Line[]): Record<string, unknown>[] {
  const usable = lines.filter(
    (l) => l.name === 'train-step' && l.error === undefined && num(l.ms) !== undefined,
  );
  const aim = new Map(usable.filter((l) => l.impl === 'aim-wgsl').map((l) => [trainKey(l), l]));
  return usable
    .filter((t) => t.impl?.startsWith('torch-cuda-') && aim.has(trainKey(t)))
    .map((t) => {
      const a = aim.get(trainKey(t))!;
      const aimBytes = num(a.allocatedBytes);
      const torchBytes = num(t.peakBytes);
      return {
        name: 'aim-vs-torch',
        of: 'train-step',
        preset: a.preset,
        batch: a.batch,
        torchImpl: t.impl,
        aimMs: a.ms,
        torchMs: t.ms,
        aimOverTorch: sig(t.ms! / a.ms!, 3),
        aimImgPerSec: a.imgPerSec,
        torchImgPerSec: t.imgPerSec,
        aimTrainStepMs: a.trainStepMs,
        torchWallMedianMs: t.wallMedianMs,
        aimAllocatedBytes: aimBytes,
        torchPeakBytes: torchBytes,
        torchOverAimBytes:
          aimBytes && torchBytes !== undefined ? sig(torchBytes / aimBytes, 3) : undefined,
        basis: `${String(a.timing)} vs ${String(t.timing)}`,
        checksOk: checkOk(a) && checkOk(t),
      };
    });
}

/** The training-step bars: aim-tiny ≤ 13 ms and aim-small ≤ 60 ms per step at batch 256. */
function trainGoals(lines: readonly Line[], ratios: readonly Record<string, unknown>[]) {
  const aimMs = (preset: string) =>
    num(
      lines.find(
        (l) =>
          l.name === 'train-step' &&
          l.impl === 'aim-wgsl' &&
          l.preset === preset &&
          l.batch === 256 &&
          l.error === undefined,
      )?.ms,
    );
  const overEager = (preset: string) =>
    num(
      ratios.find(
        (r) =>
          r.of === 'train-step' &&
          r.preset === preset &&
          r.batch === 256 &&
          r.torchImpl === 'torch-cuda-eager-fp32',
      )?.aimOverTorch,
    );
  const tiny = aimMs('aim-tiny');
  const small = aimMs('aim-small');
  return {
    trainTinyMs: tiny,
    trainTinyAtMost13Ms: tiny === undefined ? undefined : tiny <= 13,
    trainSmallMs: small,
    trainSmallAtMost60Ms: small === undefined ? undefined : small <= 60,
    trainTinyAimOverTorchEagerFp32: overEager('aim-tiny'),
    trainSmallAimOverTorchEagerFp32: overEager('aim-small'),
  };
}

/** The speed bar, from whatever lines are present (undefined where not measured). */
function goalsLine(lines: readonly Line[], ratios: readonly Record<string, unknown>[]) {
  const aim4096 = lines.find(
    (l) => l.name === 'matmul' && l.impl === 'aim-wgsl' && keyOf(l) === 'matmul [4096,4096,4096]',
  );
  const tfjs4096 = lines.find(
    (l) => l.name === 'matmul-ratio' && JSON.stringify(l.shape) === '[4096,4096,4096]',
  );
  const attention = ratios.filter((r) => r.of === 'attention');
  const minAttention = attention.length
    ? Math.min(...attention.map((r) => r.aimOverTorch as number))
    : undefined;
  const tflops = num(aim4096?.tflops);
  const overTfjs = num(tfjs4096?.aimOverTfjs);
  return {
    name: 'goals',
    matmul4096Tflops: tflops,
    matmul4096AtLeast40Tflops: tflops === undefined ? undefined : tflops >= 40,
    matmul4096AimOverTfjs: overTfjs,
    matmul4096AtLeast2p5xTfjs: overTfjs === undefined ? undefined : overTfjs >= 2.5,
    attentionMinAimOverTorch: minAttention,
    attentionAtLeast1xTorch: minAttention === undefined ? undefined : minAttention >= 1,
    ...trainGoals(lines, ratios),
  };
}

function markdown(ratios: readonly Record<string, unknown>[]): string {
  const row = (cells: unknown[]) =>
    `| ${cells.map((c) => (c === undefined ? '' : String(c))).join(' | ')} |`;
  const out: string[] = [];
  const section = (
    of: string,
    head: string[],
    cells: (r: Record<string, unknown>) => unknown[],
  ) => {
    const rows = ratios.filter((r) => r.of === of);
    if (rows.length === 0) return;
    out.push('', row(head), row(head.map(() => '---')), ...rows.map((r) => row(cells(r))));
  };
  const shape = (r: Record<string, unknown>) => (r.shape as number[]).join('×');
  section(
    'matmul',
    ['shape', 'aim ms', 'aim TFLOP/s', 'torch ms', 'torch TFLOP/s', 'aimOverTorch'],
    (r) => [shape(r), r.aimMs, r.aimTflops, r.torchMs, r.torchTflops, r.aimOverTorch],
  );
  section(
    'attention',
    [
      'B×T×H×dh',
      'pass',
      'aim ms',
      'aim TFLOP/s',
      'torch ms',
      'torch TFLOP/s',
      'aimOverTorch',
      'vs best backend',
    ],
    (r) => [
      shape(r),
      r.pass,
      r.aimMs,
      r.aimTflops,
      r.torchMs,
      r.torchTflops,
      r.aimOverTorch,
      r.aimOverTorchBestBackend,
    ],
  );
  section('layout', ['preset', 'case', 'M×N×K', 'aim ms', 'torch ms', 'aimOverTorch'], (r) => [
    r.preset,
    r.case,
    shape(r),
    r.aimMs,
    r.torchMs,
    r.aimOverTorch,
  ]);
  const mib = (bytes: unknown) =>
    typeof bytes === 'number' ? (bytes / 2 ** 20).toFixed(0) : undefined;
  section(
    'train-step',
    [
      'preset',
      'batch',
      'torch',
      'aim ms',
      'torch ms',
      'aimOverTorch',
      'aim Trainer step ms',
      'aim MiB (allocated)',
      'torch MiB (peak)',
    ],
    (r) => [
      r.preset,
      r.batch,
      String(r.torchImpl).replace('torch-cuda-', ''),
      r.aimMs,
      r.torchMs,
      r.aimOverTorch,
      r.aimTrainStepMs,
      mib(r.aimAllocatedBytes),
      mib(r.torchPeakBytes),
    ],
  );
  return out.join('\n');
}

function main(paths: string[]): number {
  if (paths.length === 0) {
    console.error('Usage: node .gpu/compare.mjs wgsl.jsonl torch.jsonl [more.jsonl ...]');
    return 64;
  }
  const lines = paths.flatMap(readLines);
  for (const line of lines.filter((l) => l.error !== undefined)) {
    const what =
      line.shape ?? (line.preset ? `${String(line.preset)} B=${String(line.batch)}` : '');
    console.error(
      `compare: ${String(line.impl ?? '')} ${line.name} ${JSON.stringify(what)}: ${String(line.error)}`,
    );
  }
  const ratios = [...join(lines).map(ratioLine), ...trainRatios(lines)];
  for (const r of ratios) process.stdout.write(`${JSON.stringify(r)}\n`);
  process.stdout.write(`${JSON.stringify(goalsLine(lines, ratios))}\n`);
  console.error(markdown(ratios));
  const bad = ratios.filter((r) => r.sameMask === false || r.checksOk !== true);
  if (ratios.length === 0) console.error('compare: no measurement appears on both sides');
  for (const r of bad) {
    console.error(
      `compare: ${String(r.of)} ${JSON.stringify(r.shape ?? r.preset)} ${String(r.pass ?? r.case ?? r.torchImpl ?? '')}: ` +
        (r.sameMask === false
          ? 'the two sides used different masks'
          : 'a correctness check failed'),
    );
  }
  return bad.length > 0 ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
