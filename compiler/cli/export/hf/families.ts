/**
 * Which Hugging Face families could state a spec exactly, most likely first, from the knobs
 * `mspec import` sets for each (compiler/cli/import/<family>.ts): the architecture, the
 * positions, the norm and the block's shape. The driver then checks each candidate's config by
 * importing it again and takes the first that gives back the spec. A spec no family could state
 * (ALiBi, sinusoidal positions, …) is an ExportError naming the knob.
 */
import type { ModelSpec } from '../../../semantics/model.js';
import { bert } from './bert.js';
import { falcon } from './falcon.js';
import { ExportError, type ExportFamily } from './form.js';
import { gpt2 } from './gpt2.js';
import { llama } from './llama.js';
import { neox } from './neox.js';
import { phi } from './phi.js';
import { t5 } from './t5.js';

const NONE = 'no family among gpt2, llama, mistral, mixtral, gpt_neox, phi, falcon, bert, t5 (as mspec import reads them)';

export function candidates(spec: ModelSpec): ExportFamily[] {
  const pos = spec.embedding.positions;
  const stack = spec.decoder ?? spec.encoder;
  const layer = stack?.layers[0];
  if (!layer) throw new ExportError(`model ${spec.name} has no layers, so no Hugging Face form`);
  if (pos.kind === 'alibi') throw new ExportError(`embedding.positions = alibi: ${NONE} uses ALiBi; use --to torch`);
  if (pos.kind === 'sinusoidal')
    throw new ExportError(`embedding.positions = sinusoidal: ${NONE} uses fixed sinusoidal positions; use --to torch`);
  if (pos.kind === 'none') throw new ExportError(`embedding.positions = none: ${NONE} runs without positions; use --to torch`);
  if (spec.arch === 'encoder_decoder') {
    if (pos.kind !== 'relative')
      throw new ExportError(
        `embedding.positions = ${pos.kind} in an encoder–decoder: the one encoder–decoder family, t5, uses relative position buckets; use --to torch`,
      );
    return [t5];
  }
  if (spec.arch === 'encoder') {
    if (pos.kind !== 'learned')
      throw new ExportError(
        `embedding.positions = ${pos.kind} in an encoder: the one encoder family, bert, uses learned positions; use --to torch`,
      );
    return [bert];
  }
  // Decoders.
  if (pos.kind === 'relative')
    throw new ExportError(
      `embedding.positions = relative in a decoder-only model: ${NONE} has it (t5 is an encoder–decoder); use --to torch`,
    );
  if (pos.kind === 'learned') return [gpt2];
  if (layer.norm.kind === 'rmsnorm') return [llama];
  if (layer.parallel && !layer.shared_norm) return [neox];
  if (layer.parallel) return spec.embedding.tied ? [falcon, phi] : [phi, falcon];
  return spec.embedding.tied ? [falcon, neox] : [neox, falcon];
}
