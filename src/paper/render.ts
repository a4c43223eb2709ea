/**
 * A paper-mode grid rendered as the paper prints its tables — columns = the table's variants,
 * rows = linear and attentive top-1 and the final validation loss — beside the paper's own
 * AIM-0.6B numbers, labelled as the paper's: Markdown, CSV and JSON (`table.json`). Cells not
 * yet finished show as "…"; numbers the paper's text does not give as "n/a".
 */
import type { CellResult, GridState } from './runGrid';
import { PAPER_SOURCE, paperTable, paperTableName, type PaperTable } from './tables';

export interface TableJsonCell {
  variant: string;
  label: string;
  linear: number;
  attentive: number;
  valLoss: number;
  trainLoss: number;
  linearTrain: number;
  attentiveTrain: number;
  probeCausal: boolean;
  chunkLoss: number[];
  paper: { linear: number | null; attentive: number | null };
}

export interface TableJson {
  table: string;
  preset: string;
  steps: number;
  batch: number;
  seed: number;
  dataset: string;
  title: string;
  complete: boolean;
  cells: TableJsonCell[];
  notes: readonly string[];
  paperSource: string;
}

function cellOf(state: GridState, variant: string): CellResult | undefined {
  return state.cells.find((c) => c.variant === variant);
}

/** The grid as `table.json`: `{table, preset, steps, cells: [{variant, linear, attentive, valLoss}]}` and more. */
export function tableJson(state: GridState): TableJson {
  const table = paperTable(state.spec.table);
  const cells: TableJsonCell[] = [];
  for (const v of table.variants) {
    const c = cellOf(state, v.id);
    if (!c) continue;
    cells.push({
      variant: v.id,
      label: v.label,
      linear: c.linear,
      attentive: c.attentive,
      valLoss: c.valLoss,
      trainLoss: c.trainLoss,
      linearTrain: c.linearTrain,
      attentiveTrain: c.attentiveTrain,
      probeCausal: c.probeCausal,
      chunkLoss: c.chunkLoss,
      paper: { ...v.published },
    });
  }
  const { spec } = state;
  return {
    table: spec.table,
    preset: spec.preset,
    steps: spec.steps,
    batch: spec.batch,
    seed: spec.seed,
    dataset: spec.dataset,
    title: `${paperTableName(spec.table)} ${table.title}`,
    complete: cells.length === table.variants.length,
    cells,
    notes: table.notes,
    paperSource: PAPER_SOURCE,
  };
}

const pct = (x: number | null | undefined) =>
  x === null ? 'n/a' : x === undefined ? '…' : x.toFixed(1);
const loss = (x: number | undefined) => (x === undefined ? '…' : x.toFixed(4));

interface Row {
  label: string;
  values: string[];
  /** Bold the best value (the paper bolds its best column). */
  best?: 'max' | 'min';
}

/** The rows of the table in the paper's layout: this grid's three, then the paper's two. */
export function tableRows(state: GridState): { header: string[]; rows: Row[] } {
  const table = paperTable(state.spec.table);
  const cells = table.variants.map((v) => cellOf(state, v.id));
  const header = [
    table.variable,
    ...table.variants.map((v) => {
      const tiny = v.tinyValue ? ` (${v.tinyValue(state.spec.preset)})` : '';
      return `${v.label}${tiny}${v.paperDefault ? ' †' : ''}`;
    }),
  ];
  const preset = state.spec.preset;
  return {
    header,
    rows: [
      { label: `linear (${preset})`, values: cells.map((c) => pct(c?.linear)), best: 'max' },
      { label: `attentive (${preset})`, values: cells.map((c) => pct(c?.attentive)), best: 'max' },
      { label: `val. loss (${preset})`, values: cells.map((c) => loss(c?.valLoss)), best: 'min' },
      {
        label: 'linear (paper, AIM-0.6B)',
        values: table.variants.map((v) => pct(v.published.linear)),
        best: 'max',
      },
      {
        label: 'attentive (paper, AIM-0.6B)',
        values: table.variants.map((v) => pct(v.published.attentive)),
        best: 'max',
      },
    ],
  };
}

/** The positions of the best numbers of a row (ties all), none when every number is the same. */
function bestIndices(values: string[], best: 'max' | 'min'): Set<number> {
  const numbers = values.map(Number).filter((v, i) => values[i] !== '' && Number.isFinite(v));
  if (new Set(numbers).size < 2) return new Set();
  const target = best === 'max' ? Math.max(...numbers) : Math.min(...numbers);
  return new Set(values.flatMap((v, i) => (v !== '' && Number(v) === target ? [i] : [])));
}

function caption(state: GridState, table: PaperTable): string {
  const { spec } = state;
  const done = state.cells.length;
  return (
    `${spec.preset}, ${spec.steps} steps of ${spec.batch} images, seed ${spec.seed}, on ${spec.dataset}; ` +
    `probes trained on ${spec.probeTrainImages} training images and tested on ${spec.probeTestImages} held-out images` +
    (done < table.variants.length ? ` (${done} of ${table.variants.length} cells finished)` : '')
  );
}

/** The grid as Markdown: the table, its caption and notes, and 3b's per-chunk losses. */
export function renderMarkdown(state: GridState): string {
  const table = paperTable(state.spec.table);
  const { header, rows } = tableRows(state);
  const lines = [
    `### ${paperTableName(table.id)} ${table.title} — at tiny scale`,
    '',
    caption(state, table) + '.',
    '',
    `| ${header.join(' | ')} |`,
    `| :--- | ${header
      .slice(1)
      .map(() => ':---:')
      .join(' | ')} |`,
  ];
  for (const row of rows) {
    // (Bold the best among several different numbers, as the paper does.)
    const bold = row.best ? bestIndices(row.values, row.best) : new Set<number>();
    const values = row.values.map((v, i) => (bold.has(i) ? `**${v}**` : v));
    lines.push(`| ${row.label} | ${values.join(' | ')} |`);
  }
  lines.push(
    '',
    `Top-1 in %. † the paper’s default. The paper rows are the published numbers of ${PAPER_SOURCE}; “n/a”: not in the paper’s text.`,
  );
  for (const note of table.notes) lines.push(`- ${note}`);
  if (table.chunkCurves) lines.push('', ...chunkMarkdown(state, table));
  return lines.join('\n') + '\n';
}

/** The per-chunk validation loss after the last step (the paper's Figure 7), one column per variant. */
function chunkMarkdown(state: GridState, table: PaperTable): string[] {
  const cells = table.variants.map((v) => cellOf(state, v.id));
  const chunks = Math.max(0, ...cells.map((c) => c?.chunkLoss.length ?? 0));
  if (chunks === 0) return [];
  const lines = [
    'Per-chunk validation loss after the last step (the paper’s Figure 7; chunk 1 is the start of each ordering’s sequence):',
    '',
    `| chunk | ${table.variants.map((v) => v.label).join(' | ')} |`,
    `| :--- | ${table.variants.map(() => ':---:').join(' | ')} |`,
  ];
  for (let k = 0; k < chunks; k++) {
    const values = cells.map((c) => {
      const v = c?.chunkLoss[k];
      return v === undefined || !Number.isFinite(v) ? '…' : v.toFixed(4);
    });
    lines.push(`| ${k + 1} | ${values.join(' | ')} |`);
  }
  return lines;
}

function csvField(text: string): string {
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The grid as CSV in the paper's layout (a row per measure, a column per variant); empty = not finished. */
export function renderCsv(state: GridState): string {
  const table = paperTable(state.spec.table);
  const { header, rows } = tableRows(state);
  const lines = [header.map(csvField).join(',')];
  for (const row of rows) {
    const values = row.values.map((v) => (v === '…' || v === 'n/a' ? '' : v));
    lines.push([row.label, ...values].map(csvField).join(','));
  }
  if (table.chunkCurves) {
    const cells = table.variants.map((v) => cellOf(state, v.id));
    const chunks = Math.max(0, ...cells.map((c) => c?.chunkLoss.length ?? 0));
    for (let k = 0; k < chunks; k++) {
      const values = cells.map((c) => {
        const v = c?.chunkLoss[k];
        return v === undefined || !Number.isFinite(v) ? '' : String(v);
      });
      lines.push([`chunk ${k + 1} val. loss (${state.spec.preset})`, ...values].join(','));
    }
  }
  return lines.join('\n') + '\n';
}
