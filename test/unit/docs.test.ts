/** The README and .env.example stay true to the configuration schema. */
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { ConfigSchema, loadConfig } from '../../src/config.ts';
import { ACCESS_WORDS, accessOf } from '../../src/http/access.ts';

const read = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
const variables = Object.keys(ConfigSchema.entries);

describe('documentation', () => {
  it("the README's route table says of each route who may call it, as the service does", () => {
    const readme = read('README.md');
    const table = readme.slice(readme.indexOf('## HTTP routes'));
    const rows = [...table.matchAll(/^\| `([A-Z]+) (\/[^`]*)` +\| (.+?) +\|/gm)];
    expect(rows.length).toBeGreaterThan(15);
    for (const [, method, url, auth] of rows) {
      expect(auth, `${method} ${url}`).toBe(ACCESS_WORDS[accessOf(method!, url!)]);
    }
  });

  it('the README names every environment variable', () => {
    const readme = read('README.md');
    const missing = variables.filter((name) => !readme.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });

  it('.env.example lists every environment variable', () => {
    const example = read('.env.example');
    const missing = variables.filter((name) => !new RegExp(`^#? ?${name}=`, 'm').test(example));
    expect(missing).toEqual([]);
  });

  it('.env.example is a valid configuration as it stands', () => {
    const env: Record<string, string> = {};
    for (const line of read('.env.example').split('\n')) {
      const match = /^([A-Z0-9_]+)=(.*)$/.exec(line);
      if (match) {
        env[match[1]!] = match[2]!;
      }
    }
    expect(() => loadConfig(env)).not.toThrow();
  });

  it('the README gives the test command CI runs', () => {
    expect(read('README.md')).toContain('npm test');
    expect(read('.ci/run')).toMatch(/npm test/);
  });
});
