/**
 * Encryption at rest for clients' Gupshup credentials (`whatsapp_sender_connections.*_enc`):
 * AES-256-GCM with a fresh 12-byte random IV per value and the full 16-byte tag.
 *
 * A ciphertext reads `v1:<keyId>:<iv>:<tag>:<data>` (base64url parts). `keyId` is the first 8 hex
 * digits of sha256(key), so a value names the key that sealed it without revealing it: values are
 * sealed under CREDENTIALS_KEY and opened with CREDENTIALS_KEY or CREDENTIALS_KEY_PREVIOUS,
 * whichever the key id names. Rotation: set the new key as CREDENTIALS_KEY and the old one as
 * CREDENTIALS_KEY_PREVIOUS; every stored value keeps working, new values use the new key. Drop
 * the previous key only once no row still names it.
 *
 * The additional authenticated data binds each value to its account and column (see
 * `credentialAad`), plus the format version and key id, so a ciphertext copied into another
 * account's row or another column fails to open instead of sending with someone else's account.
 *
 * Nothing here logs, and no error message carries plaintext or key material.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

import type { Config } from './config.ts';

const VERSION = 'v1';
const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The encrypted columns of `whatsapp_sender_connections`, by their field name. */
export type CredentialColumn = 'userid' | 'password' | 'twoWayUserid' | 'twoWayPassword' | 'apiKey';

/** Seals one value, bound to `aad`; opens it only with the same `aad`. */
export interface CredentialCipher {
  /** Key id of CREDENTIALS_KEY, the key new values are sealed with. */
  readonly keyId: string;
  readonly encrypt: (plaintext: string, aad: string) => string;
  /** Throws CredentialError when the value is malformed, tampered with or under an unknown key. */
  readonly decrypt: (ciphertext: string, aad: string) => string;
}

export type CredentialErrorCode =
  'ERR_CREDENTIAL_FORMAT' | 'ERR_CREDENTIAL_UNKNOWN_KEY' | 'ERR_CREDENTIAL_AUTH';

export class CredentialError extends Error {
  constructor(
    readonly code: CredentialErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CredentialError';
  }
}

/**
 * What binds a stored credential to its row: the account, the connection and the column, so a
 * ciphertext copied to another row (of the same account too) does not open there. Rows sealed
 * before the connection id was part of it open with `legacyCredentialAad`.
 */
export function credentialAad(
  accountId: number,
  connectionId: number,
  column: CredentialColumn,
): string {
  return `whatsapp_sender_connections|account=${accountId}|connection=${connectionId}|${column}`;
}

/** The binding of credentials sealed before it named the connection: account and column. */
export function legacyCredentialAad(accountId: number, column: CredentialColumn): string {
  return `whatsapp_sender_connections|account=${accountId}|${column}`;
}

/** 64 hex digits, or exactly 32 bytes in base64 (44 characters, padded) or base64url (43). */
const HEX_KEY = /^[0-9a-fA-F]{64}$/;
const BASE64_KEY = /^(?:[A-Za-z0-9+/]{43}=|[A-Za-z0-9_-]{43})$/;

/** Whether a configured key is 32 bytes written one of the accepted ways (never a passphrase). */
export function isKeyText(text: string): boolean {
  return HEX_KEY.test(text) || BASE64_KEY.test(text);
}

/** A key as configured (config.ts has checked `isKeyText`). */
export function parseKey(text: string): Buffer {
  if (!isKeyText(text)) {
    throw new CredentialError(
      'ERR_CREDENTIAL_FORMAT',
      'a credentials key must be 32 bytes as 64 hex digits or base64',
    );
  }
  return HEX_KEY.test(text)
    ? Buffer.from(text, 'hex')
    : Buffer.from(text, text.includes('=') || /[+/]/.test(text) ? 'base64' : 'base64url');
}

export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/**
 * The cipher for the configured keys, or null when CREDENTIALS_KEY is not set: then clients'
 * own connections can neither be stored nor used (the platform default app still works).
 */
export function createCredentialCipher(
  config: Pick<Config, 'CREDENTIALS_KEY' | 'CREDENTIALS_KEY_PREVIOUS'>,
): CredentialCipher | null {
  if (!config.CREDENTIALS_KEY) {
    return null;
  }
  const current = parseKey(config.CREDENTIALS_KEY);
  const keyId = keyIdOf(current);
  const keys = new Map<string, Buffer>([[keyId, current]]);
  if (config.CREDENTIALS_KEY_PREVIOUS) {
    const previous = parseKey(config.CREDENTIALS_KEY_PREVIOUS);
    // The current key wins if both are the same (a rotation half done).
    if (!keys.has(keyIdOf(previous))) {
      keys.set(keyIdOf(previous), previous);
    }
  }

  const encrypt = (plaintext: string, aad: string): string => {
    // A random IV per value: with one key, an IV must never repeat (GCM's one catastrophe).
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, current, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(headerAad(keyId, aad));
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, keyId, b64(iv), b64(tag), b64(data)].join(':');
  };

  const decrypt = (ciphertext: string, aad: string): string => {
    const parts = ciphertext.split(':');
    const [version, id, ivText, tagText, dataText] = parts;
    if (
      parts.length !== 5 ||
      version !== VERSION ||
      id === undefined ||
      ivText === undefined ||
      tagText === undefined ||
      dataText === undefined
    ) {
      throw new CredentialError(
        'ERR_CREDENTIAL_FORMAT',
        `not a ${VERSION} credential ciphertext (expected ${VERSION}:<keyId>:<iv>:<tag>:<data>)`,
      );
    }
    const key = keys.get(id);
    if (!key) {
      throw new CredentialError(
        'ERR_CREDENTIAL_UNKNOWN_KEY',
        `the credential was sealed with key ${id}, but the configured keys are ${[...keys.keys()].join(', ')} (CREDENTIALS_KEY first, then CREDENTIALS_KEY_PREVIOUS)`,
      );
    }
    const iv = fromB64(ivText);
    const tag = fromB64(tagText);
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
      throw new CredentialError(
        'ERR_CREDENTIAL_FORMAT',
        'credential IV or tag has the wrong length',
      );
    }
    // authTagLength pins the tag to 16 bytes; without it Node accepts a truncated tag (DEP0182).
    const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(headerAad(id, aad));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(fromB64(dataText)), decipher.final()]).toString('utf8');
    } catch {
      throw new CredentialError(
        'ERR_CREDENTIAL_AUTH',
        'the credential failed authentication: it was altered or belongs to another account or column',
      );
    }
  };

  return { keyId, encrypt, decrypt };
}

/** The header is authenticated too, so a value cannot be relabelled with another key id. */
function headerAad(keyId: string, aad: string): Buffer {
  return Buffer.from(`${VERSION}|${keyId}|${aad}`, 'utf8');
}

function b64(bytes: Buffer): string {
  return bytes.toString('base64url');
}

function fromB64(text: string): Buffer {
  return Buffer.from(text, 'base64url');
}
