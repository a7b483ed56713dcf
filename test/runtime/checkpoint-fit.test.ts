/** fitWeights: the one check every weight upload goes through (sample, eval, --init). No GPU. */
import { describe, expect, it } from 'vitest';
import { fitWeights } from '../../runtime/checkpoint/fit.js';
import { CheckpointError, f32Tensor, type STTensor } from '../../runtime/checkpoint/safetensors.js';

const params = [
  { name: 'embed.weight', shape: [4, 2] },
  { name: 'head.bias', shape: [4] },
];
const file = (tensors: [string, STTensor][]) => ({ tensors: new Map(tensors), metadata: {} });
const t = (shape: number[], fill = 1) => f32Tensor(shape, new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill));

describe('fitWeights', () => {
  it('returns every parameter as F32 values when the file fits exactly', () => {
    const w = fitWeights(
      file([
        ['embed.weight', t([4, 2], 0.5)],
        ['head.bias', t([4], -1)],
      ]),
      params,
      'm',
      'checkpoint x',
    );
    expect([...w.keys()]).toEqual(['embed.weight', 'head.bias']);
    expect(Array.from(w.get('embed.weight')!)).toEqual(Array(8).fill(0.5));
    expect(Array.from(w.get('head.bias')!)).toEqual([-1, -1, -1, -1]);
  });

  it('lists every mismatch by name: missing, unexpected, wrong shape, wrong dtype', () => {
    const f16: STTensor = { dtype: 'F16', shape: [4], data: new Uint8Array(8) };
    const bad = file([
      ['embed.weight', t([2, 4])],
      ['head.bias', f16],
      ['extra', t([1])],
    ]);
    expect(() => fitWeights(bad, params, 'm', "checkpoint 'c.safetensors'")).toThrow(CheckpointError);
    expect(() => fitWeights(bad, params, 'm', "checkpoint 'c.safetensors'")).toThrow(
      "checkpoint 'c.safetensors' does not fit model 'm':\n" +
        "  tensor 'embed.weight' has shape [2, 4], the spec needs [4, 2]\n" +
        "  tensor 'head.bias' is F16, expected F32\n" +
        "  unexpected tensor 'extra' [1] (the spec has no such parameter)",
    );
    expect(() => fitWeights(file([['embed.weight', t([4, 2])]]), params, 'm', 'x')).toThrow("missing tensor 'head.bias' [4]");
  });
});
