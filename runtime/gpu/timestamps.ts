/// <reference types="@webgpu/types" />
/**
 * GPU timestamps for profiling (runtime/profile.ts): pairs of queries that compute passes write
 * at their start and end, resolved into a buffer and read back as milliseconds. A device with
 * the 'timestamp-query' feature only (acquireDevice({ timestamps: true })).
 *
 * One GPUQuerySet holds at most 4096 queries, fewer than a large training plan needs (two per
 * step), so the pairs are spread over as many sets as it takes; a pair never straddles two sets,
 * because one pass's timestampWrites name a single set.
 */
import { unlessLost } from './queue.js';

const PER_SET = 4096;

export class Timestamps {
  private readonly sets: GPUQuerySet[] = [];
  private readonly resolved: GPUBuffer;
  private readonly staging: GPUBuffer;

  constructor(
    private readonly device: GPUDevice,
    /** Pairs of timestamps: pair p is queries 2p (a pass's start) and 2p + 1 (its end). */
    readonly pairs: number,
  ) {
    const count = 2 * pairs;
    for (let at = 0; at < count; at += PER_SET)
      this.sets.push(device.createQuerySet({ type: 'timestamp', count: Math.min(PER_SET, count - at), label: 'profile timestamps' }));
    const bytes = 8 * Math.max(2, count);
    this.resolved = device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      label: 'timestamps',
    });
    this.staging = device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label: 'timestamps readback',
    });
  }

  /** The timestampWrites of a pass that writes pair `p`: its start, its end, or both. */
  writes(p: number, which: 'both' | 'start' | 'end' = 'both'): GPUComputePassTimestampWrites {
    if (p < 0 || p >= this.pairs) throw new Error(`internal: timestamp pair ${p} of ${this.pairs}`);
    const q = 2 * p;
    const querySet = this.sets[Math.floor(q / PER_SET)]!;
    const at = q % PER_SET;
    return {
      querySet,
      ...(which !== 'end' ? { beginningOfPassWriteIndex: at } : {}),
      ...(which !== 'start' ? { endOfPassWriteIndex: at + 1 } : {}),
    };
  }

  /**
   * A compute pass with no work that only writes a timestamp: 'start' of pair p (a mark before
   * a copy, say) or its 'end'. Copies and clears have no pass of their own to time.
   */
  mark(encoder: GPUCommandEncoder, p: number, which: 'start' | 'end'): void {
    // A pass's beginning write is its start mark; an end mark is the end of an empty pass.
    encoder.beginComputePass({ timestampWrites: this.writes(p, which) }).end();
  }

  /** Encodes the resolve and the copy into the read-back buffer (after everything that writes them). */
  resolve(encoder: GPUCommandEncoder): void {
    this.sets.forEach((set, i) => encoder.resolveQuerySet(set, 0, set.count, this.resolved, 8 * i * PER_SET));
    encoder.copyBufferToBuffer(this.resolved, 0, this.staging, 0, this.staging.size);
  }

  /** The timestamps (ms, relative to the first query) once the resolve has run. */
  async read(): Promise<Float64Array> {
    await unlessLost(this.device, this.staging.mapAsync(GPUMapMode.READ), 'reading timestamps');
    const ns = new BigUint64Array(this.staging.getMappedRange().slice(0, 16 * this.pairs));
    this.staging.unmap();
    const base = ns[0] ?? 0n;
    // Subtract as BigInt first: absolute device clocks can exceed a double's exact integers.
    return Float64Array.from(ns, (t) => Number(t - base) / 1e6);
  }

  destroy(): void {
    for (const s of this.sets) s.destroy();
    this.resolved.destroy();
    this.staging.destroy();
  }
}
