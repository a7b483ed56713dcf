/**
 * Saving and loading a run folder's checkpoint so that a kill at ANY moment (SIGKILL, power
 * loss of the process) leaves a run that resumes exactly.
 *
 * The resume state lives in ONE file, `optimizer.safetensors`: the weights, the AdamW moments
 * (`m:`/`v:` names) and, in its metadata, the RunState (`mspec.run_state`: steps done, data
 * position, schedule length). One atomic rename makes it whole or leaves the previous one, so
 * weights and moments can never come from different steps. It is written first; then
 * `last.safetensors` (the weights alone, with the spec and tokenizer, for `mspec sample` and
 * `--init`), then `state.json` (a readable copy of the RunState). A kill between those writes
 * leaves the other two one checkpoint behind, which --resume does not read.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  asF32,
  CheckpointError,
  f32Tensor,
  readSafetensors,
  readSafetensorsMetadata,
  writeFileAtomic,
  writeSafetensors,
  type STTensor,
} from '../checkpoint/safetensors.js';

export const RESUME_FILE = 'optimizer.safetensors';
export const WEIGHTS_FILE = 'last.safetensors';
export const STATE_FILE = 'state.json';
/** Every file of a run folder: the checkpoint's three, and run.ts's config, metrics and chart. */
const RUN_FILES = [WEIGHTS_FILE, RESUME_FILE, 'config.json', STATE_FILE, 'metrics.jsonl', 'loss.svg'];

/**
 * The run a folder already holds, or null: its files and the step of its weights (null when
 * it stopped before its first checkpoint). A new run must not silently replace it.
 */
export function heldRun(dir: string): { files: string[]; step: string | null } | null {
  const files = [WEIGHTS_FILE, RESUME_FILE, 'config.json'].filter((f) => existsSync(join(dir, f)));
  if (files.length === 0) return null;
  let step: string | null = null;
  try {
    step = readSafetensorsMetadata(join(dir, WEIGHTS_FILE))['mspec.step'] ?? null;
  } catch {
    // No readable weights: the folder is still a run's.
  }
  return { files, step };
}

/** Removes a run's files before starting over in its folder, so old weights never sit beside a new config. */
export function clearRun(dir: string): void {
  for (const f of RUN_FILES) rmSync(join(dir, f), { force: true });
}

export interface RunState {
  readonly step: number;
  readonly sampler: { seed: number; step: number };
  readonly elapsed_s: number;
  /**
   * The length of the learning-rate schedule, fixed when the run started: a run extended with
   * `--resume --steps` holds min_lr past it instead of stretching the decay (absent in runs
   * saved before it existed: then the run's steps).
   */
  readonly schedule_steps?: number;
}

export interface CheckpointParam {
  readonly name: string;
  readonly shape: readonly number[];
}

/** Writes the checkpoint of `state` (weights and `m:`/`v:` moments by name); see the module comment for the order. */
export function saveCheckpoint(
  dir: string,
  params: readonly CheckpointParam[],
  state: ReadonlyMap<string, Float32Array>,
  run: RunState,
  weightsMetadata: Record<string, string>,
): void {
  const weights = new Map<string, STTensor>();
  const all = new Map<string, STTensor>();
  for (const p of params) {
    for (const name of [p.name, `m:${p.name}`, `v:${p.name}`]) {
      const values = state.get(name);
      if (!values) throw new Error(`internal: the training state has no tensor '${name}'`);
      all.set(name, f32Tensor(p.shape, values));
    }
    weights.set(p.name, all.get(p.name)!);
  }
  const step = String(run.step);
  writeSafetensors(join(dir, RESUME_FILE), { tensors: all, metadata: { 'mspec.step': step, 'mspec.run_state': JSON.stringify(run) } });
  writeSafetensors(join(dir, WEIGHTS_FILE), { tensors: weights, metadata: { ...weightsMetadata, 'mspec.step': step } });
  writeFileAtomic(join(dir, STATE_FILE), JSON.stringify(run, null, 2) + '\n');
}

/** The RunState of the checkpoint in `dir` (reads only file headers), or null when there is none yet. */
export function readRunState(dir: string): RunState | null {
  const path = join(dir, RESUME_FILE);
  if (!existsSync(path)) return null;
  const meta = readSafetensorsMetadata(path);
  if (meta['mspec.run_state']) return parseRunState(meta['mspec.run_state'], path);
  return legacyState(dir);
}

/**
 * The weights and moments of the checkpoint in `dir`, checked against `params` (every tensor
 * present with its shape), with its RunState.
 */
export function loadCheckpoint(dir: string, params: readonly CheckpointParam[]): { run: RunState; tensors: Map<string, Float32Array> } {
  const path = join(dir, RESUME_FILE);
  const file = readSafetensors(path);
  let run: RunState;
  const tensors = new Map<string, Float32Array>();
  const take = (src: typeof file, srcPath: string, names: (p: CheckpointParam) => string[]) => {
    for (const p of params) {
      for (const name of names(p)) {
        const t = src.tensors.get(name);
        if (!t)
          throw new CheckpointError(
            `'${srcPath}' has no tensor '${name}', so it does not belong to this model's run; start the run again without --resume`,
          );
        if (t.shape.join(',') !== p.shape.join(','))
          throw new CheckpointError(
            `'${srcPath}': tensor '${name}' has shape [${t.shape}] but the model needs [${p.shape}]; start the run again without --resume`,
          );
        tensors.set(name, asF32(t, name));
      }
    }
  };
  if (file.metadata['mspec.run_state']) {
    run = parseRunState(file.metadata['mspec.run_state'], path);
    take(file, path, (p) => [p.name, `m:${p.name}`, `v:${p.name}`]);
  } else {
    run = legacyState(dir);
    take(readSafetensors(join(dir, WEIGHTS_FILE)), join(dir, WEIGHTS_FILE), (p) => [p.name]);
    take(file, path, (p) => [`m:${p.name}`, `v:${p.name}`]);
  }
  return { run, tensors };
}

export { LICENSE_KEY, readCheckpointLicense, type CheckpointLicense } from '../checkpoint/license.js';

/** Drops the temp files a kill during writeFileAtomic leaves behind (`.NAME.PID.tmp`). */
export function removeStaleTemps(dir: string): void {
  if (!existsSync(dir)) return;
  for (const f of readdirSync(dir)) if (/^\..+\.\d+\.tmp$/.test(f)) rmSync(join(dir, f), { force: true });
}

function parseRunState(text: string, path: string): RunState {
  let v: Partial<RunState>;
  try {
    v = JSON.parse(text) as Partial<RunState>;
  } catch {
    throw new CheckpointError(`'${path}' has a damaged run state in its metadata (not JSON); start the run again without --resume`);
  }
  const ok =
    Number.isInteger(v.step) &&
    v.step! >= 0 &&
    v.sampler &&
    Number.isInteger(v.sampler.step) &&
    typeof v.sampler.seed === 'number' &&
    (v.schedule_steps === undefined || Number.isInteger(v.schedule_steps));
  if (!ok)
    throw new CheckpointError(
      `'${path}' has a damaged run state in its metadata (${text.slice(0, 80)}); start the run again without --resume`,
    );
  return {
    step: v.step!,
    sampler: v.sampler!,
    elapsed_s: typeof v.elapsed_s === 'number' ? v.elapsed_s : 0,
    ...(v.schedule_steps !== undefined ? { schedule_steps: v.schedule_steps } : {}),
  };
}

/**
 * Runs saved before the resume file carried its state: state.json, last.safetensors and
 * optimizer.safetensors are separate, so they are only usable when all three name one step.
 */
function legacyState(dir: string): RunState {
  const statePath = join(dir, STATE_FILE);
  if (!existsSync(statePath))
    throw new CheckpointError(
      `'${dir}' has ${RESUME_FILE} but no ${STATE_FILE}; the run was saved by an older mspec and cannot be resumed exactly; start it again without --resume (or fine-tune with --init ${join(dir, WEIGHTS_FILE)})`,
    );
  const run = parseRunState(readFileSync(statePath, 'utf8'), statePath);
  const w = readSafetensorsMetadata(join(dir, WEIGHTS_FILE))['mspec.step'];
  const o = readSafetensorsMetadata(join(dir, RESUME_FILE))['mspec.step'];
  if (w !== String(run.step) || o !== String(run.step)) {
    throw new CheckpointError(
      `'${dir}' is inconsistent: ${STATE_FILE} says step ${run.step}, ${WEIGHTS_FILE} holds step ${w ?? '?'} and ${RESUME_FILE} step ${o ?? '?'} (an older mspec was stopped while saving); resuming would not be exact: start the run again without --resume, or fine-tune with --init ${join(dir, WEIGHTS_FILE)}`,
    );
  }
  return run;
}
