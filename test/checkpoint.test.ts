import { describe, expect, it } from 'vitest';
import { writeSafetensors } from '../src/data/safetensors';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint } from '../src/training/checkpoint';
import { Rng } from '../src/training/rng';
import { mulberry32 } from '../src/reference/random';

const t = (shape: number[], values: number[]) => ({ shape, data: Float32Array.from(values) });

describe('checkpoint files', () => {
  const contents = {
    params: new Map([
      ['trunk.blocks.0.attn.qkv.weight', t([3, 2], [1, 2, 3, 4, 5, -6])],
      ['trunk.post_trunk_norm.bias', t([2], [0.5, NaN])],
    ]),
    optimizer: {
      expAvg: new Map([
        ['trunk.blocks.0.attn.qkv.weight', t([3, 2], [0.1, 0, 0, 0, 0, 0])],
        ['trunk.post_trunk_norm.bias', t([2], [0, 1])],
      ]),
      expAvgSq: new Map([
        ['trunk.blocks.0.attn.qkv.weight', t([3, 2], [0.01, 0, 0, 0, 0, 0])],
        ['trunk.post_trunk_norm.bias', t([2], [0, 2])],
      ]),
    },
    step: 42,
    rngState: 0xdeadbeef,
    modelConfig: { name: 'aim-micro', width: 64 },
    runConfig: { ordering: 'spiral', seed: 3 },
  };

  it('round-trips parameters, optimizer state and run state bit-exactly', () => {
    const back = decodeCheckpoint(encodeCheckpoint(contents));
    expect(back.step).toBe(42);
    expect(back.rngState).toBe(0xdeadbeef);
    expect(back.modelConfig).toEqual(contents.modelConfig);
    expect(back.runConfig).toEqual(contents.runConfig);
    for (const [key, value] of contents.params) {
      expect(new Uint8Array(back.params.get(key)!.data.buffer)).toEqual(
        new Uint8Array(value.data.buffer),
      );
      expect(back.params.get(key)!.shape).toEqual(value.shape);
      expect(back.optimizer!.expAvg.get(key)!.data).toEqual(
        contents.optimizer.expAvg.get(key)!.data,
      );
      expect(back.optimizer!.expAvgSq.get(key)!.data).toEqual(
        contents.optimizer.expAvgSq.get(key)!.data,
      );
    }
  });

  it('refuses files that are not checkpoints, with a reason', () => {
    expect(() => decodeCheckpoint(Uint8Array.of(1, 2, 3), 'x.bin')).toThrow(CheckpointError);
    const plainWeights = writeSafetensors({
      w: { dtype: 'F32', shape: [1], data: Float32Array.of(1) },
    });
    expect(() => decodeCheckpoint(plainWeights, 'weights.safetensors')).toThrow(
      /not an AIM Playground checkpoint/,
    );
    const partial = encodeCheckpoint({
      ...contents,
      optimizer: {
        expAvg: new Map([...contents.optimizer.expAvg].slice(0, 1)),
        expAvgSq: contents.optimizer.expAvgSq,
      },
    });
    expect(() => decodeCheckpoint(partial)).toThrow(/optimizer state covers 1\/2 of 2/);
  });

  it('the trainer RNG resumes exactly from a saved state and matches mulberry32', () => {
    const a = new Rng(99);
    const reference = mulberry32(99);
    for (let i = 0; i < 10; i++) expect(a.next()).toBe(reference());
    const saved = a.getState();
    const expected = [a.next(), a.next(), a.next()];
    const b = new Rng(0);
    b.setState(saved);
    expect([b.next(), b.next(), b.next()]).toEqual(expected);
  });
});
