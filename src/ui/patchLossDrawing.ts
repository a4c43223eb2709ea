/**
 * Drawing the per-patch loss maps on a canvas (PatchLossMap.tsx shows them): the patch grid in
 * image space, the sequence strip, the colour legend with its numbers, and the PNG export with
 * its title, caption and note.
 */
import {
  colourOf,
  formatLoss,
  legendTicks,
  patchCell,
  rgbCss,
  type LossScale,
} from './patchLossMap';
import type { GrayImage } from './sampleImages';
import { cssColour } from './theme';

/** The drawing's size in CSS pixels: the grid, then the sequence strip, then the legend. */
export const GRID = 240;
export const STRIP_TOP = GRID + 24;
export const STRIP_H = 16;
export const LEGEND_TOP = STRIP_TOP + STRIP_H + 34;
export const LEGEND_H = 10;
export const HEIGHT = LEGEND_TOP + LEGEND_H + 16;
/** The exported PNG: the map at 1.5× its on-screen size (whole device pixels at 2×). */
const EXPORT_SCALE = 2;
const EXPORT_MAP_SCALE = 1.5;

export interface MapDrawing {
  side: number;
  /** Raster order; NaN: never predicted (drawn hatched). */
  cells: readonly number[];
  /** Sequence positions t = 1 … K−1 (entry t − 1). */
  sequence: readonly number[];
  scale: LossScale;
  image?: GrayImage;
}

function hatch(g: CanvasRenderingContext2D, x: number, y: number, w: number, h: number): void {
  g.fillStyle = '#9a9a9a';
  g.fillRect(x, y, w, h);
  g.save();
  g.beginPath();
  g.rect(x, y, w, h);
  g.clip();
  g.strokeStyle = '#5a5a5a';
  g.lineWidth = 1.5;
  for (let d = -h; d < w; d += 6) {
    g.beginPath();
    g.moveTo(x + d, y + h);
    g.lineTo(x + d + h, y);
    g.stroke();
  }
  g.restore();
}

/** Draws a map in CSS pixels at the context's current transform. */
export function drawMap(g: CanvasRenderingContext2D, m: MapDrawing): void {
  const fg = cssColour('--fg', '#000');
  g.fillStyle = cssColour('--panel', '#fff');
  g.fillRect(0, 0, GRID, HEIGHT);
  const cell = GRID / m.side;
  if (m.image) {
    const data = new ImageData(m.image.width, m.image.height);
    m.image.pixels.forEach((v, i) => data.data.set([v, v, v, 255], 4 * i));
    const off = document.createElement('canvas');
    [off.width, off.height] = [m.image.width, m.image.height];
    off.getContext('2d')!.putImageData(data, 0, 0);
    g.drawImage(off, 0, 0, GRID, GRID);
  }
  m.cells.forEach((v, p) => {
    const { row, col } = patchCell(p, m.side);
    const [x0, y0] = [Math.round(col * cell), Math.round(row * cell)];
    const [w, h] = [Math.round((col + 1) * cell) - x0, Math.round((row + 1) * cell) - y0];
    if (!Number.isFinite(v)) return hatch(g, x0, y0, w, h);
    // Over an image the colour lets it show through faintly; alone it is exact.
    g.globalAlpha = m.image ? 0.78 : 1;
    g.fillStyle = rgbCss(colourOf(v, m.scale));
    g.fillRect(x0, y0, w, h);
    g.globalAlpha = 1;
  });
  if (m.side <= 32) {
    g.strokeStyle = 'rgba(127,127,127,0.5)';
    g.lineWidth = 1;
    for (let i = 1; i < m.side; i++) {
      const at = Math.round(i * cell) + 0.5;
      g.beginPath();
      g.moveTo(at, 0);
      g.lineTo(at, GRID);
      g.moveTo(0, at);
      g.lineTo(GRID, at);
      g.stroke();
    }
  }
  g.font = '11px system-ui, sans-serif';
  g.textBaseline = 'top';
  g.fillStyle = fg;
  g.textAlign = 'left';
  const n = m.sequence.length;
  g.fillText(`Sequence order, t = 1 … ${n}`, 0, GRID + 8, GRID);
  m.sequence.forEach((v, i) => {
    const x0 = Math.round((i * GRID) / n);
    const w = Math.round(((i + 1) * GRID) / n) - x0;
    if (!Number.isFinite(v)) return hatch(g, x0, STRIP_TOP, w, STRIP_H);
    g.fillStyle = rgbCss(colourOf(v, m.scale));
    g.fillRect(x0, STRIP_TOP, w, STRIP_H);
  });
  g.fillStyle = fg;
  g.fillText('1', 0, STRIP_TOP + STRIP_H + 2);
  g.textAlign = 'right';
  g.fillText(String(n), GRID, STRIP_TOP + STRIP_H + 2);
  const steps = 64;
  for (let i = 0; i < steps; i++) {
    const v = m.scale.min + ((m.scale.max - m.scale.min) * (i + 0.5)) / steps;
    g.fillStyle = rgbCss(colourOf(v, m.scale));
    const x0 = Math.round((i * GRID) / steps);
    g.fillRect(x0, LEGEND_TOP, Math.round(((i + 1) * GRID) / steps) - x0, LEGEND_H);
  }
  const ticks = legendTicks(m.scale);
  g.fillStyle = fg;
  g.textAlign = 'left';
  const what = m.scale.kind === 'diverging' ? 'Loss difference, A − B' : 'Validation loss';
  g.fillText(ticks.length === 1 ? `${what}: the same everywhere` : what, 0, LEGEND_TOP - 14, GRID);
  ticks.forEach((v, i) => {
    const x = ticks.length === 1 ? GRID / 2 : (i * GRID) / (ticks.length - 1);
    g.textAlign =
      ticks.length === 1
        ? 'center'
        : i === 0
          ? 'left'
          : i === ticks.length - 1
            ? 'right'
            : 'center';
    g.fillText(formatLoss(v, m.scale.kind === 'diverging'), x, LEGEND_TOP + LEGEND_H + 2);
  });
}

/** Splits text into lines no wider than `width` at the context's font. */
function wrap(g: CanvasRenderingContext2D, text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const next = line ? `${line} ${word}` : word;
    if (line && g.measureText(next).width > width) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  return line ? [...lines, line] : lines;
}

/** The map as a PNG at 2×: title, caption (wrapped), the drawing, and its note. */
export function renderPng(
  m: MapDrawing,
  title: string,
  caption: string,
  note: string,
): Promise<Blob> {
  return renderDrawingPng((g) => drawMap(g, m), title, caption, note);
}

/**
 * A drawing of this layout (GRID wide, HEIGHT tall: the per-patch maps and the query
 * attention map) as a PNG at 2×: title, caption (wrapped), the drawing at 1.5×, its note.
 */
export function renderDrawingPng(
  draw: (g: CanvasRenderingContext2D) => void,
  title: string,
  caption: string,
  note: string,
): Promise<Blob> {
  const k = EXPORT_SCALE;
  const [pad, width, mapH] = [16, GRID * EXPORT_MAP_SCALE, HEIGHT * EXPORT_MAP_SCALE];
  const out = document.createElement('canvas');
  const g = out.getContext('2d')!;
  g.font = '12px system-ui, sans-serif';
  const captionLines = wrap(g, caption, width);
  const noteLines = wrap(g, note, width);
  const top = pad + 24 + captionLines.length * 16 + 8;
  out.width = (width + 2 * pad) * k;
  out.height = (top + mapH + 8 + noteLines.length * 16 + pad) * k;
  g.scale(k, k);
  g.fillStyle = cssColour('--panel', '#fff');
  g.fillRect(0, 0, width + 2 * pad, out.height / k);
  g.textBaseline = 'top';
  g.fillStyle = cssColour('--fg', '#000');
  g.font = '600 16px system-ui, sans-serif';
  g.fillText(title, pad, pad, width);
  g.font = '12px system-ui, sans-serif';
  g.fillStyle = cssColour('--muted', '#555');
  captionLines.forEach((l, i) => g.fillText(l, pad, pad + 24 + i * 16));
  g.save();
  g.translate(pad, top);
  g.scale(EXPORT_MAP_SCALE, EXPORT_MAP_SCALE);
  draw(g);
  g.restore();
  g.font = '12px system-ui, sans-serif';
  g.fillStyle = cssColour('--muted', '#555');
  g.textAlign = 'left';
  noteLines.forEach((l, i) => g.fillText(l, pad, top + mapH + 8 + i * 16));
  return new Promise((resolve, reject) =>
    out.toBlob(
      (b) => (b ? resolve(b) : reject(new Error('The PNG could not be drawn.'))),
      'image/png',
    ),
  );
}
