/**
 * Errors the Gupshup sandbox throws to its caller (a test, or a control endpoint, which turns
 * them into 400 or 409 answers). SandboxCallbackError (src/sandbox/callbacks.ts) and
 * SandboxTemplatesError (src/sandbox/templates.ts) live beside the code that raises them.
 */

/** A reply the sandbox cannot play: nothing to tap, no such choice, a format that cannot carry it. */
export class SandboxTapError extends Error {
  readonly code = 'ERR_SANDBOX_TAP';
  constructor(message: string) {
    super(message);
    this.name = 'SandboxTapError';
  }
}

/** A malformed option given to `startSandbox` or a setter (`setInteractive`). */
export class SandboxOptionsError extends Error {
  readonly code = 'ERR_SANDBOX_OPTIONS';
  constructor(message: string) {
    super(message);
    this.name = 'SandboxOptionsError';
  }
}
