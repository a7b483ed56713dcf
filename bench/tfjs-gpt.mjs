// The benchmark's GPT written with TensorFlow.js core ops, for bench/train.mjs: pre-LN, learned
// positions, biases, multi-head causal attention, GELU (tanh) MLP, tied head, mean softmax
// cross-entropy, trained with tf.train.adam (tfjs has no AdamW and no gradient clipping).
//
// Parameters use mspec's names and PyTorch's [out, in] layout (so x·Wᵀ), and start from the
// values given (bench/train.mjs passes mspec's own initial weights, so both sides' first loss
// on the same batch must agree).
import { register } from 'node:module';

/**
 * Imports tfjs-core with its gradients. In Node, '@tensorflow/tfjs-core' resolves to a CommonJS
 * bundle without the gradient registrations (the union package '@tensorflow/tfjs' adds them,
 * and it is not a dependency here); their only copy is the ES-module build under dist/, whose
 * imports have no file extensions. A small loader hook lets Node load those files as ES
 * modules; tfjs keeps its engine and registries on globalThis, so this second copy registers
 * the gradients with the same engine.
 */
export async function importTfjsCore() {
  const hooks = `
const DIST = '/node_modules/@tensorflow/tfjs-core/dist/';
const inDist = (u) => typeof u === 'string' && u.includes(DIST) && !/\\/tf-core\\.[^/]*js$/.test(u);
export async function resolve(spec, ctx, next) {
  if (inDist(ctx.parentURL) && spec.startsWith('.') && !spec.endsWith('.js')) {
    try { return await next(spec + '.js', ctx); } catch { return next(spec + '/index.js', ctx); }
  }
  return next(spec, ctx);
}
export async function load(url, ctx, next) {
  if (inDist(url)) return { ...(await next(url, { ...ctx, format: 'module' })), format: 'module' };
  return next(url, ctx);
}`;
  register('data:text/javascript,' + encodeURIComponent(hooks));
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  return tf;
}

/**
 * @param tf  the tfjs-core module, with the backend already set
 * @param cfg { vocab, T, d, layers, heads, eps, lr, beta1, beta2, adamEps, init: Map<name, Float32Array>, shapes: Map<name, number[]> }
 */
export function createTfjsGpt(tf, cfg) {
  const { vocab, T, d, layers, heads } = cfg;
  const dh = d / heads;
  const vars = new Map();
  for (const [name, shape] of cfg.shapes) {
    const values = cfg.init.get(name);
    if (!values) throw new Error(`no initial values for ${name}`);
    vars.set(name, tf.variable(tf.tensor(values, shape, 'float32'), true, `p/${name}`));
  }
  const P = (name) => {
    const v = vars.get(name);
    if (!v) throw new Error(`tfjs GPT: no parameter ${name}`);
    return v;
  };
  // Additive causal mask, [T, T]: 0 on and below the diagonal, -1e9 above.
  const mask = tf.tidy(() => tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)), -1e9));
  const scale = 1 / Math.sqrt(dh);
  const geluC = Math.sqrt(2 / Math.PI);

  const linear = (x, name) => tf.add(tf.matMul(x, P(`${name}.weight`), false, true), P(`${name}.bias`));
  const layerNorm = (x, name) => {
    const { mean, variance } = tf.moments(x, -1, true);
    const xhat = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, cfg.eps)));
    return tf.add(tf.mul(xhat, P(`${name}.weight`)), P(`${name}.bias`));
  };
  const gelu = (x) => tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(tf.mul(geluC, tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))));
  const splitHeads = (x, B) => tf.transpose(tf.reshape(x, [B, T, heads, dh]), [0, 2, 1, 3]); // [B, H, T, dh]

  /** Mean cross-entropy of the next-token logits; tokens and targets are int32 [B·T]. */
  const loss = (tokens, targets, B) => {
    let x = tf.add(tf.reshape(tf.gather(P('embed.tokens.weight'), tokens), [B, T, d]), P('embed.positions.weight'));
    x = tf.reshape(x, [B * T, d]);
    for (let l = 0; l < layers; l++) {
      const pre = `layers.${l}`;
      const h = layerNorm(x, `${pre}.attn_norm`);
      const q = splitHeads(linear(h, `${pre}.attn.q`), B);
      const k = splitHeads(linear(h, `${pre}.attn.k`), B);
      const v = splitHeads(linear(h, `${pre}.attn.v`), B);
      const att = tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), scale), mask)); // [B, H, T, T]
      const y = tf.reshape(tf.transpose(tf.matMul(att, v), [0, 2, 1, 3]), [B * T, d]);
      x = tf.add(x, linear(y, `${pre}.attn.o`));
      const m = layerNorm(x, `${pre}.mlp_norm`);
      x = tf.add(x, linear(gelu(linear(m, `${pre}.mlp.up`)), `${pre}.mlp.down`));
    }
    const logits = tf.matMul(layerNorm(x, 'norm'), P('embed.tokens.weight'), false, true); // [B·T, vocab], tied head
    return tf.losses.softmaxCrossEntropy(tf.oneHot(targets, vocab), logits); // mean over B·T
  };

  const optimizer = tf.train.adam(cfg.lr, cfg.beta1, cfg.beta2, cfg.adamEps);
  const varList = [...vars.values()];
  return {
    vars,
    /** Queues one training step; returns the (scalar) loss tensor, which the caller disposes. */
    step(inputs, targets, B) {
      const tokens = tf.tensor1d(inputs, 'int32');
      const tgt = tf.tensor1d(targets, 'int32');
      const l = optimizer.minimize(() => loss(tokens, tgt, B), true, varList);
      tokens.dispose();
      tgt.dispose();
      return l;
    },
    dispose() {
      optimizer.dispose();
      mask.dispose();
      for (const v of varList) v.dispose();
    },
  };
}
