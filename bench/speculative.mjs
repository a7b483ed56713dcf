// Speculative decoding (issue 13) on trained models: acceptance rate and wall-clock speed-up over
// the target alone for lookahead 2, 4 and 8, greedy and sampled, through `mspec sample --draft
// --json` (each call measures the speculative run and the target alone on the same prompt).
// Writes the section "Speculative decoding" of BENCHMARKS.md.
// Run: npm run build && node bench/speculative.mjs TARGET.safetensors DRAFT.safetensors ['what they are']
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { writeSection } from './section.mjs';

const [target, draft, about] = process.argv.slice(2);
if (!target || !draft) {
  console.error('usage: node bench/speculative.mjs TARGET.safetensors DRAFT.safetensors');
  process.exit(2);
}
const PROMPT = 'Call me Ishmael. ';
const REPEATS = 5;
const rows = [];
for (const temperature of [0, 0.8]) {
  for (const lookahead of [2, 4, 8]) {
    const args = ['dist/compiler/cli/main.js', 'sample', target, '--draft', draft, '--lookahead', String(lookahead)];
    args.push('--prompt', PROMPT, '--max-tokens', '40', '--temperature', String(temperature), '--seed', '1', '--json');
    // Each call times the speculative run and the target alone back to back; this shared machine's
    // speed drifts within seconds, so each row is the median of REPEATS calls (the text and the
    // acceptance are the same every time: same seed).
    const runs = [];
    for (let i = 0; i < REPEATS; i++) {
      const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`mspec sample failed: ${r.stderr}`);
      runs.push(JSON.parse(r.stdout.trim().split('\n').at(-1)));
    }
    const med = (f) => runs.map(f).sort((a, b) => a - b)[runs.length >> 1];
    const j = { ...runs[0], speculativeTokensPerS: med((x) => x.speculativeTokensPerS), targetTokensPerS: med((x) => x.targetTokensPerS) };
    j.speedup = med((x) => x.speedup);
    rows.push({ temperature, lookahead, ...j });
    console.log(temperature, lookahead, j.acceptance.toFixed(3), j.speedup.toFixed(2), JSON.stringify(j.text));
  }
}
const table = [
  '| temperature | lookahead | acceptance | speculative tokens/s | target alone tokens/s | speed-up |',
  '|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.temperature} | ${r.lookahead} | ${(100 * r.acceptance).toFixed(1)}% (${r.accepted}/${r.proposed}) | ${r.speculativeTokensPerS.toFixed(0)} | ${r.targetTokensPerS.toFixed(0)} | ${r.speedup.toFixed(2)}x |`,
  ),
].join('\n');
console.log(table);
await writeSection(
  'Speculative decoding',
  `Target \`${target}\`, draft \`${draft}\` (see below); ${os.cpus()[0]?.model ?? 'CPU'}, ${os.cpus().length} cores; Node ${process.version}; ${new Date().toISOString().slice(0, 10)}.
Command: \`npm run build && node bench/speculative.mjs TARGET DRAFT\`: \`mspec sample TARGET --draft DRAFT --lookahead k --json\`,
40 tokens after "${PROMPT.trim()}", seed 1; the speed-up divides the target's own decoding time (device sampling, same
tokens) by the speculative run's; each row is the median of ${REPEATS} such calls. ${about ?? ''}

${table}`,
);
console.log('updated BENCHMARKS.md');
