/**
 * The types the matmul front end (matmul.ts) and its two emitters (matmul-cpu.ts,
 * matmul-gpu.ts) share, in a file of their own so that no two of them import each other.
 */
import type { Activation, GateFn } from './epilogue.js';

export type MatmulVariant = 'nn' | 'nt' | 'tn';
export type KernelTuning = 'cpu' | 'gpu';

/** The spec with defaults filled in; what the emitters work from. */
export interface ResolvedMatmul {
  M: number;
  N: number;
  K: number;
  variant: MatmulVariant;
  bias: boolean;
  activation: Activation;
  /** The gate function of a gated epilogue; null: none. */
  gate: GateFn | null;
  batch: number;
  tuning: KernelTuning;
  entryPoint: string;
  subgroupMinSize: number;
}

/** What an emitter decides about the launch: workgroup size, dispatch grid, a note for the header. */
export interface KernelGeometry {
  workgroupSize: [number, number, number];
  dispatch: [number, number, number];
  note: string;
  /** Bytes of var<workgroup> memory the kernel declares. */
  workgroupStorageBytes: number;
}
