import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURE_DIR, SHARED_FIXTURE_DIR } from './fixtures';

describe('fixture copy', () => {
  it('holds every fixture file', () => {
    expect(readdirSync(FIXTURE_DIR).sort()).toEqual([
      'aim_fixture_attnprobe_backbone.pth',
      'aim_fixture_attnprobe_head_best_layers.pth',
      'cases.safetensors',
      'config.json',
      'pytorch_model.bin',
      'weights.safetensors',
    ]);
  });

  it.runIf(existsSync(SHARED_FIXTURE_DIR))('is byte-identical to ../shared/fixtures', () => {
    for (const name of readdirSync(SHARED_FIXTURE_DIR)) {
      const shared = readFileSync(join(SHARED_FIXTURE_DIR, name));
      const copy = readFileSync(join(FIXTURE_DIR, name));
      expect(copy.equals(shared), name).toBe(true);
    }
  });
});
