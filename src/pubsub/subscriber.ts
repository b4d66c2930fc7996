/**
 * The Pub/Sub pull subscriber (role `subscriber`): streams FDR events from FDR_SUBSCRIPTION into
 * the inbox. A message is acked after `ingestFdrMessage` resolves and nacked when it throws
 * (MySQL or Redis unavailable), so Pub/Sub redelivers it.
 */
import type { Message, PubSub, Subscription } from '@google-cloud/pubsub';

import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import { safeErrorMessage } from '../errors.ts';
import type { Log } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Queues } from '../queues/index.ts';
import { ingestFdrMessage } from './ingest.ts';
import { ensureSubscription } from './topics.ts';

export interface FdrSubscriber {
  subscription: Subscription;
  close(): Promise<void>;
}

export async function startFdrSubscriber(deps: {
  config: Config;
  db: Db;
  queues: Queues;
  pubsub: PubSub;
  metrics: Pick<Metrics, 'fdrEvents'>;
  log: Log;
}): Promise<FdrSubscriber> {
  const { config, pubsub, log } = deps;
  const subscription = config.PUBSUB_EMULATOR_HOST
    ? await ensureSubscription(pubsub, config.FDR_TOPIC, config.FDR_SUBSCRIPTION)
    : pubsub.subscription(config.FDR_SUBSCRIPTION);
  subscription.setOptions({ flowControl: { maxMessages: 100, allowExcessMessages: false } });

  const inFlight = new Set<Promise<void>>();
  subscription.on('message', (message: Message) => {
    const p = handleFdrMessage(deps, message).finally(() => inFlight.delete(p));
    inFlight.add(p);
  });
  subscription.on('error', (err: Error) =>
    log.error({ err: err.message }, 'FDR subscription error'),
  );
  log.info({ subscription: config.FDR_SUBSCRIPTION }, 'FDR subscriber listening');

  return {
    subscription,
    async close() {
      subscription.removeAllListeners('message');
      await Promise.allSettled([...inFlight]);
      await subscription.close();
    },
  };
}

type IngestDeps = Parameters<typeof ingestFdrMessage>[0];

/** Acks the message once it is recorded and queued; nacks it when that fails, for redelivery. */
export async function handleFdrMessage(
  deps: IngestDeps,
  message: Pick<Message, 'id' | 'data' | 'ack' | 'nack'>,
): Promise<void> {
  try {
    await ingestFdrMessage(deps, message.data, message.id);
    message.ack();
  } catch (err) {
    deps.log.error(
      { pubsubMessageId: message.id, err: safeErrorMessage(err) },
      'FDR ingest failed; nacked for redelivery',
    );
    message.nack();
  }
}
