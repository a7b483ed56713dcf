// Replaces (or appends) one "## Title" section of BENCHMARKS.md, keeping the others.
import { readFile, writeFile } from 'node:fs/promises';

export async function writeSection(title, body) {
  const path = new URL('../BENCHMARKS.md', import.meta.url);
  let doc = await readFile(path, 'utf8').catch(() => '# Benchmarks\n\nWritten by the scripts in bench/; each section by one script.\n');
  const section = `## ${title}\n\n${body.trim()}\n\n`;
  const start = doc.indexOf(`## ${title}\n`);
  if (start >= 0) {
    const next = doc.indexOf('\n## ', start + 1);
    doc = doc.slice(0, start) + section + (next >= 0 ? doc.slice(next + 1) : '');
  } else doc = doc.replace(/\n*$/, '\n\n') + section;
  await writeFile(path, doc.replace(/\n+$/, '\n'));
}
