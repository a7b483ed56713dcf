/**
 * Checking a checkpoint against a model before any weight is uploaded: every tensor the model
 * needs is present, F32 and of the right shape, and nothing else is in the file. One check for
 * every place weights come in (sampling, evaluation, fine-tuning with --init), listing each
 * problem by name, so a checkpoint of another spec is never half-loaded.
 */
import { asF32, CheckpointError, type STFile } from './safetensors.js';

const shapeText = (s: readonly number[]) => `[${s.join(', ')}]`;

/** The values of each parameter, by name; CheckpointError listing every mismatch (the first 20). */
export function fitWeights(
  file: STFile,
  params: readonly { readonly name: string; readonly shape: readonly number[] }[],
  model: string,
  source: string,
): Map<string, Float32Array> {
  const problems: string[] = [];
  const expected = new Map(params.map((p) => [p.name, p]));
  for (const [name, t] of file.tensors) {
    const p = expected.get(name);
    if (!p) problems.push(`unexpected tensor '${name}' ${shapeText(t.shape)} (the spec has no such parameter)`);
    else if (t.dtype !== 'F32') problems.push(`tensor '${name}' is ${t.dtype}, expected F32`);
    else if (shapeText(t.shape) !== shapeText(p.shape))
      problems.push(`tensor '${name}' has shape ${shapeText(t.shape)}, the spec needs ${shapeText(p.shape)}`);
  }
  for (const p of params) if (!file.tensors.has(p.name)) problems.push(`missing tensor '${p.name}' ${shapeText(p.shape)}`);
  if (problems.length) {
    const more = problems.length > 20 ? `\n  … and ${problems.length - 20} more` : '';
    throw new CheckpointError(`${source} does not fit model '${model}':\n  ${problems.slice(0, 20).join('\n  ')}${more}`);
  }
  return new Map(params.map((p) => [p.name, asF32(file.tensors.get(p.name)!, p.name)]));
}
