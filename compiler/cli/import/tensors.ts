/**
 * The weights of a Hugging Face checkpoint as a family mapping reads them: by HF name with the
 * shape the config implies (a mismatch is an error naming the tensor, its file and both
 * shapes), recording what was taken so that tensors no mapping used are reported.
 */
import type { HfTensor } from '../../../runtime/checkpoint/hf-weights.js';
import { ImportError } from './config.js';

/** A tensor as an import or export mapping holds it: its shape and f32 values. */
export interface ShapedF32 {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export class HfWeights {
  private readonly used = new Set<string>();
  private readonly skipped = new Set<string>();
  readonly out = new Map<string, ShapedF32>();
  /** Tensors present but not imported, each with why (the driver prints them as warnings). */
  readonly dropped: string[] = [];

  constructor(
    private readonly tensors: ReadonlyMap<string, HfTensor>,
    /** Prepended to every name a mapping asks for, when the checkpoint has it (GPT-2's `transformer.`). */
    private readonly prefix = '',
  ) {}

  has(name: string): boolean {
    return this.tensors.has(this.prefix + name);
  }

  /** The values of `name`, checked against `shape`. */
  take(name: string, shape: readonly number[]): Float32Array {
    const full = this.prefix + name;
    const t = this.tensors.get(full);
    if (!t) throw new ImportError(`the checkpoint has no tensor '${full}', which the config implies (shape [${shape}])`);
    if (t.shape.join(',') !== shape.join(','))
      throw new ImportError(`'${t.file}': tensor '${full}' has shape [${t.shape}] but the config implies [${shape}]`);
    this.used.add(full);
    return t.data;
  }

  /**
   * Marks `name` (with or without the prefix) as known when present, but not a parameter: the
   * buffers some checkpoints carry (causal masks, rotary tables), a tied head's copy.
   */
  skip(name: string): void {
    for (const n of [this.prefix + name, name]) if (this.tensors.has(n)) this.skipped.add(n);
  }

  /**
   * Marks `name`, when present, as a second copy of a tied tensor already read as `data` (T5's
   * `encoder.embed_tokens.weight` beside `shared.weight`): not a parameter of its own, and an
   * error naming it when its values differ, since mspec could not express two tables.
   */
  tiedCopy(name: string, of: string, data: Float32Array): void {
    const full = this.prefix + name;
    const t = this.tensors.get(full);
    if (!t) return;
    if (t.data.length !== data.length || t.data.some((v, i) => v !== data[i]))
      throw new ImportError(`'${t.file}': tensor '${full}' differs from '${this.prefix + of}', which mspec ties it to`);
    this.skipped.add(full);
  }

  /** Leaves out `name`, when present, with a warning saying why (a head mspec does not model). */
  drop(name: string, why: string): void {
    const full = this.prefix + name;
    if (!this.tensors.has(full)) return;
    this.skipped.add(full);
    this.dropped.push(`tensor '${full}' (${this.tensors.get(full)!.file}) is not imported: ${why}`);
  }

  set(name: string, shape: readonly number[], data: Float32Array): void {
    this.out.set(name, { shape, data });
  }

  /** Copies `hf` to mspec's `name` unchanged. */
  copy(hf: string, name: string, shape: readonly number[]): void {
    this.set(name, shape, this.take(hf, shape));
  }

  /** A Linear: `hf`.weight (out, in) and, when `bias`, `hf`.bias (out) to mspec's `name`. */
  linear(hf: string, name: string, out: number, inDim: number, bias = true): void {
    this.copy(`${hf}.weight`, `${name}.weight`, [out, inDim]);
    if (bias) this.copy(`${hf}.bias`, `${name}.bias`, [out]);
  }

  /** A LayerNorm of `width`: `hf`.weight and `hf`.bias to mspec's `name`. */
  layerNorm(hf: string, name: string, width: number): void {
    this.copy(`${hf}.weight`, `${name}.weight`, [width]);
    this.copy(`${hf}.bias`, `${name}.bias`, [width]);
  }

  /** Tensors of the checkpoint that no mapping read or skipped. */
  unused(): string[] {
    return [...this.tensors.keys()].filter((n) => !this.used.has(n) && !this.skipped.has(n));
  }

  /** Elements of every tensor read (the checkpoint's parameter count). */
  elements(): number {
    let n = 0;
    for (const name of this.used) n += this.tensors.get(name)!.data.length;
    return n;
  }
}

/** (rows, cols) row-major → (cols, rows). */
export function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c]!;
  return out;
}

/** Rows `rows` (indices) of a (·, cols) row-major matrix, in that order (a vector when cols = 1). */
export function pickRows(x: Float32Array, cols: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * cols);
  rows.forEach((r, i) => out.set(x.subarray(r * cols, (r + 1) * cols), i * cols));
  return out;
}

export const range = (start: number, n: number) => Array.from({ length: n }, (_, i) => start + i);

/** Concatenates row-major blocks along the first axis (equally shaped ones: stacked along a new leading axis). */
export function concat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
