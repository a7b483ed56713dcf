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
import { planModel } from './plan.js';
import type { KernelTuning } from '../codegen/wgsl/matmul.js';
import type { ModelSpec } from '../semantics/model.js';
import type { CompiledModelData } from '../../runtime/model-runtime.js';
import type { KernelPlan, ParamInfo, PlanTarget } from '../../runtime/plan-types.js';
import { featuresOfWgsl } from '../../runtime/gpu/target.js';
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

export interface CompileModelResult {
  readonly data?: CompiledModelData;
  readonly diagnostics: readonly Diagnostic[];
}

export function compileForGpu(
  spec: ModelSpec,
  graph: Graph,
  sources: SpecSources,
  opts: { tuning: KernelTuning; subgroupMinSize?: number; adapter?: string; tokenizer: TokenizerData | null; maxBinding?: number },
): CompileModelResult {
  const support = checkGpuSupport(spec);
  if (support.hasErrors) return { diagnostics: support.all };
  try {
    const popts = { tuning: opts.tuning, subgroupMinSize: opts.subgroupMinSize ?? 0 };
    const prefill = planModel(spec, graph, { ...popts, mode: 'prefill' });
    const decode = planModel(spec, graph, { ...popts, mode: 'decode' });
    // An encoder–decoder encodes each source once; prefill and decode read its cross K/V.
    const encode = spec.arch === 'encoder_decoder' ? planModel(spec, graph, { ...popts, mode: 'encode' }) : null;
    const limit = opts.maxBinding ?? 128 * 2 ** 20;
    for (const plan of encode ? [encode, prefill, decode] : [prefill, decode]) {
      const big = plan.buffers.find((b) => b.bytes > limit);
      if (big) {
        return {
          diagnostics: [
            diagnostic(
              'MS4002',
              spec.span,
              {
                limit: 'maxStorageBufferBindingSize',
                have: `${limit} bytes`,
                needs: `the ${plan.mode} buffer '${big.name}' ${JSON.stringify(big.shape)} takes ${big.bytes} bytes`,
              },
              { hint: 'use a smaller vocab or context for GPU runs, or a device with a larger limit' },
            ),
          ],
        };
      }
    }
    const target = planTarget(encode ? [encode, prefill, decode] : [prefill, decode], opts);
    const rules = initRules(graph);
    const params: ParamInfo[] = graph.params.map((p) => ({ name: p.name, shape: p.shape, decay: p.decay, init: rules.get(p.name)! }));
    const data: CompiledModelData = {
      name: spec.name,
      mspecVersion: MSPEC_VERSION,
      spec: { path: sources.entry, source: JSON.stringify(sources), hash: specHash(sources, spec.name) },
      vocab: spec.vocab,
      context: spec.context,
      tokenizer: opts.tokenizer,
      params,
      plans: {
        prefill: withTarget(prefill, target),
        decode: withTarget(decode, target),
        ...(encode ? { encode: withTarget(encode, target) } : {}),
      },
      target,
    };
    return { data, diagnostics: [] };
  } catch (e) {
    if (e instanceof UnsupportedOpError)
      return { diagnostics: [diagnostic('MS4001', spec.span, { what: `${e.message} (in ${e.scope})` })] };
    throw e;
  }
}
