/**
 * The model's next-patch predictions on validation images, refreshed after each evaluation:
 * each image beside its prediction, which fills in patch by patch in the run's ordering (the
 * first patch of the sequence has no prediction and is shown as it is).
 */
import { useEffect, useRef, useState } from 'react';
import type { PredictionImage } from '../training/predictions';
import { runPredictions } from './runDriver';
import type { RunRecord } from './runRecords';

const COUNT = 6;

function drawRgb(
  canvas: HTMLCanvasElement,
  rgb: Uint8Array,
  size: number,
  mask?: (patchRow: number, patchCol: number) => boolean,
  patch = 1,
) {
  const img = new ImageData(size, size);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      const show = !mask || mask(Math.floor(y / patch), Math.floor(x / patch));
      img.data[4 * i] = show ? rgb[3 * i] : 128;
      img.data[4 * i + 1] = show ? rgb[3 * i + 1] : 128;
      img.data[4 * i + 2] = show ? rgb[3 * i + 2] : 128;
      img.data[4 * i + 3] = show ? 255 : 60;
    }
  const off = new OffscreenCanvas(size, size);
  off.getContext('2d')!.putImageData(img, 0, 0);
  const g = canvas.getContext('2d')!;
  g.imageSmoothingEnabled = false;
  g.clearRect(0, 0, canvas.width, canvas.height);
  g.drawImage(off, 0, 0, canvas.width, canvas.height);
}

function Pair({ p, frame }: { p: PredictionImage; frame: number }) {
  const a = useRef<HTMLCanvasElement>(null);
  const b = useRef<HTMLCanvasElement>(null);
  const grid = p.size / p.patch;
  useEffect(() => {
    if (a.current) drawRgb(a.current, p.original, p.size);
  }, [p]);
  useEffect(() => {
    if (!b.current) return;
    const rank = new Array<number>(p.order.length);
    p.order.forEach((patch, t) => (rank[patch] = t));
    drawRgb(b.current, p.predicted, p.size, (r, c) => rank[r * grid + c] <= frame, p.patch);
  }, [p, frame, grid]);
  return (
    <div className="prediction-pair">
      <canvas ref={a} width={72} height={72} aria-hidden="true" />
      <canvas ref={b} width={72} height={72} aria-hidden="true" />
    </div>
  );
}

export function PredictionGrid({ run }: { run: RunRecord }) {
  const [images, setImages] = useState<PredictionImage[]>();
  const [frame, setFrame] = useState(0);
  const [failed, setFailed] = useState(false);
  const evals = run.evals.length;
  // Refreshed after every evaluation, live while training: the worker runs the request
  // between two steps (TrainingSession serialises all GPU work of a run).
  useEffect(() => {
    if (evals === 0) return;
    let live = true;
    runPredictions(COUNT).then(
      (imgs) => {
        if (!live) return;
        setImages(imgs);
        setFrame(0);
        setFailed(false);
      },
      () => live && setFailed(true),
    );
    return () => {
      live = false;
    };
  }, [evals, run.id]);

  const K = images?.[0]?.order.length ?? 0;
  useEffect(() => {
    if (!K) return;
    const timer = setInterval(
      () => setFrame((f) => (f >= K + 8 ? 0 : f + 1)),
      Math.max(30, 2400 / K),
    );
    return () => clearInterval(timer);
  }, [K]);

  return (
    <section className="panel" aria-labelledby="pred-title">
      <h3 id="pred-title">Next-patch predictions on validation images</h3>
      {!images ? (
        <p className="muted">
          {failed
            ? 'Predictions are not available for this run.'
            : 'Shown after the first evaluation, and refreshed at every one: each image beside the model’s guess of every patch from the patches before it.'}
        </p>
      ) : (
        <>
          <p className="muted small">
            Left: the image; right: the prediction of each patch from the ones before it in the{' '}
            {run.settings.ordering} order (refreshed at every evaluation).
          </p>
          <div className="prediction-grid" data-testid="prediction-grid" data-count={images.length}>
            {images.map((p, i) => (
              <Pair key={i} p={p} frame={Math.min(frame, K - 1)} />
            ))}
          </div>
        </>
      )}
    </section>
  );
}
