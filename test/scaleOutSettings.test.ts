/**
 * Every run setting either appears in the ml-l3m config or is listed as not carried over
 * (the test walks the settings schema, so a new setting cannot be forgotten), and the values
 * land where the coverage says.
 */
import { describe, expect, it } from 'vitest';
import { defaultsFor, SETTING_KEYS, type RunSettings } from '../src/training/settings';
import { paramSpecs } from '../src/model/params';
import { modelConfigFor } from '../src/training/settings';
import { l3mKeyOf, qkvBlock, splitQkvKeys } from '../src/onnx/l3mKeys';
import { buildBundle } from '../src/scaleout/bundle';
import { coverageOf, SETTING_COVERAGE, splitBatch } from '../src/scaleout/fromRun';
import {
  parseYaml,
  resolveInterpolations,
  type YamlMap,
  type YamlValue,
} from '../src/scaleout/yaml';

const at = (root: YamlValue, path: string): YamlValue =>
  path.split('.').reduce<YamlValue>((node, part) => {
    if (Array.isArray(node)) return node[Number(part)];
    return (node as YamlMap)[part];
  }, root);

function bundleFor(overrides: Partial<RunSettings>, worldSize = 2) {
  const settings = { ...defaultsFor('aim-tiny'), ...overrides };
  const bundle = buildBundle({
    kind: 'run',
    settings,
    options: { worldSize, dataTrain: '/d/train', dataVal: '/d/val', dtype: 'bfloat16' },
  });
  return { bundle, config: resolveInterpolations(parseYaml(bundle.configYaml) as YamlMap) };
}

describe('scale-out: every run setting is accounted for', () => {
  it('has a coverage entry for each setting of the schema, carried or with a reason', () => {
    const covered = Object.keys(SETTING_COVERAGE).sort();
    expect(covered).toEqual([...SETTING_KEYS].sort());
    for (const prefix of [true, false]) {
      for (const headExtraNormTerm of [true, false]) {
        const s = {
          ...defaultsFor('aim-tiny'),
          prefix,
          headExtraNormTerm,
          ordering: 'spiral' as const,
        };
        for (const hasCheckpoint of [true, false]) {
          const coverage = coverageOf(s, hasCheckpoint);
          for (const key of SETTING_KEYS) {
            const c = coverage[key];
            expect(Boolean(c.carried) || Boolean(c.notCarried), key).toBe(true);
          }
        }
      }
    }
  });

  it('lists what is not carried over in the summary line, with reasons', () => {
    const { bundle } = bundleFor({});
    expect(bundle.summary).toMatch(/^Not carried over: /);
    expect(bundle.summary).toMatch(/Eval images \(ml-l3m evaluates the whole validation folder\)/);
    expect(bundle.summary).not.toMatch(/float32/); // notes stay in the README and config
    expect(bundle.summary).toMatch(/Loss chunks/);
    expect(bundle.configYaml).toMatch(/# Not carried over — Loss chunks:/);
  });

  it('puts the run’s values where the coverage says', () => {
    const { config } = bundleFor({
      steps: 777,
      lr: 3e-4,
      warmupFraction: 0.1,
      headDepth: 3,
      cropScaleMin: 0.25,
      seed: 42,
      weightDecay: 0.1,
      clipNorm: 2,
      colorJitter: true,
      evalEvery: 50,
      checkpointEvery: 0,
      batch: 64,
      prefix: false,
    });
    expect(at(config, 'experiment.total_iterations')).toBe(777);
    expect(at(config, 'optim.optimizer.lr')).toBe(3e-4);
    expect(at(config, 'optim.scheduler.schedulers.0.end_value')).toBe(3e-4);
    expect(at(config, 'optim.scheduler.lengths')).toEqual([0.1, 0.9]);
    expect(at(config, 'constants.head_num_blocks')).toBe(3);
    expect(at(config, 'constants.train_transform.transforms.0.scale')).toEqual([0.25, 1]);
    expect(at(config, 'constants.train_transform.transforms.2._target_')).toBe(
      'torchvision.transforms.RandomApply',
    );
    expect(at(config, 'experiment.seed')).toBe(42);
    expect(at(config, 'optim.optimizer.weight_decay')).toBe(0.1);
    expect(at(config, 'optim.optimizer.betas')).toEqual([0.9, 0.95]);
    expect(at(config, 'optim.grad_clip')).toBe(2);
    expect(at(config, 'experiment.test_frequency')).toBe(50);
    expect(at(config, 'experiment.ckpt_save_freq')).toBe(777);
    expect(at(config, 'constants.batch_size_per_gpu')).toBe(32);
    expect(at(config, 'data.train.dataloader.batch_size')).toBe(32);
    expect(at(config, 'constants.prefix_range')).toEqual([1, 1]);
    expect(at(config, 'constants.img_size')).toBe(32);
    expect(at(config, 'constants.vision_embed_dim')).toBe(192);
    expect(at(config, 'model.meta_model.head.output_dim')).toBe(48);
    expect(at(config, 'loss.image_size')).toBe(32);
    // Trunk ε is the tab's (ml-aim's) 1e-6, the head's ml-l3m's 1e-5.
    expect(at(config, 'model.meta_model.trunk.norm_layer.eps')).toBe(1e-6);
    expect(at(config, 'model.meta_model.head.norm_layer.eps')).toBe(1e-5);
    const off = bundleFor({ colorJitter: false, prefix: true }).config;
    expect(at(off, 'constants.train_transform.transforms.2._target_')).toBe(
      'torchvision.transforms.ToTensor',
    );
    expect(at(off, 'constants.prefix_range')).toEqual([1, 63]);
  });

  it('carries raw targets and the no-head variant', () => {
    const { config } = bundleFor({ targets: 'raw', headKind: 'none' });
    expect(at(config, 'loss.norm_pix_loss')).toBe(false);
    expect(at(config, 'model.meta_model.head.skip_projection')).toBe(true);
    expect(at(config, 'model.meta_model.head.num_layers')).toBe(0);
    expect(at(config, 'model.meta_model.head.embed_dim')).toBe(192);
    const mlp = bundleFor({ width: 128, depth: 3, heads: 4, headWidth: 96 }).config;
    expect(at(mlp, 'model.meta_model.trunk.embed_dim')).toBe(128);
    expect(at(mlp, 'model.meta_model.trunk.num_blocks')).toBe(3);
    expect(at(mlp, 'model.meta_model.trunk.attn_target.num_heads')).toBe(4);
    expect(at(mlp, 'model.meta_model.head.embed_dim')).toBe(96);
    expect(at(mlp, 'loss.norm_pix_loss')).toBe(true);
  });

  it('splits the batch over GPUs, with accumulation chunks for a micro-batch limit', () => {
    expect(splitBatch(64, 8)).toEqual({ perGpu: 8, accumulation: 1 });
    expect(splitBatch(4096, 8, 256)).toEqual({ perGpu: 512, accumulation: 2 });
    expect(splitBatch(96, 1, 40)).toEqual({ perGpu: 96, accumulation: 3 });
    expect(() => splitBatch(100, 8)).toThrow(/does not split over 8 GPUs.*1, 2, 4, 5, 10/);
  });

  it('never writes a non-raster ordering silently as raster', () => {
    const { bundle, config } = bundleFor({ ordering: 'checkerboard' });
    expect(bundle.summary).toMatch(/Patch ordering \(ml-l3m’s AIM v1 path cannot express it/);
    expect(bundle.configYaml).toMatch(/cannot express a non-raster ordering/);
    const order = at(config, 'constants.patch_order') as number[];
    expect(order.slice(0, 4)).toEqual([0, 2, 4, 6]);
    expect(at(config, 'model.meta_model.preprocessor.blocks.1._target_')).toBe(
      'playground_orderings.PermuteTokens',
    );
    expect(at(config, 'model.meta_model.postprocessor.inverse')).toBe(true);
    expect(at(config, 'loss.autoregressive_pattern_getter.order')).toEqual(order);
    expect(bundle.files.has('playground_orderings.py')).toBe(true);
    const raster = bundleFor({ ordering: 'raster' });
    expect(raster.bundle.files.has('playground_orderings.py')).toBe(false);
    expect(raster.bundle.configYaml).not.toMatch(/patch_order/);
  });

  it('ml-l3m’s weight-decay exclusions decay exactly the parameters the tab decays', () => {
    const { config } = bundleFor({});
    const patterns = at(config, 'optim.wd_exclude') as string[];
    // fnmatch: * is any run of characters.
    const excluded = (name: string) =>
      patterns.some((p) =>
        new RegExp(
          `^${p
            .split('*')
            .map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
            .join('.*')}$`,
        ).test(name),
      );
    for (const extra of [false, true]) {
      const specs = paramSpecs(
        modelConfigFor({ ...defaultsFor('aim-tiny'), headExtraNormTerm: extra }),
      );
      for (const spec of specs) {
        const block = qkvBlock(spec.name);
        const names = block === undefined ? [l3mKeyOf(spec.name)] : splitQkvKeys(block);
        for (const name of names) expect(excluded(name), name).toBe(!spec.decay);
      }
    }
  });
});
