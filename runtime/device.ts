/// <reference types="@webgpu/types" />
/**
 * Acquiring a WebGPU device: in Node through Dawn (npm `webgpu`), in a browser through
 * navigator.gpu. Fails with a GpuUnavailableError that says what is missing and what to do;
 * turns a lost device into rejected promises (see gpu/queue.ts) rather than hangs; and
 * release() destroys the device so Node can exit.
 */
import { GpuUnavailableError, SETUP_HINT } from './gpu/errors.js';
import { describeAdapter, type AdapterClass, type AdapterDescription } from './gpu/describe.js';
import { resolveDeviceDescriptor, type FeatureAndLimitRequest, type LimitRequest } from './gpu/limits.js';

export { GpuUnavailableError, DeviceLostError, SETUP_HINT } from './gpu/errors.js';
export type { GpuUnavailableReason } from './gpu/errors.js';
export { classifyAdapter, describeAdapter, filterDawnNoise, DAWN_STARTUP_NOISE } from './gpu/describe.js';
export type { AdapterClass, AdapterDescription } from './gpu/describe.js';
export type { FeatureAndLimitRequest, LimitRequest, BindingLimits } from './gpu/limits.js';
export { DEFAULT_BINDING_LIMITS, bindingLimitsOf } from './gpu/limits.js';
export { waitForQueue, readBuffer, uploadBuffer, unlessLost, sleep } from './gpu/queue.js';
export type { ReadOptions } from './gpu/queue.js';
export { compileKernel, bindKernel, encodeKernel, KernelCompileError } from './gpu/kernel.js';
export type { KernelLike } from './gpu/kernel.js';

export interface AcquireOptions extends FeatureAndLimitRequest {
  /** Enable the 'subgroups' feature when the adapter has it (default true; kernels use it on lavapipe). */
  subgroups?: boolean;
  /**
   * Enable 'timestamp-query' when the adapter has it (profiling: runtime/profile.ts; check
   * GpuContext.features). In Node it also turns off Dawn's timestamp quantization, which rounds
   * every timestamp down to 65.5 µs (a timing-attack guard for web pages) — coarser than most
   * kernels of a small model take.
   */
  timestamps?: boolean;
  powerPreference?: GPUPowerPreference;
  /** Node (Dawn) only: extra flags for Dawn's create(), e.g. 'backend=vulkan', 'adapter=NAME'. */
  dawnFlags?: readonly string[];
  /**
   * Node (Dawn) only: turn off Dawn's robustness transform (the bounds clamps it adds to every
   * buffer access). The design notes measured 5-10% on lavapipe; our matmul showed no
   * difference (lavapipe bounds-checks every access itself). Only for kernels whose every
   * access is in bounds by construction: an out-of-bounds access is then undefined behaviour.
   */
  disableRobustness?: boolean;
  label?: string;
  /** Validation / out-of-memory errors nobody captured. Default: console.error. */
  onUncapturedError?: (error: GPUError) => void;
}

export interface DeviceLostInfo {
  reason: string;
  message: string;
}

export interface GpuContext {
  /** The device; throws after release(). */
  readonly device: GPUDevice;
  readonly adapter: AdapterDescription;
  /** Which kernel tuning suits this adapter. */
  readonly adapterClass: AdapterClass;
  readonly features: ReadonlySet<string>;
  /** Smallest subgroup size when the 'subgroups' feature is enabled on the device, else 0. */
  readonly subgroupMinSize: number;
  /** The device's limits (what was granted, which is at least what was asked). */
  readonly limits: Readonly<Record<string, number>>;
  /** Resolves when the device is lost, including by release() (reason 'destroyed'). */
  readonly lost: Promise<DeviceLostInfo>;
  readonly isLost: boolean;
  /** Destroys the device (pending waits reject with DeviceLostError) and drops references. */
  release(): void;
}

/** Limits every device is created with at the adapter's maximum unless the caller names them. */
const ADAPTER_MAX_LIMITS: Readonly<Record<string, LimitRequest>> = {
  maxStorageBufferBindingSize: 'max',
  maxBufferSize: 'max',
  maxStorageBuffersPerShaderStage: 'max',
};

/** One Dawn instance per flag set: each create() re-enumerates adapters (and re-prints Dawn's start-up warnings). */
const dawnInstances = new Map<string, GPU>();

function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

async function findGpu(opts: AcquireOptions): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  const nodeTimestamps = Boolean(opts.timestamps) && isNode();
  if (nav?.gpu && !opts.dawnFlags?.length && !opts.disableRobustness && !nodeTimestamps) return nav.gpu;
  if (!isNode()) {
    throw new GpuUnavailableError(
      'This browser has no WebGPU (navigator.gpu is missing). Use a browser with WebGPU enabled ' +
        '(Chrome/Edge 113+, Firefox 141+, Safari 26+), served over https or localhost.',
      { reason: 'no-webgpu' },
    );
  }
  const flags = [...(opts.dawnFlags ?? [])];
  if (opts.disableRobustness) flags.push('enable-dawn-features=disable_robustness');
  if (nodeTimestamps) flags.push('disable-dawn-features=timestamp_quantization');
  const key = flags.join('\n');
  const cached = dawnInstances.get(key);
  if (cached) return cached;
  let mod: { create(flags: string[]): GPU; globals: object };
  try {
    mod = await import('webgpu');
  } catch (cause) {
    throw new GpuUnavailableError(
      `Could not load the npm package 'webgpu' (Dawn's native WebGPU bindings for Node; a browser uses navigator.gpu instead): ${(cause as Error).message}. ` +
        'Install it where this code runs: in a model folder written by `mspec build`, run `npm install` there (its package.json lists it); ' +
        'elsewhere `npm install webgpu@0.6.2`. On a GPU-less Linux machine Dawn also needs a software Vulkan driver: ' +
        SETUP_HINT +
        '.',
      { reason: 'no-webgpu', cause },
    );
  }
  Object.assign(globalThis, mod.globals); // GPUBufferUsage, GPUMapMode, ...
  const gpu = mod.create(flags);
  dawnInstances.set(key, gpu);
  return gpu;
}

export async function acquireDevice(opts: AcquireOptions = {}): Promise<GpuContext> {
  const gpu = await findGpu(opts);
  let adapter: GPUAdapter | null;
  const flagNote = opts.dawnFlags?.length ? ` with Dawn flags [${opts.dawnFlags.join(', ')}]` : '';
  try {
    adapter = await gpu.requestAdapter(opts.powerPreference ? { powerPreference: opts.powerPreference } : undefined);
  } catch (cause) {
    // Dawn throws (rather than returning null) when flags such as adapter=NAME match nothing.
    throw new GpuUnavailableError(`Dawn found no matching WebGPU adapter${flagNote}: ${(cause as Error).message}`, {
      reason: 'no-adapter',
      cause,
    });
  }
  if (!adapter) {
    const where = isNode()
      ? `Dawn (npm \`webgpu\`) found no WebGPU adapter${flagNote}: no usable GPU driver and no software Vulkan driver`
      : 'navigator.gpu.requestAdapter() returned null (WebGPU is disabled or blocklisted for this GPU)';
    throw new GpuUnavailableError(
      `${where}. To fix it, ${isNode() ? SETUP_HINT : 'enable WebGPU in the browser settings or use another machine'}.`,
      { reason: 'no-adapter' },
    );
  }
  const description = describeAdapter(adapter);
  const optionalFeatures = [
    ...(opts.optionalFeatures ?? []),
    ...(opts.subgroups === false ? [] : ['subgroups']),
    ...(opts.timestamps ? ['timestamp-query'] : []),
  ];
  // Plans are laid out against the adapter's real binding and buffer limits (large tensors
  // bound in chunks), not the spec defaults a device gets unless it asks: ask for them.
  const limits = { ...ADAPTER_MAX_LIMITS, ...opts.limits };
  const descriptor = resolveDeviceDescriptor(adapter, description.summary, { ...opts, optionalFeatures, limits }, opts.label);
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice(descriptor);
  } catch (cause) {
    throw new GpuUnavailableError(`The WebGPU adapter (${description.summary}) refused to create a device: ${(cause as Error).message}`, {
      reason: 'device-request-failed',
      cause,
    });
  }
  return wrapDevice(device, description, opts);
}

function wrapDevice(device: GPUDevice, adapter: AdapterDescription, opts: AcquireOptions): GpuContext {
  let current: GPUDevice | null = device;
  let isLost = false;
  const lost: Promise<DeviceLostInfo> = device.lost.then((info) => {
    isLost = true;
    return { reason: String(info.reason), message: info.message };
  });
  const report = opts.onUncapturedError ?? ((e: GPUError) => console.error(`WebGPU error: ${e.message}`));
  device.addEventListener('uncapturederror', (ev) => report((ev as GPUUncapturedErrorEvent).error));

  const limits: Record<string, number> = {};
  for (const name in device.limits) {
    const v = (device.limits as unknown as Record<string, unknown>)[name];
    if (typeof v === 'number') limits[name] = v;
  }
  return {
    get device(): GPUDevice {
      if (!current) throw new Error('This GpuContext was released; acquire a new device with acquireDevice().');
      return current;
    },
    adapter,
    adapterClass: adapter.adapterClass,
    features: new Set(device.features),
    subgroupMinSize: device.features.has('subgroups') ? adapter.subgroupMinSize : 0,
    limits,
    lost,
    get isLost() {
      return isLost;
    },
    release() {
      if (!current) return;
      current.destroy();
      current = null;
    },
  };
}
