/**
 * The optimizer kernels: global-norm clipping (sum of squares per tensor, then one clip-scale
 * kernel) and a fused AdamW step per tensor reading its hyperparameters from the Optim uniform.
 */
export { generateClipScale, generateSumSquares, type ClipScaleSpec, type SumSquaresSpec } from './clip.js';
export { generateAdamW, type AdamWSpec } from './adamw.js';
export {
  OPTIM_BYTES,
  OPTIM_VAR,
  OPTIM_WGSL,
  OptimBindings,
  optimUniform,
  packOptim,
  type AdamWHyper,
  type OptimUniform,
} from './uniform.js';
