/** Acquiring, describing and releasing the real WebGPU device (lavapipe in CI). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  acquireDevice,
  classifyAdapter,
  DeviceLostError,
  filterDawnNoise,
  GpuUnavailableError,
  readBuffer,
  uploadBuffer,
  waitForQueue,
  type GpuContext,
} from '../../runtime/device.js';

describe('acquireDevice', () => {
  let gpu: GpuContext;
  beforeAll(async () => {
    gpu = await acquireDevice({ limits: { maxStorageBufferBindingSize: 'max', maxStorageBuffersPerShaderStage: 8 } });
  });
  afterAll(() => gpu?.release());

  it('describes and classifies the adapter', () => {
    const a = gpu.adapter;
    expect(a.summary).toContain(`[${a.adapterClass}]`);
    expect(['cpu', 'gpu']).toContain(a.adapterClass);
    if (/llvmpipe|lavapipe/i.test(a.description + a.device)) {
      expect(a.adapterClass).toBe('cpu');
      expect(a.vendor).toBe('mesa');
    }
    expect(gpu.adapterClass).toBe(a.adapterClass);
  });

  it("grants 'max' limits at the adapter's maximum and numeric ones at least as asked", () => {
    expect(gpu.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    expect(gpu.limits.maxStorageBuffersPerShaderStage).toBeGreaterThanOrEqual(8);
  });

  it('enables subgroups when the adapter has them', () => {
    expect(gpu.subgroupMinSize).toBe(gpu.features.has('subgroups') ? gpu.adapter.subgroupMinSize : 0);
  });

  it('round-trips a buffer through uploadBuffer / waitForQueue / readBuffer', async () => {
    const data = Float32Array.from({ length: 37 }, (_, i) => i * 0.5 - 3);
    const buf = uploadBuffer(gpu.device, data);
    await waitForQueue(gpu.device, 1);
    expect([...new Float32Array(await readBuffer(gpu.device, buf, data.byteLength))]).toEqual([...data]);
    expect([...new Float32Array(await readBuffer(gpu.device, buf, 8, { offset: 8, expectedMs: 1 }))]).toEqual([data[2], data[3]]);
    buf.destroy();
  });
});

describe('acquireDevice failures', () => {
  it('names the limit, what the adapter has and what is needed', async () => {
    const err = await acquireDevice({ limits: { maxComputeWorkgroupStorageSize: 2 ** 30 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuUnavailableError);
    const e = err as GpuUnavailableError;
    expect(e.reason).toBe('limit-too-small');
    expect(e.limit).toBe('maxComputeWorkgroupStorageSize');
    expect(e.need).toBe(2 ** 30);
    expect(e.message).toContain(`limit maxComputeWorkgroupStorageSize is ${e.have}`);
    expect(e.message).toContain('at least 1073741824 (1 GiB) is needed');
  });

  it('names a missing feature', async () => {
    const err = await acquireDevice({ requiredFeatures: ['mspec-no-such-feature'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuUnavailableError);
    expect((err as GpuUnavailableError).reason).toBe('missing-feature');
    expect((err as GpuUnavailableError).message).toContain("lacks the feature 'mspec-no-such-feature'");
  });

  it('says what to do when there is no adapter', async () => {
    const err = await acquireDevice({ dawnFlags: ['backend=d3d12'] }).catch((e: unknown) => e); // none on Linux
    expect(err).toBeInstanceOf(GpuUnavailableError);
    expect((err as GpuUnavailableError).reason).toBe('no-adapter');
    expect((err as Error).message).toContain('bash scripts/setup-webgpu.sh');
  });
});

describe('release', () => {
  it('destroys the device, resolves lost, and rejects pending work instead of hanging', async () => {
    const gpu = await acquireDevice();
    const buf = uploadBuffer(gpu.device, new Float32Array(1024));
    const pending = readBuffer(gpu.device, buf, 4096);
    gpu.release();
    await expect(pending).rejects.toThrow();
    await expect(gpu.lost).resolves.toMatchObject({ reason: 'destroyed' });
    expect(gpu.isLost).toBe(true);
    expect(() => gpu.device).toThrow(/released/);
    gpu.release(); // idempotent
  });

  it('turns a wait on a lost device into a DeviceLostError', async () => {
    const gpu = await acquireDevice();
    const device = gpu.device;
    gpu.release();
    await gpu.lost;
    // Dawn may also resolve the wait once the device is gone (its lost callback and the
    // already-finished queue race); it must settle either way, and a rejection must say the
    // device was lost. Every outcome is asserted: 'hung' or any other error fails.
    const outcome = await Promise.race([
      waitForQueue(device, 0).then(
        () => 'resolved' as const,
        (e: unknown) => e,
      ),
      new Promise((resolve) => setTimeout(() => resolve('hung'), 10_000)),
    ]);
    expect(outcome === 'resolved' || outcome instanceof DeviceLostError, `waitForQueue on a lost device gave ${String(outcome)}`).toBe(
      true,
    );
  });
});

describe('helpers', () => {
  it('classifies software adapters as cpu', () => {
    const base = { vendor: '', architecture: '', device: '', description: '', isFallbackAdapter: false };
    expect(classifyAdapter({ ...base, vendor: 'mesa', description: 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)' })).toBe('cpu');
    expect(classifyAdapter({ ...base, vendor: 'google', architecture: 'swiftshader' })).toBe('cpu');
    expect(classifyAdapter({ ...base, isFallbackAdapter: true })).toBe('cpu');
    expect(classifyAdapter({ ...base, vendor: 'nvidia', architecture: 'ampere' })).toBe('gpu');
  });

  it("filters Dawn's harmless start-up warnings and nothing else", () => {
    const text = [
      'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.',
      'real error',
      'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.',
      '',
    ].join('\n');
    expect(filterDawnNoise(text)).toBe('real error\n');
  });
});
