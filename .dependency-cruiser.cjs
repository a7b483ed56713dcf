/**
 * The import rules of mspec (checked in CI by `npm run lint:imports`): data flows one way,
 *
 *   diagnostics → syntax → ast → semantics → ir → passes → codegen → schedule → (index) → cli
 *
 * and a stage imports only the stages before it. The one twist on the flow order: the
 * schedule (fusion, plans, kernel groups) calls the WGSL generators in codegen, and codegen
 * never imports the schedule. `runtime/` is standalone: a built model folder runs without the
 * compiler, so nothing under runtime/ imports compiler/. No file cycles anywhere.
 */
const LAYERS = [
  ['diagnostics', '^compiler/(diagnostics/|version\\.ts$)'],
  ['syntax', '^compiler/syntax/'],
  ['ast', '^compiler/ast/'],
  ['semantics', '^compiler/semantics/'],
  ['ir', '^compiler/ir/'],
  ['passes', '^compiler/passes/'],
  ['codegen', '^compiler/codegen/'],
  ['schedule', '^compiler/schedule/'],
  ['index', '^compiler/index\\.ts$'],
  ['cli', '^compiler/cli/'],
];

const upward = LAYERS.slice(0, -1).map(([name, path], i) => ({
  name: `${name}-imports-no-later-stage`,
  comment: `${name} comes before ${LAYERS.slice(i + 1)
    .map(([n]) => n)
    .join(', ')} in the data flow: it may not import them`,
  severity: 'error',
  from: { path },
  to: { path: LAYERS.slice(i + 1).map(([, p]) => p) },
}));

/**
 * What a browser cannot load: Node's built-ins (with or without the `node:` prefix) and the
 * packages that need them (cli-progress draws on a terminal; webgpu is Dawn's native addon,
 * which runtime/device.ts imports dynamically, only in Node, and is not followed here).
 */
const NODE_ONLY = [`^(node:|(${require('node:module').builtinModules.join('|')})$)`, '(^|/)node_modules/cli-progress/'];

/** Everything under compiler/ must sit in one of the layers above. */
const known = LAYERS.map(([, p]) => p);

module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'runtime-is-standalone',
      comment: 'runtime/ runs a built model on its own (Node or a browser): it imports nothing from compiler/',
      severity: 'error',
      from: { path: '^runtime/' },
      to: { path: '^compiler/' },
    },
    {
      name: 'browser-entry-is-browser-safe',
      comment:
        'runtime/browser.ts is what a page bundles (and what built model folders import): nothing reachable from it may ' +
        'import a Node built-in or a Node-only package; put file- or terminal-bound code behind runtime/node.ts',
      severity: 'error',
      from: { path: '^runtime/browser\\.ts$' },
      to: { path: NODE_ONLY, reachable: true },
    },
    {
      name: 'compiler-file-in-no-layer',
      comment: 'every compiler file belongs to a stage of the data flow (add its folder to LAYERS)',
      severity: 'error',
      from: { path: '^compiler/', pathNot: known },
      to: {},
    },
    {
      name: 'no-circular',
      comment: 'no two files import each other, directly or through others',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      // @webgpu/types is a types-only package (a triple-slash reference), not a module to resolve.
      to: { couldNotResolve: true, pathNot: '^@webgpu/types$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // node_modules stay in the graph as leaves (doNotFollow): the browser rule must see which packages are reached.
    exclude: { path: '^(dist|out|runs)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js'],
    },
  },
};
