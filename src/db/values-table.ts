/**
 * Rows of values as a derived table, for a statement that updates many rows each with its own
 * values (`UPDATE t JOIN (…) v ON v.id = t.id SET t.x = v.x`): `SELECT …  UNION ALL SELECT …`,
 * the first row naming the columns. Every value is a parameter.
 */
import { sql, type SQL } from 'drizzle-orm';

export function valuesTable(
  columns: readonly string[],
  rows: readonly (readonly unknown[])[],
): SQL {
  return sql.join(
    rows.map((values, i) => {
      const cells = values.map((value, k) =>
        i === 0 ? sql`${value} AS ${sql.identifier(columns[k]!)}` : sql`${value}`,
      );
      return sql`SELECT ${sql.join(cells, sql`, `)}`;
    }),
    sql` UNION ALL `,
  );
}
