/**
 * Entry point of the `wa-notify` CLI (bin/wa-notify.js, `npm run wa-notify --`): runs one command
 * against the terminal and exits with its code. See program.ts for the commands.
 */
import { createInterface } from 'node:readline/promises';

import { Presets, SingleBar } from 'cli-progress';

import { runCli, type CliIo } from './program.ts';

const terminal: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  interactive: process.stdin.isTTY === true,
  stdoutIsTTY: process.stdout.isTTY === true,
  async confirm(question) {
    // The question goes to stderr so that stdout keeps only the command's output.
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return /^y(es)?$/i.test((await rl.question(question)).trim());
    } finally {
      rl.close();
    }
  },
  progress(total) {
    const bar = new SingleBar(
      { format: 'requeue [{bar}] {value}/{total}', stream: process.stdout, hideCursor: true },
      Presets.shades_classic,
    );
    bar.start(total, 0);
    return { update: (done) => bar.update(done), stop: () => bar.stop() };
  },
};

// `wa-notify failed … | head`: the reader went away, which is not an error of the command.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  process.exit(err.code === 'EPIPE' ? 0 : 1);
});

const code = await runCli(process.argv.slice(2), terminal);
process.exitCode = code;
// Every client is closed by now; should a library still hold a handle open, do not hang the shell.
setTimeout(() => process.exit(code), 2_000).unref();
