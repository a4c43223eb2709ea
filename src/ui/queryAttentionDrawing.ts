/**
 * Drawing one query's attention (QueryAttentionMap.tsx shows it): the patch grid — in image
 * space over the picture the model saw, or laid out in sequence order — coloured by the
 * query's attention probabilities, masked patches hatched, the query outlined; the sequence
 * strip with the prefix marked; the legend; and the PNG export with title, caption and note.
 */
import { colourOf, legendTicks, rgbCss, type LossScale } from './patchLossMap';
import {
  GRID,
  HEIGHT,
  LEGEND_H,
  LEGEND_TOP,
  renderDrawingPng,
  STRIP_H,
  STRIP_TOP,
} from './patchLossDrawing';
import { cssColour } from './theme';

// The same layout as the per-patch loss maps (grid, sequence strip, legend) and their export.
export { GRID, HEIGHT, STRIP_H, STRIP_TOP };

export interface AttentionDrawing {
  side: number;
  /** 'image': cell p is the patch at raster index p; 'sequence': cell t is position t. */
  arrangement: 'image' | 'sequence';
  /** The query's probabilities, one per cell of the arrangement. */
  cells: readonly number[];
  /** Per cell: may the query attend it? (false: masked, drawn hatched). */
  attended: readonly boolean[];
  /** The query's cell in the arrangement. */
  queryCell: number;
  /** Sequence order, positions 0 … K − 1. */
  sequence: readonly number[];
  sequenceAttended: readonly boolean[];
  queryPosition: number;
  /** Positions < prefix are the bidirectional prefix. */
  prefix: number;
  /** From 0 to the largest probability. */
  scale: LossScale;
  /** The image as the model saw it (RGB, row-major); drawn under an image-space grid. */
  picture?: { data: Uint8Array; width: number; height: number };
}

/** A probability for the legend or a tooltip: 3 significant digits. */
export function formatProbability(p: number): string {
  if (p === 0) return '0';
  return p >= 1e-3 ? String(Number(p.toPrecision(3))) : p.toExponential(2);
}

function hatch(g: CanvasRenderingContext2D, x: number, y: number, w: number, h: number): void {
  g.fillStyle = '#9a9a9a';
  g.fillRect(x, y, w, h);
  g.save();
  g.beginPath();
  g.rect(x, y, w, h);
  g.clip();
  g.strokeStyle = '#4a4a4a';
  g.lineWidth = 1.5;
  for (let d = -h; d < w; d += 6) {
    g.beginPath();
    g.moveTo(x + d, y + h);
    g.lineTo(x + d + h, y);
    g.stroke();
  }
  g.restore();
}

/** A two-tone outline (dark outside, light inside) that shows on any colour. */
function outline(g: CanvasRenderingContext2D, x: number, y: number, w: number, h: number): void {
  g.lineWidth = 3;
  g.strokeStyle = '#000';
  g.strokeRect(x + 1.5, y + 1.5, w - 3, h - 3);
  g.lineWidth = 1.5;
  g.strokeStyle = '#fff';
  g.strokeRect(x + 3.75, y + 3.75, w - 7.5, h - 7.5);
}

function drawPicture(g: CanvasRenderingContext2D, p: NonNullable<AttentionDrawing['picture']>) {
  const data = new ImageData(p.width, p.height);
  for (let i = 0; i < p.width * p.height; i++)
    data.data.set([p.data[3 * i], p.data[3 * i + 1], p.data[3 * i + 2], 255], 4 * i);
  const off = document.createElement('canvas');
  [off.width, off.height] = [p.width, p.height];
  off.getContext('2d')!.putImageData(data, 0, 0);
  g.save();
  g.imageSmoothingEnabled = false; // Pixels as the model saw them, not blurred.
  g.drawImage(off, 0, 0, GRID, GRID);
  g.restore();
}

/** The grid cell box of cell index c (row-major) in CSS pixels. */
export function cellBox(c: number, side: number) {
  const cell = GRID / side;
  const [row, col] = [Math.floor(c / side), c % side];
  const [x, y] = [Math.round(col * cell), Math.round(row * cell)];
  return { x, y, w: Math.round((col + 1) * cell) - x, h: Math.round((row + 1) * cell) - y };
}

/** The picture alone at the map's size with the query's patch outlined. */
export function drawPictureWithQuery(
  g: CanvasRenderingContext2D,
  picture: NonNullable<AttentionDrawing['picture']>,
  side: number,
  queryCell: number,
): void {
  drawPicture(g, picture);
  const q = cellBox(queryCell, side);
  outline(g, q.x, q.y, q.w, q.h);
}

/** Draws the attention map in CSS pixels at the context's current transform. */
export function drawAttention(g: CanvasRenderingContext2D, m: AttentionDrawing): void {
  const fg = cssColour('--fg', '#000');
  g.fillStyle = cssColour('--panel', '#fff');
  g.fillRect(0, 0, GRID, HEIGHT);
  const picture = m.arrangement === 'image' ? m.picture : undefined;
  if (picture) drawPicture(g, picture);
  m.cells.forEach((v, c) => {
    const { x, y, w, h } = cellBox(c, m.side);
    if (!m.attended[c]) return hatch(g, x, y, w, h);
    // Over the picture the colour lets it show through; alone it is exact.
    g.globalAlpha = picture ? 0.62 : 1;
    g.fillStyle = rgbCss(colourOf(v, m.scale));
    g.fillRect(x, y, w, h);
    g.globalAlpha = 1;
  });
  if (m.side <= 32) {
    g.strokeStyle = 'rgba(127,127,127,0.5)';
    g.lineWidth = 1;
    for (let i = 1; i < m.side; i++) {
      const at = Math.round((i * GRID) / m.side) + 0.5;
      g.beginPath();
      g.moveTo(at, 0);
      g.lineTo(at, GRID);
      g.moveTo(0, at);
      g.lineTo(GRID, at);
      g.stroke();
    }
  }
  const q = cellBox(m.queryCell, m.side);
  outline(g, q.x, q.y, q.w, q.h);

  g.font = '11px system-ui, sans-serif';
  g.textBaseline = 'top';
  g.fillStyle = fg;
  g.textAlign = 'left';
  const n = m.sequence.length;
  g.fillText(`Sequence order, positions 1 … ${n}`, 0, GRID + 8, GRID);
  const xAt = (t: number) => Math.round((t * GRID) / n);
  m.sequence.forEach((v, t) => {
    const [x0, w] = [xAt(t), xAt(t + 1) - xAt(t)];
    if (!m.sequenceAttended[t]) return hatch(g, x0, STRIP_TOP, w, STRIP_H);
    g.fillStyle = rgbCss(colourOf(v, m.scale));
    g.fillRect(x0, STRIP_TOP, w, STRIP_H);
  });
  // The query's position, and the prefix's end (a tick under the strip).
  g.lineWidth = 2;
  g.strokeStyle = fg;
  const qx = xAt(m.queryPosition);
  g.strokeRect(qx + 1, STRIP_TOP - 2, Math.max(2, xAt(m.queryPosition + 1) - qx - 2), STRIP_H + 4);
  const px = xAt(Math.min(m.prefix, n));
  g.fillStyle = fg;
  g.fillRect(px - 1, STRIP_TOP + STRIP_H, 2, 6);
  g.textAlign = px < GRID / 2 ? 'left' : 'right';
  g.fillText(`prefix S = ${m.prefix}`, px, STRIP_TOP + STRIP_H + 7);

  const steps = 64;
  for (let i = 0; i < steps; i++) {
    const v = m.scale.min + ((m.scale.max - m.scale.min) * (i + 0.5)) / steps;
    g.fillStyle = rgbCss(colourOf(v, m.scale));
    const x0 = Math.round((i * GRID) / steps);
    g.fillRect(x0, LEGEND_TOP, Math.round(((i + 1) * GRID) / steps) - x0, LEGEND_H);
  }
  const ticks = legendTicks(m.scale, 3);
  g.fillStyle = fg;
  g.textAlign = 'left';
  g.fillText('Attention probability (hatched: masked)', 0, LEGEND_TOP - 14, GRID);
  ticks.forEach((v, i) => {
    const x = ticks.length === 1 ? GRID / 2 : (i * GRID) / (ticks.length - 1);
    g.textAlign = i === 0 ? 'left' : i === ticks.length - 1 ? 'right' : 'center';
    g.fillText(formatProbability(v), x, LEGEND_TOP + LEGEND_H + 2);
  });
}

/** Splits text into lines no wider than `width` at the context's font. */
/** The map as a PNG at 2×: title, caption (wrapped), the drawing at 1.5×, and its note. */
export function renderAttentionPng(
  m: AttentionDrawing,
  title: string,
  caption: string,
  note: string,
): Promise<Blob> {
  return renderDrawingPng((g) => drawAttention(g, m), title, caption, note);
}
