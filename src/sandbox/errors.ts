/**
 * Errors the Gupshup sandbox throws to its caller (a test, or a control endpoint, which turns
 * them into 400 answers). SandboxCallbackError (src/sandbox/callbacks.ts) and
 * SandboxTemplatesError (src/sandbox/templates.ts) live beside the code that raises them.
 */

/** A malformed option given to `startSandbox` or a setter (`setInteractive`). */
export class SandboxOptionsError extends Error {
  readonly code = 'ERR_SANDBOX_OPTIONS';
  constructor(message: string) {
    super(message);
    this.name = 'SandboxOptionsError';
  }
}
