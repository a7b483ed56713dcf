/// <reference types="@webgpu/types" />
/**
 * Many decode steps in one command buffer (issue 13). The prefill and decode plans of a decoder
 * end with the sample kernel, which writes the chosen id into the token input the next decode
 * step reads and into `sampled[position]`; so a chunk of steps needs no host round trip: the
 * Step uniform of each step is copied in from a table of every position's {offset, kv_len}
 * (written once), host tokens (a speculative draft catching up) are copied from a staging
 * buffer, and the chunk's ids are read back once.
 */
import type { GpuContext } from './device.js';
import { readBuffer } from './gpu/queue.js';
import type { PlanRunner } from './plan-runner.js';
import { lastRowOf, passTokens, promptPasses, PromptStager } from './prompt-passes.js';
import type { KernelPlan } from './plan-types.js';
import { SAMPLE_STREAMS, type SampleOptions } from './sample.js';
import { SAMPLE_UNIFORM, STEP_UNIFORM } from './uniforms.js';

/** One decode step of a chain: the position it feeds, and the token to feed (omitted: the one the previous step sampled). */
export interface ChainStep {
  readonly pos: number;
  readonly token?: number;
  /** Copy this step's row of logits into the chain's logits history (speculative drafts). */
  readonly keepLogits?: boolean;
}

export class DecodeChain {
  private readonly steps: GPUBuffer;
  private hostTokens: GPUBuffer | null = null;
  private history: GPUBuffer | null = null;
  /** Staging for a chunked prefill's passes, made on first use. */
  private stager: PromptStager | null = null;
  /** ms per decode step, measured: how long to sleep before mapping a read-back (a spinning wait starves lavapipe). */
  msPerStep = 0;

  constructor(
    private readonly gpu: GpuContext,
    private readonly prefill: PlanRunner,
    private readonly decode: PlanRunner,
    private readonly context: number,
  ) {
    // Every position's Step uniform, 16 bytes each: a decode step at p has offset p and kv_len p + 1.
    const table = new Uint8Array(16 * context);
    for (let p = 0; p < context; p++)
      table.set(new Uint8Array(STEP_UNIFORM.pack({ offset: p, kv_len: p + 1, rng_seed: 0, rng_step: 0 })), 16 * p);
    this.steps = gpu.device.createBuffer({
      size: table.byteLength,
      usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      label: 'decode-steps',
    });
    gpu.device.queue.writeBuffer(this.steps, 0, table);
    // A first guess until a chunk is measured: ~10 µs per dispatch (lavapipe's overhead; a GPU is faster, and sleeping
    // a little too long costs less there than spinning costs a software adapter).
    this.msPerStep = 0.01 * decode.plan.steps.length;
  }

  get plan(): KernelPlan {
    return this.decode.plan;
  }

  /** Writes the Sample uniform: the options, the seed and stream, and (prefill) the row and position to sample. */
  configure(opts: SampleOptions, seed: number, stream: number = SAMPLE_STREAMS.sample, prefill = { row: 0, pos: 0 }): void {
    const io = this.decode.plan.io.sample!;
    const values = {
      seed: seed >>> 0,
      stream,
      temperature: opts.temperature ?? 1,
      top_k: opts.topK ?? 0,
      top_p: opts.topP ?? 1,
      row: prefill.row,
      pos: prefill.pos,
    };
    this.gpu.device.queue.writeBuffer(this.decode.buffers.get(io.uniform)!, 0, SAMPLE_UNIFORM.pack(values));
  }

  /**
   * Encodes the prefill of `tokens` (the token at position tokens.length is sampled on the
   * device); the Sample uniform must have been configured with this prompt's row and position.
   * A chunked prefill's passes (./prompt-passes.ts) all go into `encoder`; every pass ends with
   * the sample step, and the last pass's draw, made last, is the one that stays.
   */
  encodePrefill(encoder: GPUCommandEncoder, tokens: readonly number[]): void {
    const plan = this.prefill.plan;
    const passes = promptPasses(tokens.length, plan.T, this.context);
    if (plan.io.lastRow) this.prefill.write(plan.io.lastRow, new Int32Array([lastRowOf(tokens.length, passes)]));
    if (passes.length > 1) {
      this.stager ??= new PromptStager(this.gpu.device);
      this.stager.encode(encoder, this.prefill, tokens, passes);
      return;
    }
    this.prefill.write(plan.io.tokens, passTokens(tokens, passes[0]!, plan.T));
    this.prefill.setStep(passes[0]!.offset, passes[0]!.kvLen);
    this.prefill.encode(encoder, passes[0]!.offset);
  }

  /** The Sample uniform's row and position for a prefill of n tokens. */
  prefillAt(n: number): { row: number; pos: number } {
    const plan = this.prefill.plan;
    return { row: plan.io.lastRow ? 0 : lastRowOf(n, promptPasses(n, plan.T, this.context)), pos: n };
  }

  /** Encodes decode steps; each samples the token after the one it feeds. Returns how many rows of logits it keeps. */
  encodeSteps(encoder: GPUCommandEncoder, steps: readonly ChainStep[]): number {
    const device = this.gpu.device;
    const hosted = steps.filter((s) => s.token !== undefined);
    if (hosted.length) {
      if (!this.hostTokens || this.hostTokens.size < 4 * steps.length) {
        this.hostTokens?.destroy();
        this.hostTokens = device.createBuffer({
          size: 4 * Math.max(steps.length, 16),
          usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
          label: 'host-tokens',
        });
      }
      device.queue.writeBuffer(
        this.hostTokens,
        0,
        Int32Array.from(steps, (s) => s.token ?? 0),
      );
    }
    const V = this.decode.plan.vocab;
    const kept = steps.filter((s) => s.keepLogits).length;
    if (kept && (!this.history || this.history.size < 4 * V * kept)) {
      this.history?.destroy();
      this.history = device.createBuffer({
        size: 4 * V * kept,
        usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
        label: 'logit-history',
      });
    }
    const io = this.decode.plan.io;
    const stepBuf = this.decode.buffers.get(io.step)!;
    const tokBuf = this.decode.buffers.get(io.tokens)!;
    const logits = this.decode.buffers.get(io.logits)!;
    let row = 0;
    steps.forEach((s, i) => {
      if (!(s.pos >= 0 && s.pos < this.context)) throw new Error(`internal: a decode step at position ${s.pos} (context ${this.context})`);
      encoder.copyBufferToBuffer(this.steps, 16 * s.pos, stepBuf, 0, 16);
      if (s.token !== undefined) encoder.copyBufferToBuffer(this.hostTokens!, 4 * i, tokBuf, 0, 4);
      this.decode.encode(encoder, s.pos);
      if (s.keepLogits) encoder.copyBufferToBuffer(logits, 0, this.history!, 4 * V * row++, 4 * V);
    });
    return kept;
  }

  submit(encoder: GPUCommandEncoder): void {
    this.gpu.device.queue.submit([encoder.finish()]);
  }

  /**
   * The sampled ids of positions [from, from + n), read back once. `steps`: the decode steps
   * submitted since the last read; with no prefill among them (`timed`), the wait first sleeps
   * about their expected time and the read measures the time per step for the next estimate (a
   * prefill costs many steps' time, so a chunk with one neither sleeps nor measures).
   */
  async sampled(from: number, n: number, steps: number, timed = true): Promise<number[]> {
    const io = this.decode.plan.io.sample!;
    const buf = this.decode.buffers.get(io.sampled)!;
    const t0 = performance.now();
    const expectedMs = timed ? 0.8 * steps * this.msPerStep : 0;
    const bytes = await readBuffer(this.gpu.device, buf, 4 * n, { offset: 4 * from, expectedMs });
    if (timed && steps > 0) {
      const ms = (performance.now() - t0) / steps;
      this.msPerStep = this.msPerStep ? 0.7 * this.msPerStep + 0.3 * ms : ms;
    }
    return [...new Uint32Array(bytes)];
  }

  /** The kept rows of logits of the last encodeSteps (rows × padded vocab). */
  async keptLogits(rows: number): Promise<Float32Array> {
    return new Float32Array(await readBuffer(this.gpu.device, this.history!, 4 * this.decode.plan.vocab * rows));
  }

  release(): void {
    this.steps.destroy();
    this.hostTokens?.destroy();
    this.history?.destroy();
    this.stager?.release();
  }
}
