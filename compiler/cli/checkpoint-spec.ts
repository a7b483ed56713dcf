/**
 * The model a checkpoint carries: `mspec train` writes the spec's sources (every file of the
 * program), the model's name and its tokenizer into the weights' metadata, so `sample` and
 * `eval` rebuild the model from the checkpoint alone. Light on purpose (no compiler import):
 * a bad checkpoint fails before the compiler is loaded.
 */
import { CheckpointError } from '../../runtime/checkpoint/safetensors.js';
import type { TokenizerData } from '../../runtime/tokenizers/index.js';
import { parseTokenizerData } from '../../runtime/tokenizers/load.js';
import type { SpecSources } from '../schedule/compile-model.js';
import { nodeHost } from '../semantics/node-host.js';
import type { Host } from '../semantics/resolve.js';

export interface CheckpointSpec {
  readonly model: string;
  readonly sources: SpecSources;
  readonly tokenizer: TokenizerData | null;
  /** Compiles the carried sources; `vocab = tokenizer.vocab` is the stored vocabulary (the corpus need not be here). */
  readonly host: Host;
}

/**
 * A host that serves the files a checkpoint or run folder carries; with a char tokenizer,
 * `tokenizer.vocab` resolves to its vocabulary instead of re-reading the corpus from disk.
 */
export function memoryHost(files: Readonly<Record<string, string>>, tokenizer: TokenizerData | null = null): Host {
  return {
    readFile: (p) => files[p] ?? { error: 'not in the checkpoint' },
    charVocab: tokenizer?.kind === 'char' ? () => tokenizer.chars.length : (data, specFile) => nodeHost.charVocab(data, specFile),
  };
}

/** Reads the spec metadata of a checkpoint at `path`; CheckpointError saying what is missing or damaged. */
export function checkpointSpec(path: string, metadata: Readonly<Record<string, string>>): CheckpointSpec {
  const model = metadata['mspec.model'];
  const raw = metadata['mspec.spec'];
  // A run folder's optimizer.safetensors holds the AdamW moments beside last.safetensors.
  if ((!model || !raw) && metadata['mspec.run_state'] !== undefined)
    throw new CheckpointError(
      `'${path}' is a run's optimizer state (for --resume), not its weights; use the last.safetensors beside it, or the run folder`,
    );
  if (!model || !raw)
    throw new CheckpointError(
      `'${path}' carries no mspec spec in its metadata (mspec.model, mspec.spec), so the model to run is unknown; use a checkpoint written by mspec train, or give the spec itself`,
    );
  let sources: SpecSources;
  try {
    sources = JSON.parse(raw) as SpecSources;
    if (typeof sources?.entry !== 'string' || typeof sources.files !== 'object' || sources.files === null)
      throw new Error('no entry/files');
  } catch (e) {
    throw new CheckpointError(
      `'${path}' has damaged spec metadata (mspec.spec: ${(e as Error).message}); use a checkpoint written by mspec train`,
    );
  }
  const stored = metadata['mspec.tokenizer'];
  const tokenizer = stored ? parseTokenizerData(stored) : null;
  return { model, sources, tokenizer, host: memoryHost(sources.files, tokenizer) };
}
