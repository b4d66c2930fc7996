/**
 * The apology when a courier did not honour the customer's choice: when the account's policy says
 * so (`apologyOnNotHonoured`, default false), one session message on the attempt's conversation
 * with the delivery dates to choose from again (src/replies/messages.ts `apology`); a date the
 * customer then taps is acted on by `reply.route` like any date choice. It is an outbox row keyed
 * `apology-<shipment>-<attempt>`, so it goes once however often the flag's job runs, and
 * `message.send` applies the rules of every session message: it goes only inside the
 * customer's 24-hour window and never to a suppressed number (else it is recorded as not sent).
 */
import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import { findConversationByOutboxId, updateConversation } from '../db/conversations.ts';
import { insertOutbox } from '../db/outbox.ts';
import type { AttemptOutcomeRow } from '../db/outcomes.ts';
import type { Log } from '../log.ts';
import { encodeContent } from '../outbox-content.ts';
import { enqueue, type Queues } from '../queues/index.ts';
import { nextDeliveryDates } from '../replies/dates.ts';
import { apology } from '../replies/messages.ts';
import { postbackKeys, signPostback } from '../replies/postback.ts';
import type { SettingsCache } from '../settings-cache.ts';
import { policyOf } from '../workers/quiet-deferral.ts';

export interface ApologyDeps {
  config: Config;
  db: Db;
  queues: Queues;
  settings: Pick<SettingsCache, 'get'>;
  log: Log;
}

/** Queues the apology for a flagged attempt when its account wants one; whether it did. */
export async function sendApology(deps: ApologyDeps, row: AttemptOutcomeRow): Promise<boolean> {
  const { config, db } = deps;
  const settings = await deps.settings.get(row.accountId);
  if (!policyOf(config, settings).apologyOnNotHonoured || row.outboxId === null) {
    return false;
  }
  const conversation = await findConversationByOutboxId(db, row.outboxId);
  if (!conversation) {
    return false;
  }
  const dates = nextDeliveryDates(new Date(), {
    count: config.DATE_CHOICE_COUNT,
    horizonDays: config.DATE_CHOICE_HORIZON_DAYS,
    skipSundays: config.DATE_CHOICE_SKIP_SUNDAYS,
  });
  const keys = postbackKeys(config);
  const followUp = apology(
    (choice) => signPostback(keys, { ...choice, conversation: conversation.outboxId }),
    dates,
  );
  // The conversation awaits a date again, so the customer's answer books it.
  await updateConversation(db, conversation.id, {
    awaiting: 'date',
    offeredDates: JSON.stringify(dates),
  });
  const { id: outboxId, created } = await insertOutbox(db, {
    idempotencyKey: `apology-${row.shipmentId}-${row.attempt}`,
    kind: 'session_text',
    shipmentId: row.shipmentId,
    accountId: row.accountId,
    conversationId: conversation.id,
    reason: followUp.purpose,
    connectionId: conversation.connectionId,
    toNumber: conversation.customerNumber,
    body: followUp.text,
    content: followUp.interactive
      ? encodeContent({ kind: 'session', content: followUp.interactive })
      : null,
  });
  await enqueue(deps.queues, 'message.send', { outboxId });
  deps.log.info(
    { shipmentId: row.shipmentId, attempt: row.attempt, outboxId, created },
    'apology for the missed delivery queued',
  );
  return true;
}
