/**
 * `mspec build SPEC -o DIR`: for each model, DIR/<model>/ gets plan.json (kernels, buffers,
 * dispatch order, parameters: what the runtime loads), manifest.json (the same plan summarised
 * for people and tools), kernels/*.wgsl, and model.ts compiled to model.js + model.d.ts.
 * `--explain` prints the fused-kernel plan.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Project, ts } from 'ts-morph';
import { generateModule } from '../codegen/ts/module.js';
import { generateTrainer } from '../codegen/ts/trainer.js';
import { checkTrainSupport } from '../codegen/train-support.js';
import { planModel } from '../passes/plan.js';
import { planTraining } from '../passes/train-plan.js';
import { dirname, resolve } from 'node:path';
import type { KernelTuning } from '../codegen/wgsl/matmul.js';
import type { CompiledModelData } from '../../runtime/model-runtime.js';
import type { KernelPlan } from '../../runtime/plan-types.js';
import { compileGpu } from './gpu-model.js';
import { printDiagnostics, splitTarget } from './output.js';
import { exact, flops } from './units.js';
import { detectTuning } from './tuning.js';

export interface BuildArgs {
  target: string;
  out: string;
  explain: boolean;
  tuning: 'auto' | KernelTuning;
  runtimeImport: string;
}

export async function runBuild(args: BuildArgs): Promise<number> {
  const { file, model } = splitTarget(args.target);
  const tuning = args.tuning === 'auto' ? await detectTuning() : { tuning: args.tuning, subgroupMinSize: 0, note: '' };
  if (tuning.note) process.stderr.write(`${tuning.note}\n`);
  const r = compileGpu(file, { model, tuning: tuning.tuning, subgroupMinSize: tuning.subgroupMinSize });
  printDiagnostics(r.diagnostics, r.sources);
  if (r.diagnostics.some((d) => d.severity === 'error') || r.models.length === 0) return 1;
  for (const { model: m, data } of r.models) {
    const dir = join(args.out, m.spec.name);
    rmSync(join(dir, 'kernels'), { recursive: true, force: true });
    mkdirSync(join(dir, 'kernels'), { recursive: true });
    writeFileSync(join(dir, 'plan.json'), JSON.stringify(data) + '\n');
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest(data), null, 2) + '\n');
    for (const plan of [data.plans.prefill, data.plans.decode]) {
      for (const k of plan.kernels) writeFileSync(join(dir, 'kernels', `${plan.mode}.${k.name}.wgsl`), k.code.endsWith('\n') ? k.code : `${k.code}\n`);
    }
    // A spec with a train section the GPU path can run also gets a trainer entry (train.js).
    const recipe = m.spec.train;
    let trainer = '';
    if (recipe && m.graph && !checkTrainSupport(m.spec, recipe).hasErrors) {
      const popts = { tuning: tuning.tuning, subgroupMinSize: tuning.subgroupMinSize };
      const plans = {
        train: planTraining(m.spec, m.graph, { ...popts, B: recipe.batch, T: recipe.seq_len, clip: recipe.clip, accumulation: recipe.accumulation }),
        eval: planModel(m.spec, m.graph, { ...popts, mode: 'forward', B: recipe.batch, T: recipe.seq_len }),
      };
      writeFileSync(join(dir, 'train-plan.json'), JSON.stringify({ model: data, plans, recipe, specDir: resolve(dirname(file)) }) + '\n');
      trainer = ', train.js';
    }
    emitModule(dir, m.spec, data, args.runtimeImport, trainer !== '');
    process.stdout.write(`${m.spec.name}: ${dir}/ (model.ts, model.js${trainer}, plan.json, manifest.json, ${data.plans.prefill.kernels.length + data.plans.decode.kernels.length} kernels; ${tuning.tuning} tuning)\n`);
    if (args.explain) process.stdout.write(explain(data.plans.prefill) + '\n' + explain(data.plans.decode) + '\n');
  }
  return 0;
}

function emitModule(dir: string, spec: Parameters<typeof generateModule>[2], data: CompiledModelData, runtimeImport: string, withTrainer: boolean): void {
  const project = new Project({
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      declaration: true,
      resolveJsonModule: true,
      skipLibCheck: true,
      outDir: dir,
      rootDir: dir,
    },
  });
  generateModule(project, join(dir, 'model.ts'), spec, data, { runtimeImport });
  if (withTrainer) generateTrainer(project, join(dir, 'train.ts'), { model: spec.name, specPath: data.spec.path, hash: data.spec.hash, version: data.mspecVersion, runtimeImport });
  project.saveSync();
  // plan.json is imported by the module: the emitter needs it on disk (it is, above).
  const result = project.emitSync();
  const diags = result.getDiagnostics();
  if (diags.length) throw new Error(`internal: the generated module does not compile:\n${project.formatDiagnosticsWithColorAndContext(diags)}`);
}

export function manifest(data: CompiledModelData): object {
  const plan = (p: KernelPlan) => ({
    mode: p.mode,
    B: p.B,
    T: p.T,
    buffers: p.buffers.map((b) => ({ name: b.name, kind: b.kind, dtype: b.dtype, shape: b.shape, bytes: b.bytes })),
    kernels: p.kernels.map((k) => ({ name: k.name, fuses: k.fuses, dispatch: k.dispatch, flops: k.flops, bytes: k.bytes, bindings: k.bindings.map((b) => b.name) })),
    dispatch: p.steps.map((s) =>
      s.kind === 'kernel'
        ? { kernel: p.kernels[s.kernel]!.name, scope: s.scope, bind: s.bind }
        : s.kind === 'cache_write'
          ? { cache_write: s.dst, from: s.src, rows: s.rows, scope: s.scope }
          : s.kind === 'copy'
            ? { copy: s.dst, from: s.src, bytes: s.bytes, scope: s.scope }
            : { clear: s.buffers, scope: s.scope },
    ),
    flops: p.steps.reduce((n, s) => n + (s.kind === 'kernel' ? p.kernels[s.kernel]!.flops : 0), 0),
  });
  return {
    generated_by: `mspec ${data.mspecVersion}`,
    model: data.name,
    spec: { path: data.spec.path, sha256: data.spec.hash },
    vocab: data.vocab,
    context: data.context,
    tokenizer: data.tokenizer?.kind ?? null,
    parameters: data.params.map((p) => ({ name: p.name, shape: p.shape, decay: p.decay, init: p.init })),
    plans: { prefill: plan(data.plans.prefill), decode: plan(data.plans.decode) },
  };
}

export function explain(p: KernelPlan): string {
  const lines = [`${p.model} ${p.mode} plan (B=${p.B}, T=${p.T}): ${p.steps.length} steps, ${p.kernels.length} distinct kernels`];
  let total = 0;
  for (const s of p.steps) {
    if (s.kind === 'cache_write') {
      lines.push(`  ${s.scope.padEnd(28)} copy ${s.rows} row(s) → ${s.dst} at Step.offset`);
      continue;
    }
    if (s.kind === 'copy') {
      lines.push(`  ${s.scope.padEnd(28)} copy ${s.src} → ${s.dst}`);
      continue;
    }
    if (s.kind === 'clear') {
      lines.push(`  ${s.scope.padEnd(28)} zero ${s.buffers.length} buffer(s)`);
      continue;
    }
    const k = p.kernels[s.kernel]!;
    total += k.flops;
    lines.push(`  ${s.scope.padEnd(28)} ${k.name.padEnd(34)} fuses ${k.fuses.join(' + ').padEnd(24)} ${flops(k.flops).padStart(12)}`);
  }
  lines.push(`  total ${exact(total)} FLOP (${flops(total)})`);
  return lines.join('\n');
}
