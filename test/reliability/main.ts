/**
 * `npm run test:reliability`: the reliability suite. Starts the service as production runs it
 * (separate `api,subscriber` and `worker` processes of the compiled build) against real servers,
 * plays Gupshup (the sandbox), the WMS (its stand-in) and the Pub/Sub publisher itself, runs each
 * scenario, prints one table of figures and writes it to test-results/reliability.json. Exits 0
 * only when every scenario's checks pass.
 *
 *   npm run test:reliability                 the full run (about 10 minutes)
 *   npm run test:reliability -- --reduced    fewer events, kills and bodies; every scenario
 *   npm run test:reliability -- --only crash,faults
 *
 * Servers: MySQL from TEST_MYSQL_URL (mysql://root@127.0.0.1:3306 by default), reached through a
 * TCP proxy the runner controls; a Redis of the run's own (redis-server on a free port, with
 * AOF); the Pub/Sub emulator at PUBSUB_EMULATOR_HOST (127.0.0.1:8085 by default).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { PROFILES, type Profile, type RunContext } from './lib/context.ts';
import { startRedisServer } from './lib/redis-server.ts';
import type { ScenarioResult } from './lib/result.ts';
import { LOG_DIR, type RunServers } from './lib/stack.ts';
import { startTcpProxy } from './lib/tcp-proxy.ts';
import { makeCustomers, type Customer } from './lib/traffic.ts';
import { duplicates } from './scenarios/duplicates.ts';
import { gupshupFaults } from './scenarios/gupshup-faults.ts';
import { hostileInput } from './scenarios/hostile-input.ts';
import { dataHygiene } from './scenarios/hygiene.ts';
import { loadWhileFailing } from './scenarios/load.ts';
import { mysqlOutage } from './scenarios/mysql-outage.ts';
import { redisRestart } from './scenarios/redis-restart.ts';
import { workerCrash } from './scenarios/worker-crash.ts';

process.env.PUBSUB_EMULATOR_HOST ??= '127.0.0.1:8085';
process.env.METADATA_SERVER_DETECTION ??= 'none';

const everyone: Customer[] = [];
const SCENARIOS: Record<string, (ctx: RunContext) => Promise<ScenarioResult>> = {
  crash: workerCrash,
  redis: redisRestart,
  mysql: mysqlOutage,
  faults: gupshupFaults,
  duplicates,
  hostile: hostileInput,
  load: loadWhileFailing,
  // Last: it searches what every scenario before it left behind.
  hygiene: (ctx) => dataHygiene(ctx, everyone),
};

const { values } = parseArgs({
  options: {
    reduced: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
const profile: Profile = PROFILES[values.reduced ? 'reduced' : 'full'];
const chosen = values.only ? values.only.split(',').map((s) => s.trim()) : Object.keys(SCENARIOS);
const unknown = chosen.filter((name) => !SCENARIOS[name]);
if (unknown.length) {
  console.error(
    `unknown scenario(s): ${unknown.join(', ')}; known: ${Object.keys(SCENARIOS).join(', ')}`,
  );
  process.exit(2);
}

const mysqlUrl = new URL(
  (process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306').replace(/\/+$/, ''),
);
rmSync(LOG_DIR, { recursive: true, force: true });
mkdirSync(LOG_DIR, { recursive: true });

const redis = await startRedisServer();
const mysqlProxy = await startTcpProxy({
  host: mysqlUrl.hostname,
  port: Number(mysqlUrl.port || 3306),
});
const proxied = new URL(mysqlUrl);
proxied.hostname = '127.0.0.1';
proxied.port = String(mysqlProxy.port);
const servers: RunServers = {
  redisUrl: redis.url,
  mysqlUrl: proxied.toString().replace(/\/+$/, ''),
  mysqlDirectUrl: mysqlUrl.toString().replace(/\/+$/, ''),
  emulatorHost: process.env.PUBSUB_EMULATOR_HOST,
  projectId: process.env.PUBSUB_PROJECT_ID ?? 'local-project',
};

let base = 0;
const ctx: RunContext = {
  servers,
  redis,
  mysqlProxy,
  profile,
  customers(scenario, count) {
    const list = makeCustomers(scenario, count, base);
    base += count;
    everyone.push(...list);
    return list;
  },
};

const results: ScenarioResult[] = [];
const runStarted = Date.now();
try {
  for (const name of chosen) {
    console.log(`\n▶ ${name} (${profile.name})`);
    const started = Date.now();
    try {
      const result = await SCENARIOS[name]!(ctx);
      results.push(result);
      printResult(result);
    } catch (err) {
      const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
      console.error(`  scenario ${name} broke: ${message}`);
      results.push({
        scenario: name,
        title: name,
        seconds: Math.round((Date.now() - started) / 1000),
        figures: {},
        checks: [
          { what: 'the scenario ran to its end', pass: false, detail: message.split('\n')[0]! },
        ],
      });
    }
  }
} finally {
  await mysqlProxy.close();
  await redis.stop();
}

const failed = results.flatMap((r) =>
  r.checks.filter((c) => !c.pass).map((c) => ({ ...c, scenario: r.scenario })),
);
const report = {
  profile: profile.name,
  at: new Date().toISOString(),
  seconds: Math.round((Date.now() - runStarted) / 1000),
  node: process.version,
  passed: failed.length === 0,
  scenarios: results,
};
mkdirSync('test-results', { recursive: true });
writeFileSync('test-results/reliability.json', `${JSON.stringify(report, null, 2)}\n`);
printTable(results);
console.log(
  failed.length === 0
    ? `\nreliability (${profile.name}): every check passed in ${report.seconds} s; figures in test-results/reliability.json`
    : `\nreliability (${profile.name}): ${failed.length} check(s) failed:\n${failed.map((f) => `  ${f.scenario}: ${f.what} (${f.detail})`).join('\n')}`,
);
process.exit(failed.length === 0 ? 0 : 1);

function printResult(result: ScenarioResult): void {
  const figures = Object.entries(result.figures)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  console.log(`  ${figures}`);
  for (const c of result.checks) {
    console.log(`  ${c.pass ? 'ok  ' : 'FAIL'} ${c.what}: ${c.detail}`);
  }
}

function printTable(list: ScenarioResult[]): void {
  const rows = list.map((r) => [
    r.title,
    Object.entries(r.figures)
      .map(([k, v]) => `${k} ${v}`)
      .join(', '),
    `${r.seconds} s`,
    r.checks.every((c) => c.pass) ? 'pass' : 'FAIL',
  ]);
  const header = ['scenario', 'figures', 'time', 'result'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(' │ ');
  console.log(`\n${line(header)}\n${widths.map((w) => '─'.repeat(w)).join('─┼─')}`);
  for (const row of rows) {
    console.log(line(row));
  }
}
