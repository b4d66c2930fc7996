/**
 * Errors of the `wa-notify` CLI. A UsageError means the command line itself is wrong (or needs
 * `--yes`) and exits 2; anything else a command throws exits 1.
 */

/** The command cannot run as given; the message says what to change. Exit code 2. */
export class UsageError extends Error {
  readonly code = 'ERR_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A command that ran but could not do its job (nothing to replay, confirmation refused). */
export class CommandError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = 'CommandError';
  }
}
