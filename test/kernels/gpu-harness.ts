/**
 * Running generated kernels on the real adapter (lavapipe in CI; no mocked GPU) for the kernel
 * tests: one device per test file (acquired in beforeAll, released in afterAll so the process
 * exits), buffers by binding name, pipelines cached by their code, and float64 comparison
 * helpers.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { acquireDevice, bindKernel, compileKernel, encodeKernel, readBuffer, waitForQueue, type GpuContext } from '../../runtime/device.js';
import type { KernelCore } from '../../compiler/codegen/wgsl/kernel-types.js';

type Data = Float32Array | Int32Array | Uint32Array;

export class KernelRunner {
  private readonly buffers = new Map<string, GPUBuffer>();
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();

  constructor(readonly gpu: GpuContext) {}

  get device(): GPUDevice {
    return this.gpu.device;
  }

  /** Creates (or overwrites) the buffer bound as `name`. */
  set(name: string, data: Data): this {
    const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
    let buf = this.buffers.get(name);
    if (!buf || buf.size !== size) {
      buf?.destroy();
      buf = this.device.createBuffer({
        size,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
        label: name,
      });
      this.buffers.set(name, buf);
    }
    this.device.queue.writeBuffer(buf, 0, data.buffer, data.byteOffset, data.byteLength);
    return this;
  }

  /** Drops buffers so the next run creates them afresh (zero-filled). */
  clear(...names: string[]): this {
    for (const n of names) {
      this.buffers.get(n)?.destroy();
      this.buffers.delete(n);
    }
    return this;
  }

  pipeline(kernel: KernelCore): Promise<GPUComputePipeline> {
    const key = `${kernel.entryPoint}\n${kernel.code}`;
    let p = this.pipelines.get(key);
    if (!p) {
      p = compileKernel(this.device, kernel);
      this.pipelines.set(key, p);
    }
    return p;
  }

  /** Encodes the kernels in order (one pass each) into one submit and waits for it. Missing outputs start zeroed. */
  async run(kernels: KernelCore | KernelCore[], repeat = 1): Promise<void> {
    const list = Array.isArray(kernels) ? kernels : [kernels];
    const encoder = this.device.createCommandEncoder();
    for (const k of list) {
      for (const b of k.bindings) {
        if (this.buffers.has(b.name)) continue;
        if (b.access !== 'read_write') throw new Error(`test bug: input '${b.name}' of ${k.entryPoint} was never set`);
        this.set(b.name, new Float32Array(b.bytes / 4));
      }
      const pipeline = await this.pipeline(k);
      const buffers = Object.fromEntries(this.buffers);
      encodeKernel(encoder, pipeline, bindKernel(this.device, pipeline, k, buffers), k, repeat);
    }
    this.device.queue.submit([encoder.finish()]);
    await waitForQueue(this.device);
  }

  async read(name: string): Promise<Float32Array> {
    const buf = this.buffers.get(name);
    if (!buf) throw new Error(`test bug: no buffer '${name}'`);
    return new Float32Array(await readBuffer(this.device, buf, buf.size));
  }

  destroy(): void {
    for (const b of this.buffers.values()) b.destroy();
    this.buffers.clear();
    this.pipelines.clear();
  }
}

/** One device and runner for the calling test file. */
export function useGpu(): () => KernelRunner {
  let gpu: GpuContext | undefined;
  let runner: KernelRunner | undefined;
  beforeAll(async () => {
    gpu = await acquireDevice();
    runner = new KernelRunner(gpu);
  });
  afterAll(() => {
    runner?.destroy();
    gpu?.release();
  });
  return () => {
    if (!runner) throw new Error('test bug: the GPU is used outside a test');
    return runner;
  };
}

/** Deterministic uniform(lo, hi) values (xorshift32), so failures reproduce. */
export function random(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = lo + (s / 4294967296) * (hi - lo);
  }
  return out;
}

/** Deterministic integers in [lo, hi]. */
export function randomInts(n: number, seed: number, lo: number, hi: number): Int32Array {
  const u = random(n, seed, 0, 1);
  return Int32Array.from(u, (x) => Math.min(hi, lo + Math.floor(x * (hi - lo + 1))));
}

export interface Tolerance {
  abs: number;
  rel: number;
}

/** Asserts |got − want| <= abs + rel·|want| element-wise (over want's length), naming the worst element. */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance, what: string): void {
  let worst = -1,
    worstExcess = 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!,
      w = want[i]!;
    const diff = Math.abs(g - w);
    const excess = diff === 0 ? 0 : diff / (tol.abs + tol.rel * Math.abs(w));
    if (!(excess <= worstExcess)) {
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
      worst = i;
    }
  }
  const msg =
    worst < 0 ? '' : `${what}: element ${worst}: got ${got[worst]}, want ${want[worst]} (${worstExcess.toFixed(2)}× the tolerance)`;
  // KERNEL_TOL_REPORT=1 prints how much of each tolerance is used (for tightening them).
  if (process.env.KERNEL_TOL_REPORT) console.log(`${what}: ${(100 * worstExcess).toFixed(1)}% of the tolerance`);
  expect(worstExcess <= 1, msg).toBe(true);
}
