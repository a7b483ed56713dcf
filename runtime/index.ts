/** The runtime package: what generated model modules and trainers import (`mspec/runtime`). */
export { ModelRuntime, ModelError, CheckpointError } from './model-runtime.js';
export type { CompiledModelData, GenerateOptions } from './model-runtime.js';
export { acquireDevice, GpuUnavailableError, DeviceLostError } from './device.js';
export type { GpuContext } from './device.js';
export { PlanRunner } from './plan-runner.js';
export type { KernelPlan, ParamInfo, PlanBuffer, PlanKernel, PlanStep } from './plan-types.js';
export { readSafetensors, writeSafetensors } from './checkpoint/safetensors.js';
export { sampleToken } from './sample.js';
export type { SampleOptions } from './sample.js';
export { byteTokenizer, charTokenizer, tokenizerFrom } from './tokenizers/index.js';
export type { Tokenizer, TokenizerData } from './tokenizers/index.js';
