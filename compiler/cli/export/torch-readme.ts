/** README.md of `mspec export --to torch`: what the package is, how to run it, and the license. */
import type { Graph } from '../../ir/graph.js';
import type { LicenseInfo } from '../../semantics/licenses.js';
import type { ModelSpec } from '../../semantics/model.js';
import { generatedLines, type Provenance } from './python.js';
import { trainConfig } from './torch-train.js';

export function readmeMd(m: ModelSpec, graph: Graph, prov: Provenance, license: LicenseInfo | null, weights: boolean): string {
  const params = graph.params.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
  const t = trainConfig(m.train, m);
  const lic = license
    ? `The weights${weights ? ' in weights.safetensors, and any trained from them,' : ' this package trains'} are bound by the **${license.name}** (\`${license.id}\`, ${license.kind}), as the ${weights ? 'checkpoint records' : 'spec states'}; train.py records it in every checkpoint it writes (metadata \`mspec.license\`).`
    : `The ${weights ? 'checkpoint' : 'spec'} states no license for the weights; checkpoints written by train.py record none. The code in this folder is generated from your spec.`;
  const objective =
    t.objective !== 'seq2seq'
      ? ''
      : `\n> train.py trains causal and masked language models; this model's objective is \`${t.objective}\`, so use model.py with your own loop.\n`;
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
  tokens, accumulation ${t.accumulation}, ${t.steps} steps, seed ${t.seed}) as a PyTorch loop that runs under \`torchrun\`.${weights ? "\n- `weights.safetensors`: the checkpoint's weights (with its metadata: it is an mspec checkpoint too)." : ''}
${objective}
Only \`torch\` is needed (1.13 or later; \`scaled_dot_product_attention\` is used where the installed torch has it).

## Use the model

\`\`\`python
import torch
from model import Model, load_weights

model = Model().eval()${weights ? '\nload_weights(model, "weights.safetensors")' : ''}
out = model(torch.tensor([[1, 2, 3]])${m.arch === 'encoder_decoder' ? ', torch.tensor([[0, 1]])' : ''})
print(out${m.head.kind === 'lm' ? '["logits"]' : '["hidden"]'}.shape)
\`\`\`

## Train on one machine

\`\`\`sh
python3 train.py --data corpus.txt --out runs/${m.name}              # one process: CPU, or the GPU
torchrun --nproc_per_node=4 train.py --data tokens.bin        # 4 processes (DDP: gloo on CPU, nccl on CUDA)
torchrun --nproc_per_node=8 train.py --data tokens.bin --fsdp # sharded (FSDP; torch >= 2.0)
\`\`\`

Debian's torchrun 1.13 on Python ≥ 3.11 cannot parse its own default \`--redirects 0\`; there, add
\`--redirects 0:1 --tee 0:1\` (rank 0's output to the console, every rank's to torchrun's log folder).

\`--data\` takes a text file (tokenised with the spec's ${t.tokenizer} tokenizer) or a token file \`*.bin\`
(uint16 ids; uint32 when named \`*.u32.bin\`). The first ⌊n·(1 − ${t.val_fraction})⌋ tokens train, the rest
validate, as \`mspec train\` splits them. \`--steps\`, \`--batch\`, \`--seed\`, \`--eval-every\`,
\`--checkpoint-every\` and \`--init CKPT\` override the spec.

## Train on several machines

Run the same command on every machine, naming the first as the rendezvous:

\`\`\`sh
torchrun --nnodes=2 --node_rank=0 --master_addr=10.0.0.1 --master_port=29500 --nproc_per_node=8 train.py --data tokens.bin
torchrun --nnodes=2 --node_rank=1 --master_addr=10.0.0.1 --master_port=29500 --nproc_per_node=8 train.py --data tokens.bin
\`\`\`

Each process draws its own batch of ${t.batch} rows per micro-step; the spec's ${t.accumulation} accumulation step(s)
are shared out among the processes when their number divides it.

## Back to mspec

Checkpoints (\`OUT/last.safetensors\`) carry mspec's names and metadata (spec, tokenizer, license):

\`\`\`sh
mspec sample runs/${m.name}/last.safetensors --prompt "Call me"
mspec train ${prov.specPath} --init runs/${m.name}/last.safetensors   # continue on WebGPU
\`\`\`

## License

${lic}
`;
}
