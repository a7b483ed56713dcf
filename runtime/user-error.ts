/**
 * The runtime's errors that describe the user's input or machine (data, tokenizer, checkpoint,
 * weights, plans for another device, no usable GPU, a model whose loss is not finite), not a bug:
 * their messages say what and what to do, so a command prints them as one line.
 */
import { CheckpointError } from './checkpoint/safetensors.js';
import { DataError } from './data/source.js';
import { NonFiniteLossError } from './eval/perplexity.js';
import { GpuUnavailableError } from './gpu/errors.js';
import { PlanTargetError } from './gpu/target.js';
import { ModelError } from './model-error.js';
import { TokenizerError } from './tokenizers/index.js';

const USER_ERRORS = [DataError, TokenizerError, CheckpointError, ModelError, PlanTargetError, GpuUnavailableError, NonFiniteLossError];

export function isUserError(e: unknown): e is Error {
  return USER_ERRORS.some((k) => e instanceof k);
}
