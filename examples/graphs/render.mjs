// Draws a few specs with `mspec graph` into this folder (SVG), and, where Chromium is installed
// (/usr/bin/chromium, or CHROMIUM=path), a PNG screenshot of each taken headless with playwright-core.
// Without arguments it also draws one diff (`mspec diff --svg`): Llama 2 7B against Mistral 7B.
//   npm run build && node examples/graphs/render.mjs [spec names…]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const cli = join(root, 'dist', 'compiler', 'cli', 'main.js');
const named = process.argv.slice(2);
const specs = named.length ? named : ['gpt2-small', 'mistral-7b', 'mixtral-8x7b', 'bert-base', 't5-small'];
const out = process.env.GRAPH_OUT ?? here;
const pictures = [...specs];

for (const s of specs) {
  execFileSync(process.execPath, [cli, 'graph', join(root, 'specs', `${s}.model`), '-o', join(out, `${s}.svg`)], { stdio: 'inherit' });
}
if (!named.length) {
  const diff = spawnSync(
    process.execPath,
    [
      cli,
      'diff',
      join(root, 'specs', 'llama2-7b.model'),
      join(root, 'specs', 'mistral-7b.model'),
      '--svg',
      join(out, 'llama2-vs-mistral.svg'),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  if (diff.status !== 1) throw new Error(`mspec diff exited ${diff.status}`); // 1: the models differ
  pictures.push('llama2-vs-mistral');
}

const chromium = process.env.CHROMIUM ?? '/usr/bin/chromium';
if (process.env.NO_PNG || !existsSync(chromium)) {
  console.log(`no PNG screenshots (${process.env.NO_PNG ? 'NO_PNG set' : `${chromium} not found`}); the SVGs are written`);
} else {
  const { chromium: pw } = await import('playwright-core');
  const browser = await pw.launch({ executablePath: chromium, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ deviceScaleFactor: 1 });
    for (const s of pictures) {
      await page.setContent(`<body style="margin:0;background:#fff">${readFileSync(join(out, `${s}.svg`), 'utf8')}</body>`);
      await page.locator('svg').screenshot({ path: join(out, `${s}.png`) });
      console.log(`wrote ${join(out, `${s}.png`)}`);
    }
  } finally {
    await browser.close();
  }
}
