/**
 * `mspec import DIR|config.json [-o OUT.model] [--checkpoint OUT.safetensors]`: a Hugging Face
 * model folder → a formatted `.model` spec and, when the folder has weights, an mspec
 * checkpoint (parameters under mspec's names, f32, the spec in its metadata as `mspec train`
 * writes it, and the folder's tokenizer.json when it has one, so `mspec sample CKPT` runs it).
 *
 * Everything is read, mapped and checked before anything is written: the spec must compile,
 * the mapped tensors must be exactly the compiled model's parameters with their shapes, and
 * the checkpoint's element count must equal the spec's parameter count (`mspec info`). Both
 * outputs are written atomically. Config fields the family does not know are warned about.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CheckpointError, f32Tensor, writeFileAtomic, writeSafetensors, type STTensor } from '../../../runtime/checkpoint/safetensors.js';
import { readHfWeights } from '../../../runtime/checkpoint/hf-weights.js';
import type { TokenizerData } from '../../../runtime/tokenizers/index.js';
import { readHfTokenizer } from './tokenizer.js';
import { parse } from '../../ast/parse.js';
import { formatFile } from '../../ast/print.js';
import { compileFile } from '../../index.js';
import { specHash, type SpecSources } from '../../schedule/compile-model.js';
import { memoryHost } from '../checkpoint-spec.js';
import { HfConfig, ImportError, type Json, NO_EFFECT_FIELDS } from './config.js';
import { FAMILIES, familyOf } from './families.js';
import { modelCardLicenseEntry } from '../model-card-license.js';
import { HfWeights } from './tensors.js';

export interface ImportArgs {
  readonly input: string;
  readonly out?: string | undefined;
  readonly checkpoint?: string | undefined;
}

export interface Imported {
  readonly name: string;
  readonly modelType: string;
  /** The formatted spec text. */
  readonly spec: string;
  readonly sources: SpecSources;
  /** The spec's parameter count (mspec info). */
  readonly params: number;
  /** mspec name → tensor; null when the folder has no weights. */
  readonly tensors: Map<string, STTensor> | null;
  /** Elements in the checkpoint's parameter tensors (null without weights). */
  readonly checkpointParams: number | null;
  /** The folder's tokenizer.json (with its config), for the checkpoint; null when there is none. */
  readonly tokenizer: TokenizerData | null;
  readonly warnings: readonly string[];
}

/** Reads, maps and checks a Hugging Face folder; writes nothing. ImportError/CheckpointError on bad input. */
export function importHf(input: string, specFile: string): Imported {
  const isDir = existsSync(input) && statSync(input).isDirectory();
  const dir = isDir ? input : dirname(input);
  const configPath = isDir ? join(dir, 'config.json') : input;
  if (!existsSync(configPath))
    throw new ImportError(
      isDir
        ? `'${dir}' has no config.json; give a Hugging Face model folder or its config.json`
        : `cannot read '${configPath}': no such file`,
    );
  let raw: Record<string, Json>;
  try {
    raw = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, Json>;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('not a JSON object');
  } catch (e) {
    // JSON.parse quotes the text it stopped in, newlines included: keep the message on one line.
    throw new ImportError(`'${configPath}' is not a usable config: ${(e as Error).message.replace(/\s+/g, ' ').trim()}`);
  }
  const cfg = new HfConfig(configPath, raw);
  const modelType = cfg.str('model_type');
  const family = familyOf(modelType);
  if (!family)
    throw new ImportError(
      `'${configPath}': model_type "${modelType}" is not one mspec imports (${FAMILIES.flatMap((f) => f.modelTypes).join(', ')})`,
    );
  const known = new Set([...NO_EFFECT_FIELDS, ...family.fields]);
  const warnings = Object.keys(raw)
    .filter((k) => !known.has(k))
    .map(
      (k) =>
        `'${configPath}': field '${k}' (${JSON.stringify(raw[k]).slice(0, 60)}) is not modelled by mspec's ${modelType} import; ignored`,
    );

  const name = modelName(specFile);
  const header = [
    `// Imported by mspec import from the Hugging Face folder '${dir}' (model_type: ${modelType}).`,
    ...(typeof raw._name_or_path === 'string' && raw._name_or_path ? [`// Source model: ${raw._name_or_path}`] : []),
  ];
  const entry = basename(specFile);
  const hf = readHfWeights(dir);
  const text = `${header.join('\n')}\nmodel ${name} {\n${modelCardLicenseEntry(dir)}${family.spec(cfg, hf ? new Set(hf.keys()) : null)}\n}\n`;
  const parsed = parse(text, entry);
  if (parsed.diagnostics.some((d) => d.severity === 'error'))
    throw new Error(`the generated spec does not parse: ${parsed.diagnostics.map((d) => d.message).join('; ')}\n${text}`);
  const spec = formatFile(parsed.file, text);
  const sources: SpecSources = { entry, files: { [entry]: spec } };
  const compiled = compileFile(entry, { host: memoryHost(sources.files) });
  const errors = compiled.diagnostics.filter((d) => d.severity === 'error');
  const model = compiled.models[0];
  if (errors.length || !model?.graph || !model.analysis)
    throw new ImportError(
      `'${configPath}' describes a model mspec cannot build: ${errors.map((d) => d.message).join('; ') || 'no model'}\n${spec}`,
    );
  const params = model.analysis.params.total;
  const imported = { name, modelType, spec, sources, params, tokenizer: readHfTokenizer(dir, model.spec.vocab) };

  if (!hf) return { ...imported, tensors: null, checkpointParams: null, warnings };
  // GPT2LMHeadModel saves `transformer.h.0…` (and maybe `lm_head.weight`); the hub's gpt2 files have no prefix.
  const prefix = family.optionalPrefix && [...hf.keys()].some((k) => k.startsWith(family.optionalPrefix!)) ? family.optionalPrefix : '';
  const w = new HfWeights(hf, prefix);
  family.weights(cfg, w);
  const unused = w.unused();
  if (unused.length)
    throw new ImportError(
      `'${dir}': tensor '${unused[0]}' (${hf.get(unused[0]!)!.file}) is not part of a ${modelType} model as its config describes it${unused.length > 1 ? ` (nor ${unused.length - 1} more)` : ''}`,
    );
  const tensors = new Map<string, STTensor>();
  for (const p of model.graph.params) {
    const t = w.out.get(p.name);
    if (!t) throw new Error(`internal: the ${modelType} mapping gives no tensor for parameter '${p.name}'`);
    if (t.shape.join(',') !== p.shape.join(',')) throw new Error(`internal: '${p.name}' mapped to [${t.shape}], the spec has [${p.shape}]`);
    tensors.set(p.name, f32Tensor(p.shape as number[], t.data));
  }
  for (const n of w.out.keys())
    if (!tensors.has(n)) throw new Error(`internal: the ${modelType} mapping gives '${n}', which the spec lacks`);
  return { ...imported, tensors, checkpointParams: w.elements(), warnings: [...warnings, ...w.dropped.map((d) => `'${dir}': ${d}`)] };
}

/**
 * An mspec model name from the output file's name: letters, digits and underscores, not
 * starting with a digit, and not a keyword (`model.model` → `model_model`).
 */
function modelName(specFile: string): string {
  const base = basename(specFile)
    .replace(/\.model$/, '')
    .replace(/[^A-Za-z0-9_]/g, '_');
  const name = /^[A-Za-z_]/.test(base) ? base : `m_${base}`;
  const reserved = parse(`model ${name} {}`, 'name').diagnostics.some((d) => d.severity === 'error');
  return reserved ? `${name}_model` : name;
}

export function runImport(args: ImportArgs): number {
  const dirName = basename(args.input.replace(/[/\\]config\.json$/, '').replace(/[/\\]+$/, '')) || 'imported';
  const out = args.out ?? `${dirName.replace(/[^A-Za-z0-9_.-]/g, '_')}.model`;
  try {
    const r = importHf(args.input, out);
    for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
    const count = (n: number) => n.toLocaleString('en-US');
    if (r.tensors) {
      if (r.checkpointParams !== r.params)
        throw new ImportError(
          `the checkpoint holds ${count(r.checkpointParams!)} parameters but the imported spec has ${count(r.params)}; nothing written`,
        );
      const ckpt = args.checkpoint ?? out.replace(/\.model$/, '') + '.safetensors';
      writeSafetensors(ckpt, {
        tensors: r.tensors,
        metadata: {
          'mspec.model': r.name,
          'mspec.spec': JSON.stringify(r.sources),
          'mspec.spec_path': r.sources.entry,
          'mspec.spec_sha256': specHash(r.sources, r.name),
          'mspec.imported_from': args.input,
          ...(r.tokenizer ? { 'mspec.tokenizer': JSON.stringify(r.tokenizer) } : {}),
        },
      });
      writeFileAtomic(out, r.spec);
      process.stdout.write(
        `${out}: ${r.modelType} model '${r.name}', ${count(r.params)} parameters (mspec info) = ${count(r.checkpointParams!)} in the checkpoint ✓\n${ckpt}: weights (f32)${r.tokenizer ? ' and the tokenizer (tokenizer.json)' : ''}\n`,
      );
    } else {
      writeFileAtomic(out, r.spec);
      process.stdout.write(`${out}: ${r.modelType} model '${r.name}', ${count(r.params)} parameters (no weights in the folder)\n`);
    }
    return 0;
  } catch (e) {
    if (e instanceof ImportError || e instanceof CheckpointError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
