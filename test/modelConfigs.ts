/** Model configurations the model tests share. */
import type { AimConfig } from '../src/model/config';

/** 8×8 images, patch 4 → K = 4 tokens; width 8, 2 blocks of 2 heads (dh 4); head 8 × 1. */
export function tinyConfig(extraNormTerm: boolean): AimConfig {
  return {
    name: 'tiny-test',
    imageSize: 8,
    patchSize: 4,
    channels: 3,
    width: 8,
    depth: 2,
    heads: 2,
    mlpRatio: 4,
    head: { width: 8, depth: 1, extraNormTerm },
    trunkNormEps: 1e-6,
    headNormEps: 1e-5,
    inferenceOnly: false,
  };
}
