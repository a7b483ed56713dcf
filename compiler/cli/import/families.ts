/** The Hugging Face model families `mspec import` reads, by config.json `model_type`. */
import { bert } from './bert.js';
import { falcon } from './falcon.js';
import type { Family } from './family.js';
import { gpt2 } from './gpt2.js';
import { llama } from './llama.js';
import { neox } from './neox.js';
import { phi } from './phi.js';
import { t5 } from './t5.js';

export const FAMILIES: readonly Family[] = [gpt2, llama, neox, falcon, phi, bert, t5];

export function familyOf(modelType: string): Family | undefined {
  return FAMILIES.find((f) => f.modelTypes.includes(modelType));
}
