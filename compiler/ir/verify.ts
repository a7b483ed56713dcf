/**
 * The IR checker, run on every lowered graph in tests (and between passes later). It trusts
 * nothing the builder did: types are re-inferred from the op table and compared with what
 * the graph records. Returns the problems found, empty when the graph is well formed.
 */
import type { Graph, Node } from './graph.js';
import { OPS, opDef } from './ops.js';
import { sameShape, sameType, showType, type TensorType } from './tensor.js';

export function verify(g: Graph): string[] {
  const problems: string[] = [];
  const defined = new Set<number>();
  const used = new Set<number>();
  const where = (n: Node) => `node ${n.id} (${n.op} at ${n.scope || '<model>'})`;

  g.values.forEach((v, i) => {
    if (v.id !== i) problems.push(`value at index ${i} has id ${v.id}`);
  });
  const value = (id: number) => g.values[id];

  for (const id of g.inputs) {
    if (value(id)?.source !== 'input') problems.push(`graph input ${id} is not an input value`);
    defined.add(id);
  }
  const names = new Set<string>();
  for (const p of g.params) {
    const v = value(p.value);
    if (names.has(p.name)) problems.push(`parameter name ${p.name} is not unique`);
    names.add(p.name);
    if (v?.source !== 'param') problems.push(`parameter ${p.name} does not point at a parameter value`);
    else if (!sameShape(v.type.shape, p.shape)) problems.push(`parameter ${p.name} shape disagrees with its value`);
    if (defined.has(p.value)) problems.push(`parameter ${p.name} reuses value ${p.value}`);
    defined.add(p.value);
  }

  g.nodes.forEach((n, i) => {
    if (n.id !== i) problems.push(`${where(n)} is at position ${i}`);
    if (!(n.op in OPS)) {
      problems.push(`${where(n)}: unknown op`);
      return;
    }
    const ins: TensorType[] = [];
    for (const id of n.inputs) {
      used.add(id);
      const v = value(id);
      if (!v) problems.push(`${where(n)} reads value ${id}, which does not exist`);
      else if (!defined.has(id)) problems.push(`${where(n)} reads ${v.name} before it is defined`);
      if (v) ins.push(v.type);
    }
    const out = value(n.output);
    if (!out || out.source !== 'node') problems.push(`${where(n)} writes value ${n.output}, which is not an op output`);
    else if (defined.has(n.output)) problems.push(`${where(n)} redefines ${out.name}`);
    defined.add(n.output);
    if (!out || ins.length !== n.inputs.length) return;
    const inferred = opDef(n.op).shape(ins, n.attrs);
    if (typeof inferred === 'string') problems.push(`${where(n)}: ${inferred}`);
    else if (!sameType(inferred, out.type)) {
      problems.push(`${where(n)} records ${showType(out.type)} but its shape rule gives ${showType(inferred)}`);
    }
  });

  for (const id of g.outputs) {
    used.add(id);
    if (!defined.has(id)) problems.push(`graph output ${id} is never defined`);
  }
  for (const v of g.values) {
    if (!defined.has(v.id)) problems.push(`value ${v.name} is never defined`);
    else if (!used.has(v.id)) problems.push(`value ${v.name} (${v.source}) is never used`);
  }
  return problems;
}
