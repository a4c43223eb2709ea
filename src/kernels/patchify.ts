/**
 * Patch extraction (`shaders/patchify.wgsl`): images [B, C, H, W] → [B, T, C·p·p] in one
 * of two layouts — 'embedding' (channel, row, col), the input of the patch-embedding
 * matmul (a Conv2d with kernel = stride = p is that matrix times the weight reshaped
 * [D, C·p·p], plus bias: use `matmul(…, { transB: true, bias })`), or 'target' (row, col,
 * channel), the pixel-loss targets. Token t is the patch at raster index order[t]; without
 * an order, T = K and the tokens are in raster order. Images get no gradient, so there is
 * no backward.
 */
import type { GpuContext } from '../gpu/context';
import { createDispatch, runOnce, type PreparedDispatch } from '../gpu/dispatch';
import { Tensor } from '../gpu/tensor';
import type { PatchLayout } from '../reference/patchify';
import { uniformU32 } from '../gpu/uniforms';
import { dims, requireDistinct, requireSize } from './checks';
import { flatGridFor, flatKernel } from './flat';

export type { PatchLayout } from '../reference/patchify';

export interface PatchifyTensors {
  /** [B, C, H, W]. */
  images: Tensor<'f32'>;
  /** [T] u32 raster indices; token t is patch order[t]. Entries ≥ K make that token NaN. */
  order?: Tensor<'u32'>;
  /** [B, T, C·p·p]. */
  out: Tensor<'f32'>;
}

export interface PatchifyOptions {
  patch: number;
  layout: PatchLayout;
}

export interface PatchGeometry {
  batch: number;
  channels: number;
  height: number;
  width: number;
  gridH: number;
  gridW: number;
  /** K = gridH·gridW. */
  positions: number;
  /** T: tokens per image in the output. */
  tokens: number;
  /** C·p·p values per token. */
  perPatch: number;
}

export function patchGeometry(
  imageShape: readonly number[],
  patch: number,
  orderLength?: number,
): PatchGeometry {
  if (imageShape.length !== 4) {
    throw new RangeError(`patchify: images must be [B, C, H, W], got [${imageShape.join(',')}]`);
  }
  const [batch, channels, height, width] = imageShape;
  if (!Number.isInteger(patch) || patch < 1)
    throw new RangeError(`patchify: patch size ${patch} must be a positive integer`);
  if (height % patch !== 0 || width % patch !== 0) {
    throw new RangeError(
      `patchify: image ${height}×${width} is not divisible into ${patch}×${patch} patches`,
    );
  }
  if (batch < 1 || channels < 1 || height < 1 || width < 1)
    throw new RangeError(`patchify: images [${imageShape.join(',')}] have no pixels`);
  const gridH = height / patch;
  const gridW = width / patch;
  const positions = gridH * gridW;
  const tokens = orderLength ?? positions;
  if (tokens < 1) throw new RangeError('patchify: the order is empty');
  return {
    batch,
    channels,
    height,
    width,
    gridH,
    gridW,
    positions,
    tokens,
    perPatch: channels * patch * patch,
  };
}

export async function preparePatchify(
  ctx: GpuContext,
  { images, order, out }: PatchifyTensors,
  opts: PatchifyOptions,
): Promise<PreparedDispatch[]> {
  const g = patchGeometry(images.shape, opts.patch, order?.size);
  const want = [g.batch, g.tokens, g.perPatch];
  requireSize('patchify', 'out', out, g.batch * g.tokens * g.perPatch, dims(want));
  requireDistinct('patchify', { out }, { images, order });
  const constants: Record<string, number> = {};
  if (opts.layout === 'target') constants.TARGET_LAYOUT = 1;
  if (order) constants.HAS_ORDER = 1;
  const kernel = await flatKernel(ctx, { shader: 'patchify', constants });
  const total = out.size;
  const params = uniformU32(ctx, `${kernel.name} params`, [
    total,
    g.tokens,
    g.channels,
    g.height,
    g.width,
    opts.patch,
    g.gridW,
    g.positions,
  ]);
  return [
    createDispatch(
      ctx,
      kernel,
      [images.binding, order?.binding ?? ctx.placeholder('read'), out.binding, params],
      flatGridFor(ctx, total),
      [params],
      // A permutation: each value read once and written once (plus the order table).
      { flops: 0, bytesRead: 4 * (total + (order ? g.tokens : 0)), bytesWritten: 4 * total },
    ),
  ];
}

/** Runs patchify once into a new [B, T, C·p·p] tensor. */
export async function patchify(
  ctx: GpuContext,
  t: Omit<PatchifyTensors, 'out'>,
  opts: PatchifyOptions,
): Promise<Tensor<'f32'>> {
  const g = patchGeometry(t.images.shape, opts.patch, t.order?.size);
  const out = Tensor.empty(ctx, [g.batch, g.tokens, g.perPatch], 'f32', `patches (${opts.layout})`);
  await runOnce(ctx, await preparePatchify(ctx, { ...t, out }, opts));
  return out;
}
