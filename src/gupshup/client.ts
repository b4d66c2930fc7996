/**
 * The one Gupshup client the service uses: it holds both adapters (Enterprise gateway and
 * self-serve v2) and sends each message through the one its connection's account names
 * (src/gupshup/types.ts), so the `message.send` worker never knows which API a client is on.
 *
 * Created once per process in src/service.ts from GUPSHUP_ENTERPRISE_URL,
 * GUPSHUP_SELF_SERVE_URL, GUPSHUP_TIMEOUT_MS, GUPSHUP_TEMPLATE_MSG_TYPE and
 * GUPSHUP_INTERACTIVE_UNSUPPORTED_CODES.
 */
import {
  createEnterpriseAdapter,
  ENTERPRISE_SESSION_TYPES,
  type InteractiveUnsupportedCodes,
} from './enterprise.ts';
import { createSelfServeAdapter, SELF_SERVE_SESSION_TYPES } from './self-serve.ts';
import type { GupshupClient } from './types.ts';

export function createGupshupClient(opts: {
  enterpriseUrl: string;
  selfServeUrl: string;
  timeoutMs: number;
  templateMsgType: string;
  interactiveUnsupported?: InteractiveUnsupportedCodes;
}): GupshupClient {
  const enterprise = createEnterpriseAdapter({
    baseUrl: opts.enterpriseUrl,
    timeoutMs: opts.timeoutMs,
    templateMsgType: opts.templateMsgType,
    ...(opts.interactiveUnsupported ? { interactiveUnsupported: opts.interactiveUnsupported } : {}),
  });
  const selfServe = createSelfServeAdapter({
    baseUrl: opts.selfServeUrl,
    timeoutMs: opts.timeoutMs,
  });
  return {
    sendTemplate: (account, msg, signal) =>
      account.api === 'enterprise'
        ? enterprise.sendTemplate(account.hsm, msg, signal)
        : selfServe.sendTemplate(account, msg, signal),
    sendSession: (account, msg, signal) =>
      account.api === 'enterprise'
        ? enterprise.sendSession(account.twoWay, msg, signal)
        : selfServe.sendSession(account, msg, signal),
    supports: (account, type) =>
      (account.api === 'enterprise' ? ENTERPRISE_SESSION_TYPES : SELF_SERVE_SESSION_TYPES).has(
        type,
      ),
    close: async () => {
      await Promise.all([enterprise.close(), selfServe.close()]);
    },
  };
}
