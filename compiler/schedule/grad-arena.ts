/**
 * Gradient arenas: the parameter gradients of a training plan packed into a few buffers, each
 * tensor at an offset aligned to minStorageBufferOffsetAlignment, so the optimizer can read many
 * tensors per dispatch (kernels/optim/arena.ts) and the step zeroes them with one clear per
 * arena. The accumulators and the AdamW moments use the same layout in arenas of their own,
 * so one offset locates a parameter in all of them.
 *
 * The backward kernels are emitted against one buffer per gradient; moveIntoArenas then
 * rewrites every step that names a packed buffer: a kernel binding becomes a byte range of the
 * arena (composed with a range it already had), a copy gets byte offsets, a clear of all of an
 * arena's tensors becomes a clear of the arena. A tensor larger than one binding keeps its own
 * buffer (and its chunked kernels).
 */
import type { BindingRange, PlanBuffer, PlanStep } from '../../runtime/plan-types.js';
import type { PlanBuilder } from './plan-builder.js';

/** Where a tensor sits: arena index and byte offset. */
export interface ArenaPlace {
  readonly arena: number;
  readonly offset: number;
}

export interface ArenaLayout {
  /** Bytes of each arena (the end of its last tensor). */
  readonly arenas: readonly number[];
  /** Tensor name → its place; tensors not listed keep their own buffers. */
  readonly places: ReadonlyMap<string, ArenaPlace>;
}

/**
 * Packs tensors, in the given order, into arenas of at most `capacity` bytes with every offset
 * a multiple of `align`. A tensor larger than `capacity` is left out.
 */
export function layoutArenas(tensors: readonly { name: string; bytes: number }[], capacity: number, align: number): ArenaLayout {
  const arenas: number[] = [];
  const places = new Map<string, ArenaPlace>();
  for (const t of tensors) {
    if (t.bytes > capacity) continue;
    let a = arenas.length - 1;
    let offset = a >= 0 ? Math.ceil(arenas[a]! / align) * align : 0;
    if (a < 0 || offset + t.bytes > capacity) {
      arenas.push(0);
      a = arenas.length - 1;
      offset = 0;
    }
    places.set(t.name, { arena: a, offset });
    arenas[a] = offset + t.bytes;
  }
  return { arenas, places };
}

/** A packed buffer: its arena buffer, byte offset and size. */
export interface Move {
  readonly arena: string;
  readonly offset: number;
  readonly bytes: number;
}

/**
 * Buffers of `moves` that cannot share their arena with the others: WebGPU refuses one buffer
 * bound both read-only and writable in one dispatch, and a copy within one buffer. The caller
 * leaves them out and lays the arena out again.
 */
export function arenaConflicts(
  steps: readonly PlanStep[],
  accessOf: (kernel: number, binding: string) => string,
  moves: ReadonlyMap<string, Move>,
): Set<string> {
  const out = new Set<string>();
  for (const s of steps) {
    if (s.kind === 'copy') {
      const a = moves.get(s.src);
      const b = moves.get(s.dst);
      if (a && b && a.arena === b.arena) out.add(s.src);
      continue;
    }
    if (s.kind !== 'kernel') continue;
    // Per arena: which of its buffers this step reads only, and whether it writes any.
    const readOnly = new Map<string, Set<string>>();
    const writes = new Set<string>();
    for (const [binding, buf] of Object.entries(s.bind)) {
      const m = moves.get(buf);
      if (!m) continue;
      if (accessOf(s.kernel, binding) === 'read_write') writes.add(m.arena);
      else {
        const set = readOnly.get(m.arena) ?? new Set();
        set.add(buf);
        readOnly.set(m.arena, set);
      }
    }
    for (const [arena, bufs] of readOnly) if (writes.has(arena)) for (const b of bufs) out.add(b);
  }
  return out;
}

/** Rewrites every step of `P` that names a moved buffer (see the module comment) and drops those buffers. */
export function moveIntoArenas(P: PlanBuilder, moves: ReadonlyMap<string, Move>, arenas: readonly PlanBuffer[]): void {
  const members = new Map<string, Set<string>>();
  for (const [name, m] of moves) members.set(m.arena, (members.get(m.arena) ?? new Set()).add(name));
  const steps = P.steps.map((s): PlanStep => {
    switch (s.kind) {
      case 'kernel': {
        if (!Object.values(s.bind).some((b) => moves.has(b))) return s;
        const bind: Record<string, string> = {};
        const ranges: Record<string, BindingRange> = { ...(s.ranges ?? {}) };
        for (const [binding, buf] of Object.entries(s.bind)) {
          const m = moves.get(buf);
          if (!m) {
            bind[binding] = buf;
            continue;
          }
          const r = s.ranges?.[binding];
          bind[binding] = m.arena;
          ranges[binding] = r ? { offset: m.offset + r.offset, size: r.size } : { offset: m.offset, size: m.bytes };
        }
        return { ...s, bind, ranges };
      }
      case 'copy': {
        const src = moves.get(s.src);
        const dst = moves.get(s.dst);
        if (!src && !dst) return s;
        return {
          ...s,
          src: src?.arena ?? s.src,
          dst: dst?.arena ?? s.dst,
          srcOffset: (src?.offset ?? 0) + (s.srcOffset ?? 0),
          dstOffset: (dst?.offset ?? 0) + (s.dstOffset ?? 0),
        };
      }
      case 'clear': {
        const kept = s.buffers.filter((b) => !moves.has(b));
        const hit = new Set(s.buffers.filter((b) => moves.has(b)).map((b) => moves.get(b)!.arena));
        for (const arena of hit) {
          const all = [...members.get(arena)!].every((b) => s.buffers.includes(b));
          if (!all) throw new Error(`internal: step ${s.scope} clears part of arena ${arena}`);
        }
        return { ...s, buffers: [...kept, ...hit] };
      }
      case 'cache_write':
        if (moves.has(s.src) || moves.has(s.dst)) throw new Error(`internal: a KV-cache write names the arena tensor ${s.src}`);
        return s;
    }
  });
  P.steps.splice(0, P.steps.length, ...steps);
  for (const name of moves.keys()) P.buffers.delete(name);
  for (const a of arenas) P.add(a);
}
