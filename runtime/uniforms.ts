/**
 * The uniforms the host writes and the kernels read, each as ONE field table that drives both
 * the WGSL struct the generators emit and the bytes the runtime writes, so the two cannot
 * drift apart. Every field is 4 bytes (u32 or f32) in declaration order (WGSL's uniform layout
 * for scalar members); a buffer may be larger than the struct (plans pad to 16 bytes).
 */

type FieldType = 'u32' | 'f32';

export interface UniformLayout<F extends string> {
  /** WGSL struct name. */
  readonly struct: string;
  readonly fields: readonly (readonly [F | `_pad${string}`, FieldType])[];
  /** Bytes of the struct. */
  readonly bytes: number;
  /** The WGSL struct declaration. */
  wgsl(): string;
  /** The struct's bytes for writeBuffer; padding is zero. Throws on a value the field cannot hold. */
  pack(values: Readonly<Record<F, number>>): ArrayBuffer;
}

function defineUniform<F extends string>(struct: string, fields: readonly (readonly [F | `_pad${string}`, FieldType])[]): UniformLayout<F> {
  return {
    struct,
    fields,
    bytes: 4 * fields.length,
    wgsl: () => `struct ${struct} {\n${fields.map(([n, t]) => `  ${n}: ${t},`).join('\n')}\n}`,
    pack(values) {
      const buf = new ArrayBuffer(4 * fields.length);
      const u = new Uint32Array(buf);
      const f = new Float32Array(buf);
      fields.forEach(([name, type], i) => {
        if (name.startsWith('_pad')) return;
        const v = values[name as F];
        if (type === 'u32') {
          if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`internal: ${struct}.${name} must be a u32, got ${v}`);
          u[i] = v;
        } else {
          if (!Number.isFinite(v)) throw new Error(`internal: ${struct}.${name} must be finite, got ${v}`);
          f[i] = v;
        }
      });
      return buf;
    },
  };
}

/**
 * Per-dispatch positions, written before each forward call:
 *  - offset: absolute position of the first query/token of this call (0 for training and a
 *    prefill from scratch; the number of cached tokens when decoding);
 *  - kv_len: how many keys are valid in K/V (prefill: offset + T; decode: offset + 1);
 *  - rng_seed, rng_step: the run's seed and the micro-batch counter that key dropout's
 *    counter-based random numbers (runtime/counter-rng.ts); 0 outside training.
 */
export const STEP_UNIFORM = defineUniform<'offset' | 'kv_len' | 'rng_seed' | 'rng_step'>('Step', [
  ['offset', 'u32'],
  ['kv_len', 'u32'],
  ['rng_seed', 'u32'],
  ['rng_step', 'u32'],
]);

/**
 * The AdamW hyperparameters, written once per optimizer step (one buffer shared by every
 * parameter's dispatch, so each AdamW kernel compiles once for the run). bc1 = 1/(1−β1^t) and
 * bc2 = 1/(1−β2^t) are computed on the host in float64 and rounded once; t is the 1-based
 * optimizer step (torch's `state['step']` after its increment).
 */
export const OPTIM_UNIFORM = defineUniform<'lr' | 'beta1' | 'beta2' | 'eps' | 'wd' | 'bc1' | 'bc2'>('Optim', [
  ['lr', 'f32'],
  ['beta1', 'f32'],
  ['beta2', 'f32'],
  ['eps', 'f32'],
  ['wd', 'f32'],
  ['bc1', 'f32'],
  ['bc2', 'f32'],
  ['_pad', 'f32'],
]);

/**
 * The sampling parameters of a prefill/decode plan's sample kernel (compiler/codegen/wgsl/
 * kernels/sample.ts), written by the host once per generation (and per prefill: row, pos):
 *  - seed, stream: key the counter-based uniform of each position (runtime/sample.ts sampleKey);
 *  - temperature (0 = greedy), top_k (0 = all), top_p (1 = all);
 *  - row, pos: prefill only — the logits row to sample and the position of the token drawn
 *    (decode plans sample row 0 for position Step.offset + 1).
 */
export const SAMPLE_UNIFORM = defineUniform<'seed' | 'stream' | 'temperature' | 'top_k' | 'top_p' | 'row' | 'pos'>('Sample', [
  ['seed', 'u32'],
  ['stream', 'u32'],
  ['temperature', 'f32'],
  ['top_k', 'u32'],
  ['top_p', 'f32'],
  ['row', 'u32'],
  ['pos', 'u32'],
  ['_pad', 'u32'],
]);
