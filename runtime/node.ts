/**
 * The Node-only runtime (`mspec/runtime/node`): what reads and writes files or draws on a
 * terminal — checkpoint files by path, the training loop (run folders, resume state,
 * cli-progress), dataset and pair loaders. A page imports ./browser.ts instead.
 */
export { readSafetensors, writeSafetensors } from './checkpoint/safetensors.js';
export { runTraining } from './train/run.js';
export { clearRun, heldRun, readRunState } from './train/checkpoint.js';
export type { RunOptions, RunState, TrainRecipe } from './train/run.js';
export { prepareDataset } from './data/dataset.js';
export { preparePairs } from './data/pairs-dataset.js';
export { BatchSampler, evalBatches } from './data/batches.js';
export { DataError } from './data/source.js';
export { runGeneratedTrainer, GENERATED_TRAINER_USAGE, type TrainBundle } from './train/generated-cli.js';
