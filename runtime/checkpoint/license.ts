/**
 * The license weights are bound by, as checkpoints record it. It follows the weights: a
 * fine-tune (`--init`) and a runtime that loaded a checkpoint save it again.
 */
import { CheckpointError, readSafetensorsMetadata } from './safetensors.js';

/**
 * The weights metadata key of the license the weights are bound by, as JSON `{ id, name, kind }`
 * (the compiler's license table, semantics/licenses.ts, classifies it). Absent: none stated.
 * A fine-tune started with `--init` records its checkpoint's license: it follows the weights.
 */
export const LICENSE_KEY = 'mspec.license';

export interface CheckpointLicense {
  readonly id: string;
  readonly name: string;
  readonly kind: string;
}

/** The license a checkpoint's metadata records, or null when it records none. */
export function readCheckpointLicense(path: string, metadata = readSafetensorsMetadata(path)): CheckpointLicense | null {
  const raw = metadata[LICENSE_KEY];
  if (raw === undefined) return null;
  let v: Partial<CheckpointLicense> | null = null;
  try {
    v = JSON.parse(raw) as Partial<CheckpointLicense>;
  } catch {
    // reported below
  }
  if (!v || typeof v.id !== 'string' || !v.id || typeof v.name !== 'string' || typeof v.kind !== 'string')
    throw new CheckpointError(`'${path}' has damaged license metadata (${LICENSE_KEY}: ${raw.slice(0, 80)})`);
  return { id: v.id, name: v.name, kind: v.kind };
}
