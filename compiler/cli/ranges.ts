/**
 * The ranged numeric options (runtime/option-ranges.ts) as yargs options: shown in `--help` and
 * enforced through yargs' own `coerce`, so `--top-p 2`, `--steps 0` or `--batch abc` stop with a
 * usage error (exit 2) that names the option, the range and what was given.
 */
import type { Options } from 'yargs';
import { checkRange, rangeText, type OptionRange } from '../../runtime/option-ranges.js';

export { checkRange, RANGES, rangeText, type OptionRange } from '../../runtime/option-ranges.js';

/**
 * A yargs option for a ranged number. It has no yargs `type`, so the user's text reaches
 * `coerce` as given (a number option would turn `abc` into NaN before we could quote it).
 */
export function ranged(name: string, r: OptionRange, describe?: string): Options {
  return {
    requiresArg: true,
    describe: `${describe ?? r.describe}; ${r.int ? 'integer' : 'number'} in ${rangeText(r)}`,
    ...(r.default !== undefined ? { default: r.default } : {}),
    coerce: (v: unknown) => checkRange(name, r, v),
  };
}
