/**
 * `npm run sandbox`: runs the local Gupshup sandbox (src/sandbox/server.ts) until SIGINT/SIGTERM.
 * Point GUPSHUP_ENTERPRISE_URL at the printed URL to send through it.
 *
 * With SANDBOX_CALLBACK_URL (the service's webhook, token included, e.g.
 * `http://app:3000/api/_ah/v1/message?token=dev-webhook-token`) every successful send is followed
 * by SENT, DELIVERED and READ reports after SANDBOX_DLR_DELAYS_MS (`300,800,1500` by default; an
 * empty entry keeps its default, a negative one skips that report), and `POST /_sandbox/reply`
 * delivers a customer's reply, so a demo shows the whole conversation. SANDBOX_CALLBACK_FORMAT
 * (`enterprise` by default, `v2` or `v3`) picks the callbacks' format; `POST /_sandbox/tap` and
 * `POST /_sandbox/text` play the customer's taps and texts in it.
 *
 * It also runs the WMS stand-in (src/sandbox/wms.ts) on SANDBOX_WMS_PORT (default 8091), so the
 * service's replies can act on orders in a demo.
 *
 * This entry point reads its own variables instead of going through src/config.ts: the sandbox is
 * a developer tool, not part of the service, and must start without the service's configuration.
 */
import * as v from 'valibot';

import { CALLBACK_FORMATS, type CallbackRecord, type DlrDelays } from './callbacks.ts';
import { startSandbox } from './server.ts';
import { startFakeWms } from './wms.ts';

const DELAYS_FORMAT = /^(-?\d+)?(,(-?\d+)?){0,2}$/;

const port = (fallback: string) =>
  v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.toNumber(),
      v.integer('must be a whole number'),
      v.minValue(0, 'must be at least 0'),
      v.maxValue(65_535, 'must be at most 65535'),
    ),
    fallback,
  );

const SandboxEnvSchema = v.object({
  SANDBOX_PORT: port('8090'),
  SANDBOX_WMS_PORT: port('8091'),
  SANDBOX_HOST: v.optional(
    v.pipe(v.string(), v.trim(), v.nonEmpty('must not be empty')),
    '0.0.0.0',
  ),
  SANDBOX_CALLBACK_URL: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.url('must be an absolute URL'),
      v.check(
        (url) => !URL.canParse(url) || /^https?:$/.test(new URL(url).protocol),
        'must be http or https',
      ),
    ),
  ),
  SANDBOX_CALLBACK_FORMAT: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.toLowerCase(),
      v.picklist(CALLBACK_FORMATS, 'must be enterprise, v2 or v3'),
    ),
    'enterprise',
  ),
  SANDBOX_DLR_DELAYS_MS: v.optional(
    v.pipe(
      v.string(),
      v.transform((text) => text.replace(/\s+/g, '')),
      v.regex(
        DELAYS_FORMAT,
        'must be up to three comma-separated whole numbers of ms (SENT,DELIVERED,READ), e.g. 300,800,1500',
      ),
      v.transform(parseDelays),
    ),
  ),
});

/** `300,,-1` → SENT after 300 ms, DELIVERED after its default, no READ. */
function parseDelays(text: string): DlrDelays {
  const [sent, delivered, read] = text
    .split(',')
    .map((part) => (part === '' ? undefined : Number(part)));
  return { sent, delivered, read };
}

/** The webhook URL carries its token in the query string: never print it. */
function redactUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}${parsed.search ? '?[redacted]' : ''}`;
}

function describeCallback(record: CallbackRecord): string {
  const answer = record.status === 0 ? 'no answer' : `HTTP ${record.status}`;
  const attempt = record.attempt > 1 ? ` (attempt ${record.attempt})` : '';
  return `callback ${record.label} → ${answer}${attempt}`;
}

// An empty variable counts as unset, so `SANDBOX_PORT= npm run sandbox` keeps the default.
const parsed = v.safeParse(SandboxEnvSchema, {
  SANDBOX_PORT: process.env.SANDBOX_PORT || undefined,
  SANDBOX_WMS_PORT: process.env.SANDBOX_WMS_PORT || undefined,
  SANDBOX_HOST: process.env.SANDBOX_HOST || undefined,
  SANDBOX_CALLBACK_URL: process.env.SANDBOX_CALLBACK_URL || undefined,
  SANDBOX_CALLBACK_FORMAT: process.env.SANDBOX_CALLBACK_FORMAT || undefined,
  SANDBOX_DLR_DELAYS_MS: process.env.SANDBOX_DLR_DELAYS_MS || undefined,
});
if (!parsed.success) {
  const problems = parsed.issues.map(
    (issue) => `${v.getDotPath(issue) ?? '(root)'}: ${issue.message}`,
  );
  console.error(`Invalid sandbox configuration:\n  - ${problems.join('\n  - ')}`);
  process.exit(1);
}

const env = parsed.output;
const sandbox = await startSandbox({
  port: env.SANDBOX_PORT,
  host: env.SANDBOX_HOST,
  ...(env.SANDBOX_CALLBACK_URL
    ? {
        callback: {
          url: env.SANDBOX_CALLBACK_URL,
          format: env.SANDBOX_CALLBACK_FORMAT,
          ...(env.SANDBOX_DLR_DELAYS_MS ? { delaysMs: env.SANDBOX_DLR_DELAYS_MS } : {}),
        },
      }
    : {}),
  onCallback: (record) => console.log(describeCallback(record)),
});
const wms = await startFakeWms({ port: env.SANDBOX_WMS_PORT, host: env.SANDBOX_HOST });
console.log(`Gupshup sandbox listening: GUPSHUP_ENTERPRISE_URL=${sandbox.url}`);
console.log(
  `Self-serve API: POST ${sandbox.origin}/wa/api/v1/msg, POST /wa/api/v1/template/msg ` +
    '(any non-empty apikey header)',
);
console.log(
  `WMS stand-in listening: WMS_API_URL=${wms.url} (every order is in failed_delivery; ndrNotifications are recorded)`,
);
console.log(
  env.SANDBOX_CALLBACK_URL
    ? `Posting delivery reports and replies to ${redactUrl(env.SANDBOX_CALLBACK_URL)} ` +
        `in the ${env.SANDBOX_CALLBACK_FORMAT} format`
    : 'No SANDBOX_CALLBACK_URL: delivery reports are off until POST /_sandbox/callback',
);
console.log(
  `Control: GET ${sandbox.origin}/_sandbox/sends, GET /_sandbox/callbacks, POST /_sandbox/fail, ` +
    'POST /_sandbox/dlr, POST /_sandbox/message-ids, POST /_sandbox/interactive, ' +
    'POST /_sandbox/tap, POST /_sandbox/text, POST /_sandbox/reply, ' +
    'POST|DELETE /_sandbox/callback, POST|DELETE /_sandbox/faults, POST /_sandbox/reset',
);

function shutDown(signal: NodeJS.Signals): void {
  console.log(`${signal} received, closing the sandbox`);
  Promise.all([sandbox.close(), wms.close()]).then(
    () => process.exit(0),
    (thrown: unknown) => {
      console.error('Sandbox did not close cleanly', thrown);
      process.exit(1);
    },
  );
}
process.once('SIGINT', shutDown);
process.once('SIGTERM', shutDown);
