/** What every scenario gets: the run's servers, its profile, and where to note personal data. */
import type { RedisServer } from './redis-server.ts';
import type { RunServers } from './stack.ts';
import type { TcpProxy } from './tcp-proxy.ts';
import type { Customer } from './traffic.ts';

export interface Profile {
  name: 'full' | 'reduced';
  crash: { events: number; kills: number };
  redis: { events: number; rate: number; downMs: number };
  mysql: { events: number; rate: number; cutMs: number };
  faults: { events: number; rate: number; faultRate: number; permanent: number };
  duplicates: { events: number; replies: number };
  hostile: { runs: number };
  load: { rate: number; seconds: number; faultRate: number; killEveryMs: [number, number] };
  /** How long a scenario may take to settle once its traffic is out. */
  settleTimeoutMs: number;
}

export const PROFILES: Record<Profile['name'], Profile> = {
  full: {
    name: 'full',
    crash: { events: 2_000, kills: 20 },
    redis: { events: 2_000, rate: 100, downMs: 3_000 },
    mysql: { events: 2_000, rate: 40, cutMs: 30_000 },
    faults: { events: 2_000, rate: 200, faultRate: 0.3, permanent: 5 },
    duplicates: { events: 1_000, replies: 100 },
    hostile: { runs: 10_000 },
    load: { rate: 100, seconds: 60, faultRate: 0.3, killEveryMs: [4_000, 8_000] },
    settleTimeoutMs: 240_000,
  },
  reduced: {
    name: 'reduced',
    crash: { events: 300, kills: 5 },
    redis: { events: 300, rate: 60, downMs: 2_000 },
    mysql: { events: 300, rate: 25, cutMs: 8_000 },
    faults: { events: 300, rate: 100, faultRate: 0.3, permanent: 3 },
    duplicates: { events: 150, replies: 30 },
    hostile: { runs: 1_000 },
    load: { rate: 30, seconds: 15, faultRate: 0.3, killEveryMs: [3_000, 5_000] },
    settleTimeoutMs: 120_000,
  },
};

export interface RunContext {
  servers: RunServers;
  redis: RedisServer;
  mysqlProxy: TcpProxy;
  profile: Profile;
  /** Customers of a scenario: distinct numbers across the run; their data is searched for. */
  customers(scenario: string, count: number): Customer[];
}
