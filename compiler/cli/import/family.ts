/** What one Hugging Face model family's importer provides; families.ts lists them. */
import type { HfConfig } from './config.js';
import type { HfWeights } from './tensors.js';

export interface Family {
  /** The config.json `model_type` values it reads. */
  readonly modelTypes: readonly string[];
  /** Every config field it understands (beyond NO_EFFECT_FIELDS); others are warned about. */
  readonly fields: readonly string[];
  /** The prefix its checkpoints may put before every tensor name (GPT-2's `transformer.`), if optional. */
  readonly optionalPrefix?: string;
  /**
   * The body of the `model` block (knob lines), or an ImportError naming a field mspec cannot
   * express. `tensors`: the checkpoint's tensor names (null without weights), for the parts a
   * config does not state (whether a BERT checkpoint has its pooler and MLM head).
   */
  spec(cfg: HfConfig, tensors: ReadonlySet<string> | null): string;
  /** Reads every tensor into `w.out` under mspec's parameter names (compiler/ir/lower.ts). */
  weights(cfg: HfConfig, w: HfWeights): void;
}
