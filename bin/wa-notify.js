#!/usr/bin/env node
// The `wa-notify` bin: runs the TypeScript CLI (src/cli/main.ts) through tsx, as the service
// itself runs, so it works from the deployed source tree without a build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
