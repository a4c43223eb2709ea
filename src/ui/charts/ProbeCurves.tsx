/**
 * Loss beside accuracy for one run (the paper's Figure 4): the validation loss and the two
 * probes' held-out top-1 on one step axis, as two stacked panels (each with its own y axis,
 * PNG and CSV) drawn over the same steps, so a point of one sits above the same step of the
 * other. Shown for a run that probes ("Probe every" above 0) or has probe points.
 */
import { useMemo } from 'react';
import { isActive, type RunRecord } from '../runRecords';
import { alignSeries } from './chartData';
import { LineChart } from './LineChart';

/** The Okabe–Ito colours the other charts use for fixed roles. */
const LOSS_COLOUR = '#0072b2';
const LINEAR_COLOUR = '#e69f00';
const ATTENTIVE_COLOUR = '#009e73';

export function ProbeCurves({ run, caption }: { run: RunRecord; caption: string }) {
  const probes = useMemo(() => run.probes ?? [], [run.probes]);
  const every = run.settings.probeEvery ?? 0;
  const { x, loss, linear, attentive } = useMemo(() => {
    const aligned = alignSeries([
      { x: run.evals.map((e) => e.step), y: run.evals.map((e) => e.valLoss) },
      { x: probes.map((p) => p.step), y: probes.map((p) => p.linear) },
      { x: probes.map((p) => p.step), y: probes.map((p) => p.attentive) },
    ]);
    const [loss, linear, attentive] = aligned.ys;
    return { x: aligned.x, loss, linear, attentive };
  }, [run.evals, probes]);
  if (every <= 0 && probes.length === 0) return null;
  const last = probes.at(-1);
  const probing = isActive(run) ? run.probing : undefined;
  const recipe = last
    ? ` · probes: ${last.trainImages} training / ${last.heldOutImages} held-out images, ${last.epochs} epochs, last ${last.layers} block${last.layers === 1 ? '' : 's'}, bidirectional`
    : '';
  const fullCaption = `${caption}${recipe}`;
  const exportStem = run.name;
  return (
    <div data-testid="probe-curves" data-probes={probes.length}>
      <h4 style={{ margin: '0.75rem 0 0.2rem' }}>
        Loss beside probe accuracy (the paper’s Figure 4)
      </h4>
      <p className="muted small" data-testid="probe-note">
        {every > 0
          ? `Every ${every} steps and at the last, a linear and an attentive probe train on the frozen trunk; `
          : 'This run probed its trunk on the way; '}
        training waits while they do.
        {probing && (
          <strong data-testid="probing-now">
            {' '}
            Probing the trunk of step {probing.step}: {probing.message} (training waits).
          </strong>
        )}
      </p>
      <div className="chart-grid">
        <LineChart
          testId="probe-loss-chart"
          title="Validation loss"
          xLabel="step"
          yLabel="validation loss"
          x={x}
          series={[{ label: 'validation', colour: LOSS_COLOUR, values: loss, points: true }]}
          exportName={`${exportStem}-figure4-loss`}
          caption={fullCaption}
          height={200}
          emptyText="No evaluation yet."
        />
        <LineChart
          testId="probe-accuracy-chart"
          title="Probe top-1 (held-out)"
          xLabel="step"
          yLabel="top-1 (%)"
          x={x}
          series={[
            { label: 'linear probe', colour: LINEAR_COLOUR, values: linear, points: true },
            {
              label: 'attentive probe',
              colour: ATTENTIVE_COLOUR,
              values: attentive,
              points: true,
              dash: [6, 3],
            },
          ]}
          exportName={`${exportStem}-figure4-probes`}
          caption={fullCaption}
          height={200}
          emptyText={every > 0 ? `The first probe comes at step ${every}.` : 'No probe yet.'}
        />
      </div>
      {last && (
        <p className="muted small" data-testid="probe-last">
          Step {last.step}: validation loss {last.valLoss.toPrecision(4)}, linear{' '}
          {last.linear.toFixed(1)} %, attentive {last.attentive.toFixed(1)} % (on their own training
          images {last.linearTrain.toFixed(1)} % and {last.attentiveTrain.toFixed(1)} %); the probes
          took {last.seconds.toFixed(1)} s.
        </p>
      )}
    </div>
  );
}
