/**
 * The end-of-date rule of "not honoured": an open attempt whose customer chose a delivery date
 * that has ended (midnight in OUTCOME_TIME_ZONE) with no out-for-delivery on it and no delivery
 * is flagged `no_out_for_delivery` (src/outcomes/attempts.ts `flagAttempt`). Run by the sweeper
 * on each pass: it reads the `(outcome, chosen_date)` index for dates of the last LOOK_BACK_DAYS
 * before today, BATCH rows at a time after a cursor, so attempts flagged long ago are not read
 * again and a pass reads only what it can act on.
 */
import type { AttemptOutcomeRow } from '../db/outcomes.ts';
import { listChosenDatesEnded } from '../db/outcomes.ts';
import { businessDate, flagAttempt, type OutcomeDeps } from './attempts.ts';

const BATCH = 100;
const LOOK_BACK_DAYS = 7;
const DAY_MS = 86_400_000;

/** Flags the attempts whose chosen date ended unattempted; returns how many it flagged. */
export async function checkChosenDates(
  deps: OutcomeDeps,
  now: Date,
  onFlagged?: (row: AttemptOutcomeRow) => Promise<void>,
): Promise<number> {
  const zone = deps.config.OUTCOME_TIME_ZONE;
  const today = businessDate(now, zone);
  const since = businessDate(new Date(now.getTime() - LOOK_BACK_DAYS * DAY_MS), zone);
  let cursor: { chosenDate: string; id: number } | null = null;
  let flagged = 0;
  for (;;) {
    const rows = await listChosenDatesEnded(deps.db, since, today, BATCH, cursor);
    for (const row of rows) {
      cursor = { chosenDate: row.chosenDate!, id: row.id };
      const outOnTheDay =
        row.outForDeliveryAt !== null &&
        businessDate(row.outForDeliveryAt, zone) === row.chosenDate;
      if (!outOnTheDay && (await flagAttempt(deps, row, 'no_out_for_delivery', {}, onFlagged))) {
        flagged++;
      }
    }
    if (rows.length < BATCH) {
      return flagged;
    }
  }
}
