/// <reference types="@webgpu/types" />
/**
 * Runs a KernelPlan on a device: allocates the buffers it lists (weights and KV caches can be
 * shared between the plans of one model), compiles each distinct kernel once, builds every
 * bind group up front, and encodes a whole forward pass into one command buffer — runs of
 * kernels share one compute pass; a KV-cache write is a buffer copy at the current offset.
 */
import { STEP_UNIFORM } from './uniforms.js';
import type { GpuContext } from './device.js';
import { compileKernel } from './gpu/kernel.js';
import { readBuffer, unlessLost } from './gpu/queue.js';
import { checkPlanTarget } from './gpu/target.js';
import type { KernelPlan, PlanBuffer, PlanKernel } from './plan-types.js';

const pipelineCache = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();

/** One pipeline per distinct kernel code per device; compiled by the one compile path (gpu/kernel.ts). */
function pipelineFor(device: GPUDevice, k: PlanKernel): Promise<GPUComputePipeline> {
  let cache = pipelineCache.get(device);
  if (!cache) {
    cache = new Map();
    pipelineCache.set(device, cache);
  }
  let p = cache.get(k.code);
  if (!p) {
    p = compileKernel(device, k, k.name);
    cache.set(k.code, p);
  }
  return p;
}

export type BufferMap = Map<string, GPUBuffer>;

export class PlanRunner {
  readonly buffers: BufferMap = new Map();
  private pipelines: GPUComputePipeline[] = [];
  private bindGroups: (GPUBindGroup | null)[] = [];
  private readonly byName: Map<string, PlanBuffer>;

  /**
   * `shared` supplies buffers already allocated by another plan of the same model (weights,
   * KV caches); everything else the plan lists is allocated here.
   */
  constructor(
    readonly gpu: GpuContext,
    readonly plan: KernelPlan,
    shared: BufferMap = new Map(),
  ) {
    // Before allocating anything: kernels built for another adapter may run and be wrong.
    if (plan.target) checkPlanTarget(plan.target, gpu, `the ${plan.mode} plan of model '${plan.model}'`);
    this.byName = new Map(plan.buffers.map((b) => [b.name, b]));
    const device = gpu.device;
    for (const b of plan.buffers) {
      const have = shared.get(b.name);
      if (have && have.size >= b.bytes) {
        this.buffers.set(b.name, have);
        continue;
      }
      const usage =
        b.kind === 'uniform'
          ? GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST
          : GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
      const buf = device.createBuffer({ size: Math.max(16, Math.ceil(b.bytes / 16) * 16), usage, label: b.name });
      this.buffers.set(b.name, buf);
      shared.set(b.name, buf);
    }
  }

  async compile(): Promise<void> {
    const device = this.gpu.device;
    this.pipelines = await Promise.all(this.plan.kernels.map((k) => pipelineFor(device, k)));
    this.bindGroups = this.plan.steps.map((s) => {
      if (s.kind !== 'kernel') return null;
      const k = this.plan.kernels[s.kernel]!;
      const entries: GPUBindGroupEntry[] = k.bindings.map((b) => {
        const name = s.bind[b.name];
        const buffer = name ? this.buffers.get(name) : undefined;
        if (!buffer)
          throw new Error(`internal: step ${s.scope} binds '${b.name}' of kernel ${k.name} to a buffer the plan does not list (${name})`);
        const range = s.ranges?.[b.name];
        return { binding: b.binding, resource: range ? { buffer, offset: range.offset, size: range.size } : { buffer } };
      });
      return device.createBindGroup({ layout: this.pipelines[s.kernel]!.getBindGroupLayout(0), entries, label: `${s.scope}:${k.name}` });
    });
  }

  /**
   * Writes the Step uniform: where this pass starts in the sequence, how many keys are valid,
   * and (training) the seed and micro-batch counter that key dropout's masks.
   */
  setStep(offset: number, kvLen: number, rng: { seed: number; step: number } = { seed: 0, step: 0 }): void {
    const step = STEP_UNIFORM.pack({ offset, kv_len: kvLen, rng_seed: rng.seed >>> 0, rng_step: rng.step >>> 0 });
    this.gpu.device.queue.writeBuffer(this.buffers.get(this.plan.io.step)!, 0, step);
  }

  write(name: string, data: Int32Array | Float32Array | Uint32Array, byteOffset = 0): void {
    const b = this.buffers.get(name);
    if (!b) throw new Error(`internal: no buffer '${name}'`);
    this.gpu.device.queue.writeBuffer(b, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Encodes the plan (or steps [from, to)); `offset` places KV-cache writes (the Step uniform must match). */
  encode(encoder: GPUCommandEncoder, offset = 0, from = 0, to = this.plan.steps.length): void {
    let pass: GPUComputePassEncoder | null = null;
    this.plan.steps.forEach((s, i) => {
      if (i < from || i >= to) return;
      if (s.kind === 'kernel') {
        pass ??= encoder.beginComputePass();
        pass.setPipeline(this.pipelines[s.kernel]!);
        pass.setBindGroup(0, this.bindGroups[i]!);
        const [x, y, z] = this.plan.kernels[s.kernel]!.dispatch;
        pass.dispatchWorkgroups(x, y, z);
      } else {
        if (pass) {
          pass.end();
          pass = null;
        }
        if (s.kind === 'clear') for (const b of s.buffers) encoder.clearBuffer(this.buffers.get(b)!);
        else if (s.kind === 'copy')
          encoder.copyBufferToBuffer(
            this.buffers.get(s.src)!,
            s.srcOffset ?? 0,
            this.buffers.get(s.dst)!,
            s.dstOffset ?? 0,
            Math.ceil(s.bytes / 4) * 4,
          );
        else encoder.copyBufferToBuffer(this.buffers.get(s.src)!, 0, this.buffers.get(s.dst)!, offset * s.rowBytes, s.rows * s.rowBytes);
      }
    });
    if (pass) (pass as GPUComputePassEncoder).end();
  }

  /**
   * Profiling (runtime/profile.ts): encodes kernel step `i` in a compute pass of its own, whose
   * start and end are written to `timestampWrites`. Other steps have no pass to time: encode
   * them with encode(encoder, offset, i, i + 1).
   */
  encodeKernelPass(encoder: GPUCommandEncoder, i: number, timestampWrites?: GPUComputePassTimestampWrites): void {
    const s = this.plan.steps[i];
    if (s?.kind !== 'kernel') throw new Error(`internal: step ${i} of the ${this.plan.mode} plan is not a kernel`);
    const pass = encoder.beginComputePass(timestampWrites ? { timestampWrites } : {});
    pass.setPipeline(this.pipelines[s.kernel]!);
    pass.setBindGroup(0, this.bindGroups[i]!);
    const [x, y, z] = this.plan.kernels[s.kernel]!.dispatch;
    pass.dispatchWorkgroups(x, y, z);
    pass.end();
  }

  /** Encodes and submits one pass. */
  run(offset = 0): void {
    const encoder = this.gpu.device.createCommandEncoder({ label: `${this.plan.model}:${this.plan.mode}` });
    this.encode(encoder, offset);
    this.gpu.device.queue.submit([encoder.finish()]);
  }

  async readF32(name: string, byteOffset = 0, count?: number, expectedMs = 0): Promise<Float32Array> {
    const b = this.byName.get(name);
    const buf = this.buffers.get(name);
    if (!b || !buf) throw new Error(`internal: no buffer '${name}'`);
    const bytes = count !== undefined ? count * 4 : b.bytes - byteOffset;
    return new Float32Array(await readBuffer(this.gpu.device, buf, bytes, { offset: byteOffset, expectedMs }));
  }

  async done(): Promise<void> {
    await unlessLost(this.gpu.device, this.gpu.device.queue.onSubmittedWorkDone(), 'running the model');
  }

  /** FLOPs of one pass, for throughput reports. */
  get flops(): number {
    return this.plan.steps.reduce((n, s) => n + (s.kind === 'kernel' ? this.plan.kernels[s.kernel]!.flops : 0), 0);
  }
}
