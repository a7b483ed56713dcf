/**
 * Checking, before anything runs, that a device meets what a plan's kernels assume of the
 * adapter (PlanTarget: features, smallest subgroup size). A mismatch is refused with a
 * message that says to rebuild, never run: kernels built for 8-wide subgroups (lavapipe)
 * give wrong logits, silently, on an adapter whose subgroups are 4 wide (SwiftShader).
 */
import type { PlanTarget } from '../plan-types.js';

/** The parts of a GpuContext the check reads (a plain object in tests). */
export interface TargetDevice {
  readonly features: ReadonlySet<string>;
  readonly adapter: { readonly summary: string; readonly subgroupMinSize: number; readonly subgroupMaxSize: number };
}

/** A plan built for an adapter this device does not match. */
export class PlanTargetError extends Error {
  override readonly name = 'PlanTargetError';
}

/** WGSL `enable` extensions → the WebGPU feature each needs. */
export const FEATURE_OF_ENABLE: Readonly<Record<string, string>> = { subgroups: 'subgroups', f16: 'shader-f16' };

/** The features a kernel's WGSL enables (from its `enable …;` directives). */
export function featuresOfWgsl(code: string): string[] {
  const out = new Set<string>();
  for (const m of code.matchAll(/^\s*enable\s+([A-Za-z0-9_,\s]+);/gm)) {
    for (const ext of m[1]!
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean))
      out.add(FEATURE_OF_ENABLE[ext] ?? ext);
  }
  return [...out];
}

/** Throws PlanTargetError when `gpu` does not meet `target`; `what` names the model or plan. */
export function checkPlanTarget(target: PlanTarget, gpu: TargetDevice, what: string): void {
  const built = `built with the '${target.tuning}' tuning${target.adapter ? ` for ${target.adapter}` : ''}`;
  const fix =
    `Rebuild it for this adapter: run \`mspec build SPEC -o DIR\` on a machine with this adapter, or ` +
    '`mspec build SPEC -o DIR --tuning gpu` (or `--tuning cpu`), whose kernels use no subgroup operations and run on any adapter';
  const missing = target.features.filter((f) => !gpu.features.has(f));
  if (missing.length) {
    throw new PlanTargetError(
      `${what} was ${built}; its kernels need the WebGPU feature${missing.length > 1 ? 's' : ''} ${missing.map((f) => `'${f}'`).join(', ')}, ` +
        `which this device (${gpu.adapter.summary}) does not have. ${fix}.`,
    );
  }
  if (target.subgroupMinSize > 0) {
    const have = gpu.adapter.subgroupMinSize;
    if (have < target.subgroupMinSize) {
      const sizes =
        have > 0
          ? `may be as narrow as ${have} lanes (subgroup sizes ${have}-${gpu.adapter.subgroupMaxSize})`
          : 'are of unknown width (the adapter does not report subgroupMinSize)';
      throw new PlanTargetError(
        `${what} was ${built}; its kernels assume subgroups of at least ${target.subgroupMinSize} lanes, ` +
          `but this device's (${gpu.adapter.summary}) ${sizes}: they would compute wrong numbers. ${fix}.`,
      );
    }
  }
}
