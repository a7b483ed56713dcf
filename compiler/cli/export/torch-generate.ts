/**
 * Generation in model.py (decoders and encoder–decoders with an LM head): `Model.generate`
 * decodes over a KV cache (the prompt, or the decoder's start id, in one pass, then one position
 * a step; cross-attention projects the encoder's memory once), and `choose` picks each id by
 * mspec sample's rule (runtime/sample.ts): only the first vocab_raw ids; temperature 0 is the
 * argmax, the lowest id on ties; top-k, then top-p over the order by logit (ties by lower id),
 * then a draw from softmax(logits / temperature). Greedy output is mspec's; sampled output has
 * mspec's distribution but torch's generator, so other draws. At the context window generation
 * stops with an error, as `mspec sample` does by default.
 */
import type { ModelSpec } from '../../semantics/model.js';

/** Whether model.py can generate: decoders and encoder–decoders with an LM head. */
export const generates = (m: ModelSpec) => m.head.kind === 'lm' && m.arch !== 'encoder';

/** The module-level `choose` function (written before the Model class). */
export const CHOOSE_PY = `

def choose(logits, temperature=1.0, top_k=0, top_p=1.0, generator=None):
    """The next id from one row of logits, by mspec sample's rule: the first vocab_raw ids only;
    temperature 0 takes the argmax (the lowest id on ties); else the top_k most likely ids (0: all),
    then the shortest prefix of them (by logit, ties by lower id) that holds top_p of the
    probability, drawn from softmax(logits / temperature) with torch's generator."""
    logits = logits[: CONFIG["vocab_raw"]].detach().to("cpu", torch.float64)
    if temperature <= 0:
        return int(torch.argmax(logits))
    values, order = torch.sort(logits, descending=True, stable=True)
    if top_k > 0:
        values, order = values[:top_k], order[:top_k]
    w = torch.exp((values - values[0]) / temperature)
    if top_p < 1:
        mass = torch.cumsum(w, 0)
        keep = int((mass < top_p * mass[-1]).sum()) + 1
        w, order = w[:keep], order[:keep]
    return int(order[torch.multinomial(w, 1, generator=generator)])
`;

/** The `generate` method of the Model class, for its architecture. */
export function generateMethodPy(m: ModelSpec): string {
  if (m.arch === 'encoder_decoder')
    return `
    @torch.no_grad()
    def generate(self, src, start, eos, max_tokens=None, temperature=1.0, top_k=0, top_p=1.0, seed=0):
        """Yields the target ids for the source ids src (a list), as mspec sample --input decodes:
        the source, padded to the context with start (as mspec pads sources), is encoded once; the
        decoder reads start, then each chosen id (choose()), over a KV cache, until eos (not
        yielded) or max_tokens ids (default: the context). start and eos are the tokenizer's [PAD]
        and [EOS] ids. Puts the model in eval mode (no dropout)."""
        S = CONFIG["context"]
        if not 0 < len(src) <= S:
            raise ValueError(f"the source has {len(src)} ids; the encoder reads 1 to {S}")
        self.eval()
        device = self.embed.tokens.weight.device
        g = torch.Generator().manual_seed(seed)
        memory = self.encode(torch.tensor([list(src) + [start] * (S - len(src))], device=device))
        table = self.embed.tokens.weight
        cache = [{} for _ in self.decoder.layers]
        last, pos = start, 0
        for n in range(S if max_tokens is None else max_tokens):
            if pos >= S:
                raise ValueError(f"the decoder's context of {S} positions is full; ask for fewer tokens")
            h = self.decoder.run(torch.tensor([[last]], device=device), table=table, memory=memory, cache=cache, start=pos)
            last, pos = choose(self.lm_head(h, table)[0, -1], temperature, top_k, top_p, g), pos + 1
            if last == eos:
                return
            yield last
`;
  return `
    @torch.no_grad()
    def generate(self, ids, max_tokens, temperature=1.0, top_k=0, top_p=1.0, seed=0, stop=()):
        """Yields up to max_tokens new ids after the prompt ids (a list), as mspec sample decodes:
        the prompt in one pass, then one position a step over a KV cache, each id chosen by
        choose(); an id in stop ends the generation (it is yielded). Raises ValueError when the
        context window is full. Puts the model in eval mode (no dropout)."""
        C = CONFIG["context"]
        if not 0 < len(ids) <= C:
            raise ValueError(f"the prompt has {len(ids)} ids; the model reads 1 to {C}")
        self.eval()
        device = self.embed.tokens.weight.device
        g = torch.Generator().manual_seed(seed)
        table = self.embed.tokens.weight
        cache = [{} for _ in self.layers]
        logits = self.lm_head(self.run(torch.tensor([list(ids)], device=device), cache=cache), table)
        pos = len(ids)
        for n in range(max_tokens):
            next_id = choose(logits[0, -1], temperature, top_k, top_p, g)
            yield next_id
            if next_id in stop or n + 1 == max_tokens:
                return
            if pos + 1 >= C:  # mspec keeps the last position free: it feeds at most position C - 2
                raise ValueError(f"the context window of {C} tokens is full; ask for fewer tokens")
            logits = self.lm_head(self.run(torch.tensor([[next_id]], device=device), cache=cache, start=pos), table)
            pos += 1
`;
}
