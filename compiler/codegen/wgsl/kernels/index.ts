/**
 * The non-matmul kernel generators (matmuls: ../matmul.ts). Each is a pure function of a spec
 * object → WgslKernel (../kernel-types.ts), every dimension a constant in the shader.
 */
export { generateEmbed, type EmbedSpec } from './embed.js';
export { generateResidualNorm, type NormKind, type ResidualNormSpec } from './residual-norm.js';
export { generateRope, ropeInvFreq, type RopeSpec } from './rope.js';
export { generateAttention, type AttentionSpec } from './attention.js';
export { alibiSlopes } from './alibi.js';
export { generateActivation, generateGlu, type ActivationSpec, type GluFn, type GluSpec } from './activation.js';
export { generateSoftmaxXent, generateXentMean, type SoftmaxXentSpec, type XentMeanSpec } from './softmax-xent.js';
export { generateAdd, type AddSpec } from './add.js';
export { generateCopyRows, type CopyRowsSpec } from './copy-rows.js';
export { generateScale, type ScaleSpec } from './scale.js';
