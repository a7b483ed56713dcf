/**
 * What `mspec export --to hf` builds for one Hugging Face family: the config.json fields (in
 * the published configs' names) and the inverse of `mspec import`'s tensor mapping
 * (compiler/cli/import/<family>.ts), from mspec's parameter names (compiler/ir/lower.ts) back
 * to the family's. Each family module reads the resolved spec (layer 0 of each stack: the
 * driver checks afterwards, by importing the written config again, that the config says
 * exactly what the spec says, per-layer knobs included).
 */
import type { Json } from '../../import/config.js';
import type { ShapedF32 } from '../../import/tensors.js';
import type { ModelSpec } from '../../../semantics/model.js';

/** A spec that has no exact form in a family (or in any): the message names the knob. */
export class ExportError extends Error {
  override readonly name = 'ExportError';
}

/** mspec's parameters by name, read with the shape the mapping expects. */
export class Params {
  private readonly used = new Set<string>();
  constructor(private readonly params: ReadonlyMap<string, ShapedF32>) {}

  take(name: string, shape: readonly number[]): Float32Array {
    const p = this.params.get(name);
    if (!p) throw new Error(`internal: the export mapping asks for parameter '${name}', which the model lacks`);
    if (p.shape.join(',') !== shape.join(',')) throw new Error(`internal: '${name}' is [${p.shape}], the mapping expects [${shape}]`);
    this.used.add(name);
    return p.data;
  }

  /** Parameters no mapping read (an export must read every one). */
  unused(): string[] {
    return [...this.params.keys()].filter((n) => !this.used.has(n));
  }
}

/** The HF tensors an export writes, by HF name. */
export class HfTensors {
  readonly out = new Map<string, ShapedF32>();
  constructor(readonly p: Params) {}

  set(name: string, shape: readonly number[], data: Float32Array): void {
    if (this.out.has(name)) throw new Error(`internal: HF tensor '${name}' written twice`);
    this.out.set(name, { shape, data });
  }

  /** mspec `from` to HF `name` unchanged. */
  copy(from: string, name: string, shape: readonly number[]): void {
    this.set(name, shape, this.p.take(from, shape));
  }

  /** A Linear: mspec `from`.weight (out, in) and, with `bias`, `from`.bias to HF `name`. */
  linear(from: string, name: string, out: number, inDim: number, bias: boolean): void {
    this.copy(`${from}.weight`, `${name}.weight`, [out, inDim]);
    if (bias) this.copy(`${from}.bias`, `${name}.bias`, [out]);
  }

  /** A LayerNorm (scale and shift) of `width`. */
  layerNorm(from: string, name: string, width: number): void {
    this.copy(`${from}.weight`, `${name}.weight`, [width]);
    this.copy(`${from}.bias`, `${name}.bias`, [width]);
  }
}

export interface HfForm {
  /** config.json `model_type`. */
  readonly modelType: string;
  /** The family's config.json fields; the driver adds model_type and the fields every config gets. */
  readonly config: Record<string, Json>;
  /** What `AutoModel…` class loads it (for the model card). */
  readonly autoClass: 'AutoModelForCausalLM' | 'AutoModelForMaskedLM' | 'AutoModel' | 'AutoModelForSeq2SeqLM';
  /** Writes every HF tensor from mspec's parameters. */
  tensors(t: HfTensors): void;
  /**
   * Knobs a checkpoint's tensors decide on import rather than the config (BERT's MLM head and
   * pooler): without weights they are not checked against a config-only import.
   */
  readonly decidedByTensors?: readonly string[];
}

export interface ExportFamily {
  /** The name used in messages (gpt2, llama, gpt_neox, …). */
  readonly name: string;
  /** The family's form of `spec`; ExportError naming a knob the family cannot state at all. */
  form(spec: ModelSpec, withWeights: boolean): HfForm;
}

/**
 * The only stack of a decoder-only or encoder-only model: its layer 0 and attention, with the
 * sizes the families' mappings are written in.
 */
export function sizes(spec: ModelSpec) {
  const stack = spec.decoder ?? spec.encoder;
  const layer = stack?.layers[0];
  if (!stack || !layer) throw new ExportError(`model ${spec.name} has no layers`);
  const { heads: H, kv_heads: K, head_dim: D } = layer.attention;
  return { layer, att: layer.attention, C: spec.d_model, H, K, D, F: layer.mlp.hidden, L: stack.layers.length, V: spec.vocab };
}

/** The inverse of a map of names (mspec → HF): ExportError naming `knob` when `value` has none. */
export function mapped(table: Readonly<Record<string, string>>, value: string, knob: string, family: string): string {
  const v = table[value];
  if (v === undefined)
    throw new ExportError(`${knob} = ${value} has no ${family} form (it has ${Object.keys(table).join(', ')}); use --to torch`);
  return v;
}

/**
 * GPT-NeoX's (and Falcon's without multi_query) fused QKV layout: per head h, its q, k and v
 * rows side by side (rows h·3D + j·D + d), from q, k, v of H·D rows of `cols` each.
 */
export function interleaveHeads(parts: readonly Float32Array[], H: number, D: number, cols: number): Float32Array {
  const out = new Float32Array(3 * H * D * cols);
  for (let h = 0; h < H; h++) parts.forEach((p, j) => out.set(p.subarray(h * D * cols, (h + 1) * D * cols), (h * 3 * D + j * D) * cols));
  return out;
}

/** The `i`-th of `n` equal blocks of a stacked tensor (a Mixtral expert). */
export function slab(x: Float32Array, n: number, i: number): Float32Array {
  const size = x.length / n;
  return x.slice(i * size, (i + 1) * size);
}
