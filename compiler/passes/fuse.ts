/**
 * Fusion: groups IR nodes into the kernels the GPU runs. The rules are the ones llm.c and
 * every fast transformer runtime use, expressed as patterns over the graph:
 *   embedding(tokens) + embedding(positions)  → one `embed` kernel (gather + positional add)
 *   add(x, branch) → norm                      → one `residual_norm` kernel (writes the new
 *                                                residual stream and its normalisation)
 *   linear → activation (sole consumer)        → one matmul with a bias + activation epilogue
 * Everything else maps one node to one kernel. A node the GPU path cannot run yet makes the
 * whole plan fail with the op's name (the build then reports which knob caused it).
 */
import type { Graph, Node } from '../ir/graph.js';
import type { Act, AttentionAttrs } from '../ir/ops.js';

export type NormKind = 'layernorm' | 'rmsnorm';

export type Fused =
  | { readonly kind: 'embed'; readonly out: number; readonly ids: number; readonly table: number; readonly posTable: number | null; readonly scope: string }
  | {
      readonly kind: 'residual_norm';
      readonly x: number;
      readonly branch: number | null;
      /** The residual sum, when a branch is added (null: nothing reads it). */
      readonly sum: number | null;
      readonly out: number;
      readonly norm: NormKind;
      readonly eps: number;
      readonly weight: number | null;
      readonly bias: number | null;
      readonly scope: string;
    }
  | {
      readonly kind: 'linear';
      readonly x: number;
      readonly weight: number;
      readonly bias: number | null;
      readonly activation: Act | null;
      /** Gated epilogue (SwiGLU/GeGLU/ReGLU): out = fn(gate) · (x·Wᵀ + b). */
      readonly gate: { readonly value: number; readonly fn: Act } | null;
      readonly out: number;
      readonly scope: string;
    }
  | { readonly kind: 'glu'; readonly gate: number; readonly up: number; readonly fn: Act; readonly out: number; readonly scope: string }
  | { readonly kind: 'activation'; readonly x: number; readonly fn: Act | 'tanh'; readonly out: number; readonly scope: string }
  | { readonly kind: 'add'; readonly a: number; readonly b: number; readonly out: number; readonly scope: string }
  | { readonly kind: 'rope'; readonly x: number; readonly out: number; readonly heads: number; readonly head_dim: number; readonly rotary_dims: number; readonly base: number; readonly scope: string }
  | { readonly kind: 'attention'; readonly q: number; readonly k: number; readonly v: number; readonly out: number; readonly attrs: AttentionAttrs; readonly scope: string }
  | { readonly kind: 'softmax_xent'; readonly logits: number; readonly targets: number; readonly out: number; readonly scope: string };

/** Activations the matmul epilogue can apply (others run as their own kernel). */
const EPILOGUE: ReadonlySet<string> = new Set(['gelu', 'gelu_tanh', 'relu']);

export class UnsupportedOpError extends Error {
  constructor(
    readonly op: string,
    readonly scope: string,
    detail: string,
  ) {
    super(detail);
  }
}

export function consumers(g: Graph): Map<number, Node[]> {
  const out = new Map<number, Node[]>();
  for (const n of g.nodes) for (const v of n.inputs) out.set(v, [...(out.get(v) ?? []), n]);
  return out;
}

export interface FuseOptions {
  /**
   * Fold `glu(gate, up)` into the up projection's epilogue. Inference only: the training
   * backward needs the gate and up projections apart.
   */
  readonly gatedEpilogue?: boolean;
}

export function fuse(g: Graph, opts: FuseOptions = {}): Fused[] {
  const uses = consumers(g);
  const producer = new Map<number, Node>(g.nodes.map((n) => [n.output, n]));
  const done = new Set<Node>();
  const out: Fused[] = [];
  const isOutput = (v: number) => g.outputs.includes(v);
  const soleUse = (v: number) => (uses.get(v)?.length ?? 0) === 1 && !isOutput(v);

  for (const n of g.nodes) {
    if (done.has(n)) continue;
    switch (n.op) {
      case 'embedding': {
        const posAdd = uses.get(n.output)?.find((u) => u.op === 'add');
        const other = posAdd && posAdd.inputs.find((v) => v !== n.output);
        const posNode = other !== undefined ? producer.get(other) : undefined;
        if (posAdd && posNode?.op === 'embedding' && posNode !== n && g.values[posNode.inputs[1]!]!.name.endsWith('positions')) {
          done.add(posNode);
          done.add(posAdd);
          out.push({ kind: 'embed', out: posAdd.output, ids: n.inputs[1]!, table: n.inputs[0]!, posTable: posNode.inputs[0]!, scope: n.scope });
        } else if (g.values[n.inputs[1]!]!.name.endsWith('positions')) {
          throw new UnsupportedOpError('embedding', n.scope, 'a position embedding that is not added to the token embedding');
        } else {
          out.push({ kind: 'embed', out: n.output, ids: n.inputs[1]!, table: n.inputs[0]!, posTable: null, scope: n.scope });
        }
        break;
      }
      case 'add': {
        const norm = uses.get(n.output)?.find((u) => u.op === 'layernorm' || u.op === 'rmsnorm');
        if (norm && !done.has(norm)) {
          done.add(norm);
          const sumUsed = (uses.get(n.output)?.length ?? 0) > 1 || isOutput(n.output);
          out.push(normFused(norm, n.inputs[0]!, n.inputs[1]!, sumUsed ? n.output : null));
        } else out.push({ kind: 'add', a: n.inputs[0]!, b: n.inputs[1]!, out: n.output, scope: n.scope });
        break;
      }
      case 'layernorm':
      case 'rmsnorm':
        out.push(normFused(n, n.inputs[0]!, null, null));
        break;
      case 'linear': {
        const act = uses.get(n.output)?.[0];
        const fusable = soleUse(n.output) && act && EPILOGUE.has(act.op) && !n.attrs.activation;
        if (fusable) done.add(act);
        out.push({
          kind: 'linear',
          x: n.inputs[0]!,
          weight: n.inputs[1]!,
          bias: n.attrs.bias ? n.inputs[2]! : null,
          activation: fusable ? (act.op as Act) : n.attrs.activation,
          gate: null,
          out: fusable ? act.output : n.output,
          scope: n.scope,
        });
        break;
      }
      case 'gelu':
      case 'gelu_tanh':
      case 'relu':
      case 'silu':
      case 'tanh':
        out.push({ kind: 'activation', x: n.inputs[0]!, fn: n.op, out: n.output, scope: n.scope });
        break;
      case 'glu': {
        const upAt = out.findIndex((f) => f.kind === 'linear' && f.out === n.inputs[1]);
        const up = out[upAt];
        if (opts.gatedEpilogue && up?.kind === 'linear' && !up.activation && soleUse(n.inputs[1]!)) {
          out[upAt] = { ...up, gate: { value: n.inputs[0]!, fn: n.attrs.fn }, out: n.output };
        } else out.push({ kind: 'glu', gate: n.inputs[0]!, up: n.inputs[1]!, fn: n.attrs.fn, out: n.output, scope: n.scope });
        break;
      }
      case 'rope':
        out.push({ kind: 'rope', x: n.inputs[0]!, out: n.output, ...n.attrs, scope: n.scope });
        break;
      case 'attention':
        if (n.attrs.cross) throw new UnsupportedOpError('attention', n.scope, 'cross-attention (encoder–decoder models)');
        if (n.attrs.positions === 'relative') throw new UnsupportedOpError('attention', n.scope, 'T5 relative position bias');
        out.push({ kind: 'attention', q: n.inputs[0]!, k: n.inputs[1]!, v: n.inputs[2]!, out: n.output, attrs: n.attrs, scope: n.scope });
        break;
      case 'softmax_xent':
        out.push({ kind: 'softmax_xent', logits: n.inputs[0]!, targets: n.inputs[1]!, out: n.output, scope: n.scope });
        break;
      default:
        throw new UnsupportedOpError(n.op, n.scope, `the ${n.op} op`);
    }
    done.add(n);
  }
  return out;
}

function normFused(norm: Node, x: number, branch: number | null, sum: number | null): Fused {
  if (norm.op !== 'layernorm' && norm.op !== 'rmsnorm') throw new Error('internal: not a norm');
  const a = norm.attrs;
  let i = 1;
  const weight = a.scale ? norm.inputs[i++]! : null;
  const bias = a.bias ? norm.inputs[i++]! : null;
  return { kind: 'residual_norm', x, branch, sum, out: norm.output, norm: norm.op, eps: a.eps, weight, bias, scope: norm.scope };
}
