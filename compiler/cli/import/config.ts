/**
 * A Hugging Face `config.json` as an importer reads it: typed getters whose errors name the
 * field and the file. Which fields a family understands is its own explicit table (Family.fields);
 * the driver warns about every other field, so none is silently dropped.
 */
export class ImportError extends Error {
  override readonly name = 'ImportError';
}

export type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

export class HfConfig {
  constructor(
    readonly path: string,
    private readonly raw: Readonly<Record<string, Json>>,
  ) {}

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  private get(key: string): Json | undefined {
    const v = this.raw[key];
    return v === null ? undefined : v;
  }

  /** The value of `key`, else `fallback`; an error naming the field when there is neither. */
  private need(key: string, fallback: Json | undefined): Json {
    const v = this.get(key);
    if (v !== undefined) return v;
    if (fallback !== undefined) return fallback;
    throw new ImportError(`'${this.path}' has no '${key}', which this model type needs`);
  }

  num(key: string, fallback?: number): number {
    const v = this.need(key, fallback);
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new ImportError(`'${this.path}': '${key}' is ${JSON.stringify(v)}, not a number`);
    return v;
  }

  int(key: string, fallback?: number): number {
    const v = this.num(key, fallback);
    if (!Number.isInteger(v) || v < 1) throw new ImportError(`'${this.path}': '${key}' is ${v}, not a positive integer`);
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.need(key, fallback);
    if (typeof v !== 'boolean') throw new ImportError(`'${this.path}': '${key}' is ${JSON.stringify(v)}, not true or false`);
    return v;
  }

  str(key: string, fallback?: string): string {
    const v = this.need(key, fallback);
    if (typeof v !== 'string') throw new ImportError(`'${this.path}': '${key}' is ${JSON.stringify(v)}, not a string`);
    return v;
  }

  /** A field whose only value mspec can express is `ok` (or absent/null): anything else is an error naming it. */
  require(key: string, ok: (v: Json) => boolean, why: string): void {
    const v = this.get(key);
    if (v !== undefined && !ok(v))
      throw new ImportError(`'${this.path}': ${key} = ${JSON.stringify(v)} cannot be expressed in mspec (${why})`);
  }
}

/**
 * Fields of every Hugging Face config that do not change the function the weights compute:
 * bookkeeping, generation defaults, token ids, and training-only knobs (dropout, init).
 */
export const NO_EFFECT_FIELDS = [
  '_name_or_path',
  'architectures',
  'model_type',
  'torch_dtype',
  'transformers_version',
  'bos_token_id',
  'eos_token_id',
  'pad_token_id',
  'use_cache',
  'initializer_range',
  'tokenizer_class',
  'task_specific_params',
  'attention_dropout',
  'hidden_dropout',
  'resid_pdrop',
  'embd_pdrop',
  'attn_pdrop',
  'classifier_dropout',
  'summary_activation',
  'summary_first_dropout',
  'summary_proj_to_labels',
  'summary_type',
  'summary_use_proj',
  'output_router_logits',
];

/** Numbers as spec text: small ones in exponent form (1e-5), the rest as written. */
export function specNum(v: number): string {
  return v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential() : String(v);
}
