/**
 * The Inference tab's checkpoint conversion, up to the cache (which needs OPFS: that part is
 * e2e/convertInTab.spec.ts): which dropped files are read, the plan shown before starting
 * (bytes to read, each format's files against what the exporter then writes), the CLI's
 * bad-input rules with the page's remedies, the read counter and cancel — on the ml-aim
 * fixture's real files (pytorch_model.bin, the .pth pair, an fp16 safetensors copy).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import { describe, expect, test } from 'vitest';
import { SafetensorsFile, halfToFloat } from '../src/data/safetensors';
import { exportAimOnnx } from '../src/onnx/export';
import { memoryDataSink } from '../src/onnx/externalData';
import { toFloat16Bits } from '../src/onnx/float16';
import {
  CheckpointFileError,
  chooseDroppedWeights,
  inspectCheckpointFiles,
} from '../src/inference/convertPlan';
import { ConversionCancelled } from '../src/inference/convertRun';
import { FIXTURE_DIR } from './fixtures';

const bytesOf = (name: string) => new Uint8Array(readFileSync(join(FIXTURE_DIR, name)));
const file = (name: string, bytes = bytesOf(name)) =>
  new File([bytes as Uint8Array<ArrayBuffer>], name, { lastModified: 1 });
const config = () => file('config.json');
const PAIR = ['aim_fixture_attnprobe_backbone.pth', 'aim_fixture_attnprobe_head_best_layers.pth'];
const OPTS = { backend: 'wasm' as const };

/** An fp16 copy of the fixture's weights with ml-aim's keys, as community copies ship them. */
function fp16Safetensors(): Uint8Array<ArrayBuffer> {
  const st = SafetensorsFile.parse(bytesOf('weights.safetensors'));
  const header: Record<string, unknown> = {};
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const name of st.names) {
    const half = toFloat16Bits(st.float32(name));
    const bytes = new Uint8Array(half.buffer, half.byteOffset, half.byteLength);
    header[name] = {
      dtype: 'F16',
      shape: [...st.entry(name).shape],
      data_offsets: [offset, offset + bytes.byteLength],
    };
    parts.push(bytes);
    offset += bytes.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header).padEnd(8 * 1024, ' '));
  const out = new Uint8Array(8 + json.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let at = 8 + json.byteLength;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

describe('inspecting dropped checkpoint files', () => {
  test('pytorch_model.bin + config.json: the plan matches what the exporter writes', async () => {
    const opened = await inspectCheckpointFiles(
      [config(), file('pytorch_model.bin'), file('cases.safetensors')],
      OPTS,
    );
    const { plan } = opened;
    expect(plan.layout).toBe('pytorch_model.bin');
    expect(plan.files.map((f) => f.role)).toEqual(['config', 'weights', 'unused']);
    expect(plan.hasProbe).toBe(true);
    expect(plan.blocks).toBe(4); // probe layers (2, 3): blocks 0…3
    expect(plan.config.embedDim).toBe(64);
    // Every tensor read is fp32 here: 4 bytes a value, the largest is an fc1/fc2 (256×64).
    expect(plan.largestTensor.bytes).toBe(256 * 64 * 4);
    const values = opened.weights.names
      .filter((n) => n !== 'head.bn.num_batches_tracked' && !n.startsWith('trunk.post_trunk_norm'))
      .reduce((s, n) => s + opened.weights.info(n).shape.reduce((a, b) => a * b, 1), 0);
    expect(plan.bytesToRead).toBe(values * 4);
    expect(plan.formats.map((f) => f.format)).toEqual(['fp32', 'fp16', 'int4']);
    const [fp32, fp16, int4] = plan.formats;
    expect(fp16.outputBytes).toBeLessThan(fp32.outputBytes);
    expect(int4.outputBytes).toBeLessThan(fp32.outputBytes);
    for (const f of plan.formats) expect(f.fit.ok).toBe(true);

    // The shard sizes shown are the shard sizes written, per format; the read counter
    // counts each tensor once (plus the few bytes of each storage's local header).
    for (const f of plan.formats) {
      const before = opened.counter.bytes;
      const sink = memoryDataSink();
      const result = await exportAimOnnx({ config: opened.config, weights: opened.weights }, sink, {
        format: f.format,
      });
      const shards = result.files.slice(1).map((s) => s.bytes);
      expect(shards).toEqual(f.estimate.shardBytes);
      const read = opened.counter.bytes - before;
      expect(read).toBeGreaterThanOrEqual(plan.bytesToRead);
      expect(read).toBeLessThan(plan.bytesToRead + 64 * plan.tensorsToRead);
    }
  });

  test('the .pth pair: heads are offered, "best" chosen unless told', async () => {
    const last = file('aim_fixture_attnprobe_head_last_layers.pth', bytesOf(PAIR[1]));
    const files = [config(), ...PAIR.map((n) => file(n)), last];
    const best = await inspectCheckpointFiles(files, OPTS);
    expect(best.plan.layout).toBe('pth-pair');
    expect(best.plan.heads).toEqual([PAIR[1], last.name].sort());
    expect(best.plan.head).toBe(PAIR[1]);
    expect(best.plan.files.find((f) => f.name === last.name)?.role).toBe('unused');
    const chosen = await inspectCheckpointFiles(files, { ...OPTS, head: last.name });
    expect(chosen.plan.head).toBe(last.name);
    expect(chosen.plan.files.find((f) => f.name === PAIR[1])?.role).toBe('unused');
    // The backbone alone still converts (features only, no logits).
    const backbone = await inspectCheckpointFiles([config(), file(PAIR[0])], OPTS);
    expect(backbone.plan.hasProbe).toBe(false);
    expect(() => chooseDroppedWeights([PAIR[1]])).toThrow(/without its backbone/);
  });

  test('an fp16 safetensors copy reads 2 bytes a value and widens exactly', async () => {
    const opened = await inspectCheckpointFiles(
      [config(), file('aim-fp16.safetensors', fp16Safetensors())],
      OPTS,
    );
    expect(opened.plan.layout).toBe('safetensors');
    const fp32 = await inspectCheckpointFiles([config(), file('pytorch_model.bin')], OPTS);
    expect(opened.plan.bytesToRead).toBe(fp32.plan.bytesToRead / 2);
    const name = 'trunk.blocks.1.mlp.fc1.weight';
    const half = await opened.weights.readFloat32(name);
    const full = await fp32.weights.readFloat32(name);
    // Exactly the binary16 value of each fp32 weight, widened back (no other rounding).
    const expected = Float32Array.from(toFloat16Bits(full), (h) => halfToFloat(h));
    expect(half).toEqual(expected);
    expect(half).not.toEqual(full);
  });
});

describe('bad input: the CLI rules, the page words', () => {
  const refusal = async (files: File[]) => {
    try {
      await inspectCheckpointFiles(files, OPTS);
    } catch (error) {
      expect(error).toBeInstanceOf(CheckpointFileError);
      return error as CheckpointFileError;
    }
    throw new Error('accepted');
  };

  test('a truncated pytorch_model.bin', async () => {
    const whole = bytesOf('pytorch_model.bin');
    for (const cut of [whole.length - 10, whole.length >> 1]) {
      const e = await refusal([config(), file('pytorch_model.bin', whole.subarray(0, cut))]);
      expect(e.message).toMatch(/truncated/);
      expect(e.remedy).toMatch(/incomplete/);
    }
  });

  test('a pickle that asks for os.system is refused before anything runs', async () => {
    const archive = unzipSync(bytesOf('pytorch_model.bin'));
    const pkl = Object.keys(archive).find((n) => n.endsWith('/data.pkl'))!;
    archive[pkl] = new Uint8Array(
      [...'\x80\x02cposix\nsystem\nX\x02\x00\x00\x00id\x85R.'].map((c) => c.charCodeAt(0)),
    );
    const evil = zipSync(
      Object.fromEntries(Object.entries(archive).map(([k, v]) => [k, [v, { level: 0 }]])),
    );
    const e = await refusal([config(), file('pytorch_model.bin', evil)]);
    expect(e.message).toMatch(/posix\.system/);
    expect(e.remedy).toMatch(/run code/);
  });

  test('overlapping keys, a wrong config, no config, two backbones', async () => {
    const weights = bytesOf('weights.safetensors');
    const overlap = await refusal([
      config(),
      file('a.safetensors', weights),
      file('b.safetensors', weights),
    ]);
    expect(overlap.message).toMatch(/overlapping keys/);
    expect(overlap.remedy).toMatch(/same tensor/);

    const wrong = JSON.parse(new TextDecoder().decode(bytesOf('config.json'))) as Record<
      string,
      unknown
    >;
    wrong.embed_dim = 128;
    const bad = await refusal([
      file('config.json', new TextEncoder().encode(JSON.stringify(wrong))),
      file('pytorch_model.bin'),
    ]);
    expect(bad.message).toMatch(/\[64, 3, 4, 4\].*\[128, 3, 4, 4\]|wrong config/);
    expect(bad.remedy).toMatch(/config\.json does not describe/);

    const none = await refusal([file('pytorch_model.bin')]);
    expect(none.message).toMatch(/no config\.json/);
    const notJson = await refusal([
      file('config.json', new TextEncoder().encode('{nope')),
      file('pytorch_model.bin'),
    ]);
    expect(notJson.message).toMatch(/not valid JSON/);
    const twice = await refusal([
      config(),
      file(PAIR[0]),
      file('other_backbone.pth', bytesOf(PAIR[0])),
    ]);
    expect(twice.message).toMatch(/several backbones/);
  });
});

test('cancel: the next read after the counter is stopped throws, nothing more is read', async () => {
  const opened = await inspectCheckpointFiles([config(), file('pytorch_model.bin')], OPTS);
  await opened.weights.readFloat32('head.linear.weight');
  const read = opened.counter.bytes;
  opened.counter.stop = new ConversionCancelled();
  await expect(opened.weights.readFloat32('head.k.weight')).rejects.toBeInstanceOf(
    ConversionCancelled,
  );
  expect(opened.counter.bytes).toBe(read);
});
