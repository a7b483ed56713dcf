/**
 * The T5 PyTorch fixture (scripts/fixtures/make_torch_t5.py): a tiny encoder–decoder with a
 * relative position bias per stack, RMSNorm, ReLU, unscaled attention and a tied head, its
 * weights named as mspec lowers them, a batch of sources (B, S) ≠ targets (B, T) with ignored
 * (−1) targets, PyTorch's float64 logits and loss, and every parameter's gradient.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { asF32, readSafetensors } from '../../runtime/checkpoint/safetensors.js';
import { TORCH_FIXTURE_DIR } from '../fixtures/torch/load.js';

export const T5_FIXTURE = 'torch_t5';

export interface T5TorchFixture {
  readonly specPath: string;
  readonly safetensorsPath: string;
  readonly params: Map<string, Float32Array>;
  readonly shapes: Map<string, readonly number[]>;
  readonly B: number;
  readonly S: number;
  readonly T: number;
  readonly vocab: number;
  /** (B, S) encoder ids. */
  readonly srcTokens: Int32Array;
  /** (B, T) decoder inputs (start id 0, then the targets shifted right). */
  readonly tokens: Int32Array;
  /** (B, T) targets, −1 where ignored. */
  readonly targets: Int32Array;
  /** (B, T, V) float64 logits, 7 significant digits. */
  readonly logits: Float64Array;
  readonly loss: number;
  readonly grads: ReadonlyMap<string, Float64Array>;
}

interface ExpectedJson {
  B: number;
  S: number;
  T: number;
  vocab: number;
  src_tokens: number[][];
  tokens: number[][];
  targets: number[][];
  logits: number[];
  loss: number;
}

export function loadT5Fixture(): T5TorchFixture {
  const base = join(TORCH_FIXTURE_DIR, T5_FIXTURE);
  const exp = JSON.parse(readFileSync(`${base}.expected.json`, 'utf8')) as ExpectedJson;
  const g = JSON.parse(readFileSync(`${base}.grads.json`, 'utf8')) as { loss: number; grads: Record<string, { values: number[] }> };
  if (g.loss !== exp.loss) throw new Error(`${T5_FIXTURE}: grads.json loss ${g.loss} ≠ expected.json loss ${exp.loss}`);
  const { B, S, T, vocab } = exp;
  const rows = (r: number[][], n: number, what: string) => {
    if (r.length !== B || r.some((x) => x.length !== n)) throw new Error(`${T5_FIXTURE}: ${what} is not ${B}×${n}`);
    return Int32Array.from(r.flat());
  };
  if (exp.logits.length !== B * T * vocab) throw new Error(`${T5_FIXTURE}: ${exp.logits.length} logits, expected ${B * T * vocab}`);
  const st = readSafetensors(`${base}.safetensors`);
  const params = new Map<string, Float32Array>();
  const shapes = new Map<string, readonly number[]>();
  for (const [key, t] of st.tensors) {
    params.set(key, asF32(t, key));
    shapes.set(key, t.shape);
  }
  return {
    specPath: `${base}.model`,
    safetensorsPath: `${base}.safetensors`,
    params,
    shapes,
    B,
    S,
    T,
    vocab,
    srcTokens: rows(exp.src_tokens, S, 'src_tokens'),
    tokens: rows(exp.tokens, T, 'tokens'),
    targets: rows(exp.targets, T, 'targets'),
    logits: Float64Array.from(exp.logits),
    loss: exp.loss,
    grads: new Map(Object.entries(g.grads).map(([k, v]) => [k, Float64Array.from(v.values)])),
  };
}
