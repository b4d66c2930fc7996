/**
 * Resolves a sender connection id to what a send needs. `default` is the platform's own Gupshup
 * app, configured by environment; clients' own apps live in `whatsapp_sender_connections`.
 */
import { and, eq } from 'drizzle-orm';

import type { Config } from './config.ts';
import {
  CredentialError,
  credentialAad,
  type CredentialCipher,
  type CredentialColumn,
} from './credentials.ts';
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
  /** The self-serve API key, when the client gave one (template lists); never for sends. */
  apiKey: string | null;
}

export type SenderLookup =
  | { ok: true; sender: Sender }
  | {
      ok: false;
      code: 'sender_not_configured' | 'sender_not_found' | 'sender_credentials_unreadable';
      reason: string;
    };

export async function resolveSender(
  config: Config,
  db: Db,
  accountId: number,
  connectionId: string,
  decrypt: CredentialCipher['decrypt'] | null,
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
        apiKey: null,
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
  // Each value is bound to this account and column: a ciphertext moved between rows won't open.
  const open = (ciphertext: string, column: CredentialColumn) =>
    decrypt(ciphertext, credentialAad(accountId, column));
  try {
    const userid = open(row.useridEnc, 'userid');
    const password = open(row.passwordEnc, 'password');
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
            ? {
                userid: open(row.twoWayUseridEnc, 'twoWayUserid'),
                password: open(row.twoWayPasswordEnc, 'twoWayPassword'),
              }
            : { userid, password },
        apiKey: row.apiKeyEnc ? open(row.apiKeyEnc, 'apiKey') : null,
      },
    };
  } catch (err) {
    if (err instanceof CredentialError) {
      return {
        ok: false,
        code: 'sender_credentials_unreadable',
        reason: `the credentials of sender connection ${connectionId} cannot be decrypted: ${err.message}`,
      };
    }
    throw err;
  }
}
