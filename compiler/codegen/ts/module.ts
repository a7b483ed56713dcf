/**
 * The generated TypeScript module of one model (written with ts-morph: structures added in
 * one batch, bodies through the code writer). It is a thin, typed face over the runtime: the
 * parameter table (names, shapes, offsets into one flat f32 view), the model's dimensions,
 * and init / load / save / forward / generate. The plans (WGSL kernels, buffers, dispatch
 * order) travel beside it in plan.json.
 */
import {
  Project,
  StructureKind,
  VariableDeclarationKind,
  type MethodDeclarationStructure,
  type OptionalKind,
  type SourceFile,
} from 'ts-morph';
import type { ModelSpec } from '../../semantics/model.js';
import type { CompiledModelData } from '../../../runtime/model-runtime.js';

export function className(model: string): string {
  const parts = model.split(/[^A-Za-z0-9]+/).filter(Boolean);
  const name = parts.map((p) => p[0]!.toUpperCase() + p.slice(1)).join('');
  return /^[0-9]/.test(name) ? `Model${name}` : name || 'Model';
}

export interface ModuleOptions {
  /**
   * Where ModelRuntime (and decodeSafetensors) come from: './runtime/browser.js', the browser-safe entry copied beside
   * the module, or a package, e.g. 'mspec/runtime' (which a bundler resolves to its browser entry).
   */
  readonly runtime: string;
  /** Where GpuContext comes from: usually the same module as `runtime`. */
  readonly device: string;
}

export function generateModule(project: Project, path: string, spec: ModelSpec, data: CompiledModelData, opts: ModuleOptions): SourceFile {
  const cls = className(spec.name);
  let offset = 0;
  const params = data.params.map((p) => {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const entry = { name: p.name, shape: [...p.shape], offset, size: n };
    offset += n;
    return entry;
  });
  // An encoder-only model (BERT) runs one bidirectional pass, forward(tokens, segments?) → its
  // outputs (hidden states or logits, pooled), and generates nothing.
  const encoder = spec.arch === 'encoder';
  const layers = (encoder ? spec.encoder?.layers : spec.decoder?.layers) ?? [];
  // An encoder–decoder's module answers a source (encode / forward / generate take one).
  const seq2seq = data.plans.encode !== undefined;
  const l0 = layers[0]!;
  const config = {
    vocab: spec.vocab,
    context: spec.context,
    d_model: spec.d_model,
    layers: layers.length,
    heads: l0.attention.heads,
    kv_heads: l0.attention.kv_heads,
    head_dim: l0.attention.head_dim,
    positions: spec.embedding.positions.kind,
    tied: spec.embedding.tied,
    ...(encoder ? { arch: spec.arch, segments: spec.embedding.segments, head: spec.head.kind, pooler: spec.head.pooler } : {}),
  };
  const file = project.createSourceFile(path, '', { overwrite: true });
  const fromRuntime = [
    'ModelRuntime',
    'decodeSafetensors',
    { name: 'CompiledModelData', isTypeOnly: true },
    { name: encoder ? 'EncoderOutput' : 'GenerateOptions', isTypeOnly: true },
  ];
  const gpuContext = { name: 'GpuContext', isTypeOnly: true };
  file.addImportDeclarations([
    ...(opts.device === opts.runtime
      ? [{ moduleSpecifier: opts.runtime, namedImports: [...fromRuntime, gpuContext] }]
      : [
          { moduleSpecifier: opts.runtime, namedImports: fromRuntime },
          { moduleSpecifier: opts.device, namedImports: [gpuContext] },
        ]),
    { moduleSpecifier: './plan.json', defaultImport: 'plan', attributes: [{ name: 'type', value: 'json' }] },
  ]);
  // The errors a caller may want to tell apart (instanceof), from the same runtime the module uses.
  file.addExportDeclarations([
    { moduleSpecifier: opts.runtime, namedExports: ['ModelError', 'CheckpointError', 'PlanTargetError'] },
    { moduleSpecifier: opts.device, namedExports: ['GpuUnavailableError'] },
  ]);
  file.addVariableStatement({
    isExported: true,
    declarationKind: VariableDeclarationKind.Const,
    docs: ['Every parameter: its name (as in checkpoints), shape, and offset/size in a flat f32 view of all weights.'],
    declarations: [{ name: 'PARAMETERS', initializer: `${JSON.stringify(params)} as const` }],
  });
  file.addVariableStatement({
    isExported: true,
    declarationKind: VariableDeclarationKind.Const,
    docs: ['The resolved dimensions of the model.'],
    declarations: [{ name: 'CONFIG', initializer: `${JSON.stringify(config)} as const` }],
  });
  file.addClass({
    kind: StructureKind.Class,
    name: cls,
    isExported: true,
    docs: [
      `${spec.name}: ${layers.length} layers, d_model ${spec.d_model}, ${config.heads} heads (${config.kv_heads} KV), context ${spec.context}, vocab ${spec.vocab}; ${data.params.length} tensors, ${offset} parameters.`,
    ],
    properties: [
      { name: 'parameters', isStatic: true, isReadonly: true, initializer: 'PARAMETERS' },
      { name: 'config', isStatic: true, isReadonly: true, initializer: 'CONFIG' },
      { name: 'parameterCount', isStatic: true, isReadonly: true, initializer: String(offset) },
    ],
    ctors: [
      {
        parameters: [{ name: 'runtime', type: 'ModelRuntime', isReadonly: true }],
        statements: [],
        docs: ['Use the static create() instead.'],
      },
    ],
    methods: [
      {
        name: 'create',
        isStatic: true,
        isAsync: true,
        docs: [
          'Compiles the kernels on a WebGPU device (Dawn in Node, navigator.gpu in a browser). Throws PlanTargetError, before running anything, on a device that does not meet what the kernels assume (plan.json `target`: features, subgroup size); rebuild for that adapter then.',
        ],
        parameters: [{ name: 'opts', type: '{ gpu?: GpuContext }', initializer: '{}' }],
        returnType: `Promise<${cls}>`,
        statements: [`return new ${cls}(await ModelRuntime.create(plan as unknown as CompiledModelData, opts));`],
      },
      {
        name: 'init',
        docs: ['Deterministic GPT-2-style initialisation from a seed.'],
        parameters: [{ name: 'seed', type: 'number' }],
        returnType: 'void',
        statements: ['this.runtime.init(seed);'],
      },
      {
        name: 'load',
        docs: ['Loads a safetensors checkpoint; every tensor is checked against the spec.'],
        parameters: [{ name: 'path', type: 'string' }],
        returnType: 'void',
        statements: ['this.runtime.load(path);'],
      },
      {
        name: 'loadBytes',
        docs: [
          'Loads a safetensors checkpoint from its bytes (in a browser: `new Uint8Array(await (await fetch(url)).arrayBuffer())`); every tensor is checked against the spec.',
        ],
        parameters: [
          { name: 'bytes', type: 'Uint8Array' },
          { name: 'source', type: 'string', initializer: "'checkpoint'" },
        ],
        returnType: 'void',
        statements: ['this.runtime.setWeights(decodeSafetensors(bytes, source), source);'],
      },
      {
        name: 'save',
        docs: ['Saves a safetensors checkpoint (atomically) with the spec in its metadata.'],
        parameters: [{ name: 'path', type: 'string' }],
        returnType: 'Promise<void>',
        statements: ['return this.runtime.save(path);'],
      },
      ...(seq2seq ? seq2seqMethods() : encoder ? encoderMethods(spec) : decoderMethods(data)),
      {
        name: seq2seq ? 'tokenize' : 'encode',
        docs: [
          `Text → token ids with the model's ${data.tokenizer ? `${data.tokenizer.kind} ` : ''}tokenizer${data.tokenizer ? '' : ' (this model has none: it throws a ModelError saying so)'}.`,
        ],
        parameters: [{ name: 'text', type: 'string' }],
        returnType: 'number[]',
        statements: ['return this.runtime.encode(text);'],
      },
      {
        name: 'decode',
        docs: ['Token ids → text.'],
        parameters: [{ name: 'ids', type: 'readonly number[]' }],
        returnType: 'string',
        statements: ['return this.runtime.decode(ids);'],
      },
      ...(encoder ? [] : [generateText(seq2seq)]),
      {
        name: 'release',
        docs: ['Frees the GPU buffers and, if this model acquired it, the device.'],
        returnType: 'void',
        statements: ['this.runtime.release();'],
      },
    ],
  });
  file.formatText({ indentSize: 2 });
  file.insertText(
    0,
    `// Generated by mspec ${data.mspecVersion} from ${data.spec.path} (model ${spec.name}, spec sha256 ${data.spec.hash}).\n// Do not edit: run \`mspec build\` again after changing the spec.\n`,
  );
  return file;
}

/** forward / generate of a decoder-only model: a prompt of token ids. */
function decoderMethods(data: CompiledModelData): OptionalKind<MethodDeclarationStructure>[] {
  // A prefill that computes only the last row's logits (a large head or vocabulary) cannot serve forward().
  const lastRowOnly = data.plans.prefill.io.lastRow !== undefined;
  return [
    {
      name: 'forward',
      docs: [
        lastRowOnly
          ? "Logits for every position of `tokens`: this model's prefill computes only the last position's logits (its LM head or rows × vocab exceed one storage binding), so forward throws a ModelError saying so; generate() samples as usual."
          : 'Logits (T × vocab, row-major) for every position of `tokens` (at most the context).',
      ],
      parameters: [{ name: 'tokens', type: 'readonly number[]' }],
      returnType: 'Promise<Float32Array>',
      statements: ['return this.runtime.logits(tokens);'],
    },
    {
      name: 'generate',
      docs: [
        "Streams sampled token ids after `prompt`, using the KV cache. Options: maxTokens, temperature (0 = greedy), topK, topP, seed, stop, chunk (decode steps per submission; tokens are chosen on the device), sampleOn ('host': the CPU reference, same text), draft (a smaller generated model or ModelRuntime with the same vocabulary, on the same device: speculative decoding) with lookahead and onStats.",
      ],
      parameters: [
        { name: 'prompt', type: 'readonly number[]' },
        { name: 'opts', type: 'GenerateOptions' },
      ],
      returnType: 'AsyncGenerator<number>',
      statements: ['return this.runtime.generate(prompt, opts);'],
    },
  ];
}

/**
 * encode / forward / generate of an encoder–decoder: each takes a source of token ids (at most
 * the context; padded with the decoder start id, as in training), which the encoder reads once.
 */
function seq2seqMethods(): OptionalKind<MethodDeclarationStructure>[] {
  return [
    {
      name: 'encode',
      docs: ["The encoder's output states for `source` (context × d_model, row-major; rows past the source belong to its padding)."],
      parameters: [{ name: 'source', type: 'readonly number[]' }],
      returnType: 'Promise<Float32Array>',
      statements: ['return this.runtime.encoderStates(source);'],
    },
    {
      name: 'forward',
      docs: [
        'Decoder logits ((target.length + 1) × vocab, row-major) with teacher forcing: row t predicts target[t] from the start token and target[0..t), row target.length the end-of-sequence token.',
      ],
      parameters: [
        { name: 'source', type: 'readonly number[]' },
        { name: 'target', type: 'readonly number[]' },
      ],
      returnType: 'Promise<Float32Array>',
      statements: ['return this.runtime.seq2seqLogits(source, target);'],
    },
    {
      name: 'generate',
      docs: [
        "Streams sampled token ids answering `source`: encoded once, then decoded with the decoder's KV cache and the kept cross-attention K/V, up to the end-of-sequence token (not yielded).",
      ],
      parameters: [
        { name: 'source', type: 'readonly number[]' },
        { name: 'opts', type: 'GenerateOptions' },
      ],
      returnType: 'AsyncGenerator<number>',
      statements: ['return this.runtime.generateFrom(source, opts);'],
    },
  ];
}

/** generateText: from a source (encoder–decoder) or after a prompt (decoder). */
function generateText(seq2seq: boolean): OptionalKind<MethodDeclarationStructure> {
  return seq2seq
    ? {
        name: 'generateText',
        docs: [
          'Streams the text the model answers to the text `source` (tokenized, encoded once), piece by piece, up to its end-of-sequence token.',
        ],
        parameters: [
          { name: 'source', type: 'string' },
          { name: 'opts', type: 'GenerateOptions' },
        ],
        returnType: 'AsyncGenerator<string>',
        statements: ['return this.runtime.generateTextFrom(source, opts);'],
      }
    : {
        name: 'generateText',
        docs: ['Streams the text generated after the text `prompt` (encoded with the tokenizer), piece by piece.'],
        parameters: [
          { name: 'prompt', type: 'string' },
          { name: 'opts', type: 'GenerateOptions' },
        ],
        returnType: 'AsyncGenerator<string>',
        statements: ['return this.runtime.generateText(prompt, opts);'],
      };
}

/** forward of an encoder-only model (BERT): one bidirectional pass, every output of the model. */
function encoderMethods(spec: ModelSpec): OptionalKind<MethodDeclarationStructure>[] {
  const segments = spec.embedding.segments > 0;
  const outputs = [
    spec.head.kind === 'none' ? 'the final hidden states `hidden` (tokens × d_model)' : 'the logits `logits` (tokens × vocab)',
    ...(spec.head.pooler ? ['the pooled first position `pooled` (d_model)'] : []),
  ];
  return [
    {
      name: 'forward',
      docs: [
        `One bidirectional pass over \`tokens\` (at most the context)${segments ? ' with their segment ids (default all 0)' : ''}: ${outputs.join(' and ')}, row-major.`,
      ],
      parameters: [
        { name: 'tokens', type: 'readonly number[]' },
        ...(segments ? [{ name: 'segments', type: 'readonly number[]', hasQuestionToken: true }] : []),
      ],
      returnType: 'Promise<EncoderOutput>',
      statements: [`return this.runtime.encoderForward(tokens${segments ? ', segments' : ''});`],
    },
  ];
}
