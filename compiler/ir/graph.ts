/**
 * The typed tensor graph: SSA values (graph inputs, parameters, op outputs), nodes in
 * topological order, and the parameter table. A parameter is one value however many ops read
 * it — that is what "tied" means here (the LM head reads the token-embedding value).
 */
import type { StackRole } from '../semantics/model.js';
import { type OpAttrs, type OpKind, opDef } from './ops.js';
import { type DType, type Shape, type TensorType, showShape } from './tensor.js';

export type Component = 'embeddings' | 'attention' | 'mlp' | 'experts' | 'router' | 'norms' | 'head';

/** Embedding tables left out of the non-embedding parameter count. */
export type EmbeddingRole = 'token' | 'position' | 'segment';

export interface LayerRef {
  readonly stack: StackRole;
  readonly index: number;
}

export interface Param {
  readonly value: number;
  /** HF-ish dotted name, e.g. `layers.3.attn.q.weight`, `encoder.layers.0.mlp.up.bias`. */
  readonly name: string;
  readonly shape: readonly number[];
  readonly component: Component;
  /** A routed expert's weight: only top_k of the experts are active for a token. */
  readonly expert: boolean;
  /** AdamW weight decay applies: matrices and tables yes, vectors (biases, norm scales) no. */
  readonly decay: boolean;
  readonly role: EmbeddingRole | null;
  /** The layer that owns it; null for embeddings, final norms, per-stack tables and the head. */
  readonly layer: LayerRef | null;
}

export interface Value {
  readonly id: number;
  readonly name: string;
  readonly type: TensorType;
  readonly source: 'input' | 'param' | 'node';
}

export interface NodeOf<K extends OpKind> {
  readonly id: number;
  readonly op: K;
  readonly inputs: readonly number[];
  readonly attrs: OpAttrs[K];
  readonly output: number;
  /** Where it came from, e.g. `decoder.layers.2.cross_attn`; for reading dumps and errors. */
  readonly scope: string;
  readonly layer: LayerRef | null;
}

export type Node = { [K in OpKind]: NodeOf<K> }[OpKind];

export interface Graph {
  readonly values: readonly Value[];
  /** Topologically ordered: every input of a node is a graph input, a parameter or an earlier output. */
  readonly nodes: readonly Node[];
  readonly params: readonly Param[];
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
}

/**
 * Lowering broke an invariant (a shape rule rejected an op, a name was reused): a bug in
 * lowering, or a constraint the semantic checks should have caught. Never a user error.
 */
export class IRError extends Error {}

export interface ParamInit {
  readonly name: string;
  readonly shape: readonly number[];
  readonly component: Component;
  readonly expert?: boolean;
  readonly role?: EmbeddingRole;
}

export class GraphBuilder {
  private readonly values: Value[] = [];
  private readonly nodes: Node[] = [];
  private readonly params: Param[] = [];
  private readonly inputs: number[] = [];
  private readonly outputs: number[] = [];
  private readonly names = new Set<string>();
  /** Stamped on every node and parameter created until changed. */
  scope = '';
  layer: LayerRef | null = null;

  type(v: number): TensorType {
    return this.values[v]!.type;
  }

  input(name: string, dtype: DType, shape: Shape): number {
    const id = this.value(name, { dtype, shape }, 'input');
    this.inputs.push(id);
    return id;
  }

  param(p: ParamInit): number {
    if (this.names.has(p.name)) throw new IRError(`parameter ${p.name} is defined twice`);
    this.names.add(p.name);
    const id = this.value(p.name, { dtype: 'f32', shape: p.shape }, 'param');
    this.params.push({
      value: id,
      name: p.name,
      shape: p.shape,
      component: p.component,
      expert: p.expert ?? false,
      // A stacked expert parameter's leading dim counts experts: (E, out) biases are vectors.
      decay: p.shape.length - (p.expert ? 1 : 0) >= 2,
      role: p.role ?? null,
      layer: this.layer,
    });
    return id;
  }

  /** Adds a node; its output type comes from the op table's shape rule. */
  op<K extends OpKind>(op: K, inputs: readonly number[], attrs: OpAttrs[K], name: string = op): number {
    const ins = inputs.map((v) => this.type(v));
    const out = opDef(op).shape(ins, attrs);
    if (typeof out === 'string') {
      const got = ins.map((t) => showShape(t.shape)).join(', ');
      throw new IRError(`${op} at ${this.scope || '<model>'}: ${out} (inputs ${got})`);
    }
    const output = this.value(this.scope ? `${this.scope}.${name}` : name, out, 'node');
    const node = { id: this.nodes.length, op, inputs: [...inputs], attrs, output, scope: this.scope, layer: this.layer };
    this.nodes.push(node as unknown as Node);
    return output;
  }

  output(v: number): void {
    this.outputs.push(v);
  }

  finish(): Graph {
    return { values: this.values, nodes: this.nodes, params: this.params, inputs: this.inputs, outputs: this.outputs };
  }

  private value(name: string, type: TensorType, source: Value['source']): number {
    const id = this.values.length;
    this.values.push({ id, name, type, source });
    return id;
  }
}
