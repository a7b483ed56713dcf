/**
 * The forward attention kernel for encoders and encoder–decoders on the real adapter, against
 * the CPU interpreter (compiler/ir/interpret/attention.ts: every score, a plain softmax, float64
 * sums; its T5 buckets are checked against HF in test/ir/attention-t5-buckets.test.ts):
 * bidirectional self-attention (GQA, MQA, windows |i − j| < w, symmetric ALiBi), cross-attention
 * with S ≠ T (the Step uniform's kv_len is not read: it is set to a wrong value here), the T5
 * relative bias in both bucket modes with keys beyond max_distance, and unscaled scores. Every
 * case runs both emitters (simple; subgroup where the adapter has subgroups) and both tunings,
 * and checks lse against the interpreter's saved log-sum-exp.
 * Tolerance |err| <= 1e-6 + 1e-6·|ref| (f32 scores, exp and sums over at most 16 keys; on lavapipe
 * the worst element used 18% of it).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateAttention } from '../../compiler/codegen/wgsl/kernels/attention.js';
import { t5BucketWgsl } from '../../compiler/codegen/wgsl/kernels/attention-common.js';
import { assemble, Bindings, linear } from '../../compiler/codegen/wgsl/kernels/common.js';
import { packStep } from '../../compiler/codegen/wgsl/kernel-types.js';
import { attention } from '../../compiler/ir/interpret/attention.js';
import { attentionSave } from '../../compiler/ir/interpret/backward-attention.js';
import { attrsOf, CASES, emitters, inputsOf, kernelKnobs, keysOf, tensorsOf } from './attention-encoder-cases.js';
import { expectClose, useGpu } from './gpu-harness.js';

const gpu = useGpu();
const TOL = { abs: 1e-6, rel: 1e-6 };

describe('encoder / encoder–decoder attention matches the interpreter', () => {
  it.each(CASES.map((c, n) => [c.name, c, n] as const))('%s', async (_, c, n) => {
    const x = inputsOf(c, 40 + 5 * n);
    const ins = tensorsOf(c, x);
    const a = attrsOf(c);
    const want = attention(ins, a);
    const lse = attentionSave(ins, want, a)[0]!;
    const S = keysOf(c);
    for (const v of emitters(gpu().gpu.subgroupMinSize)) {
      const spec = { B: c.B, Tq: c.T, Tk: S, ...kernelKnobs(c), lse: true, ...v };
      const r = gpu().clear('out', 'lse').set('q', x.q).set('k', x.k).set('v', x.v);
      if (x.rel.length) r.set('rel', x.rel);
      // Cross-attention reads all S keys whatever kv_len says; self-attention reads kv_len = T.
      r.set('step', packStep({ offset: 0, kv_len: c.cross ? 1 : S }));
      await r.run(generateAttention(spec));
      const what = `${c.name} ${JSON.stringify(v)}`;
      expectClose(await r.read('out'), want.data, TOL, `${what}: out`);
      expectClose(await r.read('lse'), lse.data, TOL, `${what}: lse`);
    }
  });

  it('decode: one query at a time at Step.offset over the cache equals the full pass (relative bias, causal)', async () => {
    const c = CASES.find((k) => k.positions === 'relative' && k.causal)!;
    const x = inputsOf(c, 7);
    const want = attention(tensorsOf(c, x), attrsOf(c));
    const D = c.heads * c.head_dim;
    const r = gpu().clear('out').set('k', x.k).set('v', x.v).set('rel', x.rel);
    const k = generateAttention({ B: 1, Tq: 1, Tk: c.T, ...kernelKnobs(c), variant: 'simple' });
    for (let t = 0; t < c.T; t++) {
      r.set('q', x.q.subarray(t * D, (t + 1) * D)).set('step', packStep({ offset: t, kv_len: t + 1 }));
      await r.run(k);
      expectClose(await r.read('out'), want.data.subarray(t * D, (t + 1) * D), TOL, `decode step ${t}`);
    }
  });
});

describe('the GPU T5 bucket function equals HF T5 _relative_position_bucket', () => {
  interface BucketCase {
    buckets: number;
    max_distance: number;
    span: number;
    bidirectional: boolean;
    buckets_of_rel: number[];
  }
  // test/fixtures/t5/buckets.json: HF's function under PyTorch (scripts/fixtures/make_t5_buckets.py).
  const fixture = JSON.parse(readFileSync(new URL('../fixtures/t5/buckets.json', import.meta.url), 'utf8')) as { cases: BucketCase[] };
  it.each(
    fixture.cases.map(
      (c) => [`${c.buckets} buckets, max_distance ${c.max_distance}, ${c.bidirectional ? 'bidirectional' : 'causal'}`, c] as const,
    ),
  )('%s, every rel in [−span, span]', async (_, c) => {
    const n = c.buckets_of_rel.length;
    const lin = linear('buckets', n);
    const k = assemble({
      entryPoint: 'buckets',
      fuses: [],
      shapes: { out: [n] },
      notes: ['out[i] = t5_bucket(i − span)'],
      bindings: new Bindings('buckets').storage('out', 'read_write', [n]),
      launch: lin,
      flops: 0,
      prelude: t5BucketWgsl({ buckets: c.buckets, maxDistance: c.max_distance, bidirectional: c.bidirectional }),
      main: `@compute @workgroup_size(${lin.workgroupSize[0]})
fn buckets(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${lin.wgsl}
  out[i] = f32(t5_bucket(i32(i) - ${c.span}));
}`,
    });
    const r = gpu().clear('out');
    await r.run(k);
    expect(Array.from((await r.read('out')).subarray(0, n))).toEqual(c.buckets_of_rel);
  });
  it('refuses a table whose max_distance does not exceed the exact buckets (HF divides by log 1 = 0)', () => {
    expect(() => t5BucketWgsl({ buckets: 8, maxDistance: 4, bidirectional: false })).toThrow(/must exceed the 4 exact buckets/);
  });
});

describe('encoder attention kernel contract', () => {
  const base = { B: 1, Tq: 4, Tk: 6, heads: 4, kv_heads: 2, head_dim: 8, causal: false };
  it('binds the relative-bias table as rel (buckets, heads) before lse', () => {
    const k = generateAttention({ ...base, Tk: 4, relative: { buckets: 8, maxDistance: 16, bidirectional: true }, lse: true });
    expect(k.bindings.map((b) => `${b.name}:${b.access}`)).toEqual([
      'q:read',
      'k:read',
      'v:read',
      'out:read_write',
      'rel:read',
      'lse:read_write',
      'step:uniform',
    ]);
    expect(k.code).toContain('fn t5_bucket(rel: i32) -> u32');
  });
  it('rejects cross-attention with a mask or positions, and ALiBi with a relative bias', () => {
    expect(() => generateAttention({ ...base, cross: true, causal: true })).toThrow(/cross-attention is never causal/);
    expect(() => generateAttention({ ...base, cross: true, alibi: true })).toThrow(/cross-attention/);
    expect(() =>
      generateAttention({ ...base, Tk: 4, alibi: true, relative: { buckets: 8, maxDistance: 16, bidirectional: true } }),
    ).toThrow(/exclude each other/);
  });
});
