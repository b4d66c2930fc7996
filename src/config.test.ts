import { describe, expect, it } from 'vitest';

import { ConfigError, loadConfig, relaxations } from './config.ts';

const STRONG = {
  API_TOKEN: 'a'.repeat(24),
  WEBHOOK_TOKEN: 'w'.repeat(24),
  CREDENTIALS_KEY: Buffer.alloc(32, 7).toString('base64'),
  TRACK_LINK_SECRET: 't'.repeat(24),
};

describe('loadConfig', () => {
  it('is strict by default: an unset NODE_ENV is production, and wants its secrets', () => {
    let error: unknown;
    try {
      loadConfig({});
    } catch (err) {
      error = err;
    }
    expect((error as ConfigError).problems).toEqual([
      'API_TOKEN: required when NODE_ENV=production',
      'WEBHOOK_TOKEN: required when NODE_ENV=production',
      'CREDENTIALS_KEY: required when NODE_ENV=production',
      'TRACK_LINK_SECRET: required when NODE_ENV=production',
    ]);
    expect(() => loadConfig({ ...STRONG, API_TOKEN: 'short' })).toThrow(/API_TOKEN: at least 24/);
    expect(loadConfig(STRONG).NODE_ENV).toBe('production');
    expect(relaxations(loadConfig(STRONG))).toEqual([]);
  });

  it('names each relaxation of a development configuration', () => {
    expect(relaxations(loadConfig({ NODE_ENV: 'development' }))).toEqual([
      'runs without API_TOKEN, WEBHOOK_TOKEN, CREDENTIALS_KEY, TRACK_LINK_SECRET',
      'signs tracked links and postbacks with a fixed development secret',
      'POST /pubsub/push takes unauthenticated requests',
      'secrets shorter than 24 characters are accepted',
    ]);
    expect(relaxations(loadConfig({ NODE_ENV: 'test', ...STRONG }))).toEqual([
      'POST /pubsub/push takes unauthenticated requests',
      'secrets shorter than 24 characters are accepted',
    ]);
  });

  it('requires the push service account whenever push authentication is on', () => {
    expect(() =>
      loadConfig({ NODE_ENV: 'development', PUBSUB_PUSH_AUDIENCE: 'https://wa.example.test/push' }),
    ).toThrow(/PUBSUB_PUSH_SERVICE_ACCOUNT: required with PUBSUB_PUSH_AUDIENCE/);
    expect(
      loadConfig({
        NODE_ENV: 'development',
        PUBSUB_PUSH_AUDIENCE: 'https://wa.example.test/push',
        PUBSUB_PUSH_SERVICE_ACCOUNT: 'pusher@project.iam.gserviceaccount.com',
      }).PUBSUB_PUSH_SERVICE_ACCOUNT,
    ).toBe('pusher@project.iam.gserviceaccount.com');
  });

  it('fills defaults for everything optional', () => {
    const config = loadConfig({ NODE_ENV: 'development' });
    expect(config.PORT).toBe(3000);
    expect(config.ROLES).toEqual(['api', 'worker', 'subscriber']);
    expect(config.GUPSHUP_ENTERPRISE_URL).toBe('https://media.smsgupshup.com/GatewayAPI/rest');
    expect(config.GUPSHUP_DEFAULT_APP_NAME).toBe('eshopbox');
    expect(config.DB_MIGRATE_ON_START).toBe(true);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('parses numbers, booleans, lists and URLs', () => {
    const config = loadConfig({
      NODE_ENV: 'development',
      PORT: '8080',
      DB_MIGRATE_ON_START: 'false',
      ROLES: 'api, worker',
      WMS_API_URL: 'http://wms.internal:9000/',
      GUPSHUP_MAX_PER_SECOND: '5',
    });
    expect(config.PORT).toBe(8080);
    expect(config.DB_MIGRATE_ON_START).toBe(false);
    expect(config.ROLES).toEqual(['api', 'worker']);
    expect(config.WMS_API_URL).toBe('http://wms.internal:9000');
    expect(config.GUPSHUP_MAX_PER_SECOND).toBe(5);
  });

  it('reports every bad variable in one error', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        REDIS_URL: 'not a url',
        DATABASE_URL: 'postgres://x',
        ROLES: 'api,cron',
        GUPSHUP_MAX_PER_SECOND: '0',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const key of ['PORT', 'REDIS_URL', 'DATABASE_URL', 'ROLES', 'GUPSHUP_MAX_PER_SECOND']) {
      expect(problems).toContain(key);
    }
  });

  it('requires secrets in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(
      /API_TOKEN.*\n.*WEBHOOK_TOKEN.*\n.*CREDENTIALS_KEY/s,
    );
  });

  it('refuses short secrets in production, listing each', () => {
    const strong = 'x'.repeat(24);
    const base = {
      NODE_ENV: 'production',
      API_TOKEN: strong,
      WEBHOOK_TOKEN: strong,
      CREDENTIALS_KEY: Buffer.alloc(32, 7).toString('base64'),
      TRACK_LINK_SECRET: strong,
    };
    expect(loadConfig(base).API_TOKEN).toBe(strong);
    let error: unknown;
    try {
      loadConfig({
        ...base,
        API_TOKEN: 'short',
        ADMIN_USER: 'ops',
        ADMIN_PASSWORD: 'x'.repeat(23),
      });
    } catch (err) {
      error = err;
    }
    expect((error as ConfigError).problems).toEqual([
      'API_TOKEN: at least 24 characters when NODE_ENV=production (e.g. openssl rand -base64 24)',
      'ADMIN_PASSWORD: at least 24 characters when NODE_ENV=production (e.g. openssl rand -base64 24)',
    ]);
    // Outside production, short development values still work.
    expect(loadConfig({ NODE_ENV: 'development', API_TOKEN: 'dev' }).API_TOKEN).toBe('dev');
  });

  it('wants both admin credentials or neither', () => {
    expect(() => loadConfig({ NODE_ENV: 'development', ADMIN_USER: 'ops' })).toThrow(
      /ADMIN_USER and ADMIN_PASSWORD/,
    );
  });
});
