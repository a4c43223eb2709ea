/**
 * `--recipe aim-v1-600M --preset aim-600M` must be ml-l3m's published AIM v1 config value for
 * value, once both are parsed and their ${…} interpolations resolved (data roots, output
 * dir, resume and wandb aside). The reference is the copy in ../shared/reference.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildBundle } from '../src/scaleout/bundle';
import {
  emitYaml,
  parseYaml,
  resolveInterpolations,
  yamlDifferences,
  type YamlMap,
} from '../src/scaleout/yaml';

const REFERENCE = resolve(__dirname, '../../shared/reference/ml-l3m-aim-v1-600M.yaml');

/** The paths the comparison leaves out (where a cluster's own values go). */
const ASIDE = [
  'data.train.dataset.base_dataset.root',
  'data.validation.dataset.imagenet.base_dataset.root',
  'experiment.output_dir',
  'experiment.resume',
  'wandb',
];

function withoutAside(config: YamlMap): YamlMap {
  const copy = structuredClone(config);
  for (const path of ASIDE) {
    const parts = path.split('.');
    let node = copy as Record<string, unknown>;
    for (const p of parts.slice(0, -1)) node = node[p] as Record<string, unknown>;
    delete node[parts[parts.length - 1]];
  }
  return copy;
}

const resolved = (text: string) => resolveInterpolations(parseYaml(text) as YamlMap);

describe('scale-out: the AIM v1 600M recipe', () => {
  const reference = resolved(readFileSync(REFERENCE, 'utf8'));

  it('reads the reference with its values typed as OmegaConf types them', () => {
    const c = reference.constants as YamlMap;
    expect(c.vision_embed_dim).toBe(1536);
    expect(c.prefix_range).toEqual([1, 255]);
    const exp = reference.experiment as YamlMap;
    expect(exp.total_iterations).toBe(125000);
    expect(exp.resume).toBeNull();
    const opt = (reference.optim as YamlMap).optimizer as YamlMap;
    expect(opt.lr).toBe(1e-3);
    expect(opt.eps).toBe(1e-8);
    expect((reference.optim as YamlMap).wd_exclude).toEqual([
      '*bias*',
      '*pos_embed*',
      '*norm*',
      '*gamma*',
    ]);
    // An interpolation of a mapping is the mapping itself.
    const train = (reference.data as YamlMap).train as YamlMap;
    expect((train.dataset as YamlMap).generators).toEqual(c.train_generators);
  });

  it('equals ml-l3m’s published config value for value', () => {
    const bundle = buildBundle({ kind: 'recipe', recipe: 'aim-v1-600M', preset: 'aim-600M' });
    const ours = resolved(bundle.configYaml);
    expect(yamlDifferences(withoutAside(ours), withoutAside(reference))).toEqual([]);
    // Whole floats stay floats for Python (the reference writes 1.0, not 1).
    expect(bundle.configYaml).toMatch(/\n {2}grad_clip: 1\.0\n/);
    expect(bundle.configYaml).toMatch(/scale: \[0\.4, 1\.0\]/);
    expect(bundle.configYaml).toMatch(/end_value: 0\.0\n/);
  });

  it('notices a changed value (the comparison can fail)', () => {
    const bundle = buildBundle({
      kind: 'recipe',
      recipe: 'aim-v1-600M',
      preset: 'aim-1B',
    });
    const diffs = yamlDifferences(
      withoutAside(resolved(bundle.configYaml)),
      withoutAside(reference),
    );
    expect(diffs).toContain('constants.vision_embed_dim: 2048 vs 1536');
  });

  it('puts the per-GPU batch at 4096 / world size', () => {
    const bundle = buildBundle({
      kind: 'recipe',
      recipe: 'aim-v1-600M',
      preset: 'aim-600M',
      worldSize: 64,
    });
    expect((resolved(bundle.configYaml).constants as YamlMap).batch_size_per_gpu).toBe(64);
    expect(() =>
      buildBundle({ kind: 'recipe', recipe: 'aim-v1-600M', preset: 'aim-600M', worldSize: 3 }),
    ).toThrow(/does not split over 3 GPUs/);
  });
});

describe('scale-out: YAML', () => {
  it('round-trips what it writes', () => {
    const value: YamlMap = {
      a: { b: [1, 2.5, 'x y', '*bias*', true, null, ''], c: 1e-6, d: 'env://' },
      list: [{ _target_: 'k', p: 0.8, t: [{ q: 1 }] }, { r: [] }],
      e: 125000,
      s: '${a.c}',
      n: '1e-3',
    };
    expect(parseYaml(emitYaml(value))).toEqual(value);
  });

  it('resolves interpolations inside strings and refuses cycles and missing keys', () => {
    expect(resolveInterpolations({ a: 2, b: 'x${a}y' })).toEqual({ a: 2, b: 'x2y' });
    expect(() => resolveInterpolations({ a: '${b}', b: '${a}' })).toThrow(/cycle/);
    expect(() => resolveInterpolations({ a: '${nope.x}' })).toThrow(/no such key/);
  });

  it('refuses YAML it does not read rather than misreading it', () => {
    expect(() => parseYaml('a: &x 1\nb: *x\n')).toThrow(/anchors/);
    expect(() => parseYaml('a:\n\tb: 1\n')).toThrow(/tabs/);
    expect(() => parseYaml('a: 1\na: 2\n')).toThrow(/duplicate key/);
  });
});
