import { it, beforeAll, afterAll } from 'vitest';
import { acquireDevice, type GpuContext } from '../../runtime/device.js';
import { inputsFor, runMatmul } from './matmul-harness.js';
import { generateMatmul, type MatmulSpec } from '../../compiler/codegen/wgsl/matmul.js';
let gpu: GpuContext;
beforeAll(async () => { gpu = await acquireDevice(); });
afterAll(() => gpu?.release());
it('t', async () => {
  const specs: MatmulSpec[] = [];
  for (const [M,N,K] of [[65,127,33],[1,64,32]]) for (const tuning of ['gpu', 'cpu'] as const) for (const g of [undefined, 'relu', 'gelu'] as const)
    specs.push({ M: M + specs.length, N, K, variant: 'nt', bias: true, ...(g ? { gate: { fn: g } } : { activation: 'gelu' }), tuning, subgroupMinSize: gpu.subgroupMinSize });
  for (const s of specs) { const c0 = process.cpuUsage(); const t0 = performance.now(); const k = generateMatmul(s); await runMatmul(gpu.device, k, inputsFor(k, 1)); const c = process.cpuUsage(c0);
    console.log(s.N, s.tuning, s.gate?.fn ?? 'act gelu', 'wall', (performance.now() - t0).toFixed(0), 'cpu', ((c.user + c.system) / 1000).toFixed(0), 'ms'); }
});
