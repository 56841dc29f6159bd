// Entry point of `npm run bench`. Node runs the TypeScript sources directly (type stripping), but
// the project writes relative imports the NodeNext way ('./x.js' for ./x.ts), so that tsc checks
// them. This hook maps such a specifier to the .ts file beside it when no .js file exists, which
// lets the bench import its own modules and the shared test helpers without a build step.
import { registerHooks } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

registerHooks({
  resolve(specifier, context, nextResolve) {
    const parent = context.parentURL;
    if (parent?.endsWith('.ts') && /^\.\.?\//.test(specifier) && specifier.endsWith('.js')) {
      const jsUrl = new URL(specifier, parent);
      const tsUrl = new URL(specifier.slice(0, -'.js'.length) + '.ts', parent);
      if (!existsSync(fileURLToPath(jsUrl)) && existsSync(fileURLToPath(tsUrl))) {
        return nextResolve(tsUrl.href, context);
      }
    }
    return nextResolve(specifier, context);
  },
});

// `node bench/run.ts scale-out [...]` runs the scale-out bench, `node bench/run.ts replication
// [...]` the replication bench, `node bench/run.ts lifecycle [...]` GC at scale and quota pushes;
// anything else the main one.
const [first, ...rest] = process.argv.slice(2);
const named = first === 'scale-out' || first === 'replication' || first === 'lifecycle';
const { main } =
  first === 'scale-out'
    ? await import('./scale-out.js')
    : first === 'replication'
      ? await import('./replication.js')
      : first === 'lifecycle'
        ? await import('./lifecycle.js')
        : await import('./main.js');
process.exitCode = await main(named ? rest : process.argv.slice(2));
