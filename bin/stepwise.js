#!/usr/bin/env node
// The `stepwise` command: runs the TypeScript CLI through tsx, so no build step is needed.
import { register } from 'tsx/esm/api';
register();
// `stepwise list | head`: a closed pipe ends the command quietly, as in other CLI tools.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
const { main } = await import('../server/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
