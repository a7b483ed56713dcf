/**
 * The CPU interpreter: the living definition of every op in the IR. Each kernel the compiler
 * generates is checked against it, value for value. It favours clarity over speed (plain
 * loops, f64 accumulation, f32 storage) and runs only small graphs.
 *
 *   interpretOp     one op on concrete tensors            (interpret/op.ts, per-op files)
 *   interpretGraph  a whole graph, every value kept        (interpret/graph.ts)
 *   initParams      deterministic GPT-2-style init         (interpret/init.ts, runtime/init.ts)
 */
export { alibiSlopes, t5RelativeBucket, visible } from './interpret/attention.js';
export { fromArray, InterpretError, type Tensor, zeros } from './interpret/common.js';
export { type GraphData, interpretGraph } from './interpret/graph.js';
export { type InitRule, initParams, initRules } from './interpret/init.js';
export { concreteShape, interpretOp, typeOfTensor } from './interpret/op.js';
