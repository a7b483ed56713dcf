/**
 * The gradient of T5's relative-position bias table (buckets, H). The scores of head h get
 * rel[bucket(j − i), h] added, so d rel[k, h] = Σ over (b, i, j) with bucket(j − i) = k of dS_bhij
 * (dS the gradient of the score, before any scale). The attention dq kernel already has every
 * dS_ij of its row i in registers and leaves Σ_j dS_ij per bucket in dbias (B, H, T, buckets);
 * this kernel sums those rows: one invocation per (bucket, head), batches and queries in a
 * fixed order (deterministic, no float atomics). Layers sharing one table add their results
 * through the plan's gradient bookkeeping.
 */
import type { WgslKernel } from '../../kernel-types.js';
import { assemble, Bindings, checkInt, entryName, linear, u32 } from '../common.js';

export interface RelativeBiasGradSpec {
  B: number;
  /** Queries per batch entry. */
  T: number;
  heads: number;
  buckets: number;
  /** Entry point; default 'relative_bias_grad'. */
  name?: string;
}

/** Bindings: dbias [B, H, T, buckets] (the dq kernel's per-row sums), dtable [buckets, H] (written). */
export function generateRelativeBiasGrad(spec: RelativeBiasGradSpec): WgslKernel {
  const entryPoint = entryName('relative_bias_grad', spec.name);
  for (const d of ['B', 'T', 'heads', 'buckets'] as const) checkInt(entryPoint, d, spec[d]);
  const { B, T, heads: H, buckets: NB } = spec;
  const b = new Bindings(entryPoint).storage('dbias', 'read', [B, H, T, NB]).storage('dtable', 'read_write', [NB, H]);
  const lin = linear(entryPoint, NB * H, 64);
  const main = lin.main(`let k = i / ${u32(H)};
  let h = i % ${u32(H)};
  var s = 0.0;
  for (var b = 0u; b < ${u32(B)}; b++) {
    let row0 = (b * ${u32(H)} + h) * ${u32(T)};
    for (var t = 0u; t < ${u32(T)}; t++) { s += dbias[(row0 + t) * ${u32(NB)} + k]; }
  }
  dtable[i] = s;`);
  return assemble({
    entryPoint,
    fuses: ['attention_backward'],
    shapes: { dbias: [B, H, T, NB], dtable: [NB, H] },
    notes: [
      `d rel[k, h] = Σ_b Σ_i dbias[b, h, i, k] (H=${H}, ${NB} buckets, T=${T}): the T5 relative-bias table's gradient`,
      'one invocation per (bucket, head), rows summed in order (deterministic, no atomics)',
    ],
    bindings: b,
    launch: lin,
    flops: B * H * T * NB,
    main,
  });
}
