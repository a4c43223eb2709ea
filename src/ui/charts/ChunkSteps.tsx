/**
 * Figure 7 for one run with a step selector: the chosen evaluation's per-chunk loss in the
 * run's colour, the first evaluation in grey for reference, and every other evaluation faint
 * behind them, so how the curve's shape changes over training can be scrubbed through. While
 * the run trains the selector follows the newest evaluation until the user moves it.
 */
import { useId, useMemo, useState } from 'react';
import type { EvalMetrics } from '../../training/trainer';
import { ChunkLossChart } from './LossCharts';

/** More than this many evaluations: only the first and the chosen one are drawn. */
const MAX_FAINT_LINES = 40;

export function chunkStepLines(
  evals: readonly EvalMetrics[],
  chosen: number,
  colour: string,
): {
  label: string;
  colour: string;
  chunkLoss: number[];
  alpha?: number;
  width?: number;
  legend?: boolean;
}[] {
  if (evals.length === 0) return [];
  const index = Math.min(Math.max(0, chosen), evals.length - 1);
  const lines: ReturnType<typeof chunkStepLines> = [];
  if (evals.length <= MAX_FAINT_LINES)
    evals.forEach((e, i) => {
      if (i !== 0 && i !== index)
        lines.push({
          label: `step ${e.step}`,
          colour,
          chunkLoss: e.chunkLoss,
          alpha: 0.15,
          width: 1,
          legend: false,
        });
    });
  if (index !== 0)
    lines.push({
      label: `step ${evals[0].step} (first)`,
      colour: '#7f7f7f',
      chunkLoss: evals[0].chunkLoss,
    });
  lines.push({ label: `step ${evals[index].step}`, colour, chunkLoss: evals[index].chunkLoss });
  return lines;
}

export function ChunkStepChart({
  evals,
  colour,
  testId,
  exportName,
  caption,
}: {
  evals: readonly EvalMetrics[];
  colour: string;
  testId: string;
  exportName: string;
  caption?: string;
}) {
  const id = useId();
  // null: follow the newest evaluation.
  const [picked, setPicked] = useState<number | null>(null);
  const index = picked == null ? evals.length - 1 : Math.min(picked, evals.length - 1);
  const lines = useMemo(() => chunkStepLines(evals, index, colour), [evals, index, colour]);
  return (
    <div className="chunk-steps">
      <ChunkLossChart lines={lines} testId={testId} exportName={exportName} caption={caption} />
      {evals.length > 1 && (
        <div className="chunk-step-picker">
          <label htmlFor={`${id}-step`}>Evaluation</label>
          <input
            id={`${id}-step`}
            type="range"
            min={0}
            max={evals.length - 1}
            step={1}
            value={index}
            onChange={(e) => {
              const v = Number(e.target.value);
              setPicked(v === evals.length - 1 ? null : v);
            }}
            data-testid={`${testId}-step`}
            aria-valuetext={`step ${evals[index].step}`}
          />
          <output htmlFor={`${id}-step`} data-testid={`${testId}-step-label`}>
            step {evals[index].step}
            {picked == null ? ' (newest)' : ''} · {index + 1} of {evals.length}
          </output>
        </div>
      )}
    </div>
  );
}
