/**
 * Class names in the exported model (issue 16, item 3): a checkpoint whose config names its
 * classes (`class_names`, as `npm run probe` now writes from the dataset) gets them in the
 * ONNX metadata (`aim.class_names`), the loader's plan reads them back, and both engines'
 * top-5 name them; a list of the wrong length is refused on either side. Apple's 1000-class
 * probes carry no names and keep the ImageNet-1k names of src/inference/imagenetClasses.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planAimModel } from '../src/inference/modelPlan';
import { PRESETS } from '../src/model/config';
import { initParameters } from '../src/model/params';
import { blobByteSource } from '../src/onnx/byteSource';
import { openWeights, parseAimConfig } from '../src/onnx/checkpoint';
import { exportAimOnnx } from '../src/onnx/export';
import { memoryDataSink } from '../src/onnx/externalData';
import { decodeProbeFile, encodeProbeFile } from '../src/probe/probeFile';
import { initialProbeParams } from '../src/probe/recipe';
import { FIXTURE_DIR } from './fixtures';

const configJson = JSON.parse(readFileSync(join(FIXTURE_DIR, 'config.json'), 'utf8')) as Record<
  string,
  unknown
>;
const NAMES = [
  'tench',
  'goldfish',
  'shark',
  'hen',
  'ostrich',
  'finch',
  'junco',
  'bunting',
  'robin',
  'jay',
];

async function exportFixture(config: Record<string, unknown>) {
  const blob = (f: string) =>
    blobByteSource(new Blob([readFileSync(join(FIXTURE_DIR, f)).buffer as ArrayBuffer]), f);
  const opened = await openWeights([blob('pytorch_model.bin')]);
  const sink = memoryDataSink();
  await exportAimOnnx({ config: parseAimConfig(config), weights: opened.weights }, sink, {
    format: 'fp32',
  });
  return sink.files.get('model.onnx')!;
}

describe('class names in the exported model', () => {
  it('config class_names → aim.class_names → the plan', async () => {
    const bytes = await exportFixture({ ...configJson, class_names: NAMES });
    const plan = planAimModel(bytes);
    expect(plan.classNames).toEqual(NAMES);
    // Written once: aim.config does not repeat them.
    expect(plan.config?.classNames).toBeUndefined();
    // Without names (ml-aim's config.json), none: the page falls back to class i / IN-1k.
    expect(planAimModel(await exportFixture(configJson)).classNames).toBeUndefined();
  });

  it('a wrong list is refused when parsing the config', () => {
    expect(() => parseAimConfig({ ...configJson, class_names: NAMES.slice(1) })).toThrow(
      /class_names must be 10 strings/,
    );
    expect(() => parseAimConfig({ ...configJson, class_names: [...NAMES.slice(1), 3] })).toThrow(
      /class_names must be 10 strings/,
    );
  });

  it('a probe file carries its dataset’s class names to the exporter', async () => {
    const config = PRESETS['aim-micro'];
    const trunk = initParameters(config, 3);
    const head = initialProbeParams('attentive', config.width, 3, () => 0.37);
    const D = config.width;
    head.set('head.bn.running_mean', new Float32Array(D));
    head.set('head.bn.running_var', new Float32Array(D).fill(1));
    head.set('head.bn.num_batches_tracked', Float32Array.of(1));
    const info = { kind: 'attentive' as const, layers: 1, causal: false };
    const names = ['cat', 'dog', 'bird'];
    const bytes = encodeProbeFile(config, trunk, head, info, names);
    expect(() => encodeProbeFile(config, trunk, head, info, ['cat'])).toThrow(
      /1 class names for 3/,
    );
    // decodeProbeFile still gives a plain AimConfig.
    expect(decodeProbeFile(bytes).config).not.toHaveProperty('class_names');
    const opened = await openWeights([
      blobByteSource(new Blob([bytes as Uint8Array<ArrayBuffer>]), 'probe.safetensors'),
    ]);
    const sink = memoryDataSink();
    await exportAimOnnx(
      { config: parseAimConfig(opened.embeddedConfig), weights: opened.weights },
      sink,
      { format: 'fp32' },
    );
    expect(planAimModel(sink.files.get('model.onnx')!).classNames).toEqual(names);
  });
});
