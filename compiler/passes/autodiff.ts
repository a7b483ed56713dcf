/**
 * Reverse-mode autodiff over the IR: the VJP table (compiler/ir/vjp.ts) plus a reverse
 * topological walk.
 *
 *   backward(graph, { loss })   the plan: which nodes run their VJP, in which order, and for
 *                               each input whether its cotangent is written (first
 *                               contribution) or added to (a value read more than once: the
 *                               residual stream, a tied embedding table read by the token
 *                               lookup and the LM head, whose gradient is the sum of both)
 *   gradients(graph, data)      the CPU executor: interpretGraph forward, then the plan with
 *                               the CPU reference VJPs; the loss and every parameter's gradient
 *
 * Only values that are float, depend on a parameter and reach the loss carry a cotangent;
 * ids, positions and targets never do. Contributions to one value are summed in the walk's
 * fixed order (reverse node order; a node's inputs left to right), so results are bitwise
 * reproducible. With `data.rng` (a training micro-batch) the forward drops what dropout drops
 * and the backward redraws the same masks; without it dropout is the identity.
 */
import type { Graph, Node } from '../ir/graph.js';
import { type GraphData, interpretGraph, type Tensor } from '../ir/interpret.js';
import { applyVjp, vjpRule } from '../ir/vjp.js';

export interface BackwardStep {
  /** The forward node whose vector–Jacobian product runs. */
  readonly node: Node;
  /**
   * Per input of the node: 'write' when this is the first contribution to that value's
   * cotangent in walk order, 'add' when it sums into an earlier one, null when the input
   * takes no cotangent (an i32 input, or one that does not depend on a parameter).
   */
  readonly into: readonly ('write' | 'add' | null)[];
}

export interface BackwardPlan {
  /** The scalar value differentiated; its cotangent is seeded with 1. */
  readonly loss: number;
  /** Nodes in reverse topological order, only those between a parameter and the loss. */
  readonly order: readonly BackwardStep[];
  /** Parameter name → its value id, whose accumulated cotangent is the gradient; every parameter the loss depends on. */
  readonly grads: ReadonlyMap<string, number>;
  /** Parameters the loss does not depend on (a pooler under an LM loss): their gradient is zero. */
  readonly unused: readonly string[];
}

export interface Unsupported {
  readonly node: number;
  readonly op: Node['op'];
  readonly scope: string;
  readonly reason: string;
}

/** The loss depends on an op without a VJP; `unsupported` lists every such node. */
export class AutodiffError extends Error {
  constructor(
    message: string,
    readonly unsupported: readonly Unsupported[],
  ) {
    super(message);
  }
}

/** Which values carry a cotangent: float, downstream of a parameter, upstream of the loss. */
function activeValues(graph: Graph, loss: number): boolean[] {
  const dep = graph.values.map((v) => v.source === 'param');
  for (const n of graph.nodes) {
    dep[n.output] = graph.values[n.output]!.type.dtype !== 'i32' && n.inputs.some((i) => dep[i]);
  }
  const reaches = graph.values.map((v) => v.id === loss);
  for (let k = graph.nodes.length - 1; k >= 0; k--) {
    const n = graph.nodes[k]!;
    if (reaches[n.output]) for (const i of n.inputs) reaches[i] = true;
  }
  return graph.values.map((_, v) => dep[v]! && reaches[v]!);
}

function checkLoss(graph: Graph, loss: number): void {
  const v = graph.values[loss];
  if (!v) throw new Error(`autodiff: loss value ${loss} is not in the graph`);
  if (v.type.shape.length !== 0 || v.type.dtype === 'i32') {
    throw new Error(`autodiff: the loss must be a float scalar; '${v.name}' is ${v.type.dtype}(${v.type.shape.join(', ')})`);
  }
}

/** Every node on the loss's path that has no VJP (for these attributes), in graph order. */
export function unsupportedOps(graph: Graph, loss: number): Unsupported[] {
  checkLoss(graph, loss);
  const active = activeValues(graph, loss);
  const out: Unsupported[] = [];
  for (const n of graph.nodes) {
    if (!active[n.output]) continue;
    const rule = vjpRule(n.op, n.attrs as never);
    if (typeof rule === 'string') out.push({ node: n.id, op: n.op, scope: n.scope || '<model>', reason: rule });
  }
  return out;
}

function describeUnsupported(list: readonly Unsupported[]): string {
  const groups = new Map<string, Unsupported[]>();
  for (const u of list) {
    const key = `${u.op}\u0000${u.reason}`;
    groups.set(key, [...(groups.get(key) ?? []), u]);
  }
  const parts = [...groups.values()].map((us) => {
    const scopes = [...new Set(us.map((u) => u.scope))];
    const shown = scopes.slice(0, 3).join(', ') + (scopes.length > 3 ? ` and ${scopes.length - 3} more` : '');
    return `op '${us[0]!.op}' (at ${shown}): ${us[0]!.reason}`;
  });
  return `cannot differentiate the loss: ${list.length} node${list.length === 1 ? '' : 's'} on its path have no vector–Jacobian product — ${parts.join('; ')}`;
}

export function backward(graph: Graph, opts: { readonly loss: number }): BackwardPlan {
  const { loss } = opts;
  const bad = unsupportedOps(graph, loss);
  if (bad.length > 0) throw new AutodiffError(describeUnsupported(bad), bad);
  const active = activeValues(graph, loss);
  const written = new Set<number>();
  const order: BackwardStep[] = [];
  for (let k = graph.nodes.length - 1; k >= 0; k--) {
    const node = graph.nodes[k]!;
    if (!active[node.output]) continue;
    const into = node.inputs.map((v) => {
      if (!active[v]) return null;
      const first = !written.has(v);
      written.add(v);
      return first ? ('write' as const) : ('add' as const);
    });
    order.push({ node, into });
  }
  const grads = new Map<string, number>();
  const unused: string[] = [];
  for (const p of graph.params) {
    if (active[p.value]) grads.set(p.name, p.value);
    else unused.push(p.name);
  }
  return { loss, order, grads, unused };
}

/** The graph's loss: its one scalar float output (the softmax cross-entropy of an LM head). */
export function lossOf(graph: Graph): number {
  const scalars = graph.outputs.filter((v) => graph.values[v]!.type.shape.length === 0 && graph.values[v]!.type.dtype !== 'i32');
  if (scalars.length !== 1) {
    throw new Error(`autodiff: the graph has ${scalars.length} scalar outputs; pass the loss value explicitly`);
  }
  return scalars[0]!;
}

export interface Gradients {
  readonly loss: number;
  /** Every parameter's gradient by name (zeros for a parameter the loss does not read), row-major in its shape. */
  readonly grads: Map<string, Float32Array>;
}

/** Forward on the CPU interpreter, then the backward plan with the reference VJPs. */
export function gradients(graph: Graph, data: GraphData, opts: { readonly loss?: number } = {}): Gradients {
  const loss = opts.loss ?? lossOf(graph);
  const plan = backward(graph, { loss });
  const values = interpretGraph(graph, data);
  const cot = new Map<number, Float32Array>([[loss, Float32Array.of(1)]]);
  for (const { node, into } of plan.order) {
    const output = values.get(node.output)!;
    // A node whose result only reaches the loss through an i32 value receives no cotangent.
    const dout: Tensor = { shape: output.shape, data: cot.get(node.output) ?? new Float32Array(output.data.length) };
    const ins = node.inputs.map((v) => values.get(v)!);
    const d = applyVjp(node.op, node.attrs as never, ins, output, dout, data.rng);
    into.forEach((mode, i) => {
      if (!mode) return;
      const g = d[i];
      if (!g || g.data.length !== ins[i]!.data.length) {
        throw new Error(`autodiff: the ${node.op} VJP gave no cotangent of ${ins[i]!.data.length} values for input ${i} (node ${node.id})`);
      }
      const v = node.inputs[i]!;
      if (mode === 'write') cot.set(v, Float32Array.from(g.data));
      else {
        const acc = cot.get(v)!;
        for (let j = 0; j < acc.length; j++) acc[j] += g.data[j]!;
      }
    });
    if (node.output !== loss) cot.delete(node.output); // every reader has contributed: free it
  }
  const grads = new Map<string, Float32Array>();
  for (const p of graph.params) grads.set(p.name, cot.get(p.value) ?? new Float32Array(p.shape.reduce((a, b) => a * b, 1)));
  return { loss: values.get(loss)!.data[0]!, grads };
}
