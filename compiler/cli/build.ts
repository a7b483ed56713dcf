/**
 * `mspec build SPEC -o DIR`: for each model, DIR/<model>/ gets plan.json (kernels, buffers,
 * dispatch order, parameters, what the kernels assume of the adapter: what the runtime
 * loads), manifest.json (the same plan summarised for people and tools), kernels/*.wgsl,
 * model.ts compiled to model.js + model.d.ts, the runtime those import (runtime/, copied so
 * the folder runs wherever it is copied) and a package.json naming what Node must install.
 * A spec with a train section also gets train-plan.json and train.ts → train.js.
 * `--explain` prints the fused-kernel plan.
 */
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Project, ts } from 'ts-morph';
import { generateModule } from '../codegen/ts/module.js';
import { generateTrainer } from '../codegen/ts/trainer.js';
import { checkTrainSupport } from '../codegen/train-support.js';
import { planModel } from '../schedule/plan.js';
import { planTraining } from '../schedule/train-plan.js';
import { dirname, resolve } from 'node:path';
import type { KernelTuning } from '../codegen/wgsl/matmul.js';
import type { CompiledModelData } from '../../runtime/model-runtime.js';
import type { KernelPlan } from '../../runtime/plan-types.js';
import { planTarget, withTarget } from '../schedule/compile-model.js';
import { chunkedPrefill } from '../schedule/explain.js';
import { bundleRuntime, mspecRoot } from './bundle-runtime.js';
import { compileGpu } from './gpu-model.js';
import { printDiagnostics } from './output.js';
import { specTarget } from './spec-target.js';
import { exact, flops } from './units.js';
import { detectTuning } from './tuning.js';
import { DEFAULT_BINDING_LIMITS, type BindingLimits } from '../../runtime/gpu/limits.js';

export interface BuildArgs {
  target: string;
  out: string;
  explain: boolean;
  tuning: 'auto' | KernelTuning;
  /** Import the runtime from this specifier (e.g. 'mspec/runtime') instead of copying it into the folder. */
  runtimeImport?: string | undefined;
  /** maxStorageBufferBindingSize to plan for (default: the adapter's, or the WebGPU default without one). */
  maxBinding?: number | undefined;
}

export async function runBuild(args: BuildArgs): Promise<number> {
  const { file, model, host, tokenizer } = specTarget(args.target);
  // The output must be a folder (or not exist yet): a file there would fail half-way through writing.
  if (existsSync(args.out) && !statSync(args.out).isDirectory()) {
    process.stderr.write(`error: cannot build into '${args.out}': it is a file, not a folder; give a folder with -o/--out\n`);
    return 2;
  }
  const tuning =
    args.tuning === 'auto'
      ? await detectTuning()
      : { tuning: args.tuning, subgroupMinSize: 0, adapter: '', limits: DEFAULT_BINDING_LIMITS, note: '' };
  if (tuning.note) process.stderr.write(`${tuning.note}\n`);
  if (args.maxBinding !== undefined && !(Number.isInteger(args.maxBinding) && args.maxBinding >= 4096 && args.maxBinding <= 2 ** 32)) {
    process.stderr.write(`error: --max-binding must be a whole number of bytes from 4096 to 4294967296, got ${args.maxBinding}\n`);
    return 2;
  }
  const limits = args.maxBinding !== undefined ? { ...tuning.limits, maxStorageBufferBindingSize: args.maxBinding } : tuning.limits;
  const planned =
    `planned for maxStorageBufferBindingSize ${limits.maxStorageBufferBindingSize}, maxBufferSize ${limits.maxBufferSize}, ` +
    `offset alignment ${limits.minStorageBufferOffsetAlignment} (${args.maxBinding !== undefined ? '--max-binding' : tuning.adapter ? 'the adapter' : 'WebGPU defaults'})`;
  const r = compileGpu(file, {
    model,
    tuning: tuning.tuning,
    subgroupMinSize: tuning.subgroupMinSize,
    adapter: tuning.adapter,
    limits,
    ...(host ? { host } : {}),
    ...(tokenizer ? { tokenizer } : {}),
  });
  printDiagnostics(r.diagnostics, r.sources);
  if (r.diagnostics.some((d) => d.severity === 'error') || r.models.length === 0) return 1;
  for (const { model: m, data } of r.models) {
    const dir = join(args.out, m.spec.name);
    rmSync(join(dir, 'kernels'), { recursive: true, force: true });
    rmSync(join(dir, 'runtime'), { recursive: true, force: true });
    mkdirSync(join(dir, 'kernels'), { recursive: true });
    writeFileSync(join(dir, 'plan.json'), JSON.stringify(data) + '\n');
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest(data, limits), null, 2) + '\n');
    // An encoder–decoder also has its encode plan (encoder + cross-attention K/V).
    const inference = [...(data.plans.encode ? [data.plans.encode] : []), data.plans.prefill, data.plans.decode];
    const shaders = writeKernels(dir, inference);
    // A spec with a train section the GPU path can run also gets a trainer entry (train.js).
    const recipe = m.spec.train;
    let trainer = false;
    if (recipe && m.graph && !checkTrainSupport(m.spec, recipe).hasErrors) {
      const popts = {
        tuning: tuning.tuning,
        subgroupMinSize: tuning.subgroupMinSize,
        maxBinding: limits.maxStorageBufferBindingSize,
        bindAlign: limits.minStorageBufferOffsetAlignment,
      };
      const train = planTraining(m.spec, m.graph, {
        ...popts,
        B: recipe.batch,
        T: recipe.seq_len,
        clip: recipe.clip,
        accumulation: recipe.accumulation,
      });
      const evalPlan = planModel(m.spec, m.graph, { ...popts, mode: 'forward', B: recipe.batch, T: recipe.seq_len });
      const target = planTarget([train, evalPlan], { ...popts, adapter: tuning.adapter });
      const plans = { train: withTarget(train, target), eval: withTarget(evalPlan, target) };
      writeFileSync(join(dir, 'train-plan.json'), JSON.stringify({ model: data, plans, recipe, specDir: resolve(dirname(file)) }) + '\n');
      trainer = true;
    }
    const deps = emitModule(dir, m.spec, data, args.runtimeImport, trainer);
    const dispatches = inference.reduce((n, p) => n + p.steps.filter((s) => s.kind === 'kernel').length, 0);
    const files = [
      'model.ts',
      'model.js',
      ...(trainer ? ['train.js', 'train-plan.json'] : []),
      'plan.json',
      'manifest.json',
      ...(deps ? ['package.json', 'runtime/'] : []),
    ];
    process.stdout.write(
      `${m.spec.name}: ${dir}/ (${files.join(', ')}; kernels/: ${shaders} WGSL shaders for ${dispatches} dispatches; ${assumes(data)})\n`,
    );
    process.stdout.write(`  ${planned}\n`);
    if (deps && Object.keys(deps).length) {
      process.stdout.write(
        `  in Node, first run \`npm install\` in ${dir} (installs ${Object.entries(deps)
          .map(([n, v]) => `${n}@${v}`)
          .join(', ')})\n`,
      );
    }
    if (args.explain) process.stdout.write(inference.map(explain).join('\n') + '\n');
  }
  return 0;
}

/** What the build assumes of the adapter, in words, for the summary line. */
function assumes(data: CompiledModelData): string {
  const t = data.target;
  if (!t) return 'no adapter assumptions recorded';
  const sg =
    t.subgroupMinSize > 0
      ? `, assumes subgroups of >= ${t.subgroupMinSize} lanes (refused where they are narrower)`
      : ', runs on any adapter';
  return `${t.tuning} tuning${t.adapter ? ` for ${t.adapter}` : ''}${sg}`;
}

/**
 * The file of each kernel of `plan` under kernels/: <plan>.<kernel>.wgsl, with -2, -3, …
 * after the name when several distinct shaders share it (RoPE on Q and on K differ in their
 * head count). A plan lists each distinct shader once however often it is dispatched.
 */
export function kernelFiles(plan: KernelPlan): string[] {
  const uses = new Map<string, number>();
  return plan.kernels.map((k) => {
    const n = (uses.get(k.name) ?? 0) + 1;
    uses.set(k.name, n);
    return `kernels/${plan.mode}.${k.name}${n > 1 ? `-${n}` : ''}.wgsl`;
  });
}

/** Writes every kernel of `plans` to its file (kernelFiles) and returns how many it wrote. */
function writeKernels(dir: string, plans: readonly KernelPlan[]): number {
  let n = 0;
  for (const plan of plans) {
    kernelFiles(plan).forEach((f, i) => {
      const code = plan.kernels[i]!.code;
      writeFileSync(join(dir, f), code.endsWith('\n') ? code : `${code}\n`);
      n++;
    });
  }
  return n;
}

/**
 * Writes model.ts (and train.ts) and compiles them beside it. Unless `runtimeImport` names a
 * package to import the runtime from, the runtime is copied into runtime/ and a package.json
 * lists what Node must install; returns those dependencies (null when not bundled).
 */
function emitModule(
  dir: string,
  spec: Parameters<typeof generateModule>[2],
  data: CompiledModelData,
  runtimeImport: string | undefined,
  withTrainer: boolean,
): Record<string, string> | null {
  let deps: Record<string, string> | null = null;
  if (!runtimeImport) {
    // model.js imports the browser-safe entry (a page can bundle the folder); train.js, for Node, the full one.
    const entries = ['browser.js', ...(withTrainer ? ['index.js'] : [])];
    deps = { ...bundleRuntime(dir, entries).dependencies };
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify(
        {
          name: spec.name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-'),
          private: true,
          description: `${spec.name}, built by mspec ${data.mspecVersion}. In Node run \`npm install\` here first (Dawn's native webgpu bindings); a browser uses navigator.gpu.`,
          type: 'module',
          main: './model.js',
          types: './model.d.ts',
          dependencies: deps,
        },
        null,
        2,
      ) + '\n',
    );
  }
  const root = mspecRoot();
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
      // The folder may be anywhere: take @webgpu/types and @types/node from mspec's own packages.
      typeRoots: [join(root, 'node_modules'), join(root, 'node_modules', '@types')],
      types: withTrainer ? ['node'] : [],
      // An imported runtime need not be installed where the module is written: check against this mspec's own.
      ...(runtimeImport ? { paths: { [runtimeImport]: [join(root, 'dist', 'runtime', 'index.d.ts')] } } : {}),
    },
  });
  const imports = runtimeImport
    ? { runtime: runtimeImport, device: runtimeImport, index: runtimeImport }
    : { runtime: './runtime/browser.js', device: './runtime/browser.js', index: './runtime/index.js' };
  generateModule(project, join(dir, 'model.ts'), spec, data, { runtime: imports.runtime, device: imports.device });
  if (withTrainer)
    generateTrainer(project, join(dir, 'train.ts'), {
      model: spec.name,
      specPath: data.spec.path,
      hash: data.spec.hash,
      version: data.mspecVersion,
      runtimeImport: imports.index,
    });
  project.saveSync();
  // plan.json is imported by the module: the emitter needs it on disk (it is, above).
  const result = project.emitSync();
  const diags = [...result.getDiagnostics(), ...project.getPreEmitDiagnostics()];
  if (diags.length)
    throw new Error(`internal: the generated module does not compile:\n${project.formatDiagnosticsWithColorAndContext(diags)}`);
  return deps;
}

export function manifest(data: CompiledModelData, limits?: BindingLimits): object {
  const plan = (p: KernelPlan) => {
    const files = kernelFiles(p);
    return {
      mode: p.mode,
      B: p.B,
      T: p.T,
      buffers: p.buffers.map((b) => ({ name: b.name, kind: b.kind, dtype: b.dtype, shape: b.shape, bytes: b.bytes })),
      kernels: p.kernels.map((k, i) => ({
        name: k.name,
        wgsl: files[i],
        fuses: k.fuses,
        dispatch: k.dispatch,
        flops: k.flops,
        bytes: k.bytes,
        bindings: k.bindings.map((b) => b.name),
      })),
      dispatch: p.steps.map((s) =>
        s.kind === 'kernel'
          ? {
              kernel: p.kernels[s.kernel]!.name,
              wgsl: files[s.kernel],
              scope: s.scope,
              bind: s.bind,
              ...(s.ranges ? { ranges: s.ranges } : {}),
            }
          : s.kind === 'cache_write'
            ? { cache_write: s.dst, from: s.src, rows: s.rows, scope: s.scope }
            : s.kind === 'copy'
              ? { copy: s.dst, from: s.src, bytes: s.bytes, scope: s.scope }
              : { clear: s.buffers, scope: s.scope },
      ),
      flops: p.steps.reduce((n, s) => n + (s.kind === 'kernel' ? p.kernels[s.kernel]!.flops : 0), 0),
    };
  };
  return {
    generated_by: `mspec ${data.mspecVersion}`,
    model: data.name,
    spec: { path: data.spec.path, sha256: data.spec.hash },
    vocab: data.vocab,
    context: data.context,
    tokenizer: data.tokenizer?.kind ?? null,
    target: data.target ?? null,
    ...(limits ? { limits } : {}),
    parameters: data.params.map((p) => ({ name: p.name, shape: p.shape, decay: p.decay, init: p.init })),
    plans: {
      ...(data.plans.encode ? { encode: plan(data.plans.encode) } : {}),
      prefill: plan(data.plans.prefill),
      decode: plan(data.plans.decode),
    },
  };
}

export function explain(p: KernelPlan): string {
  const lines = [`${p.model} ${p.mode} plan (B=${p.B}, T=${p.T}): ${p.steps.length} steps, ${p.kernels.length} distinct kernels`];
  const chunked = chunkedPrefill(p);
  if (chunked) lines.push(`  ${chunked}`);
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
  lines.push(`  buffers (${p.buffers.length}):`);
  for (const b of p.buffers) lines.push(`    ${b.name.padEnd(40)} ${String(b.bytes).padStart(12)} B  ${boundAs(p, b.name)}`);
  return lines.join('\n');
}

/** How the kernels bind a buffer: whole, or as k distinct byte ranges (chunks, over all its kernels) of at most N bytes. */
export function boundAs(p: KernelPlan, name: string): string {
  const ranges = new Set<string>();
  let largest = 0;
  let whole = false;
  for (const s of p.steps) {
    if (s.kind !== 'kernel') continue;
    for (const [binding, buf] of Object.entries(s.bind)) {
      if (buf !== name) continue;
      const r = s.ranges?.[binding];
      if (!r) whole = true;
      else {
        ranges.add(`${r.offset}+${r.size}`);
        largest = Math.max(largest, r.size);
      }
    }
  }
  if (ranges.size === 0) return whole ? 'bound whole' : 'not bound by a kernel';
  return `${whole ? 'bound whole and ' : ''}bound as ${ranges.size} distinct ranges (chunks) of at most ${largest} B`;
}
