/** Delivers an FDR event through the push endpoint, as a Pub/Sub push subscription would. */
import { expect } from 'vitest';

import type { Service } from '../../src/service.ts';

export async function pushFdr(service: Service, event: unknown, messageId?: string): Promise<void> {
  const res = await service.app!.inject({
    method: 'POST',
    url: '/pubsub/push',
    payload: {
      message: {
        data: Buffer.from(JSON.stringify(event)).toString('base64'),
        ...(messageId ? { messageId } : {}),
      },
    },
  });
  expect(res.statusCode).toBe(204);
}
