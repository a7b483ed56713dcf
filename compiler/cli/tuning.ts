/** Picks the kernel tuning for the adapter this machine has ('cpu' for lavapipe-like software adapters). */
import type { KernelTuning } from '../codegen/wgsl/matmul.js';
import { acquireDevice } from '../../runtime/device.js';

export async function detectTuning(): Promise<{ tuning: KernelTuning; subgroupMinSize: number; note: string }> {
  try {
    const gpu = await acquireDevice();
    const r = { tuning: gpu.adapterClass, subgroupMinSize: gpu.subgroupMinSize, note: '' };
    gpu.release();
    return r;
  } catch (e) {
    return { tuning: 'gpu', subgroupMinSize: 0, note: `note: no WebGPU adapter here (${(e as Error).message.split('\n')[0]}); building with the GPU tuning` };
  }
}
