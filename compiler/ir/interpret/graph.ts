/**
 * Runs a whole graph on the CPU: binds B, T (and S for an encoder–decoder), checks every
 * supplied array against the graph's types, then evaluates the nodes in their topological
 * order. Every value is kept, so any intermediate can be compared with a kernel's.
 */
import type { DropoutRng } from '../../../runtime/counter-rng.js';
import type { Graph, Node } from '../graph.js';
import type { DimEnv } from '../tensor.js';
import { InterpretError, showDims, type Tensor } from './common.js';
import { concreteShape, interpretOp } from './op.js';

export interface GraphData {
  /** Parameter arrays by name (`layers.0.attn.q.weight`), row-major in the parameter's shape. */
  readonly params: ReadonlyMap<string, Float32Array>;
  /** Graph inputs by name (`tokens`, `positions`, `targets`, `src_tokens` …): i32 ids, f32 values. */
  readonly inputs: ReadonlyMap<string, Int32Array | Float32Array>;
  readonly B: number;
  readonly T: number;
  /** Encoder (source) length; needed only by encoder–decoder graphs. */
  readonly S?: number;
  /**
   * Training randomness (the run's seed and the micro-batch counter): dropout and attention-
   * weight dropout then drop what the GPU's training step drops. Absent: eval, no dropout.
   */
  readonly rng?: DropoutRng;
}

/** Every value of the graph by value id: inputs, parameters and each node's output. */
export function interpretGraph(graph: Graph, data: GraphData): Map<number, Tensor> {
  // NaN for a missing S makes concreteShape name the symbol if the graph needs it.
  const env: DimEnv = { B: data.B, T: data.T, S: data.S ?? NaN };
  const values = new Map<number, Tensor>();

  const inputNames = new Set(graph.inputs.map((id) => graph.values[id]!.name));
  for (const name of data.inputs.keys()) {
    if (!inputNames.has(name)) throw new InterpretError(`unknown input '${name}'; the graph's inputs are ${[...inputNames].join(', ')}`);
  }
  for (const id of graph.inputs) {
    const v = graph.values[id]!;
    const arr = data.inputs.get(v.name);
    if (!arr) throw new InterpretError(`missing input '${v.name}' ${v.type.dtype}(${v.type.shape.join(', ')})`);
    const shape = concreteShape(v.type, env, `input '${v.name}'`);
    if ((v.type.dtype === 'i32') !== arr instanceof Int32Array) {
      throw new InterpretError(`input '${v.name}' must be ${v.type.dtype === 'i32' ? 'an Int32Array' : 'a Float32Array'}`);
    }
    values.set(id, checked(arr, shape, `input '${v.name}'`));
  }

  const paramNames = new Set(graph.params.map((p) => p.name));
  for (const name of data.params.keys()) {
    if (!paramNames.has(name)) throw new InterpretError(`unknown parameter '${name}' (not in this graph)`);
  }
  for (const p of graph.params) {
    const arr = data.params.get(p.name);
    if (!arr) throw new InterpretError(`missing parameter '${p.name}' ${showDims(p.shape)}`);
    values.set(p.value, checked(arr, p.shape, `parameter '${p.name}'`));
  }

  for (const n of graph.nodes) {
    const ins = n.inputs.map((id) => values.get(id)!);
    try {
      values.set(n.output, interpretOp(n.op, ins, n.attrs, graph.values[n.output]!.type, env, data.rng));
    } catch (e) {
      if (!(e instanceof InterpretError)) throw e;
      throw new InterpretError(`${where(n)}: ${e.message}`);
    }
  }
  return values;
}

function checked(data: Int32Array | Float32Array, shape: readonly number[], what: string): Tensor {
  const n = shape.reduce((a, d) => a * d, 1);
  if (data.length !== n) throw new InterpretError(`${what} has ${data.length} values; ${showDims(shape)} needs ${n}`);
  return { shape: [...shape], data };
}

const where = (n: Node) => `node ${n.id} (${n.op} at ${n.scope || '<model>'})`;
