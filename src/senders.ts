/**
 * Resolves a sender connection id to what a send needs. `default` is the platform's own Gupshup
 * app, configured by environment; clients' own apps live in `whatsapp_sender_connections`.
 */
import { and, eq } from 'drizzle-orm';

import type { Config } from './config.ts';
import type { Db } from './db/client.ts';
import { whatsappSenderConnections } from './db/schema.ts';
import { DEFAULT_CONNECTION_ID } from './db/settings.ts';

export interface Sender {
  connectionId: string;
  appName: string;
  waNumber: string;
  userid: string;
  password: string;
  /** The two-way account, for session (follow-up) messages; the HSM account when there is none. */
  twoWay: { userid: string; password: string };
}

export type SenderLookup =
  | { ok: true; sender: Sender }
  | { ok: false; code: 'sender_not_configured' | 'sender_not_found'; reason: string };

export async function resolveSender(
  config: Config,
  db: Db,
  accountId: number,
  connectionId: string,
  decrypt: ((ciphertext: string) => string) | null,
): Promise<SenderLookup> {
  if (connectionId === DEFAULT_CONNECTION_ID) {
    const { GUPSHUP_DEFAULT_USERID: userid, GUPSHUP_DEFAULT_PASSWORD: password } = config;
    if (!userid || !password) {
      return {
        ok: false,
        code: 'sender_not_configured',
        reason: 'the default Gupshup app has no GUPSHUP_DEFAULT_USERID/GUPSHUP_DEFAULT_PASSWORD',
      };
    }
    return {
      ok: true,
      sender: {
        connectionId,
        appName: config.GUPSHUP_DEFAULT_APP_NAME,
        waNumber: config.GUPSHUP_DEFAULT_WA_NUMBER ?? '',
        userid,
        password,
        twoWay:
          config.GUPSHUP_DEFAULT_TWO_WAY_USERID && config.GUPSHUP_DEFAULT_TWO_WAY_PASSWORD
            ? {
                userid: config.GUPSHUP_DEFAULT_TWO_WAY_USERID,
                password: config.GUPSHUP_DEFAULT_TWO_WAY_PASSWORD,
              }
            : { userid, password },
      },
    };
  }
  const id = Number(connectionId);
  const [row] = Number.isInteger(id)
    ? await db
        .select()
        .from(whatsappSenderConnections)
        .where(
          and(
            eq(whatsappSenderConnections.id, id),
            eq(whatsappSenderConnections.accountId, accountId),
          ),
        )
    : [];
  if (!row || !decrypt) {
    return {
      ok: false,
      code: 'sender_not_found',
      reason: `sender connection ${connectionId} is not available for account ${accountId}`,
    };
  }
  const userid = decrypt(row.useridEnc);
  const password = decrypt(row.passwordEnc);
  return {
    ok: true,
    sender: {
      connectionId,
      appName: row.appName,
      waNumber: row.waNumber,
      userid,
      password,
      twoWay:
        row.twoWayUseridEnc && row.twoWayPasswordEnc
          ? { userid: decrypt(row.twoWayUseridEnc), password: decrypt(row.twoWayPasswordEnc) }
          : { userid, password },
    },
  };
}
