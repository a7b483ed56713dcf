/// <reference types="@webgpu/types" />
/**
 * A prompt through a chunked prefill plan. When the whole context's activations cannot be
 * bound (Mixtral's 32,768 × 4,096 f32 rows are 512 MiB), the compiler makes the prefill a plan
 * of R < context rows at Step.offset (compiler/schedule/compile-model.ts). A prompt of n tokens
 * then runs as ceil(n / R) passes at offsets 0, R, 2R, …: each writes its rows' K and V into
 * the cache and attends over everything before it, exactly as the one-pass prefill does. The
 * last pass is moved back to context − R when it would run past the cache; the rows it
 * recomputes get the same K and V again. A plan of `context` rows is one pass at offset 0.
 */
import type { PlanRunner } from './plan-runner.js';
import { STEP_UNIFORM } from './uniforms.js';

export interface PromptPass {
  /** Position of the pass's first row (Step.offset; cache rows written from here). */
  readonly offset: number;
  /** Keys valid for the pass (Step.kv_len): every row it writes, offset + R. */
  readonly kvLen: number;
}

/** The passes of a prompt of n (≥ 1) tokens through a prefill plan of `rows` rows. */
export function promptPasses(n: number, rows: number, context: number): PromptPass[] {
  const passes: PromptPass[] = [];
  for (let start = 0; start < n; start += rows) {
    const offset = Math.min(start, context - rows);
    passes.push({ offset, kvLen: offset + rows });
  }
  return passes;
}

/** The plan row that holds the prompt's last token in the last pass. */
export function lastRowOf(n: number, passes: readonly PromptPass[]): number {
  return n - 1 - passes[passes.length - 1]!.offset;
}

/** The token input of one pass: tokens[offset … offset + rows), zero-padded past the prompt. */
export function passTokens(tokens: readonly number[], pass: PromptPass, rows: number): Int32Array {
  const ids = new Int32Array(rows);
  ids.set(tokens.slice(pass.offset, pass.offset + rows));
  return ids;
}

/**
 * Encodes every pass of a prompt into one command encoder. The tokens and Step uniform of
 * each pass are copied in from staging buffers written beforehand, since queue writes all land
 * before the command buffer runs and only the last of several writes to one buffer would
 * survive. Staging buffers grow as needed; release() frees them.
 */
export class PromptStager {
  private tokens: GPUBuffer | null = null;
  private steps: GPUBuffer | null = null;

  constructor(private readonly device: GPUDevice) {}

  encode(encoder: GPUCommandEncoder, run: PlanRunner, tokens: readonly number[], passes: readonly PromptPass[]): void {
    const R = run.plan.T;
    const ids = new Int32Array(R * passes.length);
    const steps = new Uint8Array(16 * passes.length);
    passes.forEach((p, i) => {
      ids.set(passTokens(tokens, p, R), i * R);
      steps.set(new Uint8Array(STEP_UNIFORM.pack({ offset: p.offset, kv_len: p.kvLen, rng_seed: 0, rng_step: 0 })), 16 * i);
    });
    this.tokens = this.fit(this.tokens, ids.byteLength, 'prompt-tokens');
    this.steps = this.fit(this.steps, steps.byteLength, 'prompt-steps');
    this.device.queue.writeBuffer(this.tokens, 0, ids);
    this.device.queue.writeBuffer(this.steps, 0, steps);
    const tokBuf = run.buffers.get(run.plan.io.tokens)!;
    const stepBuf = run.buffers.get(run.plan.io.step)!;
    passes.forEach((p, i) => {
      encoder.copyBufferToBuffer(this.tokens!, 4 * R * i, tokBuf, 0, 4 * R);
      encoder.copyBufferToBuffer(this.steps!, 16 * i, stepBuf, 0, 16);
      run.encode(encoder, p.offset);
    });
  }

  private fit(buf: GPUBuffer | null, bytes: number, label: string): GPUBuffer {
    if (buf && buf.size >= bytes) return buf;
    buf?.destroy();
    const size = Math.max(256, Math.ceil(bytes / 16) * 16);
    return this.device.createBuffer({ size, usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, label });
  }

  release(): void {
    this.tokens?.destroy();
    this.steps?.destroy();
  }
}
