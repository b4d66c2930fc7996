import { randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import {
  createCredentialCipher,
  CredentialError,
  credentialAad,
  keyIdOf,
  isKeyText,
  legacyCredentialAad,
  parseKey,
} from './credentials.ts';

const KEY_A = randomBytes(32).toString('base64');
const KEY_B = randomBytes(32).toString('hex');
const AAD = credentialAad(379, 12, 'password');

function cipherFor(current: string, previous?: string) {
  const cipher = createCredentialCipher({
    CREDENTIALS_KEY: current,
    CREDENTIALS_KEY_PREVIOUS: previous,
  });
  if (!cipher) {
    throw new Error('expected a cipher');
  }
  return cipher;
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof CredentialError) {
      return err.code;
    }
    throw err;
  }
  return 'no error';
}

describe('credential cipher', () => {
  it('is null without CREDENTIALS_KEY', () => {
    expect(
      createCredentialCipher({ CREDENTIALS_KEY: undefined, CREDENTIALS_KEY_PREVIOUS: KEY_A }),
    ).toBeNull();
  });

  it('round-trips, in the v1:<keyId>:<iv>:<tag>:<data> format, with a fresh IV each time', () => {
    const cipher = cipherFor(KEY_A);
    const sealed = cipher.encrypt('MkTfyQjA', AAD);
    const parts = sealed.split(':');
    expect(parts).toHaveLength(5);
    expect(parts[0]).toBe('v1');
    expect(parts[1]).toBe(keyIdOf(parseKey(KEY_A)));
    expect(parts[1]).toMatch(/^[0-9a-f]{8}$/);
    expect(Buffer.from(parts[2]!, 'base64url')).toHaveLength(12);
    expect(Buffer.from(parts[3]!, 'base64url')).toHaveLength(16);
    expect(sealed).not.toContain('MkTfyQjA');
    expect(cipher.decrypt(sealed, AAD)).toBe('MkTfyQjA');
    expect(cipher.encrypt('MkTfyQjA', AAD)).not.toBe(sealed);
    expect(cipher.decrypt(cipher.encrypt('', AAD), AAD)).toBe('');
    expect(cipher.decrypt(cipher.encrypt('pässwörd ✓', AAD), AAD)).toBe('pässwörd ✓');
  });

  it('accepts hex and base64 keys', () => {
    const cipher = cipherFor(KEY_B);
    expect(cipher.decrypt(cipher.encrypt('x', AAD), AAD)).toBe('x');
    expect(cipher.keyId).toBe(keyIdOf(Buffer.from(KEY_B, 'hex')));
    const bytes = randomBytes(32);
    expect(parseKey(bytes.toString('base64'))).toEqual(bytes);
    expect(parseKey(bytes.toString('base64url'))).toEqual(bytes);
  });

  it('refuses anything that is not exactly 32 bytes written as hex or base64', () => {
    for (const bad of [
      'correct horse battery staple, a passphrase',
      randomBytes(31).toString('base64'),
      randomBytes(33).toString('base64'),
      `${randomBytes(32).toString('base64').slice(0, -2)}!=`,
      ` ${randomBytes(32).toString('base64')}`,
    ]) {
      expect(isKeyText(bad), bad).toBe(false);
      expect(codeOf(() => parseKey(bad))).toBe('ERR_CREDENTIAL_FORMAT');
    }
  });

  it('refuses a tampered ciphertext, tag or IV', () => {
    const cipher = cipherFor(KEY_A);
    const [version, id, iv, tag, data] = cipher.encrypt('secret-password', AAD).split(':') as [
      string,
      string,
      string,
      string,
      string,
    ];
    const flip = (b64: string) => {
      const bytes = Buffer.from(b64, 'base64url');
      bytes[0] = bytes[0]! ^ 1;
      return bytes.toString('base64url');
    };
    expect(codeOf(() => cipher.decrypt([version, id, iv, tag, flip(data)].join(':'), AAD))).toBe(
      'ERR_CREDENTIAL_AUTH',
    );
    expect(codeOf(() => cipher.decrypt([version, id, iv, flip(tag), data].join(':'), AAD))).toBe(
      'ERR_CREDENTIAL_AUTH',
    );
    expect(codeOf(() => cipher.decrypt([version, id, flip(iv), tag, data].join(':'), AAD))).toBe(
      'ERR_CREDENTIAL_AUTH',
    );
  });

  it('refuses a truncated tag instead of checking fewer bytes', () => {
    const cipher = cipherFor(KEY_A);
    const [version, id, iv, tag, data] = cipher.encrypt('secret', AAD).split(':') as [
      string,
      string,
      string,
      string,
      string,
    ];
    const short = Buffer.from(tag, 'base64url').subarray(0, 4).toString('base64url');
    expect(codeOf(() => cipher.decrypt([version, id, iv, short, data].join(':'), AAD))).toBe(
      'ERR_CREDENTIAL_FORMAT',
    );
  });

  it('refuses a value moved to another account, connection or column (wrong AAD)', () => {
    const cipher = cipherFor(KEY_A);
    const sealed = cipher.encrypt('secret', AAD);
    for (const other of [
      credentialAad(380, 12, 'password'),
      credentialAad(379, 13, 'password'),
      credentialAad(379, 12, 'userid'),
      legacyCredentialAad(379, 'password'),
    ]) {
      expect(codeOf(() => cipher.decrypt(sealed, other))).toBe('ERR_CREDENTIAL_AUTH');
    }
  });

  it('opens values sealed under the previous key after a rotation, and seals with the new one', () => {
    const old = cipherFor(KEY_A);
    const sealed = old.encrypt('secret', AAD);
    const rotated = cipherFor(KEY_B, KEY_A);
    expect(rotated.decrypt(sealed, AAD)).toBe('secret');
    const resealed = rotated.encrypt('secret', AAD);
    expect(resealed.split(':')[1]).toBe(keyIdOf(Buffer.from(KEY_B, 'hex')));
    expect(codeOf(() => old.decrypt(resealed, AAD))).toBe('ERR_CREDENTIAL_UNKNOWN_KEY');
  });

  it('says which key is missing when the key id is unknown', () => {
    const sealed = cipherFor(KEY_A).encrypt('secret', AAD);
    const other = cipherFor(KEY_B);
    expect(() => other.decrypt(sealed, AAD)).toThrow(
      new RegExp(
        `sealed with key ${keyIdOf(parseKey(KEY_A))}, but the configured keys are ${other.keyId}`,
      ),
    );
  });

  it('refuses a relabelled key id (the header is authenticated)', () => {
    const both = cipherFor(KEY_B, KEY_A);
    const sealed = cipherFor(KEY_A).encrypt('secret', AAD);
    const relabelled = sealed.replace(`:${keyIdOf(parseKey(KEY_A))}:`, `:${both.keyId}:`);
    expect(codeOf(() => both.decrypt(relabelled, AAD))).toBe('ERR_CREDENTIAL_AUTH');
  });

  it('refuses malformed values', () => {
    const cipher = cipherFor(KEY_A);
    expect(codeOf(() => cipher.decrypt('plaintext-password', AAD))).toBe('ERR_CREDENTIAL_FORMAT');
    expect(codeOf(() => cipher.decrypt('v2:a:b:c:d', AAD))).toBe('ERR_CREDENTIAL_FORMAT');
  });
});
