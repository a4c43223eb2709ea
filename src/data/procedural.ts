/**
 * A seeded procedural colour dataset for smoke tests: eight classes of simple patterns
 * (stripes in three orientations, checkerboard, disc, square, ring, gradient) with random
 * colours, frequencies, phases, positions and sizes, at any resolution, generated in
 * milliseconds with no download. Image i of a split depends only on (seed, split, i), so a
 * larger set starts with the images of a smaller one and every run sees the same data.
 */
import { mulberry32 } from '../reference/random';
import {
  checkDataset,
  type ImageDataset,
  type Random,
  type RgbImage,
  RgbImageBuilder,
} from './dataset';

export const PROCEDURAL_CLASSES = [
  'horizontal stripes',
  'vertical stripes',
  'diagonal stripes',
  'checkerboard',
  'disc',
  'square',
  'ring',
  'gradient',
] as const;

export interface ProceduralOptions {
  /** Side of the square images, ≥ 1. */
  size: number;
  trainCount: number;
  valCount: number;
  seed: number;
}

/** A saturated random colour: hue uniform, value and saturation high enough to see. */
function randomColour(random: Random): [number, number, number] {
  const hue = random() * 6;
  const sat = 0.5 + 0.5 * random();
  const val = 0.35 + 0.65 * random();
  const i = Math.floor(hue) % 6;
  const f = hue - Math.floor(hue);
  const p = val * (1 - sat);
  const q = val * (1 - sat * f);
  const t = val * (1 - sat * (1 - f));
  const rgb = [
    [val, t, p],
    [q, val, p],
    [p, val, t],
    [p, q, val],
    [t, p, val],
    [val, p, q],
  ][i];
  return [Math.round(rgb[0] * 255), Math.round(rgb[1] * 255), Math.round(rgb[2] * 255)];
}

/** Foreground coverage in [0, 1] of the point (u, v) ∈ [0, 1)² for one class's random shape. */
function shapeFunction(classIndex: number, random: Random): (u: number, v: number) => number {
  const freq = 2 + Math.floor(random() * 5); // 2–6 periods across the image
  const phase = random();
  const cx = 0.3 + 0.4 * random();
  const cy = 0.3 + 0.4 * random();
  const radius = 0.15 + 0.2 * random();
  const stripe = (x: number) => (((x * freq + phase) % 1) + 1) % 1 < 0.5;
  switch (classIndex) {
    case 0:
      return (_u, v) => (stripe(v) ? 1 : 0);
    case 1:
      return (u) => (stripe(u) ? 1 : 0);
    case 2: {
      const sign = random() < 0.5 ? 1 : -1;
      return (u, v) => (stripe((u + sign * v) / 1.5) ? 1 : 0);
    }
    case 3:
      return (u, v) => (stripe(u) !== stripe(v) ? 1 : 0);
    case 4:
      return (u, v) => (Math.hypot(u - cx, v - cy) < radius ? 1 : 0);
    case 5:
      return (u, v) => (Math.max(Math.abs(u - cx), Math.abs(v - cy)) < radius * 0.9 ? 1 : 0);
    case 6: {
      const width = radius * (0.25 + 0.2 * random());
      return (u, v) => (Math.abs(Math.hypot(u - cx, v - cy) - radius) < width ? 1 : 0);
    }
    case 7: {
      const angle = random() * 2 * Math.PI;
      const dx = Math.cos(angle);
      const dy = Math.sin(angle);
      // Projection onto the direction, mapped from [−√2/2, √2/2] around the centre to [0, 1].
      return (u, v) =>
        Math.min(1, Math.max(0, 0.5 + ((u - 0.5) * dx + (v - 0.5) * dy) / Math.SQRT2));
    }
    default:
      throw new RangeError(
        `procedural class ${classIndex} is not in 0…${PROCEDURAL_CLASSES.length - 1}`,
      );
  }
}

/**
 * One size × size image of class `classIndex`, drawn with `random`. Each pixel averages a 2×2
 * grid of samples, so edges are anti-aliased and the pattern survives downscaling.
 */
export function proceduralImage(classIndex: number, size: number, random: Random): RgbImage {
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`procedural image size ${size} must be a positive integer`);
  const background = randomColour(random);
  let foreground = randomColour(random);
  // Keep the two colours distinguishable: redraw (a bounded number of times) when too close.
  for (let tries = 0; tries < 8 && colourDistance(background, foreground) < 120; tries++) {
    foreground = randomColour(random);
  }
  const coverage = shapeFunction(classIndex, random);
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let c = 0;
      for (const [sx, sy] of SUBSAMPLES) c += coverage((x + sx) / size, (y + sy) / size);
      c /= SUBSAMPLES.length;
      const p = (y * size + x) * 3;
      for (let k = 0; k < 3; k++)
        data[p + k] = Math.round(background[k] + c * (foreground[k] - background[k]));
    }
  }
  return { data, height: size, width: size };
}

const SUBSAMPLES = [
  [0.25, 0.25],
  [0.75, 0.25],
  [0.25, 0.75],
  [0.75, 0.75],
] as const;

function colourDistance(a: readonly number[], b: readonly number[]): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

/** The seed of image `index` of a split: a hash, so neighbouring images are unrelated. */
function imageSeed(seed: number, split: number, index: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(split + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) ^ index;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

function makeSplit(opts: ProceduralOptions, split: number, count: number) {
  const builder = new RgbImageBuilder(opts.size, opts.size, count);
  for (let i = 0; i < count; i++) {
    const label = i % PROCEDURAL_CLASSES.length; // balanced: every class equally often
    builder.add(
      proceduralImage(label, opts.size, mulberry32(imageSeed(opts.seed, split, i))),
      label,
    );
  }
  return builder.build();
}

/** The procedural dataset with the given sizes; classes are balanced in both splits. */
export function makeProceduralDataset(opts: ProceduralOptions): ImageDataset {
  for (const [what, n] of [
    ['trainCount', opts.trainCount],
    ['valCount', opts.valCount],
  ] as const) {
    if (!Number.isInteger(n) || n < 1)
      throw new RangeError(`procedural ${what} ${n} must be a positive integer`);
  }
  const train = makeSplit(opts, 0, opts.trainCount);
  const val = makeSplit(opts, 1, opts.valCount);
  return checkDataset({
    name: `Procedural colour patterns (seed ${opts.seed})`,
    classes: PROCEDURAL_CLASSES,
    train,
    val,
    report: { accepted: train.count + val.count, skipped: [], ignored: 0 },
  });
}
