#!/usr/bin/env node
// The `wa-notify` bin: runs the compiled CLI (dist/cli/main.js), as production runs the service,
// so it needs no dev dependencies. From a source checkout, `npm run build` first, or run the
// TypeScript directly with `npm run dev:cli -- <command>`.
import { existsSync } from 'node:fs';
import process from 'node:process';
import { URL } from 'node:url';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('wa-notify: dist/cli/main.js is missing; run `npm run build` first\n');
  process.exit(1);
}
await import(main.href);
