import { describe, expect, it } from 'vitest';
import { renderCsv, renderMarkdown, tableJson } from '../src/paper/render';
import {
  cellSettings,
  newGridState,
  resumeMismatch,
  validateGridSpec,
  type CellResult,
  type GridSpec,
  type GridState,
} from '../src/paper/runGrid';
import {
  deeperTrunk,
  PAPER_PRESETS,
  PAPER_TABLE_IDS,
  PAPER_TABLES,
  paperTable,
  type PaperTableId,
} from '../src/paper/tables';
import { modelConfigFor } from '../src/training/settings';

function spec(table: PaperTableId, preset: GridSpec['preset'] = 'aim-micro'): GridSpec {
  return {
    table,
    preset,
    steps: 10,
    batch: 8,
    seed: 3,
    evalEvery: 5,
    evalImages: 16,
    probeTrainImages: 64,
    probeTestImages: 32,
    dataset: 'procedural',
  };
}

/** A finished cell with given numbers (what runGrid records; the rendering only reads them). */
function cell(variant: string, linear: number, attentive: number, valLoss: number): CellResult {
  return {
    variant,
    linear,
    attentive,
    linearTrain: linear + 1,
    attentiveTrain: attentive + 1,
    valLoss,
    trainLoss: valLoss + 0.01,
    chunkLoss: [valLoss + 0.1, valLoss, valLoss - 0.1],
    curve: [{ step: 10, valLoss, chunkLoss: [valLoss + 0.1, valLoss, valLoss - 0.1] }],
    probeCausal: false,
    probeLayers: 1,
    settings: cellSettings(spec('3b'), paperTable('3b'), paperTable('3b').variants[0]),
    trainSeconds: 1,
    probeSeconds: 1,
    probeRecipe: {},
  };
}

describe('the paper tables as data', () => {
  it('every table has distinct variants, one paper default, and published numbers that are percentages or absent', () => {
    for (const id of PAPER_TABLE_IDS) {
      const table = PAPER_TABLES[id];
      expect(table.id).toBe(id);
      expect(table.variants.length).toBeGreaterThanOrEqual(2);
      expect(new Set(table.variants.map((v) => v.id)).size).toBe(table.variants.length);
      expect(table.variants.filter((v) => v.paperDefault)).toHaveLength(1);
      for (const v of table.variants) {
        for (const x of [v.published.linear, v.published.attentive]) {
          if (x === null) continue;
          expect(x).toBeGreaterThan(0);
          expect(x).toBeLessThan(100);
        }
        // The paper's attentive probe beats its linear one in every published cell.
        if (v.published.linear !== null && v.published.attentive !== null)
          expect(v.published.attentive).toBeGreaterThan(v.published.linear);
      }
    }
  });

  it('every cell of every table is a run the playground can train, for both presets', () => {
    for (const preset of PAPER_PRESETS)
      for (const id of PAPER_TABLE_IDS) expect(validateGridSpec(spec(id, preset))).toEqual([]);
  });

  it('each table varies what the paper varies, and only that', () => {
    const settingsOf = (id: PaperTableId, preset: GridSpec['preset'] = 'aim-tiny') =>
      paperTable(id).variants.map((v) => cellSettings(spec(id, preset), paperTable(id), v));
    const differing = (id: PaperTableId) => {
      const all = settingsOf(id);
      const keys = Object.keys(all[0]) as (keyof (typeof all)[0])[];
      return keys.filter((k) => new Set(all.map((s) => JSON.stringify(s[k]))).size > 1);
    };
    expect(differing('3a')).toEqual(['targets']);
    expect(differing('3b')).toEqual(['ordering']);
    expect(settingsOf('3b').every((s) => s.prefix === false)).toBe(true); // causal, as the paper
    expect(differing('3c')).toEqual(['cropScaleMin']);
    expect(differing('3d')).toEqual(['prefix']);
    expect(paperTable('3d').variants.map((v) => v.probeCausal)).toEqual([true, false, true, false]);
    expect(differing('3e')).toEqual(['headKind']);
    expect(differing('3f').sort()).toEqual(['depth', 'width']);
    expect(differing('4a')).toEqual(['headWidth']);
    expect(differing('4b')).toEqual(['headDepth']);
    // Every other table probes bidirectionally.
    for (const id of PAPER_TABLE_IDS.filter((t) => t !== '3d'))
      expect(paperTable(id).variants.every((v) => !v.probeCausal)).toBe(true);
  });

  it('Table 4 grows the head as the paper does; 3f keeps the trunk’s parameters about equal', () => {
    for (const preset of PAPER_PRESETS) {
      const widths = settingsOf4('4a', preset).map((s) => s.headWidth);
      const depths = settingsOf4('4b', preset).map((s) => s.headDepth);
      expect(widths[2]).toBe(modelConfigFor(settingsOf4('4a', preset)[2]).head.width);
      expect(widths).toEqual([...widths].sort((a, b) => a - b));
      expect(new Set(widths).size).toBe(3);
      expect(new Set(depths).size).toBe(3);
      expect(depths).toEqual([...depths].sort((a, b) => a - b));
      const [wide, deep] = settingsOf4('3f', preset).map((s) => modelConfigFor(s));
      expect(deep.depth).toBe(2 * wide.depth);
      expect(deep.width).toBe(deeperTrunk(preset).width);
      const trunk = (c: typeof wide) => 12 * c.width * c.width * c.depth;
      expect(trunk(deep) / trunk(wide)).toBeGreaterThan(0.8);
      expect(trunk(deep) / trunk(wide)).toBeLessThan(1.25);
    }
    function settingsOf4(id: PaperTableId, preset: GridSpec['preset']) {
      return paperTable(id).variants.map((v) => cellSettings(spec(id, preset), paperTable(id), v));
    }
  });

  it('an unknown table or a setting this build lacks is a clear error', () => {
    expect(() => paperTable('3g')).toThrow(/Unknown table "3g": use 3a, 3b/);
    const table = { ...paperTable('3c'), common: { noSuchSetting: 1 } };
    expect(() => cellSettings(spec('3c'), table, table.variants[0])).toThrow(
      /needs the run setting "noSuchSetting"/,
    );
    expect(validateGridSpec({ ...spec('3b'), probeLayers: 9 })).toContain(
      "The probe layers (9) must be at most the trunk's depth (2).",
    );
  });

  it('a saved grid resumes only the same grid', () => {
    const state = newGridState(spec('3b'));
    expect(resumeMismatch(state, spec('3b'))).toBeUndefined();
    expect(resumeMismatch(state, { ...spec('3b'), steps: 11 })).toBe(
      'it was run with steps 10, not 11',
    );
    expect(resumeMismatch(state, { ...spec('3b'), probeLayers: 1 })).toMatch(/probeLayers/);
  });
});

describe('rendering a grid', () => {
  const state: GridState = {
    ...newGridState(spec('3b')),
    cells: [cell('raster', 31.25, 40.5, 0.52), cell('checkerboard', 28, 44.75, 0.61)],
  };

  it('table.json has the table, preset, steps and one cell per finished variant, in table order', () => {
    const json = tableJson(state);
    expect(json).toMatchObject({ table: '3b', preset: 'aim-micro', steps: 10, complete: false });
    expect(json.cells.map((c) => [c.variant, c.linear, c.attentive, c.valLoss])).toEqual([
      ['raster', 31.25, 40.5, 0.52],
      ['checkerboard', 28, 44.75, 0.61],
    ]);
    expect(json.cells[0].paper).toEqual({ linear: 69.5, attentive: 77.4 });
  });

  it('Markdown: the paper’s layout, unfinished cells as …, the best bold, the paper’s rows labelled', () => {
    const md = renderMarkdown(state);
    expect(md).toContain('| pattern | raster † | spiral | checkerboard | random |');
    expect(md).toContain('| linear (aim-micro) | **31.3** | … | 28.0 | … |');
    expect(md).toContain('| attentive (aim-micro) | 40.5 | … | **44.8** | … |');
    expect(md).toContain('| val. loss (aim-micro) | **0.5200** | … | 0.6100 | … |');
    expect(md).toContain('| linear (paper, AIM-0.6B) | **69.5** | 67.7 | 68.2 | 65.8 |');
    expect(md).toContain('(2 of 4 cells finished)');
    // 3b also shows the per-chunk losses (Figure 7).
    expect(md).toContain('| 1 | 0.6200 | … | 0.7100 | … |');
  });

  it('ties are all bold, and a row of equal numbers has none', () => {
    const tied: GridState = {
      ...newGridState(spec('3b')),
      cells: [cell('raster', 12.5, 40, 0.5), cell('spiral', 12.5, 50, 0.5)],
    };
    const md = renderMarkdown(tied);
    expect(md).toContain('| linear (aim-micro) | 12.5 | 12.5 | … | … |');
    expect(md).toContain('| attentive (aim-micro) | 40.0 | **50.0** | … | … |');
    const third = { ...tied, cells: [...tied.cells, cell('checkerboard', 10, 50, 0.6)] };
    expect(renderMarkdown(third)).toContain(
      '| attentive (aim-micro) | 40.0 | **50.0** | **50.0** | … |',
    );
  });

  it('a table whose published numbers are not in the paper’s text says n/a, never a number', () => {
    const md = renderMarkdown(newGridState(spec('3d')));
    expect(md).toContain('| linear (paper, AIM-0.6B) | n/a | n/a | n/a | n/a |');
    expect(md).toContain('image in the paper’s text');
  });

  it('CSV: a row per measure, a column per variant, empty where unfinished', () => {
    const lines = renderCsv(state).trim().split('\n');
    expect(lines[0]).toBe('pattern,raster †,spiral,checkerboard,random');
    expect(lines[1]).toBe('linear (aim-micro),31.3,,28.0,');
    expect(lines[4]).toBe('"linear (paper, AIM-0.6B)",69.5,67.7,68.2,65.8');
    expect(lines.filter((l) => l.startsWith('chunk '))).toHaveLength(3);
  });
});
