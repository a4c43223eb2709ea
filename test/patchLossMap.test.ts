import { describe, expect, it } from 'vitest';
import { patchOrder } from '../src/model/orderings';
import { defaultsFor } from '../src/training/settings';
import {
  cellsInImageSpace,
  colourOf,
  differenceCaption,
  differenceMap,
  divergingScale,
  diverging,
  formatLoss,
  legendTicks,
  mapCaption,
  patchLossMap,
  runGrid,
  sequentialScale,
  viridis,
} from '../src/ui/patchLossMap';

const micro = defaultsFor('aim-micro');
/** 15 distinct losses for aim-micro's 4×4 grid: position t has loss 1 + t/10. */
const positionLoss = Array.from({ length: 15 }, (_, t) => 1 + t / 10);

describe('per-patch loss maps', () => {
  it('puts position t on the ordering’s patch t + 1; the first patch is never predicted', () => {
    const spiral = patchOrder('spiral', 4, 4);
    // ml-l3m's spiral on 4×4 (reference): 6, 10, 9, 5, 1, …
    expect(spiral.slice(0, 3)).toEqual([6, 10, 9]);
    const cells = cellsInImageSpace(positionLoss, spiral);
    expect(cells[6]).toBeNaN();
    expect(cells[10]).toBe(1);
    expect(cells[9]).toBe(1.1);
    expect(cells[spiral[15]]).toBe(2.4);
    expect(cells.filter(Number.isNaN)).toHaveLength(1);
    // Raster: image space is sequence order shifted by one.
    expect(cellsInImageSpace(positionLoss, patchOrder('raster', 4, 4))).toEqual([
      NaN,
      ...positionLoss,
    ]);
    expect(() => cellsInImageSpace(positionLoss.slice(1), spiral)).toThrow(/14 per-position/);
  });

  it('maps a run’s newest evaluation with per-position losses, else says why not', () => {
    const settings = { ...micro, ordering: 'checkerboard' as const };
    const evals = [
      { step: 5, valLoss: 1, chunkLoss: [1], positionLoss: positionLoss.map((v) => v + 1) },
      { step: 10, valLoss: 1, chunkLoss: [1], positionLoss },
      // An evaluation from a worker before per-position losses: skipped for the newest with them.
      { step: 12, valLoss: 1, chunkLoss: [1] },
    ];
    const { map } = patchLossMap({ settings, evals });
    expect(map?.step).toBe(10);
    expect(map?.side).toBe(4);
    expect(map?.order).toEqual(runGrid(settings).order);
    expect(map?.firstPatch).toBe(map?.order[0]);
    expect(map?.cells[map.order[1]]).toBe(1);
    expect(patchLossMap({ settings, evals: [] }).reason).toMatch(/No evaluation yet/);
    expect(patchLossMap({ settings, evals: [evals[2]] }).reason).toMatch(/without per-patch/);
    expect(
      patchLossMap({ settings, evals: [{ ...evals[1], positionLoss: [1, 2] }] }).reason,
    ).toMatch(/2 per-position losses, but its 4×4 grid needs 15/);
    // JSON writes NaN as null: a missing number, not a zero.
    const nulls = positionLoss.map((v, t) => (t === 3 ? (null as unknown as number) : v));
    const withNull = patchLossMap({ settings, evals: [{ ...evals[1], positionLoss: nulls }] });
    expect(withNull.map?.sequence[3]).toBeNaN();
  });

  it('subtracts run B from run A patch by patch, and refuses different grids', () => {
    const a = patchLossMap({
      settings: { ...micro, ordering: 'raster' },
      evals: [{ step: 3, valLoss: 1, chunkLoss: [], positionLoss }],
    }).map!;
    const b = patchLossMap({
      settings: { ...micro, ordering: 'spiral' },
      evals: [{ step: 3, valLoss: 1, chunkLoss: [], positionLoss: positionLoss.map(() => 1) }],
    }).map!;
    const d = differenceMap(a, b).map!;
    // Patch 0 is raster's first (never predicted); patch 6 is spiral's first.
    expect(d.cells[0]).toBeNaN();
    expect(d.cells[6]).toBeNaN();
    expect(d.cells[1]).toBeCloseTo(0, 12); // raster's position 0 (1) − spiral's value (1)
    expect(d.cells[15]).toBeCloseTo(1.4, 12);
    expect(d.sequence[14]).toBeCloseTo(1.4, 12);
    const tiny = patchLossMap({
      settings: { ...defaultsFor('aim-tiny'), ordering: 'raster' },
      evals: [{ step: 3, valLoss: 1, chunkLoss: [], positionLoss: new Array(63).fill(1) }],
    }).map!;
    expect(differenceMap(a, tiny).reason).toMatch(/different patch grids \(4×4 and 8×8\)/);
  });

  it('colours: viridis low to high, diverging centred on 0, scales over finite values', () => {
    expect(viridis(0)).toEqual([0x44, 0x01, 0x54]);
    expect(viridis(1)).toEqual([0xfd, 0xe7, 0x25]);
    expect(viridis(0.5)).toEqual([0x21, 0x91, 0x8c]);
    expect(viridis(-1)).toEqual(viridis(0));
    expect(diverging(0)).toEqual([0xf7, 0xf7, 0xf7]);
    expect(diverging(-1)[2]).toBeGreaterThan(diverging(-1)[0]); // blue
    expect(diverging(1)[0]).toBeGreaterThan(diverging(1)[2]); // red
    const seq = sequentialScale([NaN, 2, 0.5, 1])!;
    expect(seq).toEqual({ kind: 'sequential', min: 0.5, max: 2 });
    expect(colourOf(0.5, seq)).toEqual(viridis(0));
    expect(colourOf(2, seq)).toEqual(viridis(1));
    expect(colourOf(1.25, seq)).toEqual(viridis(0.5));
    expect(sequentialScale([NaN])).toBeUndefined();
    const div = divergingScale([0.1, -0.3, NaN])!;
    expect(div).toEqual({ kind: 'diverging', min: -0.3, max: 0.3 });
    expect(colourOf(0, div)).toEqual(diverging(0));
    expect(colourOf(-0.3, div)).toEqual(diverging(-1));
    [-0.3, -0.15, 0, 0.15, 0.3].forEach((v, i) => expect(legendTicks(div)[i]).toBeCloseTo(v, 12));
    expect(legendTicks({ kind: 'sequential', min: 1, max: 1 })).toEqual([1]);
    expect(formatLoss(0.72721)).toBe('0.727');
    expect(formatLoss(-0.15, true)).toBe('−0.15');
    expect(formatLoss(0.15, true)).toBe('+0.15');
    expect(formatLoss(0.00012345)).toBe('1.23e-4');
  });

  it('captions name the run(s), ordering, attention and step', () => {
    const run = {
      name: 'spiral run',
      settings: { ...micro, ordering: 'spiral' as const, prefix: true },
    };
    expect(mapCaption(run, 40)).toBe(
      'spiral run · aim-micro, spiral ordering, prefix attention · validation loss (evaluated causally) at step 40',
    );
    const other = {
      name: 'raster run',
      settings: { ...micro, ordering: 'raster' as const, prefix: false },
    };
    expect(differenceCaption(run, 40, other, 30)).toBe(
      "A − B: A = spiral run (spiral ordering, prefix attention, step 40), B = raster run (raster ordering, causal attention, step 30) · red: A's loss higher, blue: B's",
    );
  });
});
