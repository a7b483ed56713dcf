/**
 * Hugging Face weight reading (runtime/checkpoint/hf-weights.ts): F16 and BF16 widen to f32
 * exactly, bit pattern by bit pattern (normals, subnormals, ±0, infinities, the extremes), and
 * a dtype mspec cannot take is an error naming the file and tensor. Sharded folders and the
 * conversion inside real checkpoints are covered by test/cli/import-hf.test.ts (mixtral:
 * shards; llama: BF16; mistral: F16).
 */
import { describe, expect, it } from 'vitest';
import { toF32 } from '../../runtime/checkpoint/hf-weights.js';
import { CheckpointError, type STTensor } from '../../runtime/checkpoint/safetensors.js';

const u16 = (dtype: 'F16' | 'BF16', bits: number[]): STTensor => ({
  dtype,
  shape: [bits.length],
  data: new Uint8Array(Uint16Array.from(bits).buffer),
});

describe('toF32', () => {
  it('widens F16 exactly', () => {
    const cases: [number, number][] = [
      [0x3c00, 1],
      [0xc000, -2],
      [0x3555, 0.333251953125],
      [0x7bff, 65504],
      [0x0001, 2 ** -24],
      [0x03ff, 1023 * 2 ** -24],
      [0x0400, 2 ** -14],
      [0x8000, -0],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
    ];
    const got = toF32(
      u16(
        'F16',
        cases.map(([b]) => b),
      ),
      'w',
      'f.safetensors',
    );
    expect(Array.from(got)).toEqual(cases.map(([, v]) => v));
    expect(Number.isNaN(toF32(u16('F16', [0x7e00]), 'w', 'f')[0])).toBe(true);
  });

  it('widens BF16 exactly (the top half of an f32)', () => {
    const got = toF32(u16('BF16', [0x3f80, 0xc040, 0x0001, 0x7f80, 0x8000]), 'w', 'f');
    expect(Array.from(got)).toEqual([1, -3, 2 ** -133, Infinity, -0]);
  });

  it('copies F32 and refuses integer tensors, naming file and tensor', () => {
    const f32: STTensor = { dtype: 'F32', shape: [2], data: new Uint8Array(Float32Array.from([1.5, -7]).buffer) };
    expect(Array.from(toF32(f32, 'w', 'f'))).toEqual([1.5, -7]);
    const i32: STTensor = { dtype: 'I32', shape: [1], data: new Uint8Array(4) };
    expect(() => toF32(i32, 'model.ids', 'x.safetensors')).toThrow(CheckpointError);
    expect(() => toF32(i32, 'model.ids', 'x.safetensors')).toThrow("'x.safetensors': tensor 'model.ids' is I32");
  });
});
