/**
 * Topic and subscription set-up. Against the emulator the service creates what it uses; in
 * production they are provisioned outside the service and only looked up.
 */
import type { PubSub, Subscription, Topic } from '@google-cloud/pubsub';

export async function ensureTopic(pubsub: PubSub, name: string): Promise<Topic> {
  const [topic] = await pubsub.topic(name).get({ autoCreate: true });
  return topic;
}

export async function ensureSubscription(
  pubsub: PubSub,
  topicName: string,
  subscriptionName: string,
): Promise<Subscription> {
  const topic = await ensureTopic(pubsub, topicName);
  const subscription = topic.subscription(subscriptionName);
  const [exists] = await subscription.exists();
  if (!exists) {
    try {
      await topic.createSubscription(subscriptionName, { ackDeadlineSeconds: 30 });
    } catch (err) {
      // Another replica created it first.
      if ((err as { code?: number }).code !== 6) {
        throw err;
      }
    }
  }
  return subscription;
}
