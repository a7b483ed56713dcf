/**
 * The license a Hugging Face model card states, as a `license` value for a spec: the card's
 * YAML front matter (`README.md`, between the leading `---` fences) has `license: <id>` in the
 * Hub's vocabulary, which the license table (semantics/licenses.ts) uses for model licenses and
 * matches case-insensitively for SPDX ids. The hook `mspec import` calls to fill `license`.
 *
 *   license: apache-2.0                        → "Apache-2.0" (the table's canonical id)
 *   license: other + license_name: <name>      → "LicenseRef-<name>" (SPDX's form for a custom license)
 *   license: other without a name              → null (nothing to name)
 *   license: [mit, apache-2.0] / a block list  → the first entry
 *   any other id                               → as written (the spec then warns MS3004)
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { knownLicense } from '../semantics/licenses.js';

/** The license of the model card in `dir` (its README.md), or null when there is no card or it names none. */
export function readModelCardLicense(dir: string): string | null {
  const path = join(dir, 'README.md');
  if (!existsSync(path)) return null;
  return modelCardLicense(readFileSync(path, 'utf8'));
}

/**
 * The `license = "…"` line (with its newline) an imported spec's body starts with, or '' when the
 * card in `dir` names no license or names one that is not a plain id (the line must parse).
 */
export function modelCardLicenseEntry(dir: string): string {
  const id = readModelCardLicense(dir);
  return id && /^[A-Za-z0-9][A-Za-z0-9.+_-]*$/.test(id) ? `  license = "${id}"\n` : '';
}

/** The license a model card's text states (see the module comment), or null. */
export function modelCardLicense(card: string): string | null {
  const m = /^\uFEFF?---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(\r?\n|$)/.exec(card);
  if (!m) return null;
  const lines = m[1]!.split(/\r?\n/);
  const license = topLevel(lines, 'license');
  if (!license) return null;
  if (license.toLowerCase() === 'other') {
    const name = topLevel(lines, 'license_name')?.replace(/[^A-Za-z0-9.-]+/g, '-');
    return name ? `LicenseRef-${name}` : null;
  }
  return knownLicense(license)?.id ?? license;
}

/** A top-level key's scalar value, or the first item of its flow (`[a, b]`) or block (`- a`) list. */
function topLevel(lines: readonly string[], key: string): string | null {
  const at = lines.findIndex((l) => l.startsWith(`${key}:`));
  if (at < 0) return null;
  let v = stripComment(lines[at]!.slice(key.length + 1)).trim();
  if (v === '') {
    const item = /^\s+-\s+(.*)$/.exec(lines[at + 1] ?? '');
    v = item ? stripComment(item[1]!).trim() : '';
  } else if (v.startsWith('['))
    v = v
      .slice(1, v.indexOf(']') < 0 ? undefined : v.indexOf(']'))
      .split(',')[0]!
      .trim();
  v = v.replace(/^(["'])(.*)\1$/, '$2').trim();
  return v === '' ? null : v;
}

/** YAML comments start at ` #` (a `#` inside a plain scalar such as `c#` is not one). */
function stripComment(s: string): string {
  const i = s.search(/(^|\s)#/);
  return i < 0 ? s : s.slice(0, i);
}
