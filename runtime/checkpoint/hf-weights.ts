/**
 * Reading a Hugging Face model folder's weights: one `model.safetensors`, or the shards a
 * `model.safetensors.index.json` names (its `weight_map`: tensor → shard file). Every tensor
 * is converted to f32 on the way (HF checkpoints are mostly bf16 or f16), since mspec runs f32.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { asF32, CheckpointError, readSafetensors, type STTensor } from './safetensors.js';

export const HF_WEIGHTS = 'model.safetensors';
export const HF_INDEX = 'model.safetensors.index.json';

export interface HfTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
  /** The file it came from (for messages). */
  readonly file: string;
}

/** f32 values of `t`: F32 copied, F16 and BF16 widened exactly (both are subsets of f32). */
export function toF32(t: STTensor, name: string, file: string): Float32Array {
  if (t.dtype === 'F32') return asF32(t, name);
  const n = t.shape.reduce((a, b) => a * b, 1);
  const view = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = new Float32Array(n);
  if (t.dtype === 'BF16') {
    // bf16 is the top half of an f32's bit pattern.
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) << 16;
  } else if (t.dtype === 'F16') for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
  else throw new CheckpointError(`'${file}': tensor '${name}' is ${t.dtype}; weights must be F32, F16 or BF16`);
  return out;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Every tensor of the folder's weights, as f32; null when the folder has no weights at all. */
export function readHfWeights(dir: string): Map<string, HfTensor> | null {
  const single = join(dir, HF_WEIGHTS);
  const index = join(dir, HF_INDEX);
  const out = new Map<string, HfTensor>();
  const take = (file: string, only: ReadonlySet<string> | null) => {
    const st = readSafetensors(file);
    for (const [name, t] of st.tensors) {
      if (only && !only.has(name)) continue;
      out.set(name, { shape: t.shape, data: toF32(t, name, file), file });
    }
  };
  if (existsSync(index)) {
    let map: Record<string, string>;
    try {
      const parsed = JSON.parse(readFileSync(index, 'utf8')) as { weight_map?: unknown };
      if (typeof parsed.weight_map !== 'object' || parsed.weight_map === null) throw new Error('it has no weight_map object');
      map = parsed.weight_map as Record<string, string>;
    } catch (e) {
      throw new CheckpointError(`'${index}' is not a usable shard index: ${(e as Error).message}`);
    }
    const byShard = new Map<string, Set<string>>();
    for (const [name, shard] of Object.entries(map)) {
      if (typeof shard !== 'string')
        throw new CheckpointError(`'${index}': tensor '${name}' maps to ${JSON.stringify(shard)}, not a file name`);
      byShard.set(shard, (byShard.get(shard) ?? new Set()).add(name));
    }
    for (const [shard, names] of byShard) {
      const path = join(dir, shard);
      if (!existsSync(path))
        throw new CheckpointError(`'${index}' names shard '${shard}' (for tensor '${[...names][0]}') but '${path}' does not exist`);
      take(path, names);
      for (const name of names)
        if (!out.has(name)) throw new CheckpointError(`'${index}' puts tensor '${name}' in '${shard}', but that shard has no such tensor`);
    }
    return out;
  }
  if (existsSync(single)) {
    take(single, null);
    return out;
  }
  return null;
}
