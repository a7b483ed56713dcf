/**
 * The folder's `tokenizer.json` (and `tokenizer_config.json`), checked by building the
 * tokenizer once, and against the model: a tokenizer whose ids reach past the model's
 * vocabulary would index past its embedding table.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hfTokenizer, hfVocabSize } from '../../../runtime/tokenizers/hf.js';
import type { TokenizerData } from '../../../runtime/tokenizers/index.js';
import { ImportError } from './config.js';

export function readHfTokenizer(dir: string, modelVocab: number): TokenizerData | null {
  const path = join(dir, 'tokenizer.json');
  if (!existsSync(path)) return null;
  const json = (file: string): Record<string, unknown> => {
    try {
      const v = JSON.parse(readFileSync(file, 'utf8')) as unknown;
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
      return v as Record<string, unknown>;
    } catch (e) {
      throw new ImportError(`'${file}' is not a usable tokenizer file: ${(e as Error).message}`);
    }
  };
  const tokenizer = json(path);
  const configPath = join(dir, 'tokenizer_config.json');
  const config = existsSync(configPath) ? json(configPath) : {};
  const data = { kind: 'hf', tokenizer, config } as const;
  try {
    hfTokenizer(data).encode('mspec');
  } catch (e) {
    throw new ImportError(`'${path}' cannot be used by @huggingface/tokenizers: ${(e as Error).message}`);
  }
  const vocab = hfVocabSize(tokenizer);
  if (vocab > modelVocab)
    throw new ImportError(`'${path}' has ids up to ${vocab - 1}, past the model's vocabulary of ${modelVocab} (config.json vocab_size)`);
  return data;
}
