/**
 * Backward of rotary position embedding (../rope.ts, HF rotate_half convention). The forward
 * rotates each pair (i, i + half) by angle = (offset + t)·inv_freq[i]; its transpose rotates
 * the gradient by −angle:
 *   dx[i]        = dout[i]·cos + dout[i + half]·sin
 *   dx[i + half] = dout[i + half]·cos − dout[i]·sin
 * and dims past rotary_dims pass through. The angle is computed exactly as the forward does
 * (f32 product of the position and a float64 inv_freq baked into the shader), offset from
 * the Step uniform (0 in training). Works on dQ or dK alike (`heads` is H or Kh).
 */
import type { WgslKernel } from '../../kernel-types.js';
import { ROPE_BACKWARD, rotaryKernel, type RopeSpec } from '../rope.js';

/** The forward's spec: inPlace rotates dout itself into dx. */
export type RopeBackwardSpec = RopeSpec;

/** Bindings, in order: dout [B, T, heads·head_dim] (read_write in place), dx [same] (unless in place), step (uniform). */
export function generateRopeBackward(spec: RopeBackwardSpec): WgslKernel {
  return rotaryKernel(spec, ROPE_BACKWARD);
}
