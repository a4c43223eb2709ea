/**
 * The torch.save reader: restricted unpickler (allow-listed globals only, like
 * torch.load(weights_only=True)), ZIP/ZIP64 central-directory reading by range, tensors
 * resolved through storages (dtype, offset, strides), and the ml-aim fixture's PyTorch files
 * read bit-exactly against its safetensors copy.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import { describe, expect, test } from 'vitest';
import { SafetensorsFile } from '../src/data/safetensors';
import { bytesByteSource } from '../src/onnx/byteSource';
import { fileByteSource } from '../src/onnx/byteSource.node';
import { chooseWeightFiles, openWeights, AimCheckpointError } from '../src/onnx/checkpoint';
import { PickleError, restrictedUnpickle } from '../src/onnx/pickle';
import { openTorchCheckpoint, TorchCheckpointError } from '../src/onnx/torchZip';
import { FIXTURE_DIR } from './fixtures';

/** A string of byte values 0…255 as bytes (pickle text is not UTF-8). */
function latin1(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** Writes pickle opcodes by hand (what Python's pickler would emit). */
class PickleWriter {
  private readonly bytes: number[] = [];
  raw(...b: number[]) {
    this.bytes.push(...b);
    return this;
  }
  op(c: string) {
    return this.raw(c.charCodeAt(0));
  }
  u32(n: number) {
    return this.raw(n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >>> 24) & 255);
  }
  str(s: string) {
    const utf8 = new TextEncoder().encode(s);
    return this.op('X')
      .u32(utf8.length)
      .raw(...utf8);
  }
  shortStr(s: string) {
    const utf8 = new TextEncoder().encode(s);
    return this.raw(0x8c, utf8.length, ...utf8);
  }
  int(n: number) {
    return n < 256 ? this.raw(0x4b, n) : this.op('J').u32(n);
  }
  global(module: string, name: string) {
    return this.raw(...new TextEncoder().encode(`c${module}\n${name}\n`));
  }
  tuple(items: (() => void)[]) {
    this.op('(');
    items.forEach((f) => f());
    return this.op('t');
  }
  finish(): Uint8Array {
    return Uint8Array.from([...this.bytes, 0x2e]);
  }
}

/** A state-dict entry in torch's pickle form: _rebuild_tensor_v2(persistent storage, …). */
function tensorEntry(
  p: PickleWriter,
  key: string,
  storageType: string,
  storageKey: string,
  numel: number,
  offset: number,
  shape: number[],
  stride: number[],
) {
  p.str(key);
  p.global('torch._utils', '_rebuild_tensor_v2');
  p.tuple([
    () => {
      p.tuple([
        () => p.str('storage'),
        () => p.global('torch', storageType),
        () => p.str(storageKey),
        () => p.str('cpu'),
        () => p.int(numel),
      ]);
      p.raw(0x51); // BINPERSID
    },
    () => p.int(offset),
    () => p.tuple(shape.map((d) => () => p.int(d))),
    () => p.tuple(stride.map((d) => () => p.int(d))),
    () => p.raw(0x89), // False
    () => p.global('collections', 'OrderedDict').op(')').op('R'),
  ]);
  p.op('R');
}

/** f16 [2, 3], a transposed f32 view at an offset, a Parameter (f64), and a _metadata BUILD. */
function stateDictWithParameter(): Uint8Array {
  const p = new PickleWriter();
  p.raw(0x80, 2);
  p.global('collections', 'OrderedDict').op(')').op('R');
  p.op('(');
  tensorEntry(p, 'half', 'HalfStorage', '0', 6, 0, [2, 3], [3, 1]);
  tensorEntry(p, 'transposed', 'FloatStorage', '1', 8, 2, [3, 2], [1, 3]);
  p.str('param');
  p.global('torch._utils', '_rebuild_parameter');
  p.op('(');
  // _rebuild_tensor_v2(...) as the Parameter's data
  p.global('torch._utils', '_rebuild_tensor_v2');
  p.tuple([
    () => {
      p.tuple([
        () => p.str('storage'),
        () => p.global('torch', 'DoubleStorage'),
        () => p.str('2'),
        () => p.str('cpu'),
        () => p.int(2),
      ]);
      p.raw(0x51);
    },
    () => p.int(0),
    () => p.tuple([() => p.int(2)]),
    () => p.tuple([() => p.int(1)]),
    () => p.raw(0x89),
    () => p.global('collections', 'OrderedDict').op(')').op('R'),
  ]);
  p.op('R');
  p.raw(0x88); // requires_grad True
  p.global('collections', 'OrderedDict').op(')').op('R');
  p.op('t').op('R');
  p.op('u'); // SETITEMS
  // BUILD with the state dict's _metadata attribute, as torch.save(model.state_dict()) writes.
  p.op('}').str('_metadata').op('}').str('').op('}').str('version').int(1).op('s').op('s').op('s');
  p.op('b');
  return p.finish();
}

function torchZip(
  pickle: Uint8Array,
  options: { deflatePickle?: boolean; deflateData?: boolean } = {},
) {
  const half = new Uint16Array([0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x8000]); // 1, −2, 0.5, 65504, 2^-24, −0
  const floats = Float32Array.from({ length: 8 }, (_, i) => i);
  const doubles = new Float64Array([1 / 3, -1e30]);
  const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  return zipSync({
    'archive/data.pkl': [pickle, { level: options.deflatePickle ? 6 : 0 }],
    'archive/byteorder': [new TextEncoder().encode('little'), { level: 0 }],
    'archive/data/0': [bytes(half), { level: options.deflateData ? 6 : 0 }],
    'archive/data/1': [bytes(floats), { level: 0 }],
    'archive/data/2': [bytes(doubles), { level: 0 }],
    'archive/version': [new TextEncoder().encode('3\n'), { level: 0 }],
  });
}

/**
 * A ZIP64 archive written field by field (every size and offset in the ZIP64 extra fields,
 * the 32-bit ones 0xFFFFFFFF, plus the ZIP64 end record and locator), as PyTorch writes
 * checkpoints above 4 GiB; CRCs are left 0 (the reader does not check them).
 */
function zip64Archive(entries: Record<string, Uint8Array>): Uint8Array {
  const out: number[] = [];
  /** Little-endian fields: [bytes, value] pairs (u64 values here stay below 2^32). */
  const put = (...fields: [2 | 4 | 8, number][]) => {
    for (const [size, v] of fields) {
      for (let i = 0; i < size; i++) out.push(i < 4 ? Math.floor(v / 256 ** i) & 255 : 0);
    }
  };
  const FULL = 0xffffffff;
  const central: { name: Uint8Array; size: number; offset: number }[] = [];
  for (const [entryName, data] of Object.entries(entries)) {
    const name = new TextEncoder().encode(entryName);
    const offset = out.length;
    // local header: signature, version 4.5, flags, stored, time, date, crc, sizes → ZIP64
    put([4, 0x04034b50], [2, 45], [2, 0], [2, 0], [2, 0], [2, 0], [4, 0], [4, FULL], [4, FULL]);
    put([2, name.length], [2, 20]);
    out.push(...name);
    put([2, 1], [2, 16], [8, data.length], [8, data.length]);
    out.push(...data);
    central.push({ name, size: data.length, offset });
  }
  const cdOffset = out.length;
  for (const e of central) {
    put([4, 0x02014b50], [2, 45], [2, 45], [2, 0], [2, 0], [2, 0], [2, 0], [4, 0]);
    put([4, FULL], [4, FULL], [2, e.name.length], [2, 28], [2, 0], [2, 0], [2, 0], [4, 0]);
    put([4, FULL]);
    out.push(...e.name);
    put([2, 1], [2, 24], [8, e.size], [8, e.size], [8, e.offset]);
  }
  const cdSize = out.length - cdOffset;
  const record = out.length;
  put([4, 0x06064b50], [8, 44], [2, 45], [2, 45], [4, 0], [4, 0]);
  put([8, central.length], [8, central.length], [8, cdSize], [8, cdOffset]);
  put([4, 0x07064b50], [4, 0], [8, record], [4, 1]);
  put([4, 0x06054b50], [2, 0], [2, 0], [2, 0xffff], [2, 0xffff], [4, FULL], [4, FULL], [2, 0]);
  return Uint8Array.from(out);
}

describe('restricted unpickler', () => {
  test('a hand-written state dict: f16, strided view with offset, Parameter, _metadata BUILD', async () => {
    const zip = torchZip(stateDictWithParameter());
    const sd = await openTorchCheckpoint(bytesByteSource(zip, 'hand.pth'));
    expect([...sd.tensors.keys()]).toEqual(['half', 'transposed', 'param']);
    expect(sd.tensors.get('half')).toMatchObject({ shape: [2, 3], storage: { dtype: 'F16' } });
    const opened = await openWeights([bytesByteSource(zip, 'hand.pth')]);
    expect([...(await opened.weights.readFloat32('half'))]).toEqual([
      1,
      -2,
      0.5,
      65504,
      2 ** -24,
      -0,
    ]);
    // storage 0…7, offset 2, element (i, j) at 2 + i + 3j.
    expect([...(await opened.weights.readFloat32('transposed'))]).toEqual([2, 5, 3, 6, 4, 7]);
    expect([...(await opened.weights.readFloat32('param'))]).toEqual([
      Math.fround(1 / 3),
      Math.fround(-1e30),
    ]);
  });

  test('ZIP64 archives (sizes and offsets in the ZIP64 fields) read the same', async () => {
    const plain = await openWeights([
      bytesByteSource(torchZip(stateDictWithParameter()), 'plain.pth'),
    ]);
    const entries = unzipSync(torchZip(stateDictWithParameter()));
    const big = await openWeights([bytesByteSource(zip64Archive(entries), 'zip64.pth')]);
    expect(big.weights.names).toEqual(plain.weights.names);
    for (const name of plain.weights.names) {
      expect(await big.weights.readFloat32(name)).toEqual(await plain.weights.readFloat32(name));
    }
  });

  test('a deflated data.pkl is inflated; a deflated storage is refused', async () => {
    const ok = await openTorchCheckpoint(
      bytesByteSource(torchZip(stateDictWithParameter(), { deflatePickle: true }), 'deflated.pth'),
    );
    expect(ok.tensors.size).toBe(3);
    const sd = await openTorchCheckpoint(
      bytesByteSource(torchZip(stateDictWithParameter(), { deflateData: true }), 'deflated.pth'),
    );
    await expect(sd.readBytes('half')).rejects.toThrow(/compressed .*must be stored uncompressed/);
  });

  test('os.system (protocol 2 GLOBAL) is refused before anything runs', () => {
    // What `pickle.dumps(Exploit())` with __reduce__ = (os.system, ('id',)) produces.
    const evil = latin1('\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.');
    expect(() => restrictedUnpickle(evil, 'evil.pkl')).toThrow(PickleError);
    expect(() => restrictedUnpickle(evil, 'evil.pkl')).toThrow(/refusing global "os\.system"/);
  });

  test('builtins.eval through STACK_GLOBAL (protocol 4) is refused', () => {
    const p = new PickleWriter();
    p.raw(0x80, 4).shortStr('builtins').raw(0x94).shortStr('eval').raw(0x94, 0x93);
    p.shortStr('__import__("os").system("id")').raw(0x85).op('R');
    expect(() => restrictedUnpickle(p.finish(), 'evil4.pkl')).toThrow(
      /refusing global "builtins\.eval"/,
    );
  });

  test('protocol 0 INST, and calling an allowed storage type, are refused', () => {
    const inst = latin1('(X\x02\x00\x00\x00idios\nsystem\n.');
    expect(() => restrictedUnpickle(inst, 'inst.pkl')).toThrow(/unsupported pickle opcode 0x69/);
    const p = new PickleWriter();
    p.raw(0x80, 2).global('torch', 'FloatStorage').op(')').op('R');
    expect(() => restrictedUnpickle(p.finish(), 'call.pkl')).toThrow(
      /REDUCE on global torch\.FloatStorage/,
    );
  });

  test('a malicious data.pkl inside a torch.save archive fails the checkpoint load', async () => {
    const evil = latin1('\x80\x02cposix\nsystem\nX\x02\x00\x00\x00id\x85R.');
    const source = bytesByteSource(torchZip(evil), 'evil.pth');
    await expect(openTorchCheckpoint(source)).rejects.toThrow(TorchCheckpointError);
    await expect(openTorchCheckpoint(source)).rejects.toThrow(/posix\.system/);
  });

  test('a tensor view past the end of its storage is refused', () => {
    const p = new PickleWriter();
    p.raw(0x80, 2).global('collections', 'OrderedDict').op(')').op('R').op('(');
    tensorEntry(p, 'x', 'FloatStorage', '0', 4, 1, [2, 2], [2, 1]); // needs elements 1…4 of 0…3
    p.op('u');
    expect(() => restrictedUnpickle(p.finish(), 'oob.pkl')).toThrow(
      /ends at element 5, its storage has 4/,
    );
  });

  test('a truncated pickle says so', () => {
    const whole = stateDictWithParameter();
    expect(() => restrictedUnpickle(whole.subarray(0, whole.length >> 1), 'cut.pkl')).toThrow(
      /truncated/,
    );
  });
});

describe('torch.save archives', () => {
  const fixture = (name: string) => join(FIXTURE_DIR, name);
  const safetensors = SafetensorsFile.parse(readFileSync(fixture('weights.safetensors')));

  test('pytorch_model.bin holds exactly weights.safetensors, bit for bit (+ num_batches_tracked)', async () => {
    const source = await fileByteSource(fixture('pytorch_model.bin'));
    try {
      const { weights, layout } = await openWeights([source]);
      expect(layout).toBe('pytorch_model.bin');
      expect([...weights.names].sort()).toEqual(
        [...safetensors.names, 'head.bn.num_batches_tracked'].sort(),
      );
      expect(weights.info('head.bn.num_batches_tracked').dtype).toBe('I64');
      for (const name of safetensors.names) {
        expect(weights.info(name).shape).toEqual(safetensors.entry(name).shape);
        expect(await weights.readFloat32(name)).toEqual(safetensors.float32(name));
      }
    } finally {
      await source.close();
    }
  });

  test('reads by range: no read larger than one tensor, the file is never loaded whole', async () => {
    const whole = new Uint8Array(readFileSync(fixture('pytorch_model.bin')));
    const inner = bytesByteSource(whole, 'pytorch_model.bin');
    let largest = 0;
    let total = 0;
    const counting = {
      name: inner.name,
      size: inner.size,
      read(offset: number, length: number) {
        largest = Math.max(largest, length);
        total += length;
        return inner.read(offset, length);
      },
    };
    const { weights } = await openWeights([counting]);
    const opened = total;
    // Opening reads the directory tail (≤ 64 KiB + 22), the central directory and data.pkl.
    expect(opened).toBeLessThan(80 * 1024);
    largest = 0;
    await weights.readFloat32('trunk.blocks.0.mlp.fc1.weight'); // 256×64 f32 = 64 KiB
    expect(largest).toBe(65536);
    expect(total - opened).toBe(65536 + 30); // the tensor and its local header
  });

  test('the backbone + head pair merges to the same tensors; overlapping keys are refused', async () => {
    const backbone = await fileByteSource(fixture('aim_fixture_attnprobe_backbone.pth'));
    const head = await fileByteSource(fixture('aim_fixture_attnprobe_head_best_layers.pth'));
    const bin = await fileByteSource(fixture('pytorch_model.bin'));
    try {
      const { weights, layout } = await openWeights([backbone, head]);
      expect(layout).toBe('pth-pair');
      for (const name of safetensors.names) {
        expect(await weights.readFloat32(name)).toEqual(safetensors.float32(name));
      }
      await expect(openWeights([backbone, bin])).rejects.toThrow(AimCheckpointError);
      await expect(openWeights([backbone, bin])).rejects.toThrow(
        /"[\w.]+" is in both aim_fixture_attnprobe_backbone\.pth and pytorch_model\.bin: refusing/,
      );
    } finally {
      await Promise.all([backbone.close(), head.close(), bin.close()]);
    }
  });

  test('weight files are chosen by name as the issue lists them', () => {
    const all = readdirFixture();
    expect(chooseWeightFiles(all)).toEqual(['pytorch_model.bin']);
    const pair = all.filter((f) => f !== 'pytorch_model.bin');
    expect(chooseWeightFiles(pair)).toEqual([
      'aim_fixture_attnprobe_backbone.pth',
      'aim_fixture_attnprobe_head_best_layers.pth',
    ]);
    expect(() =>
      chooseWeightFiles([...pair, 'aim_fixture_attnprobe_head_last_layers.pth']),
    ).toThrow(/--head/);
    expect(chooseWeightFiles([...pair, 'x_head_last_layers.pth'], 'best')).toHaveLength(2);
    expect(chooseWeightFiles(['weights.safetensors', 'cases.safetensors', 'config.json'])).toEqual([
      'weights.safetensors',
    ]);
    expect(() => chooseWeightFiles(['config.json'])).toThrow(/no weights found/);
  });

  test('truncated or foreign files fail with a message saying so', async () => {
    const whole = new Uint8Array(readFileSync(fixture('pytorch_model.bin')));
    for (const cut of [whole.length - 10, whole.length >> 1, 100]) {
      await expect(
        openTorchCheckpoint(bytesByteSource(whole.subarray(0, cut), 'cut.bin')),
      ).rejects.toThrow(/truncated/);
    }
    await expect(
      openTorchCheckpoint(
        bytesByteSource(new TextEncoder().encode('{"not": "a zip archive at all"}'), 'x.bin'),
      ),
    ).rejects.toThrow(/not a ZIP archive/);
    // A central directory claiming more bytes for the last storage than the file has.
    const patched = whole.slice();
    const name = new TextEncoder().encode('pytorch_model/data/44');
    const view = new DataView(patched.buffer);
    let found = 0;
    for (let i = 0; i + 46 < patched.length; i++) {
      if (view.getUint32(i, true) !== 0x02014b50) continue;
      const n = view.getUint16(i + 28, true);
      if (
        n === name.length &&
        patched.subarray(i + 46, i + 46 + n).every((b, j) => b === name[j])
      ) {
        view.setUint32(i + 20, 1 << 30, true);
        view.setUint32(i + 24, 1 << 30, true);
        found++;
      }
    }
    expect(found).toBe(1);
    const sd = await openTorchCheckpoint(bytesByteSource(patched, 'patched.bin'));
    const key = [...sd.tensors].find(([, t]) => t.storage.key === '44')![0];
    await expect(sd.readBytes(key)).rejects.toThrow(/runs past the end .*truncated/);
  });
});

function readdirFixture(): string[] {
  return [
    'config.json',
    'pytorch_model.bin',
    'weights.safetensors',
    'cases.safetensors',
    'aim_fixture_attnprobe_backbone.pth',
    'aim_fixture_attnprobe_head_best_layers.pth',
  ];
}
