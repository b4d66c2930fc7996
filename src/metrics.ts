/**
 * Prometheus metrics, one registry per process (per `Deps`, so several services in one test
 * process do not collide). Served at `/metrics`.
 */
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  /** Inbound messages from numbers the service never wrote to (ignored, not stored). */
  unknownSenderReplies: Counter;
  /** Customer replies by inbound type and what was done with them. */
  replies: Counter<'type' | 'outcome'>;
  /** Webhook requests by outcome (accepted, unauthorized, invalid, unavailable). */
  webhookRequests: Counter<'outcome'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    unknownSenderReplies: new Counter({
      name: 'whatsapp_inbound_unknown_sender_total',
      help: 'Inbound WhatsApp messages from numbers the service never messaged (ignored)',
      registers: [registry],
    }),
    replies: new Counter({
      name: 'whatsapp_replies_total',
      help: 'Customer replies by inbound type and outcome',
      labelNames: ['type', 'outcome'],
      registers: [registry],
    }),
    webhookRequests: new Counter({
      name: 'whatsapp_webhook_requests_total',
      help: 'Gupshup webhook requests by outcome',
      labelNames: ['outcome'],
      registers: [registry],
    }),
  };
}
