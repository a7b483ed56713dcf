/**
 * Copies the runtime a generated module needs into the model's output folder, so the folder
 * runs from wherever it is copied: the compiled runtime files (dist/) reachable from the
 * module's entry imports, their declarations, and the pure-JavaScript packages they import
 * (gpt-tokenizer, @huggingface/tokenizers), with every import rewritten to a relative path inside `runtime/`. What is
 * not copied is listed as a dependency in the folder's package.json: `webgpu` (Dawn's
 * native Node bindings, imported only in Node when navigator.gpu is absent) and the
 * trainer's packages. Import specifiers are found with TypeScript's preProcessFile, which
 * reports each one's position, so rewriting never touches anything else.
 */
import { builtinModules } from 'node:module';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ts } from 'ts-morph';

/** Packages copied into runtime/vendor/: pure ESM whose files import only each other. */
const VENDORED = new Set(['gpt-tokenizer', '@huggingface/tokenizers']);

export interface RuntimeBundle {
  /** Files written under runtime/ (JavaScript and declarations). */
  readonly files: number;
  /** Packages Node needs installed next to the folder (name → version range). */
  readonly dependencies: Readonly<Record<string, string>>;
}

/** The mspec package root (the folder of its package.json), found from this file. */
export function mspecRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'mspec') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`internal: cannot find mspec's package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** The importing files' specifiers with where their text lies (preProcessFile's pos is the opening quote). */
function importsOf(text: string, file: string): { spec: string; pos: number; end: number }[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((ref) => {
    const pos = ref.pos + 1;
    const end = pos + ref.fileName.length;
    if (text.slice(pos, end) !== ref.fileName) throw new Error(`internal: cannot locate the import '${ref.fileName}' in ${file}`);
    return { spec: ref.fileName, pos, end };
  });
}

const packageName = (spec: string) =>
  spec
    .split('/')
    .slice(0, spec.startsWith('@') ? 2 : 1)
    .join('/');
const isBuiltin = (spec: string) => spec.startsWith('node:') || builtinModules.includes(spec);

/**
 * Copies the closure of `entries` (paths under dist/runtime/, e.g. 'model-runtime.js') into
 * `outDir`/runtime/: dist/runtime/X → runtime/X, a vendored package file →
 * runtime/vendor/<package>/<path>. The runtime imports nothing from the compiler; a file
 * outside dist/runtime/ in the closure is an internal error.
 */
export function bundleRuntime(outDir: string, entries: readonly string[]): RuntimeBundle {
  const root = mspecRoot();
  const dist = join(root, 'dist');
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const out = join(outDir, 'runtime');
  const target = new Map<string, string>(); // source file → file under out/
  const dependencies: Record<string, string> = {};
  const needs = (name: string) => {
    dependencies[name] = pkg.dependencies?.[name] ?? '*';
  };

  const targetOf = (file: string, from: string): string => {
    const inRuntime = relative(join(dist, 'runtime'), file);
    if (!inRuntime.startsWith('..')) return join(out, inRuntime);
    const nm = file.lastIndexOf(`${sep}node_modules${sep}`);
    if (nm < 0) throw new Error(`internal: ${from} imports ${file}, outside the runtime: the runtime must import nothing from compiler/`);
    return join(out, 'vendor', file.slice(nm + '/node_modules/'.length));
  };

  const queue: string[] = [];
  const visit = (file: string, from: string, typeOnly = false) => {
    if (target.has(file)) return;
    if (!existsSync(file) && !(typeOnly && existsSync(file.replace(/\.js$/, '.d.ts')))) {
      throw new Error(
        `the compiled runtime file ${file} (imported by ${from}) is missing: run \`npm run build\` in ${root} and build again`,
      );
    }
    target.set(file, targetOf(file, from));
    queue.push(file);
  };
  for (const e of entries) visit(join(dist, 'runtime', e), 'the generated module');

  // Per file, the imports to rewrite: [pos, end) of the specifier text and the file it resolves to.
  const rewrites = new Map<string, { pos: number; end: number; file: string }[]>();
  // Each file is read once: positions must refer to the text that is written (dist/ may be rebuilt meanwhile).
  const texts = new Map<string, { js: string | null; dts: string | null }>();
  while (queue.length) {
    const file = queue.pop()!;
    const dts = file.replace(/\.js$/, '.d.ts');
    const read = { js: existsSync(file) ? readFileSync(file, 'utf8') : null, dts: existsSync(dts) ? readFileSync(dts, 'utf8') : null };
    texts.set(file, read);
    const text = read.js ?? '';
    const edits: { pos: number; end: number; file: string }[] = [];
    for (const ref of importsOf(text, file)) {
      const spec = ref.spec;
      let dep: string;
      if (spec.startsWith('.')) dep = resolve(dirname(file), spec);
      else if (isBuiltin(spec)) continue;
      else if (VENDORED.has(packageName(spec))) dep = fileURLToPath(import.meta.resolve(spec));
      else {
        needs(packageName(spec));
        continue;
      }
      visit(dep, file);
      edits.push({ pos: ref.pos, end: ref.end, file: dep });
    }
    // Packages located at run time rather than imported (the built-in corpus).
    for (const m of text.matchAll(/require\.resolve\(\s*['"]([^'"]+)['"]/g)) needs(packageName(m[1]!));
    rewrites.set(file, edits);
    // Type-only imports vanish from the JavaScript but not from the declarations: follow those too.
    if (read.dts !== null) {
      for (const ref of importsOf(read.dts, dts)) {
        if (ref.spec.startsWith('.')) visit(resolve(dirname(file), ref.spec), dts, true);
      }
    }
  }

  let files = 0;
  const write = (to: string, text: string) => {
    mkdirSync(dirname(to), { recursive: true });
    writeFileSync(to, text);
    files++;
  };
  const rewrite = (text: string, fromTarget: string, edits: readonly { pos: number; end: number; file: string }[]) => {
    let s = text;
    for (const e of [...edits].sort((a, b) => b.pos - a.pos)) {
      let rel = relative(dirname(fromTarget), target.get(e.file)!).split(sep).join('/');
      if (!rel.startsWith('.')) rel = `./${rel}`;
      s = s.slice(0, e.pos) + rel + s.slice(e.end);
    }
    return s.replace(/^\/\/# sourceMappingURL=.*$/m, '');
  };
  for (const [file, to] of target) {
    const { js, dts } = texts.get(file)!;
    if (js !== null) write(to, rewrite(js, to, rewrites.get(file)!));
    // Declarations, so TypeScript users (and the build's own check of model.ts) get the types.
    if (dts !== null) {
      const edits = importsOf(dts, file).flatMap((ref) => {
        if (!ref.spec.startsWith('.')) return [];
        const dep = resolve(dirname(file), ref.spec);
        return target.has(dep) ? [{ pos: ref.pos, end: ref.end, file: dep }] : [];
      });
      write(to.replace(/\.js$/, '.d.ts'), rewrite(dts, to, edits));
    }
  }
  return { files, dependencies };
}
