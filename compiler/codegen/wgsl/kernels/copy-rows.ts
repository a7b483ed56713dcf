/**
 * KV-cache append: copies src (B, T, W) into rows [offset, offset + T) of dst (B, capacity, W),
 * offset from the Step uniform. Rows that would land past the capacity are dropped (the host
 * must not let the cache overflow; this only keeps every write in bounds).
 */
import type { WgslKernel } from '../kernel-types.js';
import { assemble, Bindings, checkInt, entryName, linear, u32, vectorized } from './common.js';

export interface CopyRowsSpec {
  B: number;
  T: number;
  /** Row width, e.g. Kh·D for a K or V cache. */
  width: number;
  /** Rows per batch entry in dst (the cache's context length). */
  capacity: number;
  /** Entry point; default 'copy_rows'. */
  name?: string;
}

/** Bindings: src [B, T, width], dst [B, capacity, width] (read_write), step (uniform). */
export function generateCopyRows(spec: CopyRowsSpec): WgslKernel {
  const entryPoint = entryName('copy_rows', spec.name);
  for (const d of ['B', 'T', 'width', 'capacity'] as const) checkInt(entryPoint, d, spec[d]);
  const { B, T, width, capacity } = spec;
  const { V, units: W4 } = vectorized(width);
  const b = new Bindings(entryPoint).storage('src', 'read', [B, T, width], V).storage('dst', 'read_write', [B, capacity, width], V).step();
  const lin = linear(entryPoint, B * T * W4);
  return assemble({
    entryPoint,
    fuses: [],
    shapes: { src: [B, T, width], dst: [B, capacity, width] },
    notes: [`dst[b, offset + t, :] = src[b, t, :] for offset + t < ${capacity}; offset from the Step uniform`],
    bindings: b,
    launch: lin,
    flops: 0,
    bytes: 2 * 4 * B * T * width,
    main: lin.main(`let row = i / ${u32(W4)};
  let pos = u_step.offset + row % ${u32(T)};
  if (pos >= ${u32(capacity)}) { return; }
  dst[((row / ${u32(T)}) * ${u32(capacity)} + pos) * ${u32(W4)} + i % ${u32(W4)}] = src[i];`),
  });
}
