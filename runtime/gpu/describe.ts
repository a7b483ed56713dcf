/// <reference types="@webgpu/types" />
/**
 * What adapter we got, and which kernel tuning suits it. Kernels are tuned per adapter
 * class (see shared/design/webgpu-on-cpu.md): a software rasteriser runs a workgroup as a
 * SIMD loop on one CPU thread, where shared memory and barriers cost instead of help.
 */

/** 'cpu': a software adapter (lavapipe/llvmpipe, SwiftShader, WARP); 'gpu': anything else. */
export type AdapterClass = 'cpu' | 'gpu';

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** The adapter reports itself as a fallback (software) adapter. */
  isFallbackAdapter: boolean;
  /** Subgroup sizes the adapter may use (0 when it does not say). */
  subgroupMinSize: number;
  subgroupMaxSize: number;
  adapterClass: AdapterClass;
  /** One line for logs: "mesa / software / llvmpipe: Mesa 25.0.7 ... [cpu]". */
  summary: string;
}

const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|software|microsoft basic render|\bwarp\b/i;

export function classifyAdapter(
  info: Pick<AdapterDescription, 'vendor' | 'architecture' | 'device' | 'description' | 'isFallbackAdapter'>,
): AdapterClass {
  if (info.isFallbackAdapter) return 'cpu';
  const text = [info.vendor, info.architecture, info.device, info.description].join(' ');
  return SOFTWARE_ADAPTER.test(text) ? 'cpu' : 'gpu';
}

export function describeAdapter(adapter: GPUAdapter): AdapterDescription {
  // Dawn exposes isFallbackAdapter on info (the newer spec); older ones on the adapter.
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean; subgroupMinSize?: number; subgroupMaxSize?: number };
  const legacy = adapter as GPUAdapter & { isFallbackAdapter?: boolean };
  const base = {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    isFallbackAdapter: Boolean(info.isFallbackAdapter ?? legacy.isFallbackAdapter ?? false),
  };
  const adapterClass = classifyAdapter(base);
  const subgroups = { subgroupMinSize: info.subgroupMinSize ?? 0, subgroupMaxSize: info.subgroupMaxSize ?? 0 };
  const parts = [base.vendor, base.architecture, base.description].map((s) => s || '?');
  return { ...base, ...subgroups, adapterClass, summary: `${parts.join(' / ')} [${adapterClass}]` };
}

/**
 * Dawn prints these two at adapter creation. They are harmless (Dawn lowers its own
 * "unlimited" value to what it can allocate), but they cannot be filtered in-process:
 * Dawn writes them with fprintf(stderr) from native code (dawn::WarningLog), bypassing
 * process.stderr and console (checked: overriding both catches nothing). acquireDevice()
 * therefore creates Dawn's instance once per process, so they appear once; a CLI that
 * wants a clean stderr can run its work in a child process and pass its stderr through
 * filterDawnNoise().
 */
export const DAWN_STARTUP_NOISE =
  /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?\n?/gm;

export function filterDawnNoise(text: string): string {
  return text.replace(DAWN_STARTUP_NOISE, '');
}
