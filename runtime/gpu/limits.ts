/// <reference types="@webgpu/types" />
/**
 * Turning a caller's feature/limit wishes into a requestDevice() descriptor, failing with a
 * GpuUnavailableError that names the feature or limit when the adapter cannot meet them.
 */
import { GpuUnavailableError } from './errors.js';

/** A number is a minimum the job needs; 'max' asks for whatever the adapter allows. */
export type LimitRequest = number | 'max';

export interface FeatureAndLimitRequest {
  /** Features the job cannot run without. */
  requiredFeatures?: readonly string[];
  /** Features enabled when the adapter has them (check device.features afterwards). */
  optionalFeatures?: readonly string[];
  /** e.g. { maxStorageBufferBindingSize: 'max', maxStorageBuffersPerShaderStage: 10 } */
  limits?: Readonly<Record<string, LimitRequest>>;
}

/** Alignment limits are "better" when smaller; every other limit when larger. */
function isAlignmentLimit(name: string): boolean {
  return name.startsWith('min');
}

function formatBytesish(name: string, value: number): string {
  if (!/Size$/.test(name) || value < 1024) return String(value);
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = value / 1024,
    i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${value} (${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]})`;
}

export function resolveDeviceDescriptor(
  adapter: GPUAdapter,
  adapterName: string,
  req: FeatureAndLimitRequest,
  label?: string,
): GPUDeviceDescriptor {
  const features: GPUFeatureName[] = [];
  for (const f of req.requiredFeatures ?? []) {
    if (!adapter.features.has(f)) {
      throw new GpuUnavailableError(
        `The WebGPU adapter (${adapterName}) lacks the feature '${f}', which this job requires. ` +
          `Available: ${[...adapter.features].sort().join(', ') || 'none'}. Use a machine whose adapter ` +
          `has it, or a build of the job that does not need it.`,
        { reason: 'missing-feature', name: f },
      );
    }
    features.push(f as GPUFeatureName);
  }
  for (const f of req.optionalFeatures ?? []) {
    if (adapter.features.has(f) && !features.includes(f as GPUFeatureName)) features.push(f as GPUFeatureName);
  }

  const adapterLimits = adapter.limits as unknown as Record<string, number | undefined>;
  const requiredLimits: Record<string, number> = {};
  for (const [name, wanted] of Object.entries(req.limits ?? {})) {
    const have = adapterLimits[name];
    if (typeof have !== 'number') {
      throw new GpuUnavailableError(
        `The WebGPU adapter (${adapterName}) has no limit named '${name}' (a typo, or a limit this ` +
          `WebGPU implementation does not know).`,
        { reason: 'limit-too-small', name },
      );
    }
    if (wanted === 'max') {
      requiredLimits[name] = have;
      continue;
    }
    const ok = isAlignmentLimit(name) ? have <= wanted : have >= wanted;
    if (!ok) {
      const cmp = isAlignmentLimit(name) ? 'at most' : 'at least';
      throw new GpuUnavailableError(
        `The WebGPU adapter (${adapterName}) is too small for this job: limit ${name} is ` +
          `${formatBytesish(name, have)} but ${cmp} ${formatBytesish(name, wanted)} is needed. ` +
          `Use a smaller model or batch, or a machine whose adapter allows more.`,
        { reason: 'limit-too-small', name, have, need: wanted },
      );
    }
    requiredLimits[name] = wanted;
  }
  return { requiredFeatures: features, requiredLimits, ...(label ? { label } : {}) };
}

/**
 * The three limits a plan is laid out against: the largest storage binding (larger tensors are
 * bound in chunks), the largest buffer (nothing can split one tensor's buffer) and the alignment
 * of a binding's offset (chunks start on it).
 */
export interface BindingLimits {
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  readonly minStorageBufferOffsetAlignment: number;
}

/** The WebGPU spec's default limits: what every adapter grants, and what a build without an adapter assumes. */
export const DEFAULT_BINDING_LIMITS: BindingLimits = {
  maxStorageBufferBindingSize: 128 * 2 ** 20,
  maxBufferSize: 256 * 2 ** 20,
  minStorageBufferOffsetAlignment: 256,
};

/** The binding limits of a device (GpuContext.limits), falling back to the defaults for any it does not report. */
export function bindingLimitsOf(limits: Readonly<Record<string, number>>): BindingLimits {
  const pick = (k: keyof BindingLimits) => (typeof limits[k] === 'number' ? limits[k] : DEFAULT_BINDING_LIMITS[k]);
  return {
    maxStorageBufferBindingSize: pick('maxStorageBufferBindingSize'),
    maxBufferSize: pick('maxBufferSize'),
    minStorageBufferOffsetAlignment: pick('minStorageBufferOffsetAlignment'),
  };
}
