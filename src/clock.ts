/**
 * The service's wall clock, injectable: what quiet hours and the no-reply rule are judged by,
 * and what their BullMQ delays are computed from. Production runs on real time; tests carry a
 * clock they move by hand (test/helpers/clock.ts), so "sent at 09:00 IST" is testable without
 * waiting until morning.
 *
 * Only those decisions read it. Per-sender pacing keeps Redis's clock (it spaces real requests
 * to Gupshup), and retry backoffs and reconcile waits stay on real time.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * A BullMQ delay (relative, in real milliseconds) that ends when `clock` reaches `at`: BullMQ
 * counts delays on real time, the decision was made on `clock`'s.
 */
export function delayUntil(clock: Clock, at: number): number {
  return Math.max(0, Math.round(at - clock.now()));
}
