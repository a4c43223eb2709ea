/** Float64 reference for global gradient-norm clipping (`shaders/grad_norm.wgsl`). */

/** torch.nn.utils.clip_grad_norm_'s epsilon: clip_coef = max_norm / (total_norm + 1e-6). */
export const CLIP_EPSILON = 1e-6;

export interface ClipGradNormResult {
  /** sqrt(Σ over tensors of Σ g²). */
  totalNorm: number;
  /**
   * min(1, maxNorm / (totalNorm + 1e-6)) when totalNorm is finite (torch's clamped
   * coefficient); the non-finite norm itself otherwise (the kernel's signal to skip the step).
   */
  clipScale: number;
  finite: boolean;
}

export function clipGradNormReference(
  grads: readonly ArrayLike<number>[],
  maxNorm = 1,
): ClipGradNormResult {
  let sumOfSquares = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sumOfSquares += g[i] * g[i];
  const totalNorm = Math.sqrt(sumOfSquares);
  const finite = Number.isFinite(totalNorm);
  const clipScale = finite ? Math.min(1, maxNorm / (totalNorm + CLIP_EPSILON)) : totalNorm;
  return { totalNorm, clipScale, finite };
}
