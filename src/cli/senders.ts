/**
 * `wa-notify sender list` and `wa-notify sender resume <connection>`: the sender connections the
 * provider error table paused (credentials refused, credit exhausted; src/sender-pause.ts) or
 * slowed down (throttled; src/sender-pace.ts), and resuming a paused one, which wakes the
 * messages that waited on it (each is still sent once: its outbox row decides).
 */
import type { Deps } from '../deps.ts';
import { createSenderPace } from '../sender-pace.ts';
import { createSenderPause, resumeSender } from '../sender-pause.ts';
import { renderTable } from './output.ts';

export interface SenderRow {
  connection: string;
  paused: boolean;
  /** Sends per second it may make now. */
  perSecond: number;
  pausedSince: string | null;
  /** The next probe send (ISO), while paused. */
  probeAt: string | null;
  /** Messages waiting on the pause. */
  waiting: number;
  code: string | null;
  reason: string | null;
}

function tools(deps: Deps) {
  const { config, redis } = deps;
  return {
    pace: createSenderPace(redis, config.QUEUE_PREFIX, config.GUPSHUP_SENDER_MAX_PER_SECOND),
    pause: createSenderPause(redis, config.QUEUE_PREFIX, config.SENDER_PAUSE_PROBE_MS),
  };
}

export async function listSenders(deps: Deps): Promise<SenderRow[]> {
  const { pace, pause } = tools(deps);
  const [paces, paused] = await Promise.all([pace.paces(), pause.list()]);
  const byConnection = new Map(paused.map((p) => [p.connection, p]));
  const connections = [...new Set([...paces.keys(), ...byConnection.keys()])].sort();
  const configured = deps.config.GUPSHUP_SENDER_MAX_PER_SECOND;
  return connections.map((connection) => {
    const p = byConnection.get(connection);
    return {
      connection,
      paused: p !== undefined,
      perSecond: paces.get(connection) ?? configured,
      pausedSince: p ? new Date(p.since).toISOString() : null,
      probeAt: p ? new Date(p.probeAt).toISOString() : null,
      waiting: p?.held ?? 0,
      code: p?.code ?? null,
      reason: p?.reason ?? null,
    };
  });
}

export function renderSenders(rows: SenderRow[]): string {
  if (rows.length === 0) {
    return 'No sender has sent, been slowed down or been paused yet.\n';
  }
  return renderTable(
    ['CONNECTION', 'STATE', 'PACE/S', 'PAUSED SINCE', 'NEXT PROBE', 'WAITING', 'WHY'],
    rows.map((r) => [
      r.connection,
      r.paused ? 'paused' : 'sending',
      String(Math.round(r.perSecond * 100) / 100),
      r.pausedSince ?? '-',
      r.probeAt ?? '-',
      String(r.waiting),
      r.reason ?? '-',
    ]),
  );
}

export async function resumeSenderCommand(
  deps: Deps,
  connection: string,
): Promise<{ connection: string; wasPaused: boolean; woken: number }> {
  const { pause } = tools(deps);
  const result = await resumeSender(pause, deps.queues['message.send'], connection);
  if (result.wasPaused) {
    deps.log.warn(
      { connectionId: connection, woken: result.woken },
      'WhatsApp sender resumed by an operator',
    );
  }
  return { connection, ...result };
}
