/**
 * `wa-notify suppression list|add|remove`: the suppression list (src/suppression.ts) from the
 * command line, straight in MySQL, as the API does it: an account's suppressions in force (or
 * every account's), a number suppressed for the account's current sender, the account's
 * suppressions of a number removed (or, without an account, every suppression of it). Numbers are shown in full: they are what an operator adds and removes.
 */
import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import { getAccountSettings } from '../db/settings.ts';
import {
  countSuppressions,
  findSuppression,
  liftAccountSuppressions,
  listSuppressions,
  suppress,
  type SuppressionReason,
} from '../db/suppressions.ts';
import { parseCustomerNumber, presentSuppression, senderNumberOf } from '../suppression.ts';
import { CommandError, UsageError } from './errors.ts';

type Shown = ReturnType<typeof presentSuppression>;

export interface SuppressionList {
  accountId: number | null;
  total: number;
  suppressions: Shown[];
}

function customerNumberOf(config: Pick<Config, 'DEFAULT_COUNTRY'>, raw: string): string {
  const number = parseCustomerNumber(raw, config.DEFAULT_COUNTRY);
  if (number === null) {
    throw new UsageError(
      'the customer number must be a phone number: digits with the country code (919812345678), or national',
    );
  }
  return number;
}

export async function listAccountSuppressions(
  db: Db,
  filter: { accountId?: number; reason?: SuppressionReason },
  limit: number,
): Promise<SuppressionList> {
  const [rows, total] = await Promise.all([
    listSuppressions(db, filter, limit),
    countSuppressions(db, filter),
  ]);
  return { accountId: filter.accountId ?? null, total, suppressions: rows.map(presentSuppression) };
}

export function renderSuppressions(list: SuppressionList): string {
  if (list.suppressions.length === 0) {
    return 'No suppressions in force.\n';
  }
  const lines = list.suppressions.map((s) =>
    [
      s.customerNumber,
      s.reason,
      s.source,
      `account ${s.accountId ?? '-'}`,
      `sender ${s.senderNumber}`,
      `since ${s.updatedAt}`,
      s.expiresAt ? `until ${s.expiresAt}` : 'until removed',
    ].join('\t'),
  );
  const more = list.total > lines.length ? `(${list.total - lines.length} more)\n` : '';
  return `${lines.join('\n')}\n${more}`;
}

export async function addSuppression(
  deps: { config: Config; db: Db },
  accountId: number,
  rawNumber: string,
  reason: SuppressionReason,
): Promise<{ created: boolean; suppression: Shown }> {
  const { config, db } = deps;
  const customerNumber = customerNumberOf(config, rawNumber);
  const { senderConnectionId } = await getAccountSettings(db, accountId);
  const senderNumber = await senderNumberOf(config, db, senderConnectionId);
  if (senderNumber === null) {
    throw new CommandError(
      'ERR_NO_SENDER',
      `account ${accountId}'s sender connection ${senderConnectionId} does not exist`,
    );
  }
  const created = await suppress(db, {
    senderNumber,
    customerNumber,
    reason,
    source: 'cli',
    accountId,
  });
  const row = await findSuppression(db, senderNumber, customerNumber, new Date(), reason);
  if (!row) {
    throw new CommandError('ERR_NOT_STORED', 'the suppression just set is not in force');
  }
  return { created, suppression: presentSuppression(row) };
}

/** Removes an account's suppressions of a number; without an account, every one of it. */
export async function removeSuppression(
  deps: { config: Config; db: Db },
  accountId: number | null,
  rawNumber: string,
  reason: SuppressionReason | undefined,
): Promise<{ accountId: number | null; removed: number }> {
  const customerNumber = customerNumberOf(deps.config, rawNumber);
  const removed = await liftAccountSuppressions(deps.db, accountId, customerNumber, reason);
  if (removed === 0) {
    throw new CommandError(
      'ERR_NOT_FOUND',
      accountId === null
        ? 'there is no suppression of that number'
        : `account ${accountId} holds no suppression of that number`,
    );
  }
  return { accountId, removed };
}
