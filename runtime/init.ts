/**
 * Initial values of one parameter from its init rule: the one definition the CPU
 * interpreter (compiler/ir/interpret/init.ts), the model runtime and the trainer all call,
 * so a seed gives the same weights everywhere. Each parameter draws from its own stream,
 * makeRng(deriveSeed(seed, name)): its values depend only on (seed, name, shape, rule).
 */
import type { ParamInfo } from './plan-types.js';
import { deriveSeed, makeRng } from './random.js';

export function initialValues(p: Pick<ParamInfo, 'name' | 'shape' | 'init'>, seed: number): Float32Array {
  const values = new Float32Array(p.shape.reduce((a, b) => a * b, 1));
  if (p.init.kind === 'ones') values.fill(1);
  else if (p.init.kind === 'normal') {
    const rng = makeRng(deriveSeed(seed, p.name));
    for (let i = 0; i < values.length; i++) values[i] = p.init.std * rng.normal();
  }
  return values;
}
