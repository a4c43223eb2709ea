/**
 * Planning a model directory from model.onnx alone: what an export of the ml-aim fixture
 * needs (shards, sizes, shapes, format), the refusals a user meets — files that are not ONNX,
 * ONNX that is not AIM-shaped, a missing, truncated or foreign shard (a second export of the
 * same checkpoint: same names and sizes, another export id) — and models without the aim.*
 * metadata, planned from their external locations alone.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { beforeAll, describe, expect, test } from 'vitest';
import {
  checkShardFiles,
  ModelFileError,
  planAimModel,
  type AimModelPlan,
  type ProvidedFile,
} from '../src/inference/modelPlan';
import { fileByteSource } from '../src/onnx/byteSource.node';
import { openWeights, parseAimConfig } from '../src/onnx/checkpoint';
import { exportAimOnnx, type WeightFormat } from '../src/onnx/export';
import { ExternalDataWriter, memoryDataSink } from '../src/onnx/externalData';
import { DataType, GraphBuilder } from '../src/onnx/graph';
import { mulberry32 } from '../src/reference/random';
import { FIXTURE_DIR } from './fixtures';

const { onnx } = onnxProto;
const fixtureFile = (name: string) => new Uint8Array(readFileSync(join(FIXTURE_DIR, name)));
const MAX_SHARD = 300_000; // the fixture's ~0.8 MB of fp32 weights in four shards

async function exportFixture(format: WeightFormat, exportId: string) {
  const source = await fileByteSource(join(FIXTURE_DIR, 'weights.safetensors'));
  try {
    const config = parseAimConfig(
      JSON.parse(readFileSync(join(FIXTURE_DIR, 'config.json'), 'utf8')) as object,
    );
    const { weights } = await openWeights([source]);
    const sink = memoryDataSink();
    const result = await exportAimOnnx({ config, weights }, sink, {
      format,
      exportId,
      maxShardBytes: MAX_SHARD,
    });
    return { files: sink.files, result };
  } finally {
    await source.close();
  }
}

type Exported = Awaited<ReturnType<typeof exportFixture>>;
let a: Exported;
let b: Exported;
let int4: Exported;
let fp16: Exported;
beforeAll(async () => {
  [a, b, int4, fp16] = await Promise.all([
    exportFixture('fp32', 'export-a'),
    exportFixture('fp32', 'export-b'),
    exportFixture('int4', 'export-c'),
    exportFixture('fp16', 'export-d'),
  ]);
});

const provided = (files: Map<string, Uint8Array>, skip = 'model.onnx'): ProvidedFile[] =>
  [...files]
    .filter(([n]) => n !== skip)
    .map(([name, bytes]) => ({ name, size: bytes.byteLength, head: bytes.subarray(0, 64) }));

/** The model with its ModelProto changed by `edit` and re-encoded. */
function edited(bytes: Uint8Array, edit: (m: onnxProto.onnx.ModelProto) => void): Uint8Array {
  const m = onnx.ModelProto.decode(bytes);
  edit(m);
  return onnx.ModelProto.encode(m).finish();
}

/** The tensor type of graph input or output `name` of a decoded model. */
function tensorType(m: onnxProto.onnx.ModelProto, name: string) {
  const all = [...(m.graph?.input ?? []), ...(m.graph?.output ?? [])];
  return all.find((v) => v.name === name)!.type!.tensorType!;
}

const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ModelFileError);
    return (e as Error).message;
  }
  throw new Error('expected a ModelFileError');
};

describe('an exported fixture', () => {
  test('the plan: shapes, shards with exact sizes, total bytes, format and metadata', () => {
    const plan = planAimModel(a.files.get('model.onnx')!);
    const shards = a.result.files.slice(1);
    expect(shards.length).toBe(4);
    expect(plan).toMatchObject({
      modelFileName: 'model.onnx',
      input: { name: 'images', channels: 3, height: 32, width: 32 },
      features: { tokens: 64, dim: 64 },
      logits: { classes: 10 },
      format: 'fp32',
      exportId: 'export-a',
      featureMode: 'probe-layers',
      blocks: 4,
      config: { embedDim: 64, numHeads: 4, probeLayers: [2, 3] },
      producer: 'aim-playground 0.1.0',
      preprocessing: { center_crop: [32, 32] },
    });
    expect(plan.patchPredictions).toBeUndefined();
    expect(plan.shards.map((s) => [s.name, s.expectedBytes])).toEqual(
      shards.map((s) => [s.name, s.bytes]),
    );
    for (const s of plan.shards) expect(s.requiredBytes).toBe(s.expectedBytes); // no tail padding
    expect(plan.totalBytes).toBe(a.result.files.reduce((t, f) => t + f.bytes, 0));
    expect(plan.shards.reduce((t, s) => t + s.tensors, 0)).toBe(43);
    expect(plan.largestTensor).toEqual({
      name: 'trunk.blocks.0.mlp.fc1.weight_t',
      bytes: 64 * 256 * 4,
      dataType: 'FLOAT',
    });
    expect(plan.weightBytesByType.FLOAT).toBe(plan.weightBytes - plan.weightBytesByType.INT64);
    expect(() => checkShardFiles(plan, provided(a.files))).not.toThrow();
  });

  test('int4 and fp16 exports: their format, data types and the com.microsoft opset', () => {
    const q = planAimModel(int4.files.get('model.onnx')!);
    expect(q.format).toBe('int4');
    expect(q.opsets).toContain('com.microsoft:1');
    expect(q.weightBytesByType.UINT8).toBeGreaterThan(q.weightBytesByType.FLOAT);
    const h = planAimModel(fp16.files.get('model.onnx')!);
    expect(h.format).toBe('fp16');
    expect(h.largestTensor).toMatchObject({ dataType: 'FLOAT16', bytes: 64 * 256 * 2 });
  });

  test('a missing shard is named, with every file the model needs', () => {
    const plan = planAimModel(a.files.get('model.onnx')!);
    expect(refusal(() => checkShardFiles(plan, provided(a.files, 'model.onnx.data_1')))).toBe(
      'model.onnx.data_1 is missing: the model needs 4 data files (model.onnx.data_0, model.onnx.data_1, model.onnx.data_2, model.onnx.data_3).',
    );
    expect(refusal(() => checkShardFiles(plan, []))).toMatch(/^model.onnx.data_0, .* are missing/);
  });

  test('a truncated shard, a longer one, and unrelated files', () => {
    const plan = planAimModel(a.files.get('model.onnx')!);
    const files = provided(a.files);
    const size = files[0].size;
    const cut = files.map((f, i) => (i === 0 ? { ...f, size: size - 1 } : f));
    expect(refusal(() => checkShardFiles(plan, cut))).toBe(
      `model.onnx.data_0 is ${(size - 1).toLocaleString('en-US')} bytes but should be ${size.toLocaleString('en-US')} — the download was cut short.`,
    );
    const longer = files.map((f, i) => (i === 2 ? { ...f, size: f.size + 4096 } : f));
    expect(refusal(() => checkShardFiles(plan, longer))).toMatch(
      /^model.onnx.data_2 is .* bytes: it belongs to a different export/,
    );
    const extra = [...files, { name: 'README.md', size: 3 }, { name: 'model.onnx', size: 1 }];
    expect(() => checkShardFiles(plan, extra)).not.toThrow();
    // Paths from a folder pick match by their last part.
    const inFolder = files.map((f) => ({ ...f, name: `aim/${f.name}` }));
    expect(() => checkShardFiles(plan, inFolder)).not.toThrow();
  });

  test('a shard of a second export of the same checkpoint: same size, refused by its tag', () => {
    const plan = planAimModel(a.files.get('model.onnx')!);
    const mixed = provided(a.files).map((f) =>
      f.name === 'model.onnx.data_1' ? provided(b.files)[1] : f,
    );
    expect(mixed[1].size).toBe(a.files.get('model.onnx.data_1')!.byteLength);
    expect(refusal(() => checkShardFiles(plan, mixed))).toBe(
      'model.onnx.data_1 belongs to a different export (its tag names export export-b, model.onnx is export export-a); take the model and its data files from the same export.',
    );
    const untagged = mixed.map((f) => ({ ...f, head: new Uint8Array(64) }));
    expect(refusal(() => checkShardFiles(plan, untagged))).toContain('it has no AIM export tag');
    // Without the first bytes only the sizes can be checked, and they agree.
    expect(() =>
      checkShardFiles(
        plan,
        mixed.map((f) => ({ ...f, head: undefined })),
      ),
    ).not.toThrow();
  });
});

describe('files that are not ONNX models', () => {
  const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1]);
  test.each([
    ['photo.jpg', () => jpeg, 'photo.jpg is not an ONNX model (it is a JPEG image).'],
    ['empty.onnx', () => new Uint8Array(0), 'empty.onnx is not an ONNX model (the file is empty).'],
    ['weights.safetensors', () => fixtureFile('weights.safetensors'), 'a safetensors file'],
    ['pytorch_model.bin', () => fixtureFile('pytorch_model.bin'), 'zip archive'],
    ['model.onnx.data_0', () => a.files.get('model.onnx.data_0')!, 'choose its .onnx file'],
    ['config.json', () => fixtureFile('config.json'), 'a text file'],
  ])('%s', (name, bytes, message) => {
    expect(refusal(() => planAimModel(bytes(), name))).toContain(message);
  });

  test('random bytes are refused whether or not they decode as protobuf', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const next = mulberry32(seed);
      const bytes = Uint8Array.from({ length: 1 + seed * 40 }, () => Math.floor(next() * 256));
      expect(refusal(() => planAimModel(bytes, 'noise.onnx'))).toMatch(
        /^noise.onnx is not an ONNX model \((it does not decode|it holds no graph|it is)/,
      );
    }
    // A valid protobuf with nothing in it: an empty ModelProto with a version.
    const empty = onnx.ModelProto.encode({ irVersion: 8 }).finish();
    expect(refusal(() => planAimModel(empty, 'x.onnx'))).toContain('holds no graph');
  });
});

describe('ONNX models that are not AIM-shaped', () => {
  const model = () => a.files.get('model.onnx')!;
  const dims = (...d: (number | string)[]) =>
    d.map((v) => (typeof v === 'number' ? { dimValue: v } : { dimParam: v }));
  const notAim = 'model.onnx is an ONNX model but not an AIM model: ';

  test('a wrong input shape or type', () => {
    const gray = edited(model(), (m) => {
      tensorType(m, 'images').shape = { dim: dims('batch', 1, 32, 32) };
    });
    expect(refusal(() => planAimModel(gray))).toBe(
      `${notAim}its input images is [batch, 1, 32, 32], expected [N, 3, H, W] with fixed H, W.`,
    );
    const dynamic = edited(model(), (m) => {
      tensorType(m, 'images').shape = { dim: dims('batch', 3, 'h', 'w') };
    });
    expect(refusal(() => planAimModel(dynamic))).toContain('[batch, 3, h, w]');
    const half = edited(model(), (m) => {
      tensorType(m, 'images').elemType = DataType.FLOAT16;
    });
    expect(refusal(() => planAimModel(half))).toContain('holds FLOAT16, expected FLOAT');
  });

  test('no features output, or features / logits of the wrong rank', () => {
    const renamed = edited(model(), (m) => {
      m.graph!.output!.find((o) => o.name === 'features')!.name = 'embeddings';
    });
    expect(refusal(() => planAimModel(renamed))).toBe(
      `${notAim}it has no output named features (only logits, embeddings).`,
    );
    const flat = edited(model(), (m) => {
      tensorType(m, 'features').shape = { dim: dims('batch', 4096) };
    });
    expect(refusal(() => planAimModel(flat))).toContain(
      'its features output is FLOAT [batch, 4096], expected FLOAT [N, K, D]',
    );
    const logits = edited(model(), (m) => {
      tensorType(m, 'logits').shape = { dim: dims('batch', 1, 10) };
    });
    expect(refusal(() => planAimModel(logits))).toContain('its logits output is [batch, 1, 10]');
  });

  test('a small non-AIM graph built with GraphBuilder', async () => {
    const g = new GraphBuilder(new ExternalDataWriter(memoryDataSink(), 'm.onnx.data'));
    g.op('Relu', ['x'], {}, { output: 'y' });
    const bytes = g.encode({
      graphName: 'relu',
      inputs: [['x', { elemType: DataType.FLOAT, shape: ['n', 10] }]],
      outputs: [['y', { elemType: DataType.FLOAT, shape: ['n', 10] }]],
      metadata: {},
      producerVersion: '0',
    });
    expect(refusal(() => planAimModel(bytes, 'relu.onnx'))).toBe(
      'relu.onnx is an ONNX model but not an AIM model: its input x is [n, 10], expected [N, 3, H, W] with fixed H, W.',
    );
    await Promise.resolve();
  });
});

describe('models without aim.* metadata, and damaged ones', () => {
  const bare = (bytes: Uint8Array) => edited(bytes, (m) => (m.metadataProps = []));

  test('are planned from the external locations: shards need only be long enough', () => {
    const plan: AimModelPlan = planAimModel(bare(a.files.get('model.onnx')!), 'other.onnx');
    expect(plan.exportId).toBeUndefined();
    expect(plan.config).toBeUndefined();
    expect(plan.format).toBe('fp32');
    expect(plan.shards.map((s) => s.expectedBytes)).toEqual(Array(4).fill(undefined));
    const files = provided(a.files).map((f) => ({ ...f, size: f.size + 10 }));
    expect(() => checkShardFiles(plan, files)).not.toThrow();
    const short = files.map((f, i) =>
      i === 1 ? { ...f, size: plan.shards[1].requiredBytes - 1 } : f,
    );
    expect(refusal(() => checkShardFiles(plan, short))).toMatch(
      /^model.onnx.data_1 is .* bytes but should be at least .* — the download was cut short\.$/,
    );
    expect(planAimModel(bare(int4.files.get('model.onnx')!)).format).toBe('int4');
    expect(planAimModel(bare(fp16.files.get('model.onnx')!)).format).toBe('fp16');
  });

  test('inconsistent metadata, a tensor outside the folder, a wrong tensor length', () => {
    const meta = (key: string, value: string) =>
      edited(a.files.get('model.onnx')!, (m) => {
        m.metadataProps.find((p) => p.key === key)!.value = value;
      });
    expect(
      refusal(() =>
        planAimModel(meta('aim.external_data', '[{"name":"model.onnx.data_0","bytes":10}]')),
      ),
    ).toMatch(/damaged: its metadata lists model.onnx.data_0 as 10 bytes, its tensors reach/);
    expect(refusal(() => planAimModel(meta('aim.config', '{oops')))).toContain(
      'aim.config is not valid JSON',
    );
    const narrower = { ...planAimModel(a.files.get('model.onnx')!).config, embedDim: 32 };
    expect(refusal(() => planAimModel(meta('aim.config', JSON.stringify(narrower))))).toBe(
      'model.onnx contradicts itself: its metadata says 32×32, width 32, its graph 32×32, width 64.',
    );
    const external = (key: string, value: string) =>
      edited(a.files.get('model.onnx')!, (m) => {
        const t = m.graph!.initializer!.find((i) => i.externalData?.length)!;
        t.externalData!.find((e) => e.key === key)!.value = value;
      });
    expect(refusal(() => planAimModel(external('location', '../../etc/passwd')))).toContain(
      "lies outside the model's folder",
    );
    expect(refusal(() => planAimModel(external('length', '12')))).toMatch(
      /tensor preprocessor.patchifier.proj.weight stores 12 bytes, its \[64, 3, 4, 4\] FLOAT needs 12,288/,
    );
  });
});
