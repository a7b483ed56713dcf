/**
 * A license follows weights: `mspec train` records the spec's license in every checkpoint, and a
 * fine-tune with `--init` records its checkpoint's (with a note when that license binds the
 * result), whatever the fine-tuning spec states; `--resume` keeps what the run started with.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { licenseMetadata, runLicense } from '../../compiler/cli/train-license.js';
import { classifyLicense } from '../../compiler/semantics/licenses.js';
import type { ModelSpec } from '../../compiler/semantics/model.js';
import { CheckpointError, f32Tensor, readSafetensorsMetadata, writeSafetensors } from '../../runtime/checkpoint/safetensors.js';
import { tinyDecoder } from '../helpers/model-builders.js';
import { LICENSE_KEY, readCheckpointLicense } from '../../runtime/train/checkpoint.js';
import { mspec } from './run-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'mspec-train-license-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const NC = 'test/cli/fixtures/tiny-train-nc.model';
const PLAIN = 'test/cli/fixtures/tiny-train.model';
const NC_LICENSE = { id: 'CC-BY-NC-4.0', name: 'Creative Commons Attribution-NonCommercial 4.0', kind: 'non-commercial' };

describe('licenses in checkpoints', () => {
  it('records the spec’s license, carries an --init checkpoint’s into the fine-tune, and keeps it on --resume', () => {
    const base = join(tmp, 'base');
    const b = mspec('train', NC, '--out', base, '--steps', '2', '--sample-tokens', '0');
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).not.toContain('note:');
    const baseCkpt = join(base, 'last.safetensors');
    expect(readCheckpointLicense(baseCkpt)).toEqual(NC_LICENSE);

    // A spec that states no license, fine-tuned from the non-commercial weights: still bound.
    const tuned = join(tmp, 'tuned');
    const f = mspec('train', PLAIN, '--init', baseCkpt, '--out', tuned, '--steps', '2', '--sample-tokens', '0');
    expect(f.code, f.stderr).toBe(0);
    expect(f.stderr).toContain(
      `note: the --init checkpoint '${baseCkpt}' holds weights under the Creative Commons Attribution-NonCommercial 4.0 (CC-BY-NC-4.0, non-commercial); the fine-tuned weights derive from them and are bound by it too`,
    );
    const tunedCkpt = join(tuned, 'last.safetensors');
    expect(readCheckpointLicense(tunedCkpt)).toEqual(NC_LICENSE);

    const r = mspec('train', '--resume', tuned, '--steps', '3', '--sample-tokens', '0');
    expect(r.code, r.stderr).toBe(0);
    expect(readSafetensorsMetadata(tunedCkpt)['mspec.step']).toBe('3');
    expect(readCheckpointLicense(tunedCkpt)).toEqual(NC_LICENSE);

    // From scratch, a spec that states none records none.
    const plain = join(tmp, 'plain');
    const p = mspec('train', PLAIN, '--out', plain, '--steps', '1', '--sample-tokens', '0');
    expect(p.code, p.stderr).toBe(0);
    expect(readSafetensorsMetadata(join(plain, 'last.safetensors'))[LICENSE_KEY]).toBeUndefined();
    expect(readCheckpointLicense(join(plain, 'last.safetensors'))).toBeNull();
  }, 180_000);
});

describe('runLicense', () => {
  const ckpt = (name: string, license: string | undefined) => {
    const path = join(tmp, name);
    const tensors = new Map([['w', f32Tensor([1], new Float32Array([1]))]]);
    writeSafetensors(path, { tensors, metadata: license === undefined ? {} : { [LICENSE_KEY]: license } });
    return path;
  };
  const spec = (license: ModelSpec['license']) => ({ ...tinyDecoder(), name: 'ft', license });

  it('takes the spec’s license without --init or when the checkpoint records none', () => {
    const mit = classifyLicense('MIT');
    expect(runLicense(spec(mit), undefined)).toEqual({ license: mit, notes: [] });
    expect(runLicense(spec(mit), ckpt('none.safetensors', undefined))).toEqual({ license: mit, notes: [] });
  });

  it('takes the checkpoint’s, reclassified by the table, and says so when the spec states another', () => {
    const path = ckpt('llama.safetensors', JSON.stringify({ id: 'llama2', name: 'old name', kind: 'open-source' }));
    const r = runLicense(spec(classifyLicense('MIT')), path);
    expect(r.license).toEqual({ id: 'llama2', name: 'Llama 2 Community License', kind: 'community' });
    expect(r.notes).toHaveLength(2);
    expect(r.notes[0]).toContain('bound by it too');
    expect(r.notes[1]).toBe(
      `model ft states license MIT, but its weights start from the --init checkpoint's, under llama2; the checkpoint records llama2`,
    );
    expect(licenseMetadata(r.license)).toEqual({
      [LICENSE_KEY]: '{"id":"llama2","name":"Llama 2 Community License","kind":"community"}',
    });
  });

  it('keeps an id outside the table as recorded; an open license needs no note', () => {
    const custom = ckpt('custom.safetensors', JSON.stringify({ id: 'LicenseRef-acme', name: 'ACME weights', kind: 'non-commercial' }));
    expect(runLicense(spec(null), custom).license).toEqual({ id: 'LicenseRef-acme', name: 'ACME weights', kind: 'non-commercial' });
    const open = ckpt('open.safetensors', JSON.stringify({ id: 'Apache-2.0', name: 'Apache License 2.0', kind: 'open-source' }));
    expect(runLicense(spec(null), open).notes).toEqual([]);
    expect(licenseMetadata(null)).toEqual({});
  });

  it('damaged license metadata is a CheckpointError', () => {
    expect(() => runLicense(spec(null), ckpt('bad.safetensors', '{"id": 3'))).toThrow(CheckpointError);
    expect(() => runLicense(spec(null), ckpt('bad2.safetensors', '{"id": "MIT"}'))).toThrow(/damaged license metadata/);
  });
});

describe('ModelRuntime.save', () => {
  it('records the spec’s license, and a loaded checkpoint’s license follows its weights', async () => {
    const { compileGpu } = await import('../../compiler/cli/gpu-model.js');
    const { acquireDevice } = await import('../../runtime/device.js');
    const { ModelRuntime } = await import('../../runtime/model-runtime.js');
    const gpu = await acquireDevice();
    try {
      const made = (spec: string) => compileGpu(spec, { tuning: gpu.adapterClass, subgroupMinSize: gpu.subgroupMinSize }).models[0]!.data;
      const nc = await ModelRuntime.create(made(NC), { gpu });
      nc.init(1);
      const ncCkpt = join(tmp, 'rt-nc.safetensors');
      await nc.save(ncCkpt);
      nc.release();
      expect(readCheckpointLicense(ncCkpt)).toEqual(NC_LICENSE);

      const plain = await ModelRuntime.create(made(PLAIN), { gpu });
      plain.init(1);
      const fresh = join(tmp, 'rt-plain.safetensors');
      await plain.save(fresh);
      expect(readCheckpointLicense(fresh)).toBeNull();
      plain.load(ncCkpt); // the same architecture, weights under CC-BY-NC-4.0
      const again = join(tmp, 'rt-plain-from-nc.safetensors');
      await plain.save(again);
      plain.release();
      expect(readCheckpointLicense(again)).toEqual(NC_LICENSE);
    } finally {
      gpu.release();
    }
  }, 60_000);
});
