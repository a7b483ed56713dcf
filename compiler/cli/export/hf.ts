/**
 * `mspec export SPEC|CKPT --to hf -o DIR`: a spec (or an mspec checkpoint, which carries its
 * spec) that maps exactly onto a Hugging Face family → a model folder: config.json in the
 * published configs' field names, model.safetensors in the family's tensor names (F32) when a
 * checkpoint is given, the checkpoint's tokenizer.json when it carries a Hugging Face tokenizer,
 * and a README.md model card whose front matter states the license.
 *
 * The inverse of `mspec import` (compiler/cli/import/), and checked against it: the family is
 * chosen from the spec's knobs (export/hf/families.ts), its config is imported again in a scratch
 * folder, and only a config that gives back every knob of the spec (training-only ones —
 * dropout, the train section — aside) is written; a spec that does not map exactly is an error
 * naming the knob, exit 2, nothing written. With weights the finished folder is imported once
 * more before it is moved into place: the spec must come back and every tensor bit for bit.
 *
 * Written atomically: everything goes into a temp folder beside DIR, renamed onto DIR at the end.
 * An existing non-empty DIR is refused (replaced with `force`).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import {
  asF32,
  CheckpointError,
  encodeSafetensors,
  f32Tensor,
  readSafetensors,
  type STTensor,
} from '../../../runtime/checkpoint/safetensors.js';
import { readCheckpointLicense } from '../../../runtime/checkpoint/license.js';
import type { TokenizerData } from '../../../runtime/tokenizers/index.js';
import { compileFile, type CompiledModel } from '../../index.js';
import { diffKnobs, type KnobChange } from '../../passes/diff.js';
import { knownLicense } from '../../semantics/licenses.js';
import type { ModelSpec } from '../../semantics/model.js';
import { checkpointSpec, memoryHost } from '../checkpoint-spec.js';
import { ImportError } from '../import/config.js';
import { importHf, type Imported } from '../import/driver.js';
import { modelCardLicense } from '../model-card-license.js';
import { printDiagnostics, splitTarget } from '../output.js';
import { candidates } from './hf/families.js';
import type { ShapedF32 } from '../import/tensors.js';
import { ExportError, type HfForm, HfTensors, Params } from './hf/form.js';

/** What was written. */
export interface HfExported {
  readonly dir: string;
  readonly modelType: string;
  readonly params: number;
  /** HF tensors written (null: spec only). */
  readonly tensors: number | null;
  readonly tokenizer: boolean;
  readonly license: string | null;
  readonly warnings: readonly string[];
}

export interface HfExportInput {
  readonly spec: ModelSpec;
  /** The spec's parameter count (mspec info). */
  readonly paramCount: number;
  /** mspec name → f32 values with shape; null for a spec-only export. */
  readonly params: ReadonlyMap<string, ShapedF32> | null;
  /** The license id the weights are under (a checkpoint's, else the spec's); null: none stated. */
  readonly license: string | null;
  readonly tokenizer: TokenizerData | null;
  /** What it was exported from, for the model card. */
  readonly source: string;
}

export async function runExportHf(args: { input: string; out: string; force?: boolean }): Promise<number> {
  const loaded = loadInput(args.input);
  if (typeof loaded === 'number') return loaded;
  try {
    const r = exportHf(loaded, args.out, args.force ?? false);
    for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
    const count = r.params.toLocaleString('en-US');
    process.stdout.write(
      `${r.dir}: ${r.modelType} model '${loaded.spec.name}', ${count} parameters: config.json` +
        (r.tensors !== null ? `, model.safetensors (${r.tensors} tensors, f32)` : ' (no weights: give a checkpoint to export them)') +
        (r.tokenizer ? ', tokenizer.json' : '') +
        `, README.md${r.license ? ` (license: ${r.license})` : ''}\n`,
    );
    return 0;
  } catch (e) {
    if (e instanceof ExportError || e instanceof ImportError || e instanceof CheckpointError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

/** The spec (and weights, license, tokenizer) of INPUT, or the exit code after saying what is wrong. */
function loadInput(input: string): HfExportInput | number {
  const fail = (msg: string) => (process.stderr.write(`error: ${msg}\n`), 2);
  const isCheckpoint = input.endsWith('.safetensors');
  const { file, model } = isCheckpoint ? { file: input, model: undefined } : splitTarget(input);
  if (!existsSync(file)) return fail(`cannot read '${file}': no such file`);
  let compiled: ReturnType<typeof compileFile>;
  let ckpt: ReturnType<typeof readSafetensors> | null = null;
  let tokenizer: TokenizerData | null = null;
  let license: string | null = null;
  try {
    if (isCheckpoint) {
      ckpt = readSafetensors(file);
      const carried = checkpointSpec(file, ckpt.metadata);
      tokenizer = carried.tokenizer;
      license = checkpointLicense(file, ckpt.metadata);
      compiled = compileFile(carried.sources.entry, { model: carried.model, host: carried.host });
    } else compiled = compileFile(file, { model });
  } catch (e) {
    if (e instanceof CheckpointError || (e instanceof Error && e.name === 'TokenizerError')) return fail(e.message);
    throw e;
  }
  printDiagnostics(compiled.diagnostics, compiled.sources);
  if (compiled.diagnostics.some((d) => d.severity === 'error')) return 1;
  const good = compiled.models.filter((m): m is CompiledModel & Required<Pick<CompiledModel, 'analysis'>> => m.ok && !!m.analysis);
  if (good.length !== 1) {
    const names = compiled.models.map((m) => m.spec.name);
    return fail(
      good.length === 0
        ? `${file} defines no model to export`
        : `${file} defines ${good.length} models (${names.join(', ')}); pick one with ${file}#${names[0]}`,
    );
  }
  const m = good[0]!;
  let params: Map<string, ShapedF32> | null = null;
  if (ckpt) {
    params = new Map();
    for (const p of m.graph!.params) {
      const t: STTensor | undefined = ckpt.tensors.get(p.name);
      if (!t) return fail(`'${file}' has no tensor '${p.name}', a parameter of model ${m.spec.name} (shape [${p.shape}])`);
      if (t.shape.join(',') !== p.shape.join(','))
        return fail(`'${file}': tensor '${p.name}' has shape [${t.shape}] but model ${m.spec.name} has [${p.shape}]`);
      try {
        params.set(p.name, { shape: p.shape, data: asF32(t, p.name) });
      } catch (e) {
        return fail(`'${file}': ${(e as Error).message}`);
      }
    }
  }
  return {
    spec: m.spec,
    paramCount: m.analysis.params.total,
    params,
    license: license ?? m.spec.license?.id ?? null,
    tokenizer,
    source: input,
  };
}

/** The license a checkpoint's metadata records (mspec.license, runtime/train/checkpoint.ts), or null. */
/** The checkpoint's license id, read as every other command reads it (damaged metadata is a CheckpointError). */
function checkpointLicense(path: string, metadata: Readonly<Record<string, string>>): string | null {
  return readCheckpointLicense(path, metadata)?.id ?? null;
}

/** Knobs that do not change the function the weights compute: not every config carries them. */
const trainingOnly = (k: KnobChange) => k.group === 'train' || /(^|\.)dropout$/.test(k.path);

const show = (v: unknown) => (v === undefined ? '(absent)' : v === null ? 'none' : typeof v === 'string' ? v : JSON.stringify(v));

/**
 * Exports `input` to the folder `out`; ExportError when the spec has no exact Hugging Face form
 * or `out` is in the way. Nothing is left behind on failure.
 */
export function exportHf(input: HfExportInput, out: string, force: boolean): HfExported {
  const { spec } = input;
  if (existsSync(out)) {
    if (!statSync(out).isDirectory()) throw new ExportError(`'${out}' exists and is not a folder; choose a new output folder`);
    if (readdirSync(out).length > 0 && !force)
      throw new ExportError(`'${out}' exists and is not empty; choose a new output folder (or --force to replace it)`);
  }
  const warnings: string[] = [];
  const { form, soft } = chooseForm(input);
  if (input.license) {
    const back = modelCardLicense(modelCard(input, form));
    if (back !== (knownLicense(input.license)?.id ?? input.license))
      warnings.push(
        `the license ${input.license} reads back from the model card as ${back ?? 'none'} (the Hub's license vocabulary has no exact form for it)`,
      );
  }
  for (const k of soft.filter((c) => c.group !== 'train'))
    warnings.push(
      `${k.path} = ${show(k.a)} is training-only and not read back from a ${form.modelType} config by mspec import (it gives ${show(k.b)}); the exported model computes the same function`,
    );
  if (spec.train) warnings.push(`the spec's train section has no place in a Hugging Face folder (--to torch exports a training script)`);
  if (input.tokenizer && input.tokenizer.kind !== 'hf')
    warnings.push(
      `the checkpoint's ${input.tokenizer.kind} tokenizer has no tokenizer.json here, so none is written${input.tokenizer.kind === 'gpt2' ? " (the Hub's gpt2 tokenizer is the same BPE)" : ''}`,
    );

  const parent = dirname(resolve(out));
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `.${basename(resolve(out))}.${process.pid}.tmp`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    for (const [name, data] of folderFiles(input, form)) writeFileSync(join(tmp, name), data);
    let tensors: Map<string, ShapedF32> | null = null;
    if (input.params) {
      tensors = hfTensors(form, input.params);
      const st = new Map([...tensors].map(([n, t]) => [n, f32Tensor(t.shape, t.data)]));
      writeFileSync(join(tmp, 'model.safetensors'), encodeSafetensors({ tensors: st, metadata: { format: 'pt' } }));
      checkWritten(input, form, tmp);
    }
    // Into place: an empty (or, with force, any) existing folder is swapped out, then removed.
    if (existsSync(out)) {
      const old = join(parent, `.${basename(resolve(out))}.${process.pid}.old`);
      renameSync(out, old);
      renameSync(tmp, out);
      rmSync(old, { recursive: true, force: true });
    } else renameSync(tmp, out);
    return {
      dir: out,
      modelType: form.modelType,
      params: input.paramCount,
      tensors: tensors ? tensors.size : null,
      tokenizer: input.tokenizer?.kind === 'hf',
      license: input.license,
      warnings,
    };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** The first candidate family whose config imports back as the spec; ExportError naming the knob when none does. */
function chooseForm(input: HfExportInput): { form: HfForm; soft: KnobChange[] } {
  const { spec } = input;
  uniformLayers(spec);
  const tried: string[] = [];
  for (const family of candidates(spec)) {
    let form: HfForm;
    try {
      form = family.form(spec, input.params !== null);
    } catch (e) {
      if (!(e instanceof ExportError)) throw e;
      tried.push(`as ${family.name}: ${e.message}`);
      continue;
    }
    const scratch = mkdtempSync(join(tmpdir(), 'mspec-export-hf-'));
    try {
      // The config alone (and the card, for the license): what the spec says, not the weights.
      for (const [name, data] of folderFiles({ ...input, tokenizer: null }, form)) writeFileSync(join(scratch, name), data);
      let back: ModelSpec;
      try {
        back = reimportedSpec(importHf(scratch, join(scratch, `${spec.name}.model`)));
      } catch (e) {
        if (!(e instanceof ImportError)) throw e;
        tried.push(`as ${form.modelType}: its config does not import (${e.message})`);
        continue;
      }
      const tensorDecided = new Set(input.params ? (form.decidedByTensors ?? []) : []);
      const changes = diffKnobs(spec, back).filter((k) => k.path !== 'license' && !tensorDecided.has(k.path));
      const hard = changes.filter((k) => !trainingOnly(k));
      if (hard.length === 0) return { form, soft: changes.filter(trainingOnly) };
      tried.push(`as ${form.modelType}: ${describe(hard, form, input.params !== null)}`);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  const reasons = tried.map((t) => t.replace(/; use --to torch$/, ''));
  const alternative = reasons.some((r) => r.includes('export a checkpoint')) ? 'or use --to torch' : 'use --to torch';
  throw new ExportError(`model ${spec.name} has no exact Hugging Face form (${reasons.join('; ')}); ${alternative}`);
}

/** ExportError naming the first knob in which a layer differs from its stack's layer 0. */
function uniformLayers(spec: ModelSpec): void {
  for (const stack of [spec.encoder, spec.decoder]) {
    if (!stack) continue;
    const prefix = spec.arch === 'encoder_decoder' ? `${stack.role}.` : '';
    const [first, ...rest] = stack.layers;
    for (const layer of rest) {
      const d = firstDifference(first, layer, `${prefix}layers[${layer.index}]`);
      if (d)
        throw new ExportError(
          `${d.path} = ${show(d.b)}, but layer 0 has ${show(d.a)}: a Hugging Face config states one value for every layer; use --to torch`,
        );
    }
  }
}

function firstDifference(a: unknown, b: unknown, path: string): { path: string; a: unknown; b: unknown } | null {
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (key === 'index') continue;
      const d = firstDifference((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], `${path}.${key}`);
      if (d) return d;
    }
    return null;
  }
  return Object.is(a, b) ? null : { path, a, b };
}

function describe(hard: readonly KnobChange[], form: HfForm, withWeights: boolean): string {
  const k = hard[0]!;
  const more =
    hard.length > 1
      ? ` (and ${hard.length - 1} more knob${hard.length > 2 ? 's' : ''}: ${hard
          .slice(1, 4)
          .map((c) => c.path)
          .join(', ')}${hard.length > 4 ? ', …' : ''})`
      : '';
  let why = '';
  if (/(^|\.)layers\[/.test(k.path)) why = ' — a Hugging Face config states one value for every layer';
  else if (!withWeights && form.decidedByTensors?.includes(k.path))
    why = ` — a ${form.modelType} config.json has no field for it (mspec import reads it from the tensors present); export a checkpoint instead of the spec`;
  return `${k.path} = ${show(k.a)} has no ${form.modelType} form: the ${form.modelType} config.json that comes closest reads back as ${show(k.b)}${why}${more}`;
}

function reimportedSpec(r: Imported): ModelSpec {
  const compiled = compileFile(r.sources.entry, { host: memoryHost(r.sources.files), analyze: false });
  const back = compiled.models[0]?.spec;
  if (!back) throw new Error(`internal: the re-imported spec does not compile:\n${r.spec}`);
  return back;
}

/** Every HF tensor of `form`, checking that each mspec parameter is read exactly once. */
function hfTensors(form: HfForm, params: NonNullable<HfExportInput['params']>): Map<string, ShapedF32> {
  const t = new HfTensors(new Params(params));
  form.tensors(t);
  const unused = t.p.unused();
  if (unused.length) throw new Error(`internal: the ${form.modelType} export leaves parameter '${unused[0]}' out`);
  return t.out;
}

/**
 * The finished folder, imported once more: the spec must come back (training-only knobs aside),
 * every mspec parameter bit for bit, and the tokenizer as stored.
 */
function checkWritten(input: HfExportInput, form: HfForm, dir: string): void {
  const r = importHf(dir, join(dir, `${input.spec.name}.model`));
  if (r.warnings.length) throw new Error(`internal: re-importing the ${form.modelType} export warns: ${r.warnings.join('; ')}`);
  const hard = diffKnobs(input.spec, reimportedSpec(r)).filter((k) => k.path !== 'license' && !trainingOnly(k));
  if (hard.length) throw new ExportError(describe(hard, form, true));
  for (const [name, p] of input.params!) {
    const t = r.tensors?.get(name);
    const back = t && asF32(t, name);
    if (!back || back.length !== p.data.length || back.some((v, i) => !Object.is(v, p.data[i])))
      throw new Error(`internal: parameter '${name}' does not come back from the ${form.modelType} export unchanged`);
  }
  if (input.tokenizer?.kind === 'hf' && JSON.stringify(r.tokenizer) !== JSON.stringify(input.tokenizer))
    throw new Error(`internal: the tokenizer does not come back from the export unchanged`);
}

/** Fields every config gets besides model_type. */
const COMMON = { torch_dtype: 'float32', initializer_range: 0.02, use_cache: true };

/** config.json (with sorted keys, as transformers writes them), README.md and the tokenizer files, by name. */
function folderFiles(input: HfExportInput, form: HfForm): Map<string, string> {
  const files = new Map<string, string>();
  const config = { ...COMMON, model_type: form.modelType, ...form.config };
  const sorted = Object.fromEntries(Object.entries(config).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  files.set('config.json', JSON.stringify(sorted, null, 2) + '\n');
  files.set('README.md', modelCard(input, form));
  const tok = input.tokenizer;
  if (tok?.kind === 'hf') {
    files.set('tokenizer.json', JSON.stringify(tok.tokenizer));
    if (Object.keys(tok.config).length) files.set('tokenizer_config.json', JSON.stringify(tok.config, null, 2) + '\n');
  }
  return files;
}

/** The front-matter lines of `license` in the Hub's vocabulary (which model-card-license.ts reads back). */
function licenseLines(id: string): string[] {
  const ref = /^LicenseRef-(.+)$/i.exec(id);
  if (ref) return ['license: other', `license_name: ${ref[1]}`];
  const known = knownLicense(id);
  // The Hub writes SPDX ids in lower case; the license table matches them case-insensitively.
  return [`license: ${(known?.id ?? id).toLowerCase()}`];
}

function modelCard(input: HfExportInput, form: HfForm): string {
  const { spec, license } = input;
  const front = ['---', ...(license ? licenseLines(license) : []), 'library_name: transformers', 'tags:', '- mspec', '---'];
  const weights = input.params !== null;
  const lines = [
    ...front,
    '',
    `# ${spec.name}`,
    '',
    `A ${form.modelType} model (${input.paramCount.toLocaleString('en-US')} parameters) exported by \`mspec export --to hf\` from \`${input.source}\`.`,
    '',
    weights
      ? 'Load it with transformers:'
      : 'This folder has the configuration only (no weights); build a randomly initialised model from it with transformers:',
    '',
    '```python',
    `from transformers import AutoConfig, ${form.autoClass}`,
    weights
      ? `model = ${form.autoClass}.from_pretrained("path/to/this/folder")`
      : `model = ${form.autoClass}.from_config(AutoConfig.from_pretrained("path/to/this/folder"))`,
    '```',
    '',
    `\`mspec import path/to/this/folder\` brings it back as the same spec${weights ? ' and weights' : ''}.`,
    ...(license
      ? [
          '',
          `License: ${knownLicense(license)?.name ?? license} (\`${license}\`), as the ${input.params ? 'checkpoint' : 'spec'} states it.`,
        ]
      : []),
    '',
  ];
  return lines.join('\n');
}
