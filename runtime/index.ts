/**
 * The runtime package for Node (`mspec/runtime`): what generated model modules and trainers
 * import. It is the browser-safe part (./browser.ts) and the Node-only part (./node.ts)
 * together; a bundler building for a browser resolves `mspec/runtime` to ./browser.ts alone
 * (package.json "exports", condition "browser").
 */
export * from './browser.js';
export * from './node.js';
