/**
 * The command line's parsing and exit codes. None of these reach a server: a command connects
 * only once its arguments are valid, and each case here stops before that.
 */
import { describe, expect, it } from 'vitest';

import { runCli, type CliIo } from './program.ts';

function fakeIo() {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (text) => {
      out += text;
    },
    err: (text) => {
      err += text;
    },
    interactive: false,
    stdoutIsTTY: false,
    confirm: () => Promise.reject(new Error('nobody to ask')),
  };
  return { io, out: () => out, err: () => err };
}

async function run(argv: string[], env: Record<string, string> = {}) {
  const fake = fakeIo();
  const code = await runCli(argv, fake.io, env);
  return { code, out: fake.out(), err: fake.err() };
}

describe('wa-notify', () => {
  it('explains every command, with examples, and exits 0', async () => {
    const { code, out } = await run(['--help']);
    expect(code).toBe(0);
    for (const command of [
      'queues',
      'failed',
      'requeue',
      'shipment',
      'replay',
      'pause',
      'resume',
    ]) {
      expect(out).toContain(command);
    }
    expect(out).toContain('Examples:');
    expect(out).toContain('Exit codes:');
  });

  it.each(['queues', 'failed', 'requeue', 'shipment', 'replay', 'pause', 'resume'])(
    'has help with examples for %s',
    async (command) => {
      const { code, out } = await run([command, '--help']);
      expect(code).toBe(0);
      expect(out).toContain(`$ wa-notify ${command}`);
    },
  );

  it('shows the filters and --json on failed and requeue', async () => {
    const { out } = await run(['requeue', '--help']);
    for (const option of [
      '--since',
      '--reason',
      '--code',
      '--limit',
      '--dry-run',
      '--yes',
      '--json',
    ]) {
      expect(out).toContain(option);
    }
  });

  it('exits 2 for an unknown queue and lists the valid ones', async () => {
    const { code, err } = await run(['failed', 'message.sent']);
    expect(code).toBe(2);
    expect(err).toContain("'message.sent'");
    expect(err).toContain('fdr.validate, message.send, dlr.process, reply.route, activity.emit');
  });

  it.each([
    [['requeue', 'message.send', '--since', '2x']],
    [['failed', 'message.send', '--limit', '0']],
    [['failed', 'message.send', '--code', 'not a code']],
    [['failed', 'message.send', '--bogus']],
    [['failed']],
    [['queues', 'extra']],
    [['replay', 'file.json', '--as', 'email']],
    [['frobnicate']],
    [[]],
  ])('exits 2 for the usage error in %j', async (argv) => {
    const { code, err } = await run(argv);
    expect(code).toBe(2);
    expect(err).not.toBe('');
  });

  it('exits 1, naming the variable, when the environment is invalid', async () => {
    const { code, err } = await run(['queues'], { REDIS_URL: 'not a url' });
    expect(code).toBe(1);
    expect(err).toContain('REDIS_URL');
  });
});
