/**
 * The `train` section → TrainSpec, with the recipe's checks (steps xor tokens, warmup <
 * steps, min_lr ≤ lr, seq_len ≤ context) and the objective-vs-architecture check.
 */
import type { TrainNode } from '../ast/nodes.js';
import type { DiagnosticBag } from '../diagnostics/diagnostic.js';
import type { Span } from '../diagnostics/span.js';
import { Access, argNum, KnobRecorder, variantText } from './access.js';
import { type EvalContext, type Frame, fmtNum, frame } from './evaluate.js';
import type { Architecture, DType, HeadSpec, Objective, ResolvedKnob, StackSpec, TokenizerKind, TrainSpec } from './model.js';
import { trainSchema } from './schema.js';
import type { Tree } from './tree.js';

/** What the compiler needs to know about data without depending on the runtime. */
export interface DataHost {
  /**
   * The character vocabulary size of a corpus (a built-in name or a path relative to the
   * spec file), or an error message saying why it is not available. A seq2seq run's
   * characters are those of its pairs' sources and targets (not the file's tabs, newlines or
   * JSON syntax), as `mspec train` builds its tokenizer.
   */
  charVocab(data: string, specFile: string, objective?: Objective): number | { error: string };
}

export const STATIC_VOCAB: Readonly<Record<string, number>> = { byte: 256, gpt2: 50257 };
/**
 * The special tokens a masked LM's tokenizer appends after the ordinary ids ([MASK]; the
 * runtime's MLM_SPECIALS in runtime/tokenizers/specials.ts, which the semantics cannot import).
 */
export const MLM_SPECIALS = 1;
/** A seq2seq tokenizer's [PAD] (decoder start, source padding) and [EOS] (runtime SEQ2SEQ_SPECIALS). */
export const SEQ2SEQ_SPECIALS = 2;

export function tokenizerVocab(
  bag: DiagnosticBag,
  span: Span,
  model: string,
  train: { tree: Tree; file: string } | undefined,
  tokenizer: string | undefined,
  host: DataHost,
  objective?: Objective,
): number | undefined {
  if (!train || !tokenizer) {
    bag.report('MS2205', span, { model }, { hint: `add: train ${model} { tokenizer = char, data = "moby-dick" }` });
    return undefined;
  }
  // A masked LM's tokenizer.vocab counts its [MASK], a seq2seq one its [PAD] and [EOS] (after the ordinary ids).
  const specials = objective === 'mlm' ? MLM_SPECIALS : objective === 'seq2seq' ? SEQ2SEQ_SPECIALS : 0;
  if (tokenizer in STATIC_VOCAB) return STATIC_VOCAB[tokenizer]! + specials;
  const dataSetting = train.tree.knobs.get('data');
  const data = dataSetting && dataSetting.expr !== true && dataSetting.expr.kind === 'String' ? dataSetting.expr.value : 'moby-dick';
  const r = host.charVocab(data, train.file, objective);
  if (typeof r === 'number') return r + specials;
  bag.report(
    'MS5002',
    span,
    { what: `cannot compute the char vocabulary of '${data}': ${r.error}` },
    { hint: 'give vocab as a number, or point data at a readable text file' },
  );
  return undefined;
}

export function buildTrain(
  bag: DiagnosticBag,
  ctx: EvalContext,
  top: Frame,
  train: { node: TrainNode; tree: Tree },
  arch: Architecture,
  stack: StackSpec | null,
  head: HeadSpec,
  context: number,
  knobs: Map<string, ResolvedKnob>,
  tokenizerName: string | undefined,
): TrainSpec {
  const a = new Access(ctx);
  const rec = new KnobRecorder();
  const f = frame(train.tree, trainSchema, 'train', top);
  const data = a.str(f, 'data', 'moby-dick');
  const tokenizer = a.str<TokenizerKind>(f, 'tokenizer', (tokenizerName ?? 'char') as TokenizerKind);
  const defaultObjective: Objective = arch === 'decoder' ? 'causal_lm' : arch === 'encoder' ? 'mlm' : 'seq2seq';
  const objective = a.str<Objective>(f, 'objective', defaultObjective);
  checkObjective(bag, objective.value, objective.span ?? train.node.target.span, arch, stack, head);
  const batch = a.positive(f, 'batch', 32);
  const seq = a.positive(f, 'seq_len', context);
  if (seq.span && seq.value > context)
    bag.report('MS2110', seq.span, { knob: 'seq_len', range: `[1, context = ${context}]`, value: seq.value });
  const accumulation = a.positive(f, 'accumulation', 1);
  const stepsG = a.has(f, 'steps') ? a.positive(f, 'steps', 1000) : undefined;
  const tokensG = a.has(f, 'tokens') ? a.positive(f, 'tokens', 1) : undefined;
  if (stepsG && tokensG)
    bag.report('MS2202', tokensG.span, {}, { related: stepsG.span ? [{ span: stepsG.span, message: 'steps is set here' }] : [] });
  const perStep = batch.value * Math.min(seq.value, context) * accumulation.value;
  const steps = stepsG?.value ?? (tokensG ? Math.max(1, Math.ceil(tokensG.value / perStep)) : 1000);
  const tokens = tokensG?.value ?? steps * perStep;

  const ov = a.variant(f, 'optimizer')?.value;
  const lr = ov ? argNum(ov, 'lr', 1e-3) : 1e-3;
  const betasRaw = ov?.args.get('betas');
  const betas: [number, number] = Array.isArray(betasRaw) ? [betasRaw[0] as number, betasRaw[1] as number] : [0.9, 0.999];
  const eps = ov ? argNum(ov, 'eps', 1e-8) : 1e-8;
  const wd = ov ? argNum(ov, 'weight_decay', 0.01) : 0.01;
  const optSpan = a.spanOf(f, 'optimizer');
  if (optSpan) {
    if (!(lr > 0)) bag.report('MS2106', optSpan, { knob: 'adamw lr', value: fmtNum(lr) });
    for (const [i, b] of betas.entries())
      if (!(b >= 0 && b < 1)) bag.report('MS2107', optSpan, { knob: `adamw betas[${i}]`, value: fmtNum(b) });
    if (!(eps > 0)) bag.report('MS2106', optSpan, { knob: 'adamw eps', value: fmtNum(eps) });
    if (!(wd >= 0)) bag.report('MS2110', optSpan, { knob: 'adamw weight_decay', range: '[0, ∞)', value: fmtNum(wd) });
  }
  const sv = a.variant(f, 'schedule')?.value;
  const schedKind = (sv?.name ?? 'cosine') as 'cosine' | 'linear' | 'constant';
  const warmup = sv ? argNum(sv, 'warmup', 0) : 0;
  const minLr = sv && schedKind !== 'constant' ? argNum(sv, 'min_lr', lr / 10) : schedKind === 'constant' ? lr : lr / 10;
  const schedSpan = a.spanOf(f, 'schedule');
  if (schedSpan) {
    if (warmup < 0) bag.report('MS2109', schedSpan, { knob: 'warmup', value: warmup });
    else if (warmup >= steps) bag.report('MS2203', schedSpan, { warmup, steps });
    if (minLr > lr) bag.report('MS2204', schedSpan, { min_lr: fmtNum(minLr), lr: fmtNum(lr) });
    if (minLr < 0) bag.report('MS2110', schedSpan, { knob: 'min_lr', range: '[0, lr]', value: fmtNum(minLr) });
  }
  const clip = a.num(f, 'clip', 1.0);
  if (clip.span && clip.value < 0)
    bag.report('MS2110', clip.span, { knob: 'clip', range: '[0, ∞) (0 turns clipping off)', value: fmtNum(clip.value) });
  const ef = frame(train.tree.sections.get('eval'), trainSchema.sections.eval!, 'train.eval', f);
  const every = a.positive(ef, 'every', Math.max(1, Math.floor(steps / 10)));
  const evalBatches = a.positive(ef, 'batches', 10);
  const ckpt = a.positive(f, 'checkpoint_every', 0, true);
  const seed = a.int(f, 'seed', 1337);
  const dtype = a.str<DType>(f, 'dtype', 'f32');
  const val = a.num(f, 'val_fraction', 0.1);
  if (val.span && !(val.value > 0 && val.value < 1))
    bag.report('MS2110', val.span, { knob: 'val_fraction', range: '(0, 1)', value: fmtNum(val.value) });
  const mask = a.rate(f, 'mask_prob', 0.15);
  // 0 would choose no position: nothing to predict (rate() already refused < 0 and ≥ 1).
  if (mask.span && mask.value === 0)
    bag.report(
      'MS2107',
      mask.span,
      { knob: 'mask_prob', value: fmtNum(mask.value) },
      { hint: 'mask_prob is the fraction of positions to predict: above 0 and below 1; BERT uses 0.15' },
    );
  if (mask.span && objective.value !== 'mlm') bag.report('MS2112', mask.span, { what: 'mask_prob', needs: 'objective = mlm' });

  const spec: TrainSpec = {
    data: data.value,
    tokenizer: tokenizer.value,
    objective: objective.value,
    batch: batch.value,
    seq_len: Math.min(seq.value, context),
    steps,
    tokens,
    accumulation: accumulation.value,
    optimizer: { kind: 'adamw', lr, betas, eps, weight_decay: wd },
    schedule: { kind: schedKind, warmup, min_lr: minLr },
    clip: clip.value,
    eval: { every: every.value, batches: evalBatches.value },
    checkpoint_every: ckpt.value,
    seed: seed.value,
    dtype: dtype.value,
    val_fraction: val.value,
    mask_prob: mask.value,
  };
  const g = 'train';
  rec.set('train.data', g, spec.data, data.span);
  rec.set('train.tokenizer', g, spec.tokenizer, tokenizer.span);
  rec.set('train.objective', g, spec.objective, objective.span);
  rec.set('train.batch', g, spec.batch, batch.span);
  rec.set('train.seq_len', g, spec.seq_len, seq.span);
  rec.set('train.steps', g, spec.steps, stepsG?.span);
  rec.set('train.tokens', g, spec.tokens, tokensG?.span);
  rec.set('train.accumulation', g, spec.accumulation, accumulation.span);
  rec.set(
    'train.optimizer',
    g,
    variantText({
      name: 'adamw',
      args: new Map<string, number | readonly [number, number]>([
        ['lr', lr],
        ['betas', betas],
        ['eps', eps],
        ['weight_decay', wd],
      ]),
    }),
    optSpan,
  );
  rec.set('train.schedule', g, `${schedKind}(warmup: ${warmup}, min_lr: ${fmtNum(minLr)})`, schedSpan);
  rec.set('train.clip', g, spec.clip, clip.span);
  rec.set('train.eval', g, `every ${spec.eval.every}, batches ${spec.eval.batches}`, a.spanOf(f, 'eval'));
  rec.set('train.checkpoint_every', g, spec.checkpoint_every, ckpt.span);
  rec.set('train.seed', g, spec.seed, seed.span);
  rec.set('train.dtype', g, spec.dtype, dtype.span);
  rec.set('train.val_fraction', g, spec.val_fraction, val.span);
  if (spec.objective === 'mlm') rec.set('train.mask_prob', g, spec.mask_prob, mask.span);
  for (const [k, v] of rec.map) knobs.set(k, v);
  return spec;
}

function checkObjective(
  bag: DiagnosticBag,
  objective: Objective,
  span: Span,
  arch: Architecture,
  stack: StackSpec | null,
  head: HeadSpec,
): void {
  const causal = stack?.layers.some((l) => l.attention.causal) ?? false;
  const bidirectional = stack?.layers.some((l) => !l.attention.causal) ?? false;
  let reason: string | undefined;
  let hint: string | undefined;
  if (head.kind !== 'lm') {
    reason = 'the model has no LM head (head { kind: none })';
    hint = 'set head { kind: lm }';
  } else if (objective === 'causal_lm') {
    if (arch !== 'decoder') reason = `causal_lm trains a decoder-only model, but arch is ${arch}`;
    else if (bidirectional) {
      reason = 'some layers attend bidirectionally (causal: false), so every position could see the token it must predict';
      hint = 'make every layer causal, or use objective = mlm with arch = encoder';
    }
  } else if (objective === 'mlm') {
    if (arch !== 'encoder') reason = `masked LM trains an encoder (arch = encoder), but arch is ${arch}`;
    else if (causal) reason = 'masked LM needs bidirectional attention, but some layers are causal';
    hint ??= 'use objective = causal_lm for a decoder';
  } else if (objective === 'seq2seq' && arch !== 'encoder_decoder') {
    reason = `seq2seq needs arch = encoder_decoder, but arch is ${arch}`;
  }
  if (reason) bag.report('MS2108', span, { objective, reason }, { hint });
}
