/**
 * The mixture-of-experts PyTorch fixtures (scripts/fixtures/make_torch_moe.py): tiny
 * Mixtral-style decoders whose MoE block follows HF's MixtralSparseMoeBlock, with stacked
 * expert weights named as mspec lowers them. Each loads like every torch fixture
 * (loadTorchFixture: spec, weights, batch, logits) plus what MoE training adds: the loss is
 * the *total* training loss (mean cross-entropy + every MoE layer's load-balancing loss),
 * `xent` the cross-entropy alone, per MoE layer its chosen experts and aux loss, and the
 * gradient of the total loss for every parameter.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTorchFixture, TORCH_FIXTURE_DIR, type TorchFixture } from '../fixtures/torch/load.js';

export const MOE_TORCH_FIXTURES = ['torch_moe', 'torch_moe_shared', 'torch_moe_alt'] as const;
export type MoeTorchFixtureName = (typeof MOE_TORCH_FIXTURES)[number];

export interface MoeLayerReference {
  /** The layer's MoE scope as lowered (`layers.1.moe`): its values are `<scope>.experts_chosen`, `<scope>.aux_loss`. */
  readonly scope: string;
  readonly topK: number;
  /** (B, T, k) row-major expert ids, largest router logit first (what moe_select must give). */
  readonly expertsChosen: Int32Array;
  /** coef · E · Σ fᵢ·Pᵢ of this layer; null when the model has no load-balancing loss. */
  readonly auxLoss: number | null;
  /** Smallest gap between a token's k-th and (k+1)-th router logit: how far routing is from a tie. */
  readonly minRoutingGap: number;
}

export interface MoeTorchFixture extends TorchFixture {
  /** `loss` (from TorchFixture) is the total training loss; this is its cross-entropy part. */
  readonly xent: number;
  readonly moeLayers: readonly MoeLayerReference[];
  /** ∂(total loss)/∂θ for every parameter, by mspec name (PyTorch float64, 7 significant digits). */
  readonly grads: ReadonlyMap<string, { readonly shape: readonly number[]; readonly values: Float64Array }>;
  /** The graph inputs of the fixture's batch by name: tokens, positions, targets. */
  readonly inputs: ReadonlyMap<string, Int32Array>;
}

interface MoeExpectedJson {
  loss: number;
  xent: number;
  moe_layers: { scope: string; top_k: number; experts_chosen: number[]; aux_loss: number | null; min_routing_gap: number }[];
}

interface GradsJson {
  loss: number;
  grads: Record<string, { shape: number[]; values: number[] }>;
}

export function loadMoeTorchFixture(name: MoeTorchFixtureName): MoeTorchFixture {
  const fx = loadTorchFixture(name);
  const read = <J>(suffix: string) => JSON.parse(readFileSync(join(TORCH_FIXTURE_DIR, `${name}.${suffix}`), 'utf8')) as J;
  const exp = read<MoeExpectedJson>('expected.json');
  const g = read<GradsJson>('grads.json');
  if (g.loss !== exp.loss) throw new Error(`${name}: grads.json loss ${g.loss} ≠ expected.json loss ${exp.loss}`);
  return {
    ...fx,
    xent: exp.xent,
    moeLayers: exp.moe_layers.map((l) => ({
      scope: l.scope,
      topK: l.top_k,
      expertsChosen: Int32Array.from(l.experts_chosen),
      auxLoss: l.aux_loss,
      minRoutingGap: l.min_routing_gap,
    })),
    grads: new Map(Object.entries(g.grads).map(([k, v]) => [k, { shape: v.shape, values: Float64Array.from(v.values) }])),
    inputs: new Map([
      ['tokens', fx.tokens],
      ['positions', fx.positions],
      ['targets', fx.targets],
    ]),
  };
}
