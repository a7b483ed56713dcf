/**
 * The bookkeeping every plan needs: named buffers (deduplicated), kernels (shared when their
 * code is identical), and the ordered steps. Both the inference plans (plan.ts) and the
 * training plan (train-plan.ts) are written with it.
 */
import type { WgslKernel } from '../codegen/wgsl/kernel-types.js';
import type { Graph } from '../ir/graph.js';
import type { BindingRange, PlanBuffer, PlanKernel, PlanStep } from '../../runtime/plan-types.js';

export class PlanBuilder {
  readonly buffers = new Map<string, PlanBuffer>();
  readonly kernels: PlanKernel[] = [];
  readonly steps: PlanStep[] = [];
  private readonly kernelIndex = new Map<string, number>();
  private readonly valueName = new Map<number, string>();
  readonly step: string;

  constructor(
    readonly graph: Graph,
    readonly B: number,
    readonly T: number,
    /** The encoder's (source) length of an encoder–decoder; T otherwise. */
    readonly S: number = T,
  ) {
    for (const p of graph.params) {
      this.valueName.set(p.value, this.add({ name: p.name, kind: 'param', dtype: 'f32', shape: p.shape, bytes: 4 * numel(p.shape) }));
    }
    this.step = this.add({ name: 'step', kind: 'uniform', dtype: 'u32', shape: [4], bytes: 16 });
  }

  add(b: PlanBuffer): string {
    if (!this.buffers.has(b.name)) this.buffers.set(b.name, b);
    return b.name;
  }

  /** A scratch f32 buffer of the given shape. */
  scratch(name: string, shape: readonly number[], kind: PlanBuffer['kind'] = 'activation'): string {
    return this.add({ name, kind, dtype: 'f32', shape, bytes: 4 * numel(shape) });
  }

  /** A scratch u32 buffer of n entries (indices, counts, links). */
  scratchU32(name: string, n: number): string {
    return this.add({ name, kind: 'activation', dtype: 'u32', shape: [n], bytes: 4 * n });
  }

  /** The concrete shape of a value at this plan's B, T and S. */
  dims(v: number): number[] {
    return this.graph.values[v]!.type.shape.map((d) => (d === 'B' ? this.B : d === 'T' ? this.T : d === 'S' ? this.S : d));
  }

  /** Rows × width of a (…, width) value. */
  rowsOf(v: number): { rows: number; width: number } {
    const shape = this.dims(v);
    const width = shape[shape.length - 1]!;
    return { rows: numel(shape) / width, width };
  }

  /**
   * Value `v` lives in `of`'s buffer (a no-op at this plan's mode, e.g. dropout outside
   * training). Call it before anything asks for v's buffer.
   */
  alias(v: number, of: number): void {
    if (this.valueName.has(v)) throw new Error(`internal: value ${this.graph.values[v]!.name} already has a buffer; alias it first`);
    this.valueName.set(v, this.buf(of));
  }

  /** The buffer holding value `v` (created on first use). */
  buf(v: number): string {
    const known = this.valueName.get(v);
    if (known) return known;
    const val = this.graph.values[v]!;
    const shape = this.dims(v);
    const kind = val.source === 'input' ? 'input' : this.graph.outputs.includes(v) ? 'output' : 'activation';
    const name = val.source === 'input' ? val.name : `${val.name}#${v}`;
    this.valueName.set(v, this.add({ name, kind, dtype: val.type.dtype === 'i32' ? 'i32' : 'f32', shape, bytes: 4 * numel(shape) }));
    return name;
  }

  /** `ranges`: bindings that see only a byte range of their buffer (a tensor bound in chunks). */
  emit(
    k: WgslKernel,
    bind: Record<string, string>,
    scope: string,
    uniforms: Record<string, string> = {},
    ranges?: Record<string, BindingRange>,
  ): void {
    let i = this.kernelIndex.get(k.code);
    if (i === undefined) {
      i = this.kernels.length;
      this.kernelIndex.set(k.code, i);
      this.kernels.push({
        name: k.entryPoint,
        code: k.code,
        entryPoint: k.entryPoint,
        dispatch: k.dispatch,
        bindings: k.bindings.map((b) => ({ binding: b.binding, name: b.name, access: b.access, bytes: b.bytes })),
        flops: k.flops,
        bytes: k.bytes,
        fuses: k.fuses ?? ['linear'],
      });
    }
    for (const b of k.bindings) if (b.access === 'uniform') bind[b.name] = uniforms[b.name] ?? this.step;
    for (const b of k.bindings) {
      if (!bind[b.name])
        throw new Error(
          `internal: kernel ${k.entryPoint} at ${scope} needs '${b.name}' but the plan binds ${Object.keys(bind).join(', ')}`,
        );
    }
    this.steps.push({ kind: 'kernel', kernel: i, bind, scope, ...(ranges ? { ranges } : {}) });
  }
}

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
