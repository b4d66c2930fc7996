/** Publishes timeline entries as JSON to ACTIVITY_TOPIC (one topic handle per process). */
import type { PubSub, Topic } from '@google-cloud/pubsub';

import type { ActivityRow } from '../db/activity.ts';

export interface ActivityPublisher {
  publish(row: ActivityRow): Promise<string>;
}

export function createActivityPublisher(pubsub: PubSub, topicName: string): ActivityPublisher {
  let topic: Topic | null = null;
  return {
    async publish(row) {
      topic ??= pubsub.topic(topicName);
      return topic.publishMessage({
        json: {
          id: row.id,
          shipmentId: row.shipmentId,
          accountId: row.accountId,
          kind: row.kind,
          title: row.title,
          details: row.details,
          occurredAt: row.occurredAt.toISOString(),
        },
        attributes: { shipmentId: row.shipmentId, kind: row.kind },
      });
    },
  };
}
