/**
 * What a command that reads a spec was given: `file.model[#name]`, or a checkpoint written by
 * `mspec train` (a .safetensors file, or the run folder holding last.safetensors). A
 * checkpoint carries every source file of its spec and the model's name in its metadata
 * (checkpoint-spec.ts), so `info`, `check`, `diff`, `graph`, `build` and `profile` describe
 * the model a checkpoint holds without its spec files on disk. Only the header is read.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError, readSafetensorsMetadata } from '../../runtime/checkpoint/safetensors.js';
import { diagnostic } from '../diagnostics/diagnostic.js';
import { compileFile, type CompileOptions, type CompileResult } from '../index.js';
import type { TokenizerData } from '../../runtime/tokenizers/index.js';
import type { Host } from '../semantics/resolve.js';
import { checkpointSpec } from './checkpoint-spec.js';
import { splitTarget } from './output.js';

export interface SpecTarget {
  /** The spec file to compile (for a checkpoint: the entry file it carries). */
  readonly file: string;
  readonly model?: string | undefined;
  /** Serves a checkpoint's carried files; absent: the file system. */
  readonly host?: Host;
  /** The checkpoint the spec came from, if any, and the tokenizer it stores. */
  readonly checkpoint?: string;
  readonly tokenizer?: TokenizerData;
}

/** The checkpoint file a target names (a run folder: its last.safetensors), or null when it names a spec. */
export function checkpointPath(file: string): string | null {
  if (file.endsWith('.safetensors')) return file;
  if (existsSync(file) && statSync(file).isDirectory() && existsSync(join(file, 'last.safetensors'))) return join(file, 'last.safetensors');
  return null;
}

/** Resolves a target; a checkpoint's problem is thrown as a CheckpointError that says what is wrong. */
export function specTarget(target: string): SpecTarget {
  const path = checkpointPath(target);
  if (path === null) return splitTarget(target);
  const carried = checkpointSpec(path, readSafetensorsMetadata(path));
  return {
    file: carried.sources.entry,
    model: carried.model,
    host: carried.host,
    checkpoint: path,
    ...(carried.tokenizer ? { tokenizer: carried.tokenizer } : {}),
  };
}

/** compileFile for a target; an unreadable or foreign checkpoint is an MS5001 diagnostic, like an unreadable spec. */
export function compileTarget(target: string, opts: Omit<CompileOptions, 'model' | 'host'> = {}): CompileResult {
  let t: SpecTarget;
  try {
    t = specTarget(target);
  } catch (e) {
    if (!(e instanceof CheckpointError) && !(e instanceof Error && e.name === 'TokenizerError')) throw e;
    const reason = e.message.replace(/^cannot read checkpoint '[^']*': /, '');
    return { file: target, models: [], diagnostics: [diagnostic('MS5001', undefined, { path: target, reason })], sources: new Map() };
  }
  return compileFile(t.file, { ...opts, model: t.model, ...(t.host ? { host: t.host } : {}) });
}
