/**
 * Fusion: groups IR nodes into the kernels the GPU runs. The rules are the ones llm.c and
 * every fast transformer runtime use, expressed as patterns over the graph:
 *   embedding(tokens) + embedding(positions)  → one `embed` kernel (gather + positional add;
 *   embedding(tokens) + sinusoidal(positions)    the sinusoidal rows computed in the kernel;
 *     [+ embedding(segments)]                    BERT's segment rows read in the same kernel)
 *   add(x, branch) → norm                      → one `residual_norm` kernel (writes the new
 *                                                residual stream and its normalisation)
 *   linear → activation (sole consumer)        → one matmul with a bias + activation epilogue
 *   moe_select … moe_combine (+ moe_aux_loss)   → one `moe` group: routing, sort, grouped
 *                                                expert matmuls, combine (groups/moe.ts)
 * and, for inference plans only (the training backward needs them apart):
 *   linear → glu ← linear (same x)             → the up projection's group computes the gate too
 *   linear q/k/v (same x) [→ rope] → attention → folded into the attention group, which a
 *                                                few-row cached plan runs as one kernel writing
 *                                                the KV cache (groups/attention.ts)
 * Everything else maps one node to one kernel. A node the GPU path cannot run yet makes the
 * whole plan fail with the op's name (the build then reports which knob caused it).
 */
import type { Graph, Node } from '../ir/graph.js';
import { ACTIVATION_NAMES } from '../ir/activations.js';
import type { Act } from '../ir/ops.js';
import type { AttentionGroup, EmbedGroup, Group, LinearGroup, RopeGroup } from './groups/index.js';
import { matchMoe } from './groups/moe.js';

/** The matmul epilogue applies any activation of the table but tanh (the BERT pooler's, alone). */
const EPILOGUE: ReadonlySet<string> = new Set(ACTIVATION_NAMES.filter((a) => a !== 'tanh'));

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
  /**
   * Fold a GLU's gate projection into its up projection, and an attention layer's Q/K/V
   * projections (and their RoPE) into its attention group. Inference only, like the gated
   * epilogue; default: on exactly when gatedEpilogue is (the inference plans ask for that).
   */
  readonly projections?: boolean;
}

export function fuse(g: Graph, opts: FuseOptions = {}): Group[] {
  const projections = opts.projections ?? opts.gatedEpilogue ?? false;
  const uses = consumers(g);
  const producer = new Map<number, Node>(g.nodes.map((n) => [n.output, n]));
  const done = new Set<Node>();
  const out: Group[] = [];
  const isOutput = (v: number) => g.outputs.includes(v);
  const soleUse = (v: number) => (uses.get(v)?.length ?? 0) === 1 && !isOutput(v);
  // A learned position table is the parameter the lowering marks with the 'position' role.
  const positionTables = new Set(g.params.filter((p) => p.role === 'position').map((p) => p.value));
  const isPositionLookup = (n: Node) => n.op === 'embedding' && positionTables.has(n.inputs[0]!);
  const segmentTables = new Set(g.params.filter((p) => p.role === 'segment').map((p) => p.value));
  const isSegmentLookup = (n: Node) => n.op === 'embedding' && segmentTables.has(n.inputs[0]!);

  for (const n of g.nodes) {
    if (done.has(n)) continue;
    switch (n.op) {
      case 'embedding': {
        const posAdd = uses.get(n.output)?.find((u) => u.op === 'add');
        const other = posAdd && posAdd.inputs.find((v) => v !== n.output);
        const posNode = other !== undefined ? producer.get(other) : undefined;
        if (isPositionLookup(n))
          throw new UnsupportedOpError('embedding', n.scope, 'a position embedding that is not added to the token embedding');
        if (isSegmentLookup(n))
          throw new UnsupportedOpError('embedding', n.scope, 'a segment embedding that is not added to the token embedding');
        // The sinusoidal encoding is computed in the kernel from offset + t, as a learned row is read.
        const sinusoidal = posNode?.op === 'sinusoidal' && soleUse(posNode.output);
        const positioned = posAdd && posNode && posNode !== n && (isPositionLookup(posNode) || sinusoidal);
        if (positioned) {
          done.add(posNode);
          done.add(posAdd);
        }
        let sum = positioned ? posAdd.output : n.output;
        // BERT's segment (token-type) lookup is added to that sum (lower.ts): one more row read in the same kernel.
        const segAdd = soleUse(sum) ? uses.get(sum)!.find((u) => u.op === 'add') : undefined;
        const segValue = segAdd?.inputs.find((v) => v !== sum);
        const segNode = segValue !== undefined ? producer.get(segValue) : undefined;
        let segments: EmbedGroup['segments'] = null;
        if (segAdd && segNode && isSegmentLookup(segNode) && soleUse(segNode.output)) {
          done.add(segNode);
          done.add(segAdd);
          segments = { table: segNode.inputs[0]!, ids: segNode.inputs[1]! };
          sum = segAdd.output;
        }
        out.push({
          kind: 'embed',
          out: sum,
          ids: n.inputs[1]!,
          table: n.inputs[0]!,
          posTable: positioned && !sinusoidal ? posNode.inputs[0]! : null,
          sinusoidal: Boolean(positioned && sinusoidal),
          segments,
          scope: n.scope,
        });
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
          // The gate projection of the same x, read by nothing else: the up group computes it.
          const gateAt = out.findIndex((f) => f.kind === 'linear' && f.out === n.inputs[0]);
          const gl = out[gateAt];
          const proj = projections && gl?.kind === 'linear' && plainLinear(gl) && gl.x === up.x && soleUse(n.inputs[0]!) ? gl : null;
          out[upAt] = { ...up, gate: { value: n.inputs[0]!, fn: n.attrs.fn, ...(proj ? { proj } : {}) }, out: n.output };
          if (proj) out.splice(gateAt, 1);
        } else out.push({ kind: 'glu', gate: n.inputs[0]!, up: n.inputs[1]!, fn: n.attrs.fn, out: n.output, scope: n.scope });
        break;
      }
      case 'take_first':
        out.push({ kind: 'take_first', x: n.inputs[0]!, out: n.output, scope: n.scope });
        break;
      case 'rope':
        out.push({ kind: 'rope', x: n.inputs[0]!, out: n.output, ...n.attrs, scope: n.scope });
        break;
      case 'attention':
        // Cross-attention and the T5 relative bias (its table the 4th input) run in the attention group.
        out.push({
          kind: 'attention',
          q: n.inputs[0]!,
          k: n.inputs[1]!,
          v: n.inputs[2]!,
          table: n.attrs.positions === 'relative' ? n.inputs[3]! : null,
          out: n.output,
          attrs: n.attrs,
          scope: n.scope,
        });
        break;
      case 'softmax_xent':
        out.push({
          kind: 'softmax_xent',
          logits: n.inputs[0]!,
          targets: n.inputs[1]!,
          classes: n.attrs.classes ?? null,
          out: n.output,
          scope: n.scope,
        });
        break;
      case 'dropout':
        // Its own kernel in training; an alias of its input in every other plan (groups/dropout.ts).
        out.push({ kind: 'dropout', x: n.inputs[0]!, out: n.output, p: n.attrs.p, stream: n.attrs.stream, scope: n.scope });
        break;
      case 'scale':
        // logit_scale on the LM head's input: one small kernel, forward and backward (groups/scale.ts).
        out.push({ kind: 'scale', x: n.inputs[0]!, out: n.output, factor: n.attrs.factor, scope: n.scope });
        break;
      case 'moe_select': {
        // One layer's routing, expert projections, activation, combine and aux loss (groups/moe.ts).
        const m = matchMoe(n, uses, g);
        if (typeof m === 'string') throw new UnsupportedOpError('moe_select', n.scope, `this mixture-of-experts layer (${m})`);
        for (const node of m.nodes) done.add(node);
        out.push(m.group);
        break;
      }
      default:
        throw new UnsupportedOpError(n.op, n.scope, `the ${n.op} op`);
    }
    done.add(n);
  }
  return projections ? foldProjections(out, soleUse) : out;
}

const plainLinear = (l: LinearGroup): boolean => !l.activation && !l.gate;

/**
 * Folds each self-attention layer's Q, K and V projections (linears of one x, each optionally
 * through a rope group, each read only by the attention) into its attention group.
 */
function foldProjections(groups: Group[], soleUse: (v: number) => boolean): Group[] {
  const byOut = new Map<number, Group>();
  for (const gr of groups) if ('out' in gr) byOut.set(gr.out, gr);
  const folded = new Set<Group>();
  const result = groups.map((gr) => {
    if (gr.kind !== 'attention' || gr.attrs.cross) return gr;
    const source = (v: number): { l: LinearGroup; r: RopeGroup | null } | null => {
      if (!soleUse(v)) return null;
      let at = byOut.get(v);
      let r: RopeGroup | null = null;
      if (at?.kind === 'rope') {
        r = at;
        if (!soleUse(at.x)) return null;
        at = byOut.get(at.x);
      }
      return at?.kind === 'linear' && plainLinear(at) ? { l: at, r } : null;
    };
    const [q, k, v] = [source(gr.q), source(gr.k), source(gr.v)];
    if (!q || !k || !v || v.r || q.l.x !== k.l.x || q.l.x !== v.l.x) return gr;
    if (new Set([q.l, k.l, v.l]).size !== 3) return gr;
    for (const s of [q, k, v]) {
      folded.add(s.l);
      if (s.r) folded.add(s.r);
    }
    const fusedGroup: AttentionGroup = { ...gr, proj: { x: q.l.x, q: q.l, k: k.l, v: v.l, ropeQ: q.r, ropeK: k.r } };
    return fusedGroup;
  });
  return result.filter((gr) => !folded.has(gr));
}

function normFused(norm: Node, x: number, branch: number | null, sum: number | null): Group {
  if (norm.op !== 'layernorm' && norm.op !== 'rmsnorm') throw new Error('internal: not a norm');
  const a = norm.attrs;
  let i = 1;
  const weight = a.scale ? norm.inputs[i++]! : null;
  const bias = a.bias ? norm.inputs[i++]! : null;
  return { kind: 'residual_norm', x, branch, sum, out: norm.output, norm: norm.op, eps: a.eps, weight, bias, scope: norm.scope };
}
