/**
 * Tables larger than one storage binding: a tiny model compiled against a forced binding limit
 * of a few KiB binds its token table and LM head in chunks and computes only the last prompt
 * row's logits in prefill; its prefill and decode logits must still match the CPU interpreter.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileGpu } from '../../compiler/cli/gpu-model.js';
import { initParams, interpretGraph } from '../../compiler/ir/interpret.js';
import { rowChunks } from '../../compiler/schedule/chunks.js';
import { acquireDevice, type GpuContext } from '../../runtime/device.js';
import { DEFAULT_BINDING_LIMITS } from '../../runtime/gpu/limits.js';
import { ModelError, ModelRuntime } from '../../runtime/model-runtime.js';

let gpu: GpuContext;
const tmp = mkdtempSync(join(tmpdir(), 'mspec-chunks-'));

beforeAll(async () => {
  gpu = await acquireDevice();
});
afterAll(() => {
  gpu?.release();
  rmSync(tmp, { recursive: true, force: true });
});

const spec = (name: string, tied: boolean) => `model ${name} {
  vocab = 300
  context = 16
  d_model = 16
  layers = 1
  bias = true
  embedding { positions: learned, tied: ${tied} }
  block {
    norm: layernorm(eps: 1e-5)
    placement: pre
    attention { heads: 2, causal }
    mlp { activation: gelu_tanh, hidden: 4 * d_model }
  }
  final_norm = layernorm(eps: 1e-5)
}
`;

const LIMITS = { ...DEFAULT_BINDING_LIMITS, maxStorageBufferBindingSize: 8192 };

function compiled(name: string, tied: boolean, limits = LIMITS) {
  const file = join(tmp, `${name}.model`);
  writeFileSync(file, spec(name, tied));
  return compileGpu(file, { tuning: gpu.adapterClass, subgroupMinSize: gpu.subgroupMinSize, limits });
}

/** The interpreter's logits (float64 reference path) for `tokens` at init seed 7, [T, vocab]. */
function reference(
  model: ReturnType<typeof compiled>['models'][number]['model'],
  tokens: number[],
): ArrayLike<number> & { subarray(a: number, b: number): ArrayLike<number> } {
  const g = model.graph!;
  const T = tokens.length;
  const inputs = new Map<string, Int32Array>(
    (
      [
        ['tokens', Int32Array.from(tokens)],
        ['positions', Int32Array.from({ length: T }, (_, i) => i)],
        ['targets', new Int32Array(T).fill(-1)],
      ] as [string, Int32Array][]
    ).filter(([n]) => g.inputs.some((v) => g.values[v]!.name === n)),
  );
  const values = interpretGraph(g, { params: initParams(g, 7), inputs, B: 1, T });
  return values.get(g.outputs.find((v) => g.values[v]!.name.endsWith('logits'))!)!.data;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('rowChunks', () => {
  it('splits into aligned ranges no larger than the limit, covering every row once', () => {
    const chunks = rowChunks(300, 64, 8192, 256, 64)!;
    expect(chunks.map((c) => c.rows)).toEqual([128, 128, 44]);
    for (const c of chunks) {
      expect(c.range.size).toBeLessThanOrEqual(8192);
      expect(c.range.offset % 256).toBe(0);
      expect((c.row0 * 4) % 256).toBe(0);
    }
    expect(rowChunks(300, 64, 1 << 20, 256)).toEqual([{ row0: 0, rows: 300, range: { offset: 0, size: 19200 } }]);
    expect(rowChunks(10, 4096, 1024, 256)).toBeNull();
  });
});

describe.each([
  ['chunk_tied', true],
  ['chunk_untied', false],
] as const)('%s: token table and LM head bound in chunks', (name, tied) => {
  it('prefill (last row only) and decode logits match the interpreter', async () => {
    const r = compiled(name, tied);
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const { model, data } = r.models[0]!;
    const prefill = data.plans.prefill;
    expect(prefill.io.lastRow).toBeDefined();
    expect(prefill.buffers.find((b) => b.name === prefill.io.logits)!.shape).toEqual([1, 1, 300]);
    // Three chunks of the table (128, 128, 44 rows) in the gather and in the head.
    const chunked = prefill.steps.filter((s) => s.kind === 'kernel' && s.ranges);
    expect(chunked.length).toBe(4);
    const rt = await ModelRuntime.create(data, { gpu });
    try {
      rt.init(7);
      const tokens = Array.from({ length: 12 }, (_, i) => (i * 97 + 5) % 300);
      const want = reference(model, tokens);
      const n = 9;
      const last = await rt.prefillPrompt(tokens.slice(0, n));
      expect(maxAbsDiff(last, want.subarray((n - 1) * 300, n * 300))).toBeLessThan(1e-4);
      for (let p = n; p < tokens.length; p++) {
        const step = await rt.decodeStep(tokens[p]!, p);
        expect(maxAbsDiff(step, want.subarray(p * 300, (p + 1) * 300))).toBeLessThan(1e-4);
      }
      await expect(rt.logits(tokens)).rejects.toThrow(ModelError);
    } finally {
      rt.release();
    }
  }, 60_000);
});

describe('MS4002', () => {
  it('names the binding that cannot be split and what fits', () => {
    const r = compiled('too_small', true, { ...DEFAULT_BINDING_LIMITS, maxStorageBufferBindingSize: 1024 });
    const d = r.diagnostics.find((x) => x.code === 'MS4002');
    expect(d?.message).toMatch(/maxStorageBufferBindingSize \(1024 bytes/);
    expect(d?.message).toMatch(/binds 'embed.tokens.weight' \[300,16\] whole, 19200 bytes/);
  });

  it('a buffer over maxBufferSize is reported as such', () => {
    const r = compiled('too_big', true, { ...DEFAULT_BINDING_LIMITS, maxBufferSize: 4096 });
    expect(r.diagnostics.find((x) => x.code === 'MS4002')?.message).toMatch(/maxBufferSize \(4096 bytes/);
  });
});
