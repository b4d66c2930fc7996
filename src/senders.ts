/**
 * Resolves a sender connection id to what a send needs. `default` is the platform's own Gupshup
 * app, configured by environment (Enterprise or self-serve, GUPSHUP_DEFAULT_API); clients' own
 * apps live in `whatsapp_sender_connections`, each with the API it uses (`api`) and its
 * credentials encrypted.
 */

import type { Config } from './config.ts';
import {
  CredentialError,
  credentialAad,
  legacyCredentialAad,
  type CredentialCipher,
  type CredentialColumn,
} from './credentials.ts';
import type { Db } from './db/client.ts';
import { findAccountConnection } from './db/connections.ts';
import { DEFAULT_CONNECTION_ID } from './db/settings.ts';
import type { GupshupAccount } from './gupshup/types.ts';

export interface Sender {
  connectionId: string;
  appName: string;
  waNumber: string;
  /** Which Gupshup API the connection uses, and its credentials. */
  account: GupshupAccount;
  /**
   * The self-serve API key, when there is one: a self-serve connection's own key, or the key an
   * Enterprise client gave to read its template list.
   */
  apiKey: string | null;
  /** The connection's own sends-per-second limit; null: GUPSHUP_SENDER_MAX_PER_SECOND. */
  maxPerSecond: number | null;
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
    return defaultSender(config);
  }
  const id = Number(connectionId);
  const row = Number.isInteger(id) ? await findAccountConnection(db, accountId, id) : null;
  if (!row || !decrypt) {
    return {
      ok: false,
      code: 'sender_not_found',
      reason: `sender connection ${connectionId} is not available for account ${accountId}`,
    };
  }
  // Each value is bound to this account, connection and column: a ciphertext moved to another
  // row won't open. Values sealed before the binding named the connection open the old way.
  const open = (ciphertext: string, column: CredentialColumn) => {
    try {
      return decrypt(ciphertext, credentialAad(accountId, row.id, column));
    } catch (err) {
      if (err instanceof CredentialError) {
        return decrypt(ciphertext, legacyCredentialAad(accountId, column));
      }
      throw err;
    }
  };
  const unreadable = (why: string): SenderLookup => ({
    ok: false,
    code: 'sender_credentials_unreadable',
    reason: `the credentials of sender connection ${connectionId} cannot be used: ${why}`,
  });
  try {
    const apiKey = row.apiKeyEnc ? open(row.apiKeyEnc, 'apiKey') : null;
    if (row.api === 'self-serve') {
      if (!apiKey) {
        return unreadable('a self-serve connection without an API key');
      }
      return {
        ok: true,
        sender: {
          connectionId,
          appName: row.appName,
          waNumber: row.waNumber,
          account: { api: 'self-serve', apiKey, appName: row.appName, waNumber: row.waNumber },
          apiKey,
          maxPerSecond: row.maxPerSecond,
        },
      };
    }
    if (!row.useridEnc || !row.passwordEnc) {
      return unreadable('an Enterprise connection without userid and password');
    }
    const hsm = {
      userid: open(row.useridEnc, 'userid'),
      password: open(row.passwordEnc, 'password'),
    };
    return {
      ok: true,
      sender: {
        connectionId,
        appName: row.appName,
        waNumber: row.waNumber,
        account: {
          api: 'enterprise',
          hsm,
          twoWay:
            row.twoWayUseridEnc && row.twoWayPasswordEnc
              ? {
                  userid: open(row.twoWayUseridEnc, 'twoWayUserid'),
                  password: open(row.twoWayPasswordEnc, 'twoWayPassword'),
                }
              : hsm,
        },
        apiKey,
        maxPerSecond: row.maxPerSecond,
      },
    };
  } catch (err) {
    if (err instanceof CredentialError) {
      return unreadable(`they cannot be decrypted: ${err.message}`);
    }
    throw err;
  }
}

/** The platform's own app, from GUPSHUP_DEFAULT_*: Enterprise or self-serve (GUPSHUP_DEFAULT_API). */
function defaultSender(config: Config): SenderLookup {
  const base = {
    connectionId: DEFAULT_CONNECTION_ID,
    appName: config.GUPSHUP_DEFAULT_APP_NAME,
    waNumber: config.GUPSHUP_DEFAULT_WA_NUMBER ?? '',
    maxPerSecond: null,
  };
  if (config.GUPSHUP_DEFAULT_API === 'self-serve') {
    const apiKey = config.GUPSHUP_DEFAULT_API_KEY;
    if (!apiKey || !config.GUPSHUP_DEFAULT_WA_NUMBER) {
      return {
        ok: false,
        code: 'sender_not_configured',
        reason:
          'the default Gupshup app (self-serve) has no GUPSHUP_DEFAULT_API_KEY/GUPSHUP_DEFAULT_WA_NUMBER',
      };
    }
    return {
      ok: true,
      sender: {
        ...base,
        account: { api: 'self-serve', apiKey, appName: base.appName, waNumber: base.waNumber },
        apiKey,
      },
    };
  }
  const { GUPSHUP_DEFAULT_USERID: userid, GUPSHUP_DEFAULT_PASSWORD: password } = config;
  if (!userid || !password) {
    return {
      ok: false,
      code: 'sender_not_configured',
      reason: 'the default Gupshup app has no GUPSHUP_DEFAULT_USERID/GUPSHUP_DEFAULT_PASSWORD',
    };
  }
  const hsm = { userid, password };
  return {
    ok: true,
    sender: {
      ...base,
      account: {
        api: 'enterprise',
        hsm,
        twoWay:
          config.GUPSHUP_DEFAULT_TWO_WAY_USERID && config.GUPSHUP_DEFAULT_TWO_WAY_PASSWORD
            ? {
                userid: config.GUPSHUP_DEFAULT_TWO_WAY_USERID,
                password: config.GUPSHUP_DEFAULT_TWO_WAY_PASSWORD,
              }
            : hsm,
      },
      apiKey: config.GUPSHUP_DEFAULT_API_KEY ?? null,
    },
  };
}

/** Whether the platform app has what it needs to send (for the connections list). */
export function defaultSenderUsable(config: Config): boolean {
  return defaultSender(config).ok;
}
