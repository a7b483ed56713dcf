/**
 * A run folder's checkpoint survives a kill at any moment: the resume state (weights, AdamW
 * moments, run state) is one atomically renamed file, so a kill between the writes of a save
 * leaves either the old or the new state whole, never weights of one step with moments of
 * another. Runs saved in the older three-file layout resume only when all three agree.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { f32Tensor, writeSafetensors } from '../../runtime/checkpoint/safetensors.js';
import { loadCheckpoint, readRunState, removeStaleTemps, saveCheckpoint, type RunState } from '../../runtime/train/checkpoint.js';

const tmp = mkdtempSync(join(tmpdir(), 'mspec-train-ckpt-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const params = [
  { name: 'w', shape: [2, 3] },
  { name: 'b', shape: [3] },
];
/** A training state whose every value encodes its step, so a mixed-up load shows. */
function stateAt(step: number): Map<string, Float32Array> {
  const m = new Map<string, Float32Array>();
  for (const p of params) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    m.set(p.name, new Float32Array(n).fill(step));
    m.set(`m:${p.name}`, new Float32Array(n).fill(step + 0.25));
    m.set(`v:${p.name}`, new Float32Array(n).fill(step + 0.5));
  }
  return m;
}
const run = (step: number): RunState => ({ step, sampler: { seed: 7, step }, elapsed_s: step / 10, schedule_steps: 40 });

describe('run-folder checkpoints', () => {
  it('a kill after the resume file is written resumes from it, whole', () => {
    const dir = join(tmp, 'a');
    mkdirSync(dir);
    saveCheckpoint(dir, params, stateAt(5), run(5), { 'mspec.model': 'm' });
    expect(readRunState(dir)!.step).toBe(5);
    // The save of step 10 killed right after its first file: last.safetensors and state.json still say 5.
    const all = new Map([...stateAt(10)].map(([k, v]) => [k, f32Tensor(params.find((p) => k.endsWith(p.name))!.shape, v)]));
    writeSafetensors(join(dir, 'optimizer.safetensors'), {
      tensors: all,
      metadata: { 'mspec.step': '10', 'mspec.run_state': JSON.stringify(run(10)) },
    });
    writeFileSync(join(dir, `.last.safetensors.${999999}.tmp`), 'half a file');
    expect(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')).step).toBe(5);
    const { run: r, tensors } = loadCheckpoint(dir, params);
    expect(r).toEqual(run(10));
    for (const [name, v] of tensors) expect([...v], name).toEqual([...stateAt(10).get(name)!]);
    removeStaleTemps(dir);
    expect(() => readFileSync(join(dir, `.last.safetensors.${999999}.tmp`))).toThrow();
  });

  it('a resume file from another model is refused with a clear message', () => {
    const dir = join(tmp, 'b');
    mkdirSync(dir);
    saveCheckpoint(dir, params, stateAt(3), run(3), {});
    expect(() => loadCheckpoint(dir, [...params, { name: 'extra', shape: [4] }])).toThrow(
      /has no tensor 'extra', so it does not belong to this model's run; start the run again without --resume/,
    );
    expect(() => loadCheckpoint(dir, [{ name: 'w', shape: [3, 2] }])).toThrow(/tensor 'w' has shape \[2,3\] but the model needs \[3,2\]/);
  });

  it('an older three-file run resumes only when its files name one step', () => {
    const dir = join(tmp, 'c');
    mkdirSync(dir);
    saveCheckpoint(dir, params, stateAt(5), run(5), {});
    const legacy = (weightsStep: number, momentsStep: number, stateStep: number) => {
      const w = stateAt(weightsStep);
      const o = stateAt(momentsStep);
      writeSafetensors(join(dir, 'last.safetensors'), {
        tensors: new Map(params.map((p) => [p.name, f32Tensor(p.shape, w.get(p.name)!)])),
        metadata: { 'mspec.step': String(weightsStep) },
      });
      writeSafetensors(join(dir, 'optimizer.safetensors'), {
        tensors: new Map(params.flatMap((p) => [`m:${p.name}`, `v:${p.name}`].map((k) => [k, f32Tensor(p.shape, o.get(k)!)] as const))),
        metadata: { 'mspec.step': String(momentsStep) },
      });
      writeFileSync(join(dir, 'state.json'), JSON.stringify({ step: stateStep, sampler: { seed: 7, step: stateStep }, elapsed_s: 1 }));
    };
    legacy(5, 5, 5);
    const ok = loadCheckpoint(dir, params);
    expect(ok.run.step).toBe(5);
    expect([...ok.tensors.get('m:w')!]).toEqual([...stateAt(5).get('m:w')!]);
    legacy(10, 5, 5); // killed between the weights and the moments
    expect(() => loadCheckpoint(dir, params)).toThrow(
      /is inconsistent: state\.json says step 5, last\.safetensors holds step 10 and optimizer\.safetensors step 5/,
    );
  });
});
