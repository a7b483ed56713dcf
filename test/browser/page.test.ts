/**
 * The browser example (examples/browser/) in headless Chromium on WebGPU: the page bundles the
 * model folder `mspec build` wrote, loads a checkpoint over HTTP, and must compute the same
 * logits as Dawn in Node for that checkpoint, sample the same text for the same options, and
 * lower the loss by training. Chromium is Debian's `chromium` (scripts/setup-chromium.sh
 * installs it when absent), whose headless build exposes navigator.gpu only with
 * --enable-unsafe-webgpu --use-webgpu-adapter=swiftshader. The page is built here
 * (examples/browser/build.mjs: mspec build, a seeded-init checkpoint, vite build), so the test
 * needs nothing prepared beyond `npm run build`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
const EXAMPLE = join(ROOT, 'examples', 'browser');
const SITE = join(EXAMPLE, 'dist');
const CHROMIUM = process.env.MSPEC_CHROMIUM ?? '/usr/bin/chromium';
const PROMPT = 'Call me Ishmael.';
const SAMPLE = { maxTokens: 24, temperature: 0.8, topK: 40, topP: 0.95, seed: 3 };

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/** A static file server for the built page (what `vite preview` or any web server would do). */
function serve(dir: string): Promise<Server> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const file = normalize(join(dir, path.endsWith('/') ? `${path}index.html` : path));
    if (!file.startsWith(dir + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

/**
 * The same built folder and checkpoint in plain Node (Dawn): the prompt's ids, logits and a
 * sample. A child process, as a user would run it (and vitest need not transform the folder).
 */
function inNode(prompt: string, opts: typeof SAMPLE): { ids: number[]; logits: number[]; text: string } {
  const script = `
    const { TinyBrowser } = await import(${JSON.stringify(pathToFileURL(join(EXAMPLE, 'out', 'tiny_browser', 'model.js')).href)});
    const m = await TinyBrowser.create();
    m.load(${JSON.stringify(join(EXAMPLE, 'out', 'public', 'checkpoint.safetensors'))});
    const ids = m.encode(${JSON.stringify(prompt)});
    const logits = Array.from(await m.forward(ids));
    let text = '';
    for await (const piece of m.generateText(${JSON.stringify(prompt)}, ${JSON.stringify(opts)})) text += piece;
    m.release();
    process.stdout.write(JSON.stringify({ ids, logits, text }));
    process.exit(0);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { ids: number[]; logits: number[]; text: string };
}

let server: Server;
let browser: Browser;
let page: Page;
const errors: string[] = [];

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: run \`bash scripts/setup-chromium.sh\``).toBe(true);
  const built = spawnSync(process.execPath, [join(EXAMPLE, 'build.mjs')], { cwd: ROOT, encoding: 'utf8' });
  expect(built.status, `examples/browser/build.mjs failed:\n${built.stdout}\n${built.stderr}`).toBe(0);
  server = await serve(SITE);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'],
  });
  page = await browser.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
  await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  await page.evaluate(() => (globalThis as unknown as { mspecReady: Promise<void> }).mspecReady);
}, 600_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
});

describe('examples/browser in headless Chromium', () => {
  it('runs on navigator.gpu, with the same logits and samples as Dawn in Node for the same checkpoint', async () => {
    expect(await page.textContent('#status')).toMatch(/^ready: tiny_browser .* on .*swiftshader/i);
    const inPage = await page.evaluate((p) => (globalThis as any).mspec.logits(p), PROMPT);
    const sampled = await page.evaluate(([p, o]) => (globalThis as any).mspec.sample(p, o), [PROMPT, SAMPLE] as const);

    const node = inNode(PROMPT, SAMPLE);
    expect(inPage.ids).toEqual(node.ids);
    expect(inPage.logits).toHaveLength(node.logits.length);
    let diff = 0;
    node.logits.forEach((v, i) => (diff = Math.max(diff, Math.abs(v - inPage.logits[i]))));
    console.log(`page vs Node (Dawn): max |logit difference| ${diff.toExponential(2)} over ${node.logits.length} logits`);
    expect(diff).toBeLessThan(1e-4);
    expect(sampled).toBe(node.text);
    expect(errors).toEqual([]);
  }, 300_000);

  it('trains: a step on a batch lowers the loss on it, and the loss chart is drawn', async () => {
    const losses: number[] = await page.evaluate(() => (globalThis as any).mspec.trainFixed(2));
    console.log(`page training losses on one batch: ${losses.map((l) => l.toFixed(4)).join(' → ')}`);
    expect(losses).toHaveLength(2);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[1]).toBeLessThan(losses[0]! - 1e-3);
    expect(await page.locator('#chart svg').count()).toBe(1);
    expect(errors).toEqual([]);
  }, 300_000);
});
