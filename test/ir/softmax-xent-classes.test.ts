/**
 * softmax_xent with `classes` (a vocabulary padded to vocab_multiple) on the CPU interpreter:
 * the padding columns are no classes, whatever they hold (1e30, Inf, NaN): the loss is the
 * float64 cross-entropy over the first `classes` columns, their gradient is exactly 0, and a
 * target among them is refused; the op table refuses classes outside [1, V].
 */
import { describe, expect, it } from 'vitest';
import { fromArray, interpretOp, InterpretError } from '../../compiler/ir/interpret.js';
import { opDef } from '../../compiler/ir/ops.js';
import { applyVjp } from '../../compiler/ir/vjp.js';

const ENV = { B: 1, T: 1, S: 1 };
const K = 3;
const V = 5;
// Two rows of 5 logits; columns 3 and 4 are padding, poisoned on purpose.
const Z = [0.5, -1, 2, 1e30, NaN, 1, 0.25, -0.5, Infinity, 1e30];
const Y = [2, 0];

function reference(): { loss: number; d: number[] } {
  const d = new Array<number>(Z.length).fill(0);
  let loss = 0;
  for (let r = 0; r < 2; r++) {
    const row = Z.slice(r * V, r * V + K);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, x) => s + Math.exp(x - m), 0));
    loss += (lse - row[Y[r]!]!) / 2;
    row.forEach((x, c) => (d[r * V + c] = (Math.exp(x - lse) - (c === Y[r] ? 1 : 0)) / 2));
  }
  return { loss, d };
}

describe('softmax_xent over the first `classes` columns', () => {
  const z = fromArray([2, V], Z);
  const y = fromArray([2], Y, 'i32');

  it('loss and gradient ignore the padding columns; their gradient is exactly 0', () => {
    const out = interpretOp('softmax_xent', [z, y], { classes: K }, { dtype: 'f32', shape: [] }, ENV);
    const want = reference();
    expect(Math.abs(out.data[0]! - want.loss)).toBeLessThan(1e-6);
    const [dz] = applyVjp('softmax_xent', { classes: K }, [z, y], out, fromArray([], [1]));
    for (let i = 0; i < Z.length; i++) expect(Math.abs(dz!.data[i]! - want.d[i]!), `d[${i}]`).toBeLessThan(1e-7);
    for (const i of [3, 4, 8, 9]) expect(dz!.data[i]).toBe(0);
  });

  it('without classes the padding would poison the loss (what the attribute prevents)', () => {
    const out = interpretOp('softmax_xent', [z, y], {}, { dtype: 'f32', shape: [] }, ENV);
    expect(Number.isFinite(out.data[0]!)).toBe(false);
  });

  it('a target among the padding columns is refused like one past V', () => {
    const bad = fromArray([2], [3, 0], 'i32');
    expect(() => interpretOp('softmax_xent', [z, bad], { classes: K }, { dtype: 'f32', shape: [] }, ENV)).toThrow(InterpretError);
    expect(() => interpretOp('softmax_xent', [z, bad], { classes: K }, { dtype: 'f32', shape: [] }, ENV)).toThrow(
      /target 3 at flat index 0 is outside the vocabulary of 3 \(logits padded to 5\)/,
    );
  });

  it('the op table checks classes against the logits width', () => {
    const types = [
      { dtype: 'f32' as const, shape: [2, V] },
      { dtype: 'i32' as const, shape: [2] },
    ];
    expect(opDef('softmax_xent').shape(types, { classes: K })).toEqual({ dtype: 'f32', shape: [] });
    expect(opDef('softmax_xent').shape(types, { classes: V + 1 })).toMatch(/classes 6 must be an integer in \[1, V = 5\]/);
    expect(opDef('softmax_xent').shape(types, { classes: 0 })).toMatch(/classes 0/);
  });
});
