/**
 * Token (+ learned position) embedding:
 *   out[b, t, :] = (tokens[ids[b, t], :] + positions[offset + t, :]) · scale
 * ids are i32 (B, T); offset comes from the Step uniform (only bound with learned positions).
 * One invocation per vec4 (C % 4 == 0) or per value of the output.
 */
import type { WgslKernel } from '../kernel-types.js';
import { assemble, Bindings, checkInt, entryName, f32, linear, u32, vecType, vectorWidth } from './common.js';

export interface EmbedSpec {
  B: number;
  T: number;
  C: number;
  /** Rows of the token table (vocabulary size). Ids outside [0, vocab) are clamped into it. */
  vocab: number;
  /** Rows of the learned position table (its context length); absent: no position embedding. Positions past it are clamped. */
  positions?: number;
  /** Multiplies the result (Gemma scales embeddings by sqrt(C)); default 1. */
  scale?: number;
  /** Entry point; default 'embed'. */
  name?: string;
}

/**
 * Bindings: ids (i32 [B, T]), tokens [vocab, C], positions [positions, C] (learned only),
 * out [B, T, C], step (uniform; learned positions only). Needs one storage binding as large as
 * the token table (vocab·C·4 bytes): raise maxStorageBufferBindingSize for large vocabularies.
 */
export function generateEmbed(spec: EmbedSpec): WgslKernel {
  const k = 'embed';
  for (const d of ['B', 'T', 'C', 'vocab', 'positions'] as const) checkInt(k, d, spec[d]);
  const entryPoint = entryName(k, spec.name);
  const { B, T, C, vocab } = spec;
  const P = spec.positions;
  const scale = spec.scale ?? 1;
  const w = vectorWidth(C);
  const V = vecType(w);
  const C4 = C / w;
  const rows = B * T;

  const b = new Bindings(entryPoint).storage('ids', 'read', [B, T], 'i32').storage('tokens', 'read', [vocab, C], V);
  if (P) b.storage('positions', 'read', [P, C], V);
  b.storage('out', 'read_write', [B, T, C], V);
  if (P) b.step();

  const lin = linear(entryPoint, rows * C4);
  const pos = P ? `\n  let p = min(u_step.offset + row % ${u32(T)}, ${u32(P - 1)});\n  v += positions[p * ${u32(C4)} + c];` : '';
  const main = `@compute @workgroup_size(${lin.workgroupSize[0]})
fn ${entryPoint}(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${lin.wgsl}
  let row = i / ${u32(C4)};
  let c = i % ${u32(C4)};
  let id = u32(clamp(ids[row], 0i, ${vocab - 1}i));
  var v = tokens[id * ${u32(C4)} + c];${pos}
  out[i] = ${scale === 1 ? 'v' : `v * ${f32(scale)}`};
}`;
  const outBytes = 4 * rows * C;
  return assemble({
    entryPoint,
    fuses: P ? ['embedding', 'embedding', 'add'] : ['embedding'],
    shapes: { ids: [B, T], tokens: [vocab, C], ...(P ? { positions: [P, C] } : {}), out: [B, T, C] },
    notes: [
      `out[b, t, :] = ${P ? '(tokens[ids[b, t], :] + positions[offset + t, :])' : 'tokens[ids[b, t], :]'}${scale === 1 ? '' : ` · ${scale}`}` +
        `; ids clamped to [0, ${vocab - 1}]${P ? `, positions to ${P - 1}; offset from the Step uniform` : ''}`,
      `one invocation per ${w === 4 ? 'vec4' : 'value'} of out; bytes count only the table rows gathered`,
    ],
    bindings: b,
    workgroupSize: lin.workgroupSize,
    dispatch: lin.dispatch,
    flops: rows * C * ((P ? 1 : 0) + (scale === 1 ? 0 : 1)),
    bytes: 4 * rows + outBytes * (P ? 3 : 2),
    main,
  });
}
