/**
 * `mspec export SPEC|CKPT --to torch|hf -o DIR`: hands the work to the exporter of the target
 * (./torch.ts: a standalone PyTorch package; ./hf.ts: a Hugging Face folder).
 */
import { checkpointPath } from '../spec-target.js';

export async function runExport(args: { input: string; to: 'torch' | 'hf'; out: string; force: boolean }): Promise<number> {
  // A run folder stands for the checkpoint it holds.
  const opts = { input: checkpointPath(args.input) ?? args.input, out: args.out, force: args.force };
  if (args.to === 'hf') return (await import('./hf.js')).runExportHf(opts);
  return (await import('./torch.js')).runExportTorch(opts);
}
