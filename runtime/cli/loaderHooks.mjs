// Module resolve hooks (node:module register) for the `kvforge` command, chained in front of tsx's.
//
// 1. A variant file is an ES module (it imports from 'kvforge'), but tsx, like Node, takes a `.ts`
//    file in a package without `"type": "module"` for CommonJS, and Node then refuses it
//    (`Cannot require() ES Module ... in a cycle`). So a `.ts`/`.tsx` file outside node_modules is
//    loaded as an ES module whatever the package's type (`.cts` stays CommonJS).
// 2. When kvforge runs from its TypeScript sources (a clone), the `kvforge-source` export
//    condition is on, so `import 'kvforge'` in a variant file gets those same sources, not dist/.
let sourceCondition = false;

export function initialize(data) {
  sourceCondition = data?.sourceCondition === true;
}

export async function resolve(specifier, context, nextResolve) {
  const conditions = context.conditions ?? [];
  const ctx = sourceCondition && !conditions.includes('kvforge-source') ? { ...context, conditions: [...conditions, 'kvforge-source'] } : context;
  const resolved = await nextResolve(specifier, ctx);
  if (resolved.format === 'commonjs' && resolved.url.startsWith('file:')) {
    const { pathname } = new URL(resolved.url);
    if (/\.tsx?$/.test(pathname) && !pathname.split('/').includes('node_modules')) return { ...resolved, format: 'module' };
  }
  return resolved;
}
