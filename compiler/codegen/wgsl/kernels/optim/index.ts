/**
 * The optimizer kernels: global-norm clipping (sum of squares per tensor, then one clip-scale
 * kernel) and a fused AdamW step per tensor reading its hyperparameters from the Optim uniform,
 * and their multi-tensor forms over gradient/moment arenas (arena.ts).
 */
export { generateClipScale, generateSumSquares, type ClipScaleSpec, type SumSquaresSpec } from './clip.js';
export { generateAdamW, type AdamWSpec } from './adamw.js';
export { generateAdamWArena, generateSumSquaresArena, type AdamWArenaSpec, type ArenaTensor, type SumSquaresArenaSpec } from './arena.js';
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
