/**
 * `mspec export SPEC|CKPT --to torch -o DIR`: a standalone PyTorch package for one model —
 * model.py (./torch-model.ts), train.py (./torch-train.ts), mspec_random.py (./torch-random.ts),
 * for a seq2seq objective pairs.py (./torch-pairs.ts), README.md and, from a checkpoint,
 * weights.safetensors — that needs torch and nothing of mspec at run time.
 *
 * Every bad input is one line on stderr and exit code 2, and nothing is left half-written:
 * the files go to a temporary sibling folder that is renamed onto DIR only when complete.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { compileFile, type CompiledModel } from '../../index.js';
import { specHash, type SpecSources } from '../../schedule/compile-model.js';
import { MSPEC_VERSION } from '../../version.js';
import type { LicenseInfo } from '../../semantics/licenses.js';
import { CheckpointError, readSafetensors, writeSafetensors, type STFile } from '../../../runtime/checkpoint/safetensors.js';
import { readCheckpointLicense } from '../../../runtime/train/checkpoint.js';
import { checkpointSpec } from '../checkpoint-spec.js';
import { printDiagnostics, splitTarget } from '../output.js';
import { licenseMetadata } from '../train-license.js';
import type { Provenance } from './python.js';
import { modelPy } from './torch-model.js';
import { trainConfig, trainPy } from './torch-train.js';
import { pairsPy } from './torch-pairs.js';
import { randomPy } from './torch-random.js';
import { readmeMd } from './torch-readme.js';

export interface ExportArgs {
  readonly input: string;
  readonly out: string;
  readonly force?: boolean;
}

/** A bad input: printed as one `error:` line, exit code 2. */
export class ExportError extends Error {
  /** 2: bad input (usage); 1: the spec has errors (their diagnostics were printed), as in every other command. */
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 2,
  ) {
    super(message);
  }
}

/** What an export starts from: the resolved model, where it came from and its weights. */
export interface ExportSource {
  readonly model: CompiledModel;
  readonly specPath: string;
  readonly sources: SpecSources;
  readonly checkpoint: { readonly path: string; readonly file: STFile } | null;
  readonly license: LicenseInfo | null;
}

export async function runExportTorch(args: ExportArgs): Promise<number> {
  try {
    const src = loadExportSource(args.input);
    const files = torchFiles(src);
    writeFolder(args.out, args.force ?? false, files, src.checkpoint?.file ?? null);
    const names = [...Object.keys(files), ...(src.checkpoint ? ['weights.safetensors'] : [])];
    process.stdout.write(`wrote ${args.out}/: ${names.join(', ')} (${src.model.spec.name}, PyTorch)\n`);
    return 0;
  } catch (e) {
    if (e instanceof ExportError || e instanceof CheckpointError) {
      process.stderr.write(`error: ${e.message}\n`);
      return e instanceof ExportError ? e.exitCode : 2;
    }
    throw e;
  }
}

/** Reads a spec (`file.model[#name]`) or an mspec checkpoint and resolves its one model. */
export function loadExportSource(input: string): ExportSource {
  const isCheckpoint = input.endsWith('.safetensors');
  const target = isCheckpoint ? { file: input, model: undefined } : splitTarget(input);
  const path = target.file;
  if (!existsSync(path)) throw new ExportError(`'${path}' does not exist; give a .model spec or an mspec checkpoint (.safetensors)`);
  if (statSync(path).isDirectory())
    throw new ExportError(`'${path}' is a folder; give a .model spec or an mspec checkpoint (.safetensors)`);
  const ck = isCheckpoint ? readSafetensors(path) : null;
  const carried = ck && checkpointSpec(path, ck.metadata);
  const recorded = ck && readCheckpointLicense(path, ck.metadata);
  const r = carried
    ? compileFile(carried.sources.entry, { model: carried.model, host: carried.host })
    : compileFile(path, { model: target.model });
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) {
    printDiagnostics(r.diagnostics, r.sources);
    throw new ExportError(
      `${isCheckpoint ? `the spec carried by '${path}'` : `'${path}'`} has ${errors.length} error(s); fix them and export again`,
      1,
    );
  }
  const ok = r.models.filter((m) => m.ok && m.graph);
  if (ok.length !== 1) {
    const names = r.models.map((m) => m.spec.name);
    throw new ExportError(
      ok.length === 0
        ? `'${path}' defines no model to export`
        : `'${path}' defines ${names.length} models (${names.join(', ')}); pick one with ${path}#${names[0]}`,
    );
  }
  const model = ok[0]!;
  if (ck) checkWeights(path, ck, model);
  return {
    model,
    specPath: ck && carried ? (ck.metadata['mspec.spec_path'] ?? carried.sources.entry) : path,
    sources: carried?.sources ?? { entry: path, files: Object.fromEntries([...r.sources].map(([k, v]) => [k, v.text])) },
    checkpoint: ck && { path, file: ck },
    license: recorded ? { id: recorded.id, name: recorded.name, kind: recorded.kind as LicenseInfo['kind'] } : model.spec.license,
  };
}

/** Every parameter present with its shape, as F32, and nothing else. */
function checkWeights(path: string, file: STFile, model: CompiledModel): void {
  const params = model.graph!.params;
  const want = new Map(params.map((p) => [p.name, p.shape]));
  for (const p of params) {
    const t = file.tensors.get(p.name);
    if (!t) throw new ExportError(`'${path}' has no tensor '${p.name}', so it does not hold ${model.spec.name}'s weights`);
    if (t.shape.join(',') !== p.shape.join(','))
      throw new ExportError(
        `'${path}': tensor '${p.name}' has shape [${t.shape.join(', ')}] but ${model.spec.name} needs [${p.shape.join(', ')}]`,
      );
    if (t.dtype !== 'F32') throw new ExportError(`'${path}': tensor '${p.name}' is ${t.dtype}; mspec checkpoints hold F32`);
  }
  const extra = [...file.tensors.keys()].filter((n) => !want.has(n));
  if (extra.length > 0)
    throw new ExportError(
      `'${path}' holds tensors ${model.spec.name} does not have (${extra.slice(0, 3).join(', ')}${extra.length > 3 ? ', …' : ''})`,
    );
}

/** The text files of the package, by name. */
export function torchFiles(src: ExportSource): Record<string, string> {
  const m = src.model.spec;
  const prov: Provenance = {
    version: MSPEC_VERSION,
    specPath: src.specPath,
    model: m.name,
    checkpoint: src.checkpoint ? basename(src.checkpoint.path) : null,
  };
  const metadata: Record<string, string> = {
    format: 'pt',
    'mspec.version': MSPEC_VERSION,
    'mspec.model': m.name,
    'mspec.spec': JSON.stringify(src.sources),
    'mspec.spec_path': src.sources.entry,
    'mspec.spec_sha256': specHash(src.sources, m.name),
    'mspec.exported': `train.py of mspec export --to torch (mspec ${MSPEC_VERSION})`,
    ...licenseMetadata(src.license),
  };
  // A seq2seq objective trains on (source, target) pairs: pairs.py reads them as mspec train does.
  const seq2seq = trainConfig(m.train, m).objective === 'seq2seq';
  return {
    'model.py': modelPy(m, src.model.graph!, prov),
    'train.py': trainPy(m, prov, metadata),
    'mspec_random.py': randomPy(prov),
    ...(seq2seq ? { 'pairs.py': pairsPy(m, prov) } : {}),
    'README.md': readmeMd(m, src.model.graph!, prov, src.license, src.checkpoint !== null),
  };
}

/** Writes the package into a temporary sibling of `out`, then renames it onto `out`. */
function writeFolder(out: string, force: boolean, files: Record<string, string>, weights: STFile | null): void {
  const target = resolve(out);
  if (existsSync(target)) {
    if (!statSync(target).isDirectory()) throw new ExportError(`'${out}' exists and is not a folder; choose another -o`);
    if (readdirSync(target).length > 0 && !force)
      throw new ExportError(`'${out}' exists and is not empty; choose another -o, or pass --force to replace it`);
  }
  const parent = dirname(target);
  if (!existsSync(parent)) throw new ExportError(`the folder '${parent}' for -o does not exist`);
  const tmp = join(parent, `.${basename(target)}.export-${process.pid}.tmp`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(tmp, name), text);
    if (weights) {
      // The checkpoint's own tensors and metadata: weights.safetensors is itself an mspec checkpoint.
      const metadata = { ...weights.metadata, 'mspec.exported': `weights.safetensors of mspec export --to torch (mspec ${MSPEC_VERSION})` };
      writeSafetensors(join(tmp, 'weights.safetensors'), { tensors: weights.tensors, metadata });
    }
    if (existsSync(target)) rmSync(target, { recursive: true, force: true });
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
