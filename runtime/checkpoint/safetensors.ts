/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON
 * header mapping tensor names to {dtype, shape, data_offsets} plus an optional
 * `__metadata__` of string → string, then the raw little-endian data. PyTorch reads it with
 * `safetensors.torch.load_file`. Writes are atomic: a temp file in the same folder, fsync,
 * then rename, so an interrupted save never leaves a truncated checkpoint.
 *
 * Browser-safe: encoding and decoding work on bytes; the functions that take a path reach
 * Node's `fs` through `process.getBuiltinModule` (nodeFs below) rather than an import, because
 * the model runtime, which loads and saves through them, is also what a page bundles
 * (runtime/browser.ts). In a browser those functions throw a CheckpointError saying what to
 * use instead.
 */

export type STDType = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64' | 'U8';

const BYTES: Record<STDType, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8, U8: 1 };

export interface STTensor {
  readonly dtype: STDType;
  readonly shape: readonly number[];
  /** Raw little-endian bytes. */
  readonly data: Uint8Array;
}

export interface STFile {
  readonly tensors: Map<string, STTensor>;
  readonly metadata: Record<string, string>;
}

/** A user-facing problem with a checkpoint file (bad format, wrong tensors). */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
}

/** The part of Node's fs used here (typed by hand: even a type-only `node:fs` import would reach the browser entry). */
interface Fs {
  readFileSync(path: string): Uint8Array;
  openSync(path: string, flags: string): number;
  closeSync(fd: number): void;
  fsyncSync(fd: number): void;
  fstatSync(fd: number): { size: number };
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  renameSync(from: string, to: string): void;
}

/** Node's fs, or a CheckpointError naming `what` when there is none (a browser). */
function nodeFs(what: string): Fs {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const fs = proc?.getBuiltinModule?.('node:fs') as Fs | undefined;
  if (!fs) {
    throw new CheckpointError(
      `${what} needs a file system (Node.js >= 20.16); in a browser, fetch the file's bytes and decode them with ` +
        'decodeSafetensors(bytes), then ModelRuntime.setWeights(file); encodeSafetensors(file) gives the bytes to save.',
    );
  }
  return fs;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

export function f32Tensor(shape: readonly number[], values: Float32Array): STTensor {
  return { dtype: 'F32', shape, data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
}

export function asF32(t: STTensor, name: string): Float32Array {
  if (t.dtype !== 'F32')
    throw new CheckpointError(`tensor '${name}' is ${t.dtype}; mspec loads F32 tensors (convert with tensor.float() in PyTorch)`);
  const copy = new Uint8Array(t.data.byteLength);
  copy.set(t.data);
  return new Float32Array(copy.buffer);
}

export function encodeSafetensors(file: STFile): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(file.metadata).length) header.__metadata__ = file.metadata;
  let offset = 0;
  const names = [...file.tensors.keys()].sort();
  for (const name of names) {
    const t = file.tensors.get(name)!;
    const expect = t.shape.reduce((a, b) => a * b, 1) * BYTES[t.dtype];
    if (expect !== t.data.byteLength)
      throw new Error(`internal: tensor ${name} has ${t.data.byteLength} bytes, shape ${t.shape} needs ${expect}`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data starts 8-byte aligned (as the reference writer does).
  json += ' '.repeat((8 - ((8 + utf8.encode(json).byteLength) % 8)) % 8);
  const head = utf8.encode(json);
  const out = new Uint8Array(8 + head.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.byteLength), true);
  out.set(head, 8);
  let at = 8 + head.byteLength;
  for (const name of names) {
    const t = file.tensors.get(name)!;
    out.set(t.data, at);
    at += t.data.byteLength;
  }
  return out;
}

/**
 * A file whose first 8 bytes are no header length: text (a spec or a config given where a
 * checkpoint goes) is named as such; anything else is a checkpoint cut short or another format.
 */
function notSafetensors(what: string, first: Uint8Array, n: number, size: number): CheckpointError {
  const text = new TextDecoder().decode(first);
  if (/^[\t\n\r\x20-\x7e]{8}$/.test(text)) {
    const spec = /^\s*(model|train|import|\/\/)/.test(text)
      ? ': it looks like a .model spec; train it (mspec train) and use the run folder or its last.safetensors'
      : '';
    return new CheckpointError(`${what} is a text file, not a safetensors checkpoint${spec}`);
  }
  return new CheckpointError(`${what} is not a safetensors file (header length ${n} does not fit in ${size} bytes); was it truncated?`);
}

export function decodeSafetensors(bytes: Uint8Array, what = 'checkpoint'): STFile {
  if (bytes.byteLength < 8) throw new CheckpointError(`${what} is not a safetensors file: only ${bytes.byteLength} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n <= 0 || 8 + n > bytes.byteLength) throw notSafetensors(what, bytes.subarray(0, 8), n, bytes.byteLength);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(fromUtf8.decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  } catch {
    throw new CheckpointError(`${what} has a corrupt safetensors header (not JSON)`);
  }
  const data = bytes.subarray(8 + n);
  const tensors = new Map<string, STTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (v ?? {}) as Record<string, string>;
      continue;
    }
    const t = v as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    if (!t || typeof t.dtype !== 'string' || !(t.dtype in BYTES) || !Array.isArray(t.shape) || !Array.isArray(t.data_offsets)) {
      throw new CheckpointError(`${what}: tensor '${name}' has an unsupported or malformed entry (${JSON.stringify(v).slice(0, 80)})`);
    }
    const [b, e] = t.data_offsets;
    const expect = t.shape.reduce((x, y) => x * y, 1) * BYTES[t.dtype as STDType];
    if (!(b >= 0 && e >= b && e <= data.byteLength) || e - b !== expect) {
      throw new CheckpointError(
        `${what}: tensor '${name}' has data offsets [${b}, ${e}] that do not match its shape [${t.shape}] or the file size; the file may be truncated`,
      );
    }
    tensors.set(name, { dtype: t.dtype as STDType, shape: t.shape, data: data.subarray(b, e) });
  }
  return { tensors, metadata };
}

export function readSafetensors(path: string): STFile {
  let bytes: Uint8Array;
  try {
    bytes = nodeFs(`reading the checkpoint '${path}'`).readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CheckpointError(`cannot read checkpoint '${path}': ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  return decodeSafetensors(bytes, `'${path}'`);
}

/** Writes `bytes` to `path` atomically (temp file + fsync + rename in the same folder). */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  const { closeSync, fsyncSync, openSync, renameSync, writeSync } = nodeFs(`writing '${path}'`);
  // The temp file sits in the same folder (rename is atomic only within a file system).
  const cut = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1;
  const tmp = `${path.slice(0, cut)}.${path.slice(cut)}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    const buf = typeof bytes === 'string' ? utf8.encode(bytes) : bytes;
    let off = 0;
    while (off < buf.byteLength) off += writeSync(fd, buf, off, buf.byteLength - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function writeSafetensors(path: string, file: STFile): void {
  writeFileAtomic(path, encodeSafetensors(file));
}

/** The `__metadata__` of a safetensors file, reading only its header (not the tensors). */
export function readSafetensorsMetadata(path: string): Record<string, string> {
  const { closeSync, fstatSync, openSync, readSync } = nodeFs(`reading the checkpoint '${path}'`);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CheckpointError(`cannot read checkpoint '${path}': ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  try {
    const len = new Uint8Array(8);
    if (readSync(fd, len, 0, 8, 0) !== 8) throw new CheckpointError(`'${path}' is not a safetensors file: shorter than 8 bytes`);
    const n = Number(new DataView(len.buffer).getBigUint64(0, true));
    const size = fstatSync(fd).size;
    if (n <= 0 || 8 + n > size) throw notSafetensors(`'${path}'`, len, n, size);
    const head = new Uint8Array(n);
    readSync(fd, head, 0, n, 8);
    let header: { __metadata__?: Record<string, string> };
    try {
      header = JSON.parse(fromUtf8.decode(head)) as typeof header;
    } catch {
      throw new CheckpointError(`'${path}' has a corrupt safetensors header (not JSON)`);
    }
    return header.__metadata__ ?? {};
  } finally {
    closeSync(fd);
  }
}
