/** Runs `wa-notify` (the compiled CLI, as an operator would) against a scenario's stack. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';

import { builtFile } from '../../helpers/service-process.ts';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export async function runCli(env: Record<string, string>, args: string[]): Promise<CliResult> {
  builtFile('dist/cli/main.js');
  const child = spawn(process.execPath, ['bin/wa-notify.js', ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}
