/**
 * One op on concrete tensors. The op table's own shape rule is re-run on the concrete input
 * shapes, so the interpreter accepts exactly what the compiler accepts, and the result is
 * checked against the output type the graph recorded.
 */
import { type OpAttrs, type OpKind, opDef } from '../ops.js';
import { type DimEnv, dimValue, type TensorType } from '../tensor.js';
import { attention } from './attention.js';
import { add, embedding, glu, layernorm, linear, rmsnorm, scale, sinusoidal, softmaxXent, takeFirst, unary } from './basic.js';
import { InterpretError, numelOf, sameDims, showDims, type Tensor } from './common.js';
import { dropout } from './dropout.js';
import { expertLinear, moeAuxLoss, moeCombine, moeGates, moeSelect } from './moe.js';
import { rope } from './rope.js';
import type { DropoutRng } from '../../../runtime/counter-rng.js';

/** `rng`: the training randomness dropout draws from (absent: eval, every dropout off). */
type Impl<K extends OpKind> = (ins: readonly Tensor[], attrs: OpAttrs[K], rng?: DropoutRng) => Tensor;

const IMPL: { readonly [K in OpKind]: Impl<K> } = {
  embedding,
  sinusoidal,
  add,
  layernorm,
  rmsnorm,
  linear,
  gelu: unary('gelu'),
  gelu_tanh: unary('gelu_tanh'),
  relu: unary('relu'),
  silu: unary('silu'),
  tanh: unary('tanh'),
  glu,
  rope,
  attention,
  take_first: takeFirst,
  softmax_xent: softmaxXent,
  moe_select: moeSelect,
  moe_gates: moeGates,
  expert_linear: expertLinear,
  moe_combine: moeCombine,
  moe_aux_loss: moeAuxLoss,
  dropout,
  scale,
};

/** The IR type a concrete tensor has (floats are all f32 here). */
export function typeOfTensor(t: Tensor): TensorType {
  return { dtype: t.data instanceof Int32Array ? 'i32' : 'f32', shape: t.shape };
}

/** A symbolic shape with B, T, S bound; an unbound symbol is a caller error. */
export function concreteShape(type: TensorType, env: DimEnv, what: string): number[] {
  return type.shape.map((d) => {
    const n = dimValue(d, env);
    if (!Number.isInteger(n) || n < 0) {
      throw new InterpretError(`${what} has dim ${d}, which is not bound to a size (got ${n})`);
    }
    return n;
  });
}

/**
 * Forward semantics of `kind` on concrete inputs; `outType` is the graph's type for the result.
 * With `rng` (a training micro-batch), dropout and attention-weight dropout drop elements.
 */
export function interpretOp<K extends OpKind>(
  kind: K,
  inputs: readonly Tensor[],
  attrs: OpAttrs[K],
  outType: TensorType,
  env: DimEnv,
  rng?: DropoutRng,
): Tensor {
  inputs.forEach((t, i) => {
    if (t.data.length !== numelOf(t.shape)) {
      throw new InterpretError(`${kind} input ${i}: ${t.data.length} values for shape ${showDims(t.shape)}`);
    }
  });
  const inferred = opDef(kind).shape(inputs.map(typeOfTensor), attrs);
  if (typeof inferred === 'string') {
    throw new InterpretError(`${kind}: ${inferred} (inputs ${inputs.map((t) => showDims(t.shape)).join(', ')})`);
  }
  const want = concreteShape(outType, env, `${kind} output`);
  if (!sameDims(inferred.shape as number[], want) || (inferred.dtype === 'i32') !== (outType.dtype === 'i32')) {
    const got = `${inferred.dtype}${showDims(inferred.shape as number[])}`;
    throw new InterpretError(`${kind}: inputs give a ${got} result, the graph expects ${outType.dtype}${showDims(want)}`);
  }
  const out = (IMPL[kind] as Impl<K>)(inputs, attrs, rng);
  if (!sameDims(out.shape, want)) {
    throw new Error(`interpreter bug: ${kind} produced ${showDims(out.shape)}, expected ${showDims(want)}`);
  }
  return out;
}
