/**
 * Rotary position embedding, in the GPT-NeoX / Hugging Face Llama layout ("rotate_half"):
 * within each head of x (B, T, heads·head_dim), the first R = rotary_dims dims are split in
 * halves, and dim i pairs with dim i + R/2 (not with its neighbour 2i+1 as in the original
 * RoFormer / GPT-J layout). For position p and i < R/2, with θᵢ = base^(−2i/R):
 *   out[i]       = x[i] · cos(p θᵢ) − x[i + R/2] · sin(p θᵢ)
 *   out[i + R/2] = x[i + R/2] · cos(p θᵢ) + x[i] · sin(p θᵢ)
 * and dims R … head_dim−1 pass through (partial rotary, NeoX `rotary_pct`). This is HF's
 * `apply_rotary_pos_emb`: q·cos + rotate_half(q)·sin with cos = cat(cos(pθ), cos(pθ)) and
 * rotate_half(x) = cat(−x₂, x₁); inv_freq = 1 / base^(arange(0, R, 2) / R). Angles are
 * computed in f64 (HF uses f32, which drifts by ~1e-7·p radians at large positions).
 */
import type { OpAttrs } from '../ops.js';
import { floats, ints, type Tensor } from './common.js';

export function rope([x, positions]: readonly Tensor[], a: OpAttrs['rope']): Tensor {
  const d = floats(x!, 'rope input');
  const pos = ints(positions!, 'rope positions');
  const [B, T] = x!.shape as [number, number, number];
  const { heads: H, head_dim: D, rotary_dims: R, base } = a;
  const half = R / 2;
  const invFreq = Array.from({ length: half }, (_, i) => base ** ((-2 * i) / R));
  const out = Float32Array.from(d); // dims past R are copied through
  for (let t = 0; t < T; t++) {
    const cos = invFreq.map((f) => Math.cos(pos[t]! * f));
    const sin = invFreq.map((f) => Math.sin(pos[t]! * f));
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const o = ((b * T + t) * H + h) * D; // (B, T, H, D)
        for (let i = 0; i < half; i++) {
          const x1 = d[o + i]!;
          const x2 = d[o + i + half]!;
          out[o + i] = x1 * cos[i]! - x2 * sin[i]!;
          out[o + i + half] = x2 * cos[i]! + x1 * sin[i]!;
        }
      }
    }
  }
  return { shape: [...x!.shape], data: out };
}
