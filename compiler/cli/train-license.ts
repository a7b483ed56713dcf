/**
 * The license a training run's weights are bound by, recorded in every checkpoint it writes
 * (runtime/train/checkpoint.ts LICENSE_KEY). A license follows weights, not architecture: a
 * run from scratch takes the license its spec states (a base's is never inherited, see
 * ModelSpec.license), while a fine-tune started with `--init` takes its checkpoint's, since the
 * new weights are derived from those; a spec cannot state its way out of that.
 */
import { LICENSE_KEY, readCheckpointLicense } from '../../runtime/train/checkpoint.js';
import { bindsDerivatives, classifyLicense, type LicenseInfo, type LicenseKind } from '../semantics/licenses.js';
import type { ModelSpec } from '../semantics/model.js';

export interface RunLicense {
  readonly license: LicenseInfo | null;
  /** What the user should know: printed as `note:` lines before training. */
  readonly notes: readonly string[];
}

const KINDS: readonly LicenseKind[] = ['open-source', 'non-commercial', 'community', 'proprietary', 'unknown'];

export function runLicense(spec: ModelSpec, init: string | undefined): RunLicense {
  const recorded = init ? readCheckpointLicense(init) : null;
  if (!init || !recorded) return { license: spec.license, notes: [] };
  // The table's reading of a known id; an unknown one keeps what the checkpoint recorded.
  const known = classifyLicense(recorded.id);
  const kind = KINDS.find((k) => k === recorded.kind) ?? 'unknown';
  const license: LicenseInfo = known.kind !== 'unknown' ? known : { id: recorded.id, name: recorded.name, kind };
  const notes: string[] = [];
  if (bindsDerivatives(license.kind))
    notes.push(
      `the --init checkpoint '${init}' holds weights under the ${license.name} (${license.id}, ${license.kind}); the fine-tuned weights derive from them and are bound by it too (their checkpoint records it)`,
    );
  if (spec.license && spec.license.id !== license.id)
    notes.push(
      `model ${spec.name} states license ${spec.license.id}, but its weights start from the --init checkpoint's, under ${license.id}; the checkpoint records ${license.id}`,
    );
  return { license, notes };
}

/** The weights metadata that records `license` (nothing when none is stated). */
export function licenseMetadata(license: LicenseInfo | null): Record<string, string> {
  return license ? { [LICENSE_KEY]: JSON.stringify({ id: license.id, name: license.name, kind: license.kind }) } : {};
}
