/** Reference for `shaders/patchify.wgsl`: images [B, C, H, W] cut into p×p patch rows. */

export type PatchLayout = 'embedding' | 'target';

export interface ImageShape {
  batch: number;
  channels: number;
  height: number;
  width: number;
}

/**
 * [B, T, C·p·p] patches of `images`, token t being the patch at raster index order[t]
 * (order = identity when omitted). 'embedding': values in (channel, row, col) order — the
 * flattening under which Conv2d(kernel = stride = p) is a matrix product; 'target': in
 * (row, col, channel) order, channel fastest — ml-l3m's pixel-loss targets.
 */
export function patchifyReference(
  images: ArrayLike<number>,
  s: ImageShape,
  patch: number,
  layout: PatchLayout,
  order?: ArrayLike<number>,
): Float32Array {
  const { batch, channels, height, width } = s;
  const gridW = width / patch;
  const positions = (height / patch) * gridW;
  const count = order ? order.length : positions;
  const perPatch = channels * patch * patch;
  const out = new Float32Array(batch * count * perPatch);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < count; t++) {
      const src = order ? order[t] : t;
      const pr = Math.floor(src / gridW);
      const pc = src % gridW;
      for (let c = 0; c < channels; c++) {
        for (let r = 0; r < patch; r++) {
          for (let q = 0; q < patch; q++) {
            const value =
              images[((b * channels + c) * height + pr * patch + r) * width + pc * patch + q];
            const j =
              layout === 'embedding' ? (c * patch + r) * patch + q : (r * patch + q) * channels + c;
            out[(b * count + t) * perPatch + j] = value;
          }
        }
      }
    }
  }
  return out;
}

/** The identity order 0, 1, …, K−1 (raster). */
export function rasterOrder(positions: number): Uint32Array {
  return Uint32Array.from({ length: positions }, (_, i) => i);
}
