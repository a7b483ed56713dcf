/// <reference types="@webgpu/types" />
/**
 * What timing a step on its own adds to it (runtime/profile.ts). Measured on lavapipe: a kernel
 * in a compute pass whose start and end write timestamps takes ~30–70 µs longer than the same
 * dispatch among others in one pass (the timestamp writes wait for the adapter's workers to
 * finish and wake again), and a plan of many small kernels timed that way adds up to far more
 * than it takes when run. So each round also times a do-nothing kernel (one invocation adding
 * 1 to a counter, bound like a plan's kernels) and a 256-byte copy both ways, alone between
 * timestamps and K at a time in one run, and takes the difference off every step's time.
 */
import { Timestamps } from './gpu/timestamps.js';

const K = 16;
const NOOP = `@group(0) @binding(0) var<storage, read_write> n: array<u32>;
@compute @workgroup_size(1) fn main() { n[0] = n[0] + 1u; }`;

export interface Overhead {
  /** Added to a kernel timed in a pass of its own (ms). */
  readonly kernelMs: number;
  /** Added to a copy or clear timed between marker passes (ms). */
  readonly copyMs: number;
}

export class OverheadProbe {
  private readonly pipeline: GPUComputePipeline;
  private readonly bindGroup: GPUBindGroup;
  private readonly a: GPUBuffer;
  private readonly b: GPUBuffer;
  /** Pairs [0, K): the kernel alone; K: K kernels in one pass; [K+1, 2K+1): a copy alone; 2K+1: K copies in a row. */
  private readonly ts: Timestamps;

  constructor(device: GPUDevice) {
    const module = device.createShaderModule({ code: NOOP, label: 'profile: no-op kernel' });
    this.pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: 'profile: no-op' });
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    this.a = device.createBuffer({ size: 256, usage, label: 'profile: probe a' });
    this.b = device.createBuffer({ size: 256, usage, label: 'profile: probe b' });
    this.bindGroup = device.createBindGroup({
      layout: this.pipeline.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: { buffer: this.a } }],
    });
    this.ts = new Timestamps(device, 2 * K + 2);
  }

  private dispatch(pass: GPUComputePassEncoder): void {
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroup);
    pass.dispatchWorkgroups(1);
  }

  /** Encodes one measurement and its resolve (read it with read() after the submit). */
  encode(encoder: GPUCommandEncoder): void {
    for (let i = 0; i < K; i++) {
      const pass = encoder.beginComputePass({ timestampWrites: this.ts.writes(i) });
      this.dispatch(pass);
      pass.end();
    }
    this.ts.mark(encoder, K, 'start');
    const pass = encoder.beginComputePass();
    for (let i = 0; i < K; i++) this.dispatch(pass);
    pass.end();
    this.ts.mark(encoder, K, 'end');
    for (let i = 0; i < K; i++) {
      this.ts.mark(encoder, K + 1 + i, 'start');
      encoder.copyBufferToBuffer(this.a, 0, this.b, 0, 256);
      this.ts.mark(encoder, K + 1 + i, 'end');
    }
    this.ts.mark(encoder, 2 * K + 1, 'start');
    for (let i = 0; i < K; i++) encoder.copyBufferToBuffer(this.a, 0, this.b, 0, 256);
    this.ts.mark(encoder, 2 * K + 1, 'end');
    this.ts.resolve(encoder);
  }

  async read(): Promise<Overhead> {
    const t = await this.ts.read();
    const span = (p: number) => t[2 * p + 1]! - t[2 * p]!;
    // The median of the K alone: a busy machine's stalls land on a few of them, not on the typical one.
    const alone = (from: number) => {
      const xs = Array.from({ length: K }, (_, i) => span(from + i)).sort((x, y) => x - y);
      return (xs[K / 2 - 1]! + xs[K / 2]!) / 2;
    };
    // Never negative: a machine's noise must not make steps look longer than they were timed.
    return {
      kernelMs: Math.max(0, alone(0) - span(K) / K),
      copyMs: Math.max(0, alone(K + 1) - span(2 * K + 1) / K),
    };
  }

  destroy(): void {
    this.ts.destroy();
    this.a.destroy();
    this.b.destroy();
  }
}
