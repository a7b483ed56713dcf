/// <reference types="@webgpu/types" />
/**
 * Waiting for the queue without starving lavapipe, and reading buffers back.
 *
 * With the npm `webgpu` package a pending onSubmittedWorkDone()/mapAsync() keeps the JS
 * thread spinning at 100% of a core, which on a 2-core machine takes a core away from
 * lavapipe's workers. Sleeping (setTimeout) for about the expected GPU time before awaiting
 * gave the best matmul ~14 -> ~22 GFLOP/s (shared/design/webgpu-on-cpu.md).
 */
import { DeviceLostError } from './errors.js';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Settles like `work`, except that it rejects with a DeviceLostError if the device is lost
 * first, so a lost device never leaves a caller hanging. (Never creates a dangling rejected
 * promise: the lost branch only calls reject on a promise that may already be settled.)
 */
export function unlessLost<T>(device: GPUDevice, work: Promise<T>, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    work.then(resolve, reject);
    device.lost.then((info) => reject(new DeviceLostError(what, info)));
  });
}

/**
 * Waits until the work submitted so far has finished. Sleeps ~expectedMs first (so the JS
 * thread does not compete with a software adapter), then awaits onSubmittedWorkDone().
 * Pass 0 when you have no estimate.
 */
export async function waitForQueue(device: GPUDevice, expectedMs = 0): Promise<void> {
  if (expectedMs > 0) await sleep(expectedMs);
  await unlessLost(device, device.queue.onSubmittedWorkDone(), 'waiting for the GPU queue');
}

export interface ReadOptions {
  /** Byte offset into the source buffer (multiple of 4). */
  offset?: number;
  /** Expected time for the work before the copy, in ms: sleep that long before mapping. */
  expectedMs?: number;
}

/**
 * Copies `bytes` bytes of `buffer` (which needs COPY_SRC usage) into a MAP_READ staging
 * buffer and returns them. The copy is queued after everything already submitted.
 */
export async function readBuffer(device: GPUDevice, buffer: GPUBuffer, bytes: number, opts: ReadOptions = {}): Promise<ArrayBuffer> {
  const offset = opts.offset ?? 0;
  const size = Math.ceil(bytes / 4) * 4; // copies move whole 4-byte words
  const staging = device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'readback' });
  try {
    const encoder = device.createCommandEncoder({ label: 'readback' });
    encoder.copyBufferToBuffer(buffer, offset, staging, 0, size);
    device.queue.submit([encoder.finish()]);
    if (opts.expectedMs && opts.expectedMs > 0) await sleep(opts.expectedMs);
    await unlessLost(device, staging.mapAsync(GPUMapMode.READ), 'reading a buffer back');
    const copy = staging.getMappedRange(0, size).slice(0, bytes);
    staging.unmap();
    return copy;
  } finally {
    staging.destroy();
  }
}

/** Creates a storage buffer holding `data` (usable as a copy source and destination). */
export function uploadBuffer(device: GPUDevice, data: Float32Array | Uint32Array | Int32Array, label?: string, extraUsage = 0): GPUBuffer {
  const size = Math.max(4, Math.ceil(data.byteLength / 4) * 4);
  const buffer = device.createBuffer({
    size,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | extraUsage,
    mappedAtCreation: true,
    ...(label ? { label } : {}),
  });
  new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  buffer.unmap();
  return buffer;
}
