/**
 * Joins the JSON lines of bench/main.ts (impl "aim-wgsl", "tfjs-webgpu") and
 * bench/torch_bench.py (impl "torch-cuda") measured on the same GPU into ratio lines:
 *
 *   node .gpu/compare.mjs wgsl.jsonl torch.jsonl   (bundled by scripts/bundle-gpu.mjs)
 *
 * stdout: one `{"name":"aim-vs-torch", ...}` line per measurement both sides have, with
 * `aimOverTorch` = torch ms ÷ aim ms (> 1: this project is faster), then one "goals" line
 * checking the speed bar. stderr: the same as Markdown tables for BENCHMARKS.md.
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
  return out.join('\n');
}

function main(paths: string[]): number {
  if (paths.length === 0) {
    console.error('Usage: node .gpu/compare.mjs wgsl.jsonl torch.jsonl [more.jsonl ...]');
    return 64;
  }
  const lines = paths.flatMap(readLines);
  for (const line of lines.filter((l) => l.error !== undefined)) {
    console.error(
      `compare: ${String(line.impl ?? '')} ${line.name} ${JSON.stringify(line.shape ?? '')}: ${String(line.error)}`,
    );
  }
  const ratios = join(lines).map(ratioLine);
  for (const r of ratios) process.stdout.write(`${JSON.stringify(r)}\n`);
  process.stdout.write(`${JSON.stringify(goalsLine(lines, ratios))}\n`);
  console.error(markdown(ratios));
  const bad = ratios.filter((r) => r.sameMask === false || r.checksOk !== true);
  if (ratios.length === 0) console.error('compare: no measurement appears on both sides');
  for (const r of bad) {
    console.error(
      `compare: ${String(r.of)} ${JSON.stringify(r.shape)} ${String(r.pass ?? r.case ?? '')}: ` +
        (r.sameMask === false
          ? 'the two sides used different masks'
          : 'a correctness check failed'),
    );
  }
  return bad.length > 0 ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
