/** Shared by the export tests: an in-process `mspec export --to torch`, and the same weights on the GPU. */
import { join } from 'node:path';
import { expect } from 'vitest';
import { compileGpu } from '../../compiler/cli/gpu-model.js';
import { runExportTorch } from '../../compiler/cli/export/torch.js';
import { readSafetensors } from '../../runtime/checkpoint/safetensors.js';
import type { GpuContext } from '../../runtime/device.js';
import { ModelRuntime } from '../../runtime/model-runtime.js';

/** Exports `spec` in-process into `dir/name`; returns the package folder. */
export async function exportTorch(dir: string, name: string, spec: string): Promise<string> {
  const out = join(dir, name);
  const write = process.stdout.write;
  process.stdout.write = () => true; // the "wrote …" line
  try {
    expect(await runExportTorch({ input: spec, out })).toBe(0);
  } finally {
    process.stdout.write = write;
  }
  return out;
}

/** `spec` compiled for `gpu` with the weights of a safetensors file. */
export async function gpuRuntimeWith(gpu: GpuContext, spec: string, weights: string): Promise<ModelRuntime> {
  const c = compileGpu(spec, { tuning: 'cpu', subgroupMinSize: gpu.subgroupMinSize });
  expect(c.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
  const rt = await ModelRuntime.create(c.models[0]!.data, { gpu });
  rt.setWeights(readSafetensors(weights), weights);
  return rt;
}
