/**
 * Spec → everything the runtime needs (CompiledModelData): the GPU support check, the prefill
 * and decode plans, the parameter table with init rules, the tokenizer, and the spec's
 * sources (every file of the program, so a checkpoint can rebuild the model on its own).
 */
import { createHash } from 'node:crypto';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { initRules } from '../ir/interpret.js';
import type { Graph } from '../ir/graph.js';
import { UnsupportedOpError } from './fuse.js';
import { planModel, type PlanOptions } from './plan.js';
import { DispatchLimitError, type KernelTuning } from '../codegen/wgsl/matmul.js';
import type { ModelSpec } from '../semantics/model.js';
import type { CompiledModelData } from '../../runtime/model-runtime.js';
import type { KernelPlan, ParamInfo, PlanTarget } from '../../runtime/plan-types.js';
import { featuresOfWgsl } from '../../runtime/gpu/target.js';
import { DEFAULT_BINDING_LIMITS, type BindingLimits } from '../../runtime/gpu/limits.js';
import type { TokenizerData } from '../../runtime/tokenizers/index.js';
import { checkGpuSupport } from '../codegen/support.js';
import { diagnostic } from '../diagnostics/diagnostic.js';

import { MSPEC_VERSION } from '../version.js';
export { MSPEC_VERSION };

export interface SpecSources {
  readonly entry: string;
  readonly files: Readonly<Record<string, string>>;
}

export function specHash(sources: SpecSources, model: string): string {
  const h = createHash('sha256');
  h.update(model);
  for (const k of Object.keys(sources.files).sort()) h.update(`\0${k}\0${sources.files[k]}`);
  return h.digest('hex');
}

/**
 * What `plans` assume of the adapter: the features their kernels enable and, when any kernel
 * uses subgroup operations, the subgroup size they were generated for (a lower bound the
 * device's subgroups must meet). `adapter` names the adapter the tuning came from.
 */
export function planTarget(
  plans: readonly KernelPlan[],
  opts: { tuning: KernelTuning; subgroupMinSize?: number; adapter?: string },
): PlanTarget {
  const features = [...new Set(plans.flatMap((p) => p.kernels.flatMap((k) => featuresOfWgsl(k.code))))].sort();
  return {
    tuning: opts.tuning,
    adapter: opts.adapter ?? '',
    features,
    subgroupMinSize: features.includes('subgroups') ? (opts.subgroupMinSize ?? 0) : 0,
  };
}

/** The plans with `target` recorded on each (PlanRunner checks it before running). */
export function withTarget<P extends KernelPlan>(plan: P, target: PlanTarget): P {
  return { ...plan, target };
}

/**
 * What of `plan` no device with `limits` can run: a buffer over maxBufferSize, or a binding
 * (whole buffer or chunk) over maxStorageBufferBindingSize; null when everything fits.
 */
export function unboundable(plan: KernelPlan, limits: BindingLimits): { limit: string; have: string; needs: string; hint: string } | null {
  const mib = (n: number) => (n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`);
  const big = plan.buffers.find((b) => b.bytes > limits.maxBufferSize);
  if (big)
    return {
      limit: 'maxBufferSize',
      have: `${limits.maxBufferSize} bytes, ${mib(limits.maxBufferSize)}`,
      needs: `the ${plan.mode} buffer '${big.name}' ${JSON.stringify(big.shape)} takes ${big.bytes} bytes (${mib(big.bytes)})`,
      hint: `a buffer cannot be split: use a device whose maxBufferSize is at least ${big.bytes}, or a smaller vocab, context or d_model`,
    };
  const byName = new Map(plan.buffers.map((b) => [b.name, b]));
  for (const s of plan.steps) {
    if (s.kind !== 'kernel') continue;
    for (const [binding, name] of Object.entries(s.bind)) {
      const b = byName.get(name);
      const bytes = s.ranges?.[binding]?.size ?? b?.bytes ?? 0;
      if (!b || b.kind === 'uniform' || bytes <= limits.maxStorageBufferBindingSize) continue;
      return {
        limit: 'maxStorageBufferBindingSize',
        have: `${limits.maxStorageBufferBindingSize} bytes, ${mib(limits.maxStorageBufferBindingSize)}`,
        needs:
          `${s.scope} (${plan.kernels[s.kernel]!.name}, ${plan.mode}) binds '${name}' ${JSON.stringify(b.shape)} whole, ${bytes} bytes (${mib(bytes)}); ` +
          (plan.mode === 'train' || plan.mode === 'forward'
            ? 'training and evaluation plans bind only the token table, the LM head, its logits, the optimizer state and (forward only: training such a model is not supported) stacked expert weights in chunks'
            : 'inference plans bind only the token table, the LM head and stacked expert weights in chunks'),
        hint: `bindings of up to ${limits.maxStorageBufferBindingSize} bytes fit: use a smaller vocab, context or d_model, or a device with a larger limit`,
      };
    }
  }
  return null;
}

type Problem = NonNullable<ReturnType<typeof unboundable>>;

/**
 * The prefill plan: the whole context in one pass when it can be bound; otherwise, for a
 * decoder (causal attention, so a prompt can run in pieces over the KV cache), a chunked
 * prefill of R rows — the largest power of two below the context whose plan binds — that the
 * runtime runs as passes at offsets 0, R, 2R, … (runtime/prompt-passes.ts). An encoder's
 * attention is bidirectional (every position sees every other), so it cannot chunk.
 */
function prefillPlan(
  spec: ModelSpec,
  graph: Graph,
  popts: Omit<PlanOptions, 'mode'>,
  limits: BindingLimits,
): { plan: KernelPlan } | { problem: Problem } {
  const whole = planModel(spec, graph, { ...popts, mode: 'prefill' });
  const problem = unboundable(whole, limits);
  if (!problem) return { plan: whole };
  if (spec.arch !== 'decoder')
    return {
      problem: {
        ...problem,
        needs: `${problem.needs}; ${spec.arch === 'encoder' ? "an encoder's" : "an encoder–decoder's"} prefill runs all ${spec.context} positions in one pass (only a decoder's causal prefill can run in chunks of rows)`,
      },
    };
  for (let rows = 2 ** Math.floor(Math.log2(spec.context - 1)); rows >= 1; rows /= 2) {
    const plan = planModel(spec, graph, { ...popts, mode: 'prefill', rows });
    if (!unboundable(plan, limits)) return { plan };
  }
  return { problem };
}

export interface CompileModelResult {
  readonly data?: CompiledModelData;
  readonly diagnostics: readonly Diagnostic[];
}

export function compileForGpu(
  spec: ModelSpec,
  graph: Graph,
  sources: SpecSources,
  opts: {
    tuning: KernelTuning;
    subgroupMinSize?: number;
    adapter?: string;
    tokenizer: TokenizerData | null;
    limits?: BindingLimits;
    /** The most draft tokens a speculative decode verifies per pass (the verify plan has lookahead + 1 rows; default 8). */
    lookahead?: number;
  },
): CompileModelResult {
  const support = checkGpuSupport(spec);
  if (support.hasErrors) return { diagnostics: support.all };
  const limits = opts.limits ?? DEFAULT_BINDING_LIMITS;
  try {
    const popts = {
      tuning: opts.tuning,
      subgroupMinSize: opts.subgroupMinSize ?? 0,
      maxBinding: limits.maxStorageBufferBindingSize,
      bindAlign: limits.minStorageBufferOffsetAlignment,
    };
    const decode = planModel(spec, graph, { ...popts, mode: 'decode' });
    // An encoder–decoder encodes each source once; prefill and decode read its cross K/V.
    const encode = spec.arch === 'encoder_decoder' ? planModel(spec, graph, { ...popts, mode: 'encode' }) : null;
    for (const plan of encode ? [encode, decode] : [decode]) {
      const problem = unboundable(plan, limits);
      if (problem) return { diagnostics: [diagnostic('MS4002', spec.span, problem, { hint: problem.hint })] };
    }
    const prefill = prefillPlan(spec, graph, popts, limits);
    if ('problem' in prefill) return { diagnostics: [diagnostic('MS4002', spec.span, prefill.problem, { hint: prefill.problem.hint })] };
    // Speculative decoding (issue 13): a decode plan of lookahead + 1 rows scores a draft's tokens in one pass.
    // Decoders only; omitted when it cannot be bound (the runtime then refuses --draft with a message).
    const rows = Math.min(spec.context, (opts.lookahead ?? 8) + 1);
    let verify: KernelPlan | null =
      spec.arch === 'decoder' ? planModel(spec, graph, { ...popts, mode: 'decode', rows, sample: false }) : null;
    if (verify && unboundable(verify, limits)) verify = null;
    const target = planTarget(encode ? [encode, prefill.plan, decode] : [prefill.plan, decode, ...(verify ? [verify] : [])], opts);
    const rules = initRules(graph);
    const params: ParamInfo[] = graph.params.map((p) => ({ name: p.name, shape: p.shape, decay: p.decay, init: rules.get(p.name)! }));
    const data: CompiledModelData = {
      name: spec.name,
      mspecVersion: MSPEC_VERSION,
      spec: { path: sources.entry, source: JSON.stringify(sources), hash: specHash(sources, spec.name) },
      vocab: spec.vocab,
      context: spec.context,
      tokenizer: opts.tokenizer,
      license: spec.license ? { id: spec.license.id, name: spec.license.name, kind: spec.license.kind } : null,
      params,
      plans: {
        prefill: withTarget(prefill.plan, target),
        decode: withTarget(decode, target),
        ...(verify ? { verify: withTarget(verify, target) } : {}),
        ...(encode ? { encode: withTarget(encode, target) } : {}),
      },
      target,
    };
    return { data, diagnostics: [] };
  } catch (e) {
    if (e instanceof DispatchLimitError) return { diagnostics: [diagnostic('MS4002', spec.span, e.problem, { hint: e.problem.hint })] };
    if (e instanceof UnsupportedOpError)
      return { diagnostics: [diagnostic('MS4001', spec.span, { what: `${e.message} (in ${e.scope})` })] };
    throw e;
  }
}
