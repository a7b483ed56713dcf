/**
 * A kernel plan: everything the runtime needs to run a compiled model, as plain JSON data
 * (it is written to manifest.json by `mspec build`). The compiler makes it; the runtime only
 * allocates what it lists and dispatches it in order, so the runtime never needs the
 * compiler.
 */

export interface PlanBuffer {
  readonly name: string;
  readonly bytes: number;
  /**
   * param: a weight (shared by every plan of one model); cache: a KV cache (shared by the
   * prefill and decode plans); input/output: what the caller writes and reads; uniform: the
   * Step uniform; activation: scratch of one plan.
   */
  readonly kind: 'param' | 'cache' | 'input' | 'output' | 'activation' | 'uniform';
  readonly dtype: 'f32' | 'i32' | 'u32';
  readonly shape: readonly number[];
}

export interface PlanBinding {
  readonly binding: number;
  readonly name: string;
  readonly access: 'read' | 'read_write' | 'uniform';
  readonly bytes: number;
}

/** A byte range of a buffer: offset a multiple of minStorageBufferOffsetAlignment, size at most maxStorageBufferBindingSize. */
export interface BindingRange {
  readonly offset: number;
  readonly size: number;
}

export interface PlanKernel {
  readonly name: string;
  readonly code: string;
  readonly entryPoint: string;
  readonly dispatch: readonly [number, number, number];
  readonly bindings: readonly PlanBinding[];
  readonly flops: number;
  readonly bytes: number;
  /** IR op kinds this kernel implements (the fusion it does). */
  readonly fuses: readonly string[];
}

export type PlanStep =
  | {
      readonly kind: 'kernel';
      /** Index into KernelPlan.kernels (kernels with identical code are shared). */
      readonly kernel: number;
      /** Kernel binding name → plan buffer name. */
      readonly bind: Readonly<Record<string, string>>;
      /**
       * Bindings that see only a byte range of their buffer (a tensor larger than the device's
       * maxStorageBufferBindingSize, bound in chunks); the others bind the whole buffer.
       */
      readonly ranges?: Readonly<Record<string, BindingRange>>;
      /** Where in the model it comes from, e.g. `layers.2.attn`. */
      readonly scope: string;
    }
  | {
      /** Zero these buffers (gradients at the start of a training step). */
      readonly kind: 'clear';
      readonly buffers: readonly string[];
      readonly scope: string;
    }
  | {
      /**
       * Copy `bytes` bytes of `src` from byte `srcOffset` to `dst` at byte `dstOffset` (a first
       * gradient contribution; the offsets place a tensor packed into a gradient arena).
       */
      readonly kind: 'copy';
      readonly src: string;
      readonly dst: string;
      readonly bytes: number;
      /** Default 0; a multiple of 4. */
      readonly srcOffset?: number;
      /** Default 0; a multiple of 4. */
      readonly dstOffset?: number;
      readonly scope: string;
    }
  | {
      /** Copy `rows` rows of `src` into the KV cache `dst` starting at row Step.offset. */
      readonly kind: 'cache_write';
      readonly src: string;
      readonly dst: string;
      readonly rowBytes: number;
      readonly rows: number;
      readonly scope: string;
    };

export interface KernelPlan {
  readonly model: string;
  /**
   * forward: training/eval shape, no cache; prefill / decode: sampling with a KV cache; encode
   * (encoder–decoders): the encoder and the cross-attention K/V, once per source.
   */
  readonly mode: 'forward' | 'prefill' | 'decode' | 'train' | 'encode';
  readonly B: number;
  readonly T: number;
  /** Width of a row of logits: the vocabulary after padding to vocab_multiple. */
  readonly vocab: number;
  /**
   * The real vocabulary (ModelSpec.vocab_raw) when `vocab` pads it: ids from vocabRaw up are
   * padding, never sampled or scored. Absent: every id below `vocab` is a token.
   */
  readonly vocabRaw?: number;
  readonly context: number;
  readonly buffers: readonly PlanBuffer[];
  readonly kernels: readonly PlanKernel[];
  readonly steps: readonly PlanStep[];
  /** Buffer names the caller uses. */
  readonly io: {
    readonly tokens: string;
    readonly targets: string | null;
    /** '' when the model has no LM head (head { kind: none }: hidden states out). */
    readonly logits: string;
    readonly loss: string | null;
    /** Models with segment embeddings (BERT): the i32 [B, T] segment (token-type) ids input. */
    readonly segments?: string;
    /** Models without an LM head (head { kind: none }): the f32 [B, T, d_model] final hidden states. */
    readonly hidden?: string;
    /** Models with a pooler: the f32 [B, d_model] pooled output, tanh(dense(hidden[:, 0])). */
    readonly pooled?: string;
    /** Forward plans with a loss: f32 [B·T], 1 where the target's logit is its row's maximum (accuracy), else 0. */
    readonly correct?: string;
    /** Encoder–decoders (forward, train and encode plans): the i32 (B, S) source input, padded to S. */
    readonly src?: string;
    /** Encode plans: the encoder's output states (S, d_model) that cross-attention reads. */
    readonly memory?: string;
    /**
     * Prefill plans of models whose all-position logits would not fit one binding: the i32 [1]
     * input holding the prompt row whose logits are computed; `logits` is then [1, 1, vocab].
     */
    readonly lastRow?: string;
    /**
     * Training and forward plans whose logits exceed one binding: the columns of each
     * vocabulary chunk. The logits buffer is then chunk-major — chunk j a [rows, cols_j] block
     * of columns Σ_{i<j} cols_i … — not [rows, vocab].
     */
    readonly logitChunks?: readonly number[];
    /**
     * Decoder prefill/decode plans: the last step samples the next token on the device
     * (runtime/sample.ts states the rule) into the token input and `sampled` (u32 [context + 1],
     * the id of position p at index p); `uniform` is the Sample uniform (runtime/uniforms.ts).
     */
    readonly sample?: { readonly uniform: string; readonly sampled: string };
    /** The Step uniform: { offset: u32, kv_len: u32 } (padded to 16 bytes). */
    readonly step: string;
    /**
     * MoE models trained with a load-balancing loss: [1] f32, the sum of every layer's
     * auxiliary loss (`loss` stays the cross-entropy; the backward starts from their sum).
     */
    readonly aux?: string;
    /** MoE models: each MoE layer's u32 [experts] count of routed slots per expert, in layer order (expert load). */
    readonly expertCounts?: readonly string[];
  };
  /** Training plans: the optimizer's buffers per parameter and the step's scalar outputs. */
  readonly train?: TrainIo;
  /**
   * What the kernels assume of the adapter (written by `mspec build`); PlanRunner refuses a
   * device that does not meet it. Absent on plans made in-process for the device at hand.
   */
  readonly target?: PlanTarget;
}

/**
 * The adapter a plan's kernels were generated for, and what they assume of it. A kernel
 * that uses subgroup operations treats a workgroup of up to `subgroupMinSize` invocations as
 * one subgroup (one subgroupAdd reduces it, subgroupBroadcast reads any of its lanes), so on
 * an adapter whose subgroups can be narrower it computes wrong numbers without any error:
 * the assumption must be checked before running (runtime/gpu/target.ts).
 */
export interface PlanTarget {
  /** The kernel tuning ('cpu': software adapters such as lavapipe; 'gpu': anything else). */
  readonly tuning: 'cpu' | 'gpu';
  /** The adapter the tuning was picked from (its one-line summary), or '' when none was asked. */
  readonly adapter: string;
  /** WebGPU features the kernels enable (`enable subgroups;` needs 'subgroups', `enable f16;` 'shader-f16'). */
  readonly features: readonly string[];
  /** Every subgroup of the device must have at least this many lanes; 0 when no kernel uses subgroups. */
  readonly subgroupMinSize: number;
}

export interface TrainIo {
  /** The Optim uniform written by the host each step (lr, betas, eps, wd, bias corrections). */
  readonly optim: string;
  /** [1] f32: the global gradient norm before clipping. */
  readonly gradNorm: string;
  /** [1] u32: 1 when the gradient norm is NaN or infinite. */
  readonly nonfinite: string;
  /**
   * Per parameter: the buffers holding its gradient (the accumulator when micro-batches are
   * accumulated) and AdamW moments. Most parameters share arenas (compiler/schedule/grad-arena.ts):
   * the tensor is then the `numel` floats at byte `offset`, the same offset in all three; a
   * parameter larger than one binding has buffers of its own (offset 0).
   */
  readonly params: readonly {
    readonly name: string;
    readonly grad: string;
    readonly m: string;
    readonly v: string;
    /** Byte offset of this parameter's tensor in `grad`, `m` and `v`. */
    readonly offset: number;
    /** Floats in the parameter. */
    readonly numel: number;
    readonly decay: boolean;
  }[];
  /** Micro-steps per optimizer step; steps [0, microSteps) run once per micro-batch, the rest once per step. */
  readonly accumulation: number;
  readonly microSteps: number;
}

export interface ParamInfo {
  readonly name: string;
  readonly shape: readonly number[];
  /** AdamW decays it (matrices and tables). */
  readonly decay: boolean;
  /** Init rule: normal(0, std) for matrices/tables, zeros for biases, ones for norm scales. */
  readonly init: { readonly kind: 'normal'; readonly std: number } | { readonly kind: 'zeros' } | { readonly kind: 'ones' };
}
