/// <reference types="@webgpu/types" />
/**
 * The one place WGSL becomes a pipeline (PlanRunner and the kernel tests alike), with compile
 * errors surfaced as exceptions (with line numbers) instead of Dawn's asynchronous
 * uncaptured-error events; and binding a generated kernel's buffers by name.
 */

/** The part of a generated kernel (compiler/codegen/wgsl) that the runtime needs. */
export interface KernelLike {
  code: string;
  entryPoint: string;
  dispatch: readonly [number, number, number] | readonly number[];
  bindings: readonly { group: number; binding: number; name: string; bytes: number }[];
}

export class KernelCompileError extends Error {
  override readonly name = 'KernelCompileError';
}

export async function compileKernel(
  device: GPUDevice,
  kernel: Pick<KernelLike, 'code' | 'entryPoint'>,
  label = kernel.entryPoint,
): Promise<GPUComputePipeline> {
  const module = device.createShaderModule({ code: kernel.code, label });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length) {
    const lines = kernel.code.split('\n');
    const text = errors.map((m) => `  ${label}:${m.lineNum}:${m.linePos}: ${m.message}\n    ${lines[m.lineNum - 1] ?? ''}`).join('\n');
    throw new KernelCompileError(`WGSL of kernel '${label}' does not compile (a code generator bug):\n${text}`);
  }
  device.pushErrorScope('validation');
  const pipeline = await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: kernel.entryPoint }, label });
  const err = await device.popErrorScope();
  if (err) throw new KernelCompileError(`pipeline for kernel '${label}' is invalid: ${err.message}`);
  return pipeline;
}

/** Binds buffers by the kernel's binding names (e.g. { A, B, C }); throws if one is missing or too small. */
export function bindKernel(
  device: GPUDevice,
  pipeline: GPUComputePipeline,
  kernel: KernelLike,
  buffers: Readonly<Record<string, GPUBuffer>>,
): GPUBindGroup {
  const entries: GPUBindGroupEntry[] = [];
  for (const b of kernel.bindings) {
    const buffer = buffers[b.name];
    if (!buffer) throw new Error(`kernel '${kernel.entryPoint}' needs a buffer named '${b.name}' (binding ${b.binding})`);
    if (buffer.size < b.bytes)
      throw new Error(`buffer '${b.name}' for kernel '${kernel.entryPoint}' has ${buffer.size} bytes, needs ${b.bytes}`);
    entries.push({ binding: b.binding, resource: { buffer } });
  }
  return device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
}

/** Encodes `repeat` dispatches of the kernel into one compute pass. */
export function encodeKernel(
  encoder: GPUCommandEncoder,
  pipeline: GPUComputePipeline,
  bindGroup: GPUBindGroup,
  kernel: KernelLike,
  repeat = 1,
): void {
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  const [x, y, z] = kernel.dispatch as [number, number, number];
  for (let i = 0; i < repeat; i++) pass.dispatchWorkgroups(x, y, z);
  pass.end();
}
