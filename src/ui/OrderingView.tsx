/**
 * An ordering drawn on a real image: each patch of the model's grid gets its position in the
 * sequence (a number, and a colour from early = dark to late = light), and "Play" reveals the
 * image patch by patch in that order, as the model predicts it.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import { PRESETS, type PresetName } from '../model/config';
import { patchOrder, type Ordering } from '../model/orderings';
import { cssColour, useTheme } from './theme';
import { sampleImages, type GrayImage } from './sampleImages';

/** A perceptually ordered ramp (viridis endpoints and middle), t in [0, 1]. */
function ramp(t: number): string {
  const stops = [
    [68, 1, 84],
    [59, 82, 139],
    [33, 145, 140],
    [94, 201, 98],
    [253, 231, 37],
  ];
  const x = Math.min(0.9999, Math.max(0, t)) * (stops.length - 1);
  const i = Math.floor(x);
  const f = x - i;
  const c = stops[i].map((v, k) => Math.round(v + f * (stops[i + 1][k] - v)));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

function drawOrdering(
  canvas: HTMLCanvasElement,
  image: GrayImage | undefined,
  order: readonly number[],
  grid: number,
  revealed: number | undefined,
): void {
  const size = canvas.width;
  const g = canvas.getContext('2d')!;
  g.clearRect(0, 0, size, size);
  if (image) {
    const tmp = new ImageData(image.width, image.height);
    for (let i = 0; i < image.pixels.length; i++) {
      const v = image.pixels[i];
      tmp.data.set([v, v, v, 255], 4 * i);
    }
    const off = new OffscreenCanvas(image.width, image.height);
    off.getContext('2d')!.putImageData(tmp, 0, 0);
    g.imageSmoothingEnabled = true;
    g.drawImage(off, 0, 0, size, size);
  }
  const cell = size / grid;
  const rank = new Array<number>(order.length);
  order.forEach((patch, t) => (rank[patch] = t));
  g.font = `${Math.max(9, Math.floor(cell * 0.38))}px system-ui, sans-serif`;
  g.textAlign = 'center';
  g.textBaseline = 'middle';
  for (let p = 0; p < grid * grid; p++) {
    const x = (p % grid) * cell;
    const y = Math.floor(p / grid) * cell;
    const t = rank[p];
    if (revealed !== undefined) {
      // Not yet predicted: covered. The patch being predicted now: outlined.
      if (t > revealed) {
        g.fillStyle = cssColour('--panel', '#fff');
        g.fillRect(x, y, cell, cell);
      }
      if (t === revealed) {
        g.strokeStyle = '#e69f00';
        g.lineWidth = 3;
        g.strokeRect(x + 1.5, y + 1.5, cell - 3, cell - 3);
      }
      continue;
    }
    g.globalAlpha = 0.38;
    g.fillStyle = ramp(t / Math.max(1, order.length - 1));
    g.fillRect(x, y, cell, cell);
    g.globalAlpha = 1;
    if (grid <= 8) {
      g.fillStyle = '#fff';
      g.strokeStyle = 'rgba(0,0,0,0.7)';
      g.lineWidth = 3;
      g.strokeText(String(t + 1), x + cell / 2, y + cell / 2);
      g.fillText(String(t + 1), x + cell / 2, y + cell / 2);
    }
  }
  g.strokeStyle = 'rgba(127,127,127,0.6)';
  g.lineWidth = 1;
  for (let i = 1; i < grid; i++) {
    g.beginPath();
    g.moveTo(i * cell, 0);
    g.lineTo(i * cell, size);
    g.moveTo(0, i * cell);
    g.lineTo(size, i * cell);
    g.stroke();
  }
}

export function OrderingView({
  ordering,
  preset,
  imageIndex = 0,
  size = 150,
  playing = false,
}: {
  ordering: Ordering;
  preset: PresetName;
  imageIndex?: number;
  size?: number;
  playing?: boolean;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [image, setImage] = useState<GrayImage>();
  const [frame, setFrame] = useState(0);
  const theme = useTheme((s) => s.resolved);
  const { imageSize, patchSize } = PRESETS[preset];
  const grid = imageSize / patchSize;
  const order = useMemo(
    () => (Number.isInteger(grid) ? patchOrder(ordering, grid, grid) : []),
    [ordering, grid],
  );

  useEffect(() => {
    let live = true;
    sampleImages().then(
      (all) => live && setImage(all[imageIndex % all.length]),
      () => undefined, // No image: the ordering is still drawn on a blank square.
    );
    return () => {
      live = false;
    };
  }, [imageIndex]);

  useEffect(() => {
    if (!playing) return;
    const timer = setInterval(() => setFrame((f) => (f + 1) % (order.length + 4)), 180);
    return () => clearInterval(timer);
  }, [playing, order.length]);

  useEffect(() => {
    if (canvas.current && order.length)
      drawOrdering(
        canvas.current,
        image,
        order,
        grid,
        playing ? Math.min(frame, order.length - 1) : undefined,
      );
  }, [image, order, grid, playing, frame, theme]);

  return (
    <figure className="ordering-view">
      <canvas
        ref={canvas}
        width={size}
        height={size}
        role="img"
        aria-label={`${ordering} ordering of the ${grid}×${grid} patches`}
        data-testid={`ordering-${ordering}`}
      />
      <figcaption>{ordering}</figcaption>
    </figure>
  );
}
