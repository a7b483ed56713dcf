/**
 * The browser-safe runtime (`mspec/runtime/browser`, and what `mspec/runtime` resolves to
 * under a bundler's "browser" condition): everything a page needs to run a built model on
 * `navigator.gpu` — the model runtime, devices, plans, tokenizers, sampling, checkpoints as
 * bytes, and the GPU trainer core. Nothing reachable from here imports a Node built-in or a
 * Node-only package (`npm run lint` checks it: .dependency-cruiser.cjs, rule
 * browser-entry-is-browser-safe). The file- and terminal-bound parts (the training loop with
 * its progress bar and run folders, dataset loaders) are in ./node.ts.
 */
export { ModelRuntime, ModelError, CheckpointError, checkpointMetadata } from './model-runtime.js';
export type { CompiledModelData, EncoderOutput, GenerateOptions, SpeculativeStats } from './model-runtime.js';
export { acquireDevice, GpuUnavailableError, DeviceLostError } from './device.js';
export type { GpuContext } from './device.js';
export { PlanRunner } from './plan-runner.js';
export type { KernelPlan, ParamInfo, PlanBuffer, PlanKernel, PlanStep, PlanTarget } from './plan-types.js';
export { checkPlanTarget, PlanTargetError } from './gpu/target.js';
export { decodeSafetensors, encodeSafetensors, f32Tensor, asF32 } from './checkpoint/safetensors.js';
export type { STFile, STTensor } from './checkpoint/safetensors.js';
export { sampleAt, sampleDistribution, sampleToken } from './sample.js';
export type { SampleOptions } from './sample.js';
export { byteTokenizer, charTokenizer, tokenizerFrom } from './tokenizers/index.js';
export type { Tokenizer, TokenizerData } from './tokenizers/index.js';
export { Trainer } from './train/trainer.js';
export type { TrainPlans, StepResult, OptimSettings, TrainBatch, EvalResult } from './train/trainer.js';
export { learningRate } from './train/schedule.js';
export { lossChartSvg } from './train/chart.js';
export type { Series } from './train/chart.js';
