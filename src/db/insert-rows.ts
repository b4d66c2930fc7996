/**
 * A multi-row INSERT of a batch's rows, as one SQL text. The write groups' inserts run on every
 * batch of the hot paths (the ingress's inbox events, the webhook's events), and drizzle's query
 * builder walks each value of each row as a chunk of its own, which costs more than the insert's
 * round trip; here each value is mapped by its column, as drizzle would map it, and escaped by
 * mysql2, as mysql2 escapes a query's parameters on the client, in one pass.
 *
 * A column no row gives takes its default; a row that leaves out a column another gives writes
 * DEFAULT there, as drizzle does. The literals are escaped with backslashes, which every
 * connection's SQL mode (src/db/client.ts, without NO_BACKSLASH_ESCAPES) reads as escapes. Columns with a `$defaultFn` are not supported (none of the
 * tables this is used on has one), and are refused rather than written as DEFAULT.
 */
import { getTableColumns, getTableName, sql, type SQL } from 'drizzle-orm';
import type { MySqlColumn, MySqlTable } from 'drizzle-orm/mysql-core';
import mysql, { type SqlValue } from 'mysql2';

interface TableShape {
  name: string;
  columns: Map<string, { quoted: string; column: MySqlColumn }>;
}

const shapes = new WeakMap<MySqlTable, TableShape>();

function shapeOf(table: MySqlTable): TableShape {
  let shape = shapes.get(table);
  if (!shape) {
    const columns = new Map<string, { quoted: string; column: MySqlColumn }>();
    for (const [key, column] of Object.entries(getTableColumns(table))) {
      columns.set(key, { quoted: mysql.escapeId(column.name), column });
    }
    shape = { name: mysql.escapeId(getTableName(table)), columns };
    shapes.set(table, shape);
  }
  return shape;
}

/** `INSERT INTO table (…) VALUES (…), (…)` of `rows`, each value escaped as a literal. */
export function insertRows<T extends MySqlTable>(
  table: T,
  rows: readonly T['$inferInsert'][],
): SQL {
  if (rows.length === 0) {
    throw new Error('insertRows needs at least one row');
  }
  const shape = shapeOf(table);
  const keys: string[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    for (const [key, value] of Object.entries(row)) {
      if (value !== undefined && !seen.has(key)) {
        seen.add(key);
        keys.push(key);
      }
    }
  }
  const columns = keys.map((key) => {
    const entry = shape.columns.get(key);
    if (!entry) {
      throw new Error(`${getTableName(table)} has no column ${key}`);
    }
    if (entry.column.defaultFn) {
      throw new Error(`insertRows cannot fill ${getTableName(table)}.${key} ($defaultFn)`);
    }
    return entry;
  });
  const values = rows.map((row) => {
    const cells = columns.map(({ column }, i) => {
      const value: unknown = (row as Record<string, unknown>)[keys[i]!];
      if (value === undefined) {
        return 'DEFAULT';
      }
      return value === null ? 'NULL' : mysql.escape(column.mapToDriverValue(value) as SqlValue);
    });
    return `(${cells.join(', ')})`;
  });
  return sql.raw(
    `INSERT INTO ${shape.name} (${columns.map((c) => c.quoted).join(', ')}) VALUES ${values.join(', ')}`,
  );
}
