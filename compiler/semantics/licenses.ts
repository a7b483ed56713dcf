/**
 * The licenses mspec knows: the `license` knob names one by its SPDX id (`Apache-2.0`, `MIT`,
 * `CC-BY-NC-4.0`) or, for model licenses SPDX has no id for, by the id the Hugging Face Hub
 * uses in model cards (`llama2`, `gemma`, `openrail`), so a model card's `license:` line maps
 * onto this table unchanged. Ids match case-insensitively (`apache-2.0` is `Apache-2.0`).
 *
 * Any other id is kept as written, classified `unknown`, and warned about (MS3004) with the
 * nearest known id, since an unknown id is far more often a typo than a license mspec has
 * never heard of. SPDX's own escape for custom licenses, `LicenseRef-…`, is never a typo and is
 * accepted without a warning (still `unknown`: only its authors know its terms).
 *
 * The kinds say what a fine-tune inherits, not legal advice:
 *   open-source     use, modify and redistribute, commercially too (OSI licenses, CC-BY, CC0)
 *   non-commercial  no commercial use (CC-BY-NC-*)
 *   community       a model license with use restrictions: an acceptable-use policy, user
 *                   caps, attribution or naming rules (Llama, Gemma, the RAIL family)
 *   proprietary     all rights reserved
 */
import { didYouMean } from './suggest.js';

export type LicenseKind = 'open-source' | 'non-commercial' | 'community' | 'proprietary' | 'unknown';

export interface LicenseInfo {
  /** The canonical id (`Apache-2.0`), or the id as written when it is not in the table. */
  readonly id: string;
  readonly name: string;
  readonly kind: LicenseKind;
}

const open = (id: string, name: string): LicenseInfo => ({ id, name, kind: 'open-source' });
const nc = (id: string, name: string): LicenseInfo => ({ id, name, kind: 'non-commercial' });
const community = (id: string, name: string): LicenseInfo => ({ id, name, kind: 'community' });

export const LICENSES: readonly LicenseInfo[] = [
  open('Apache-2.0', 'Apache License 2.0'),
  open('MIT', 'MIT License'),
  open('BSD-2-Clause', 'BSD 2-Clause License'),
  open('BSD-3-Clause', 'BSD 3-Clause License'),
  open('BSL-1.0', 'Boost Software License 1.0'),
  open('MPL-2.0', 'Mozilla Public License 2.0'),
  open('GPL-3.0', 'GNU General Public License v3.0'),
  open('LGPL-3.0', 'GNU Lesser General Public License v3.0'),
  open('AGPL-3.0', 'GNU Affero General Public License v3.0'),
  open('Unlicense', 'The Unlicense'),
  open('CC0-1.0', 'Creative Commons Zero 1.0 (public domain)'),
  open('CC-BY-4.0', 'Creative Commons Attribution 4.0'),
  open('CC-BY-SA-4.0', 'Creative Commons Attribution-ShareAlike 4.0'),
  nc('CC-BY-NC-4.0', 'Creative Commons Attribution-NonCommercial 4.0'),
  nc('CC-BY-NC-SA-4.0', 'Creative Commons Attribution-NonCommercial-ShareAlike 4.0'),
  nc('CC-BY-NC-ND-4.0', 'Creative Commons Attribution-NonCommercial-NoDerivatives 4.0'),
  community('llama2', 'Llama 2 Community License'),
  community('llama3', 'Meta Llama 3 Community License'),
  community('llama3.1', 'Llama 3.1 Community License'),
  community('llama3.2', 'Llama 3.2 Community License'),
  community('llama3.3', 'Llama 3.3 Community License'),
  community('gemma', 'Gemma Terms of Use'),
  community('openrail', 'Open RAIL License'),
  community('openrail++', 'Open RAIL++-M License'),
  community('creativeml-openrail-m', 'CreativeML Open RAIL-M License'),
  community('bigscience-openrail-m', 'BigScience Open RAIL-M License'),
  community('bigscience-bloom-rail-1.0', 'BigScience BLOOM RAIL 1.0'),
  community('bigcode-openrail-m', 'BigCode Open RAIL-M License'),
  { id: 'proprietary', name: 'Proprietary (all rights reserved)', kind: 'proprietary' },
];

const BY_ID = new Map(LICENSES.map((l) => [l.id.toLowerCase(), l]));

/** The table's entry for `id` (any case), or undefined. */
export function knownLicense(id: string): LicenseInfo | undefined {
  return BY_ID.get(id.trim().toLowerCase());
}

/** `id` classified: the table's entry, or the id as written with kind `unknown`. */
export function classifyLicense(id: string): LicenseInfo {
  return knownLicense(id) ?? { id: id.trim(), name: id.trim(), kind: 'unknown' };
}

/** Whether an unknown `id` deserves a warning: not for SPDX's `LicenseRef-` custom licenses. */
export function isCustomLicenseRef(id: string): boolean {
  return /^LicenseRef-[A-Za-z0-9.-]+$/.test(id.trim());
}

/** `; did you mean 'Apache-2.0'?` for a misspelt id, or the empty string. */
export function licenseSuggestion(id: string): string {
  return didYouMean(
    id.trim(),
    LICENSES.map((l) => l.id),
  );
}

/** Whether weights under `kind` bind what is made from them beyond attribution (a note when fine-tuning). */
export function bindsDerivatives(kind: LicenseKind): boolean {
  return kind === 'non-commercial' || kind === 'community' || kind === 'proprietary';
}

/** The human form: `Llama 2 Community License (llama2, community)`. */
export function licenseText(l: LicenseInfo): string {
  return l.kind === 'unknown' ? `${l.id} (not in mspec's table)` : `${l.name} (${l.id}, ${l.kind})`;
}
