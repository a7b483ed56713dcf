/**
 * Cases shared by the encoder/encoder–decoder attention kernel tests (attention-encoder*.test.ts):
 * one description → the IR attrs the CPU interpreter (the reference, float64 sums) runs and the
 * kernel spec the GPU runs, plus deterministic inputs. Tq queries over Tk keys (S ≠ T for
 * cross-attention); the relative-bias table is (buckets, heads).
 */
import type { AttentionAttrs } from '../../compiler/ir/ops.js';
import type { Tensor } from '../../compiler/ir/interpret/common.js';
import type { RelativeBias } from '../../compiler/codegen/wgsl/kernels/attention-common.js';
import { random } from './gpu-harness.js';

export interface EncoderCase {
  name: string;
  B: number;
  T: number;
  /** Keys: S for cross-attention; T otherwise. */
  S?: number;
  heads: number;
  kv_heads: number;
  head_dim: number;
  causal: boolean;
  window?: number | null;
  positions?: 'none' | 'alibi' | 'relative';
  buckets?: number;
  max_distance?: number;
  cross?: boolean;
  scaled?: boolean;
}

export const keysOf = (c: EncoderCase): number => c.S ?? c.T;

export function attrsOf(c: EncoderCase): AttentionAttrs {
  return {
    heads: c.heads,
    kv_heads: c.kv_heads,
    head_dim: c.head_dim,
    causal: c.causal,
    window: c.window ?? null,
    positions: c.positions ?? 'none',
    buckets: c.buckets ?? 0,
    max_distance: c.max_distance ?? 0,
    dropout: 0,
    cross: c.cross ?? false,
    ...(c.scaled === false ? { scaled: false } : {}),
  };
}

/** The kernel's shape knobs (forward and backward share them). */
export function kernelKnobs(c: EncoderCase) {
  const relative: RelativeBias | null =
    c.positions === 'relative' ? { buckets: c.buckets!, maxDistance: c.max_distance!, bidirectional: !c.causal } : null;
  return {
    heads: c.heads,
    kv_heads: c.kv_heads,
    head_dim: c.head_dim,
    causal: c.causal,
    window: c.window ?? null,
    alibi: c.positions === 'alibi',
    relative,
    cross: c.cross ?? false,
    ...(c.scaled === false ? { scale: 1 } : {}),
  };
}

export interface EncoderInputs {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  /** The (buckets, heads) table, or an empty array without a relative bias. */
  rel: Float32Array;
}

export function inputsOf(c: EncoderCase, seed: number): EncoderInputs {
  const S = keysOf(c);
  // Unscaled scores grow with √D: smaller q keeps the softmax away from one-hot.
  const qr = c.scaled === false ? 1 : 3;
  return {
    q: random(c.B * c.T * c.heads * c.head_dim, seed, -qr, qr),
    k: random(c.B * S * c.kv_heads * c.head_dim, seed + 1),
    v: random(c.B * S * c.kv_heads * c.head_dim, seed + 2),
    rel: c.positions === 'relative' ? random(c.buckets! * c.heads, seed + 3, -2, 2) : new Float32Array(0),
  };
}

export function tensorsOf(c: EncoderCase, x: EncoderInputs): Tensor[] {
  const S = keysOf(c);
  const ts: Tensor[] = [
    { shape: [c.B, c.T, c.heads * c.head_dim], data: x.q },
    { shape: [c.B, S, c.kv_heads * c.head_dim], data: x.k },
    { shape: [c.B, S, c.kv_heads * c.head_dim], data: x.v },
  ];
  if (c.positions === 'relative') ts.push({ shape: [c.buckets!, c.heads], data: x.rel });
  return ts;
}

/**
 * Every kernel feature these tests need: bidirectional (GQA, MQA, windows, symmetric ALiBi),
 * cross-attention with S ≠ T, T5 relative bias in both bucket modes with keys beyond
 * max_distance, and unscaled scores.
 */
export const CASES: EncoderCase[] = [
  { name: 'bidirectional GQA 6/2, D 32, B 2, T 13', B: 2, T: 13, heads: 6, kv_heads: 2, head_dim: 32, causal: false },
  {
    name: 'bidirectional MQA, odd D 6 (scalar rows), window 3 (|i − j| < 3)',
    B: 1,
    T: 11,
    heads: 4,
    kv_heads: 1,
    head_dim: 6,
    causal: false,
    window: 3,
  },
  {
    name: 'bidirectional ALiBi (symmetric −slope·|i − j|), 6 heads, B 2, T 10',
    B: 2,
    T: 10,
    heads: 6,
    kv_heads: 3,
    head_dim: 16,
    causal: false,
    positions: 'alibi',
  },
  {
    name: 'cross-attention T 5 over S 9, GQA 4/2, D 32, B 2',
    B: 2,
    T: 5,
    S: 9,
    heads: 4,
    kv_heads: 2,
    head_dim: 32,
    causal: false,
    cross: true,
  },
  {
    name: 'cross-attention T 12 over S 7, MQA, unscaled',
    B: 1,
    T: 12,
    S: 7,
    heads: 2,
    kv_heads: 1,
    head_dim: 8,
    causal: false,
    cross: true,
    scaled: false,
  },
  {
    name: 'T5 relative bias bidirectional (8 buckets, max_distance 4; keys up to 11 away), unscaled, GQA',
    B: 2,
    T: 12,
    heads: 4,
    kv_heads: 2,
    head_dim: 8,
    causal: false,
    positions: 'relative',
    buckets: 8,
    max_distance: 4,
    scaled: false,
  },
  {
    name: 'T5 relative bias causal (6 buckets, max_distance 5; keys up to 15 behind), unscaled',
    B: 1,
    T: 16,
    heads: 2,
    kv_heads: 2,
    head_dim: 16,
    causal: true,
    positions: 'relative',
    buckets: 6,
    max_distance: 5,
    scaled: false,
  },
  {
    name: 'T5-small buckets (32, max_distance 128) bidirectional, unscaled',
    B: 1,
    T: 9,
    heads: 2,
    kv_heads: 2,
    head_dim: 16,
    causal: false,
    positions: 'relative',
    buckets: 32,
    max_distance: 128,
    scaled: false,
  },
  {
    name: 'T5 relative bias bidirectional (16 buckets, max_distance 10) with scale, window 5',
    B: 1,
    T: 14,
    heads: 3,
    kv_heads: 1,
    head_dim: 8,
    causal: false,
    window: 5,
    positions: 'relative',
    buckets: 16,
    max_distance: 10,
  },
];

/** The emitters every case runs: simple with both tunings, and subgroup where the adapter has subgroups. */
export function emitters(subgroupMinSize: number) {
  const sg = subgroupMinSize;
  return [
    { variant: 'simple' as const, tuning: 'cpu' as const },
    { variant: 'simple' as const, tuning: 'gpu' as const },
    ...(sg >= 4 && sg <= 64 ? [{ variant: 'subgroup' as const, subgroupMinSize: sg }] : []),
  ];
}
