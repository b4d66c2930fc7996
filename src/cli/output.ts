/**
 * Human-readable output of the CLI: aligned tables, times, and the masking that keeps customers'
 * phone numbers, addresses and credentials off an operator's screen (and out of pasted
 * incident notes). `--json` output goes through the same masking.
 */

/** `917891971009` → `91******1009`: the country code and last four digits stay recognisable. */
export function maskNumber(value: string): string {
  const digits = value.replace(/\D/g, '');
  if (digits.length < 7) {
    return '*'.repeat(Math.max(digits.length, 3));
  }
  return `${digits.slice(0, 2)}${'*'.repeat(digits.length - 6)}${digits.slice(-4)}`;
}

/**
 * Replaces every occurrence of the given phone numbers (in full, or their last ten digits, the
 * national form a timeline title or Gupshup error may quote) with their masked form. Only known
 * numbers are replaced: shipment and Gupshup message ids are long digit runs too, and must stay.
 */
export function createNumberScrubber(numbers: readonly string[]): (text: string) => string {
  const forms = new Map<string, string>();
  for (const number of numbers) {
    const digits = number.replace(/\D/g, '');
    if (digits.length < 7) {
      continue;
    }
    forms.set(digits, maskNumber(digits));
    if (digits.length > 10) {
      forms.set(digits.slice(-10), maskNumber(digits.slice(-10)));
    }
  }
  const ordered = [...forms.entries()].sort((a, b) => b[0].length - a[0].length);
  return (text) => {
    let out = text;
    for (const [plain, masked] of ordered) {
      out = out.split(plain).join(masked);
    }
    return out;
  };
}

const NUMBER_KEY = /(number|phone|mobile|msisdn|destaddr|srcaddr|^to$)/i;
const HIDDEN_KEY = /(address|password|userid|secret|token|email|apikey|credential)/i;

/**
 * A copy of a JSON-ish value fit to print: number fields masked, address and credential fields
 * hidden, and known numbers scrubbed from every other string.
 */
export function sanitize(value: unknown, scrub: (text: string) => string, key = ''): unknown {
  if (HIDDEN_KEY.test(key) && value !== null && value !== undefined) {
    return '[hidden]';
  }
  if (NUMBER_KEY.test(key) && (typeof value === 'string' || typeof value === 'number')) {
    return maskNumber(String(value));
  }
  if (typeof value === 'string') {
    return scrub(value);
  }
  if (Array.isArray(value)) {
    return value.map((item) => sanitize(item, scrub));
  }
  if (typeof value === 'object' && value !== null && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, sanitize(v, scrub, k)]));
  }
  return value;
}

/** `2024-06-08 16:06:16Z`, or `-` for no time. */
export function formatTime(value: Date | number | null | undefined): string {
  if (value === null || value === undefined) {
    return '-';
  }
  const date = typeof value === 'number' ? new Date(value) : value;
  return `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** ISO 8601 for JSON output, null for no time. */
export function isoTime(value: Date | number | null | undefined): string | null {
  if (value === null || value === undefined) {
    return null;
  }
  return (typeof value === 'number' ? new Date(value) : value).toISOString();
}

/** Cuts a cell to `width` characters, marking the cut. */
export function truncate(text: string, width: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= width ? flat : `${flat.slice(0, Math.max(width - 1, 0))}…`;
}

/** Columns padded to their widest cell, two spaces apart; the last column is not padded. */
export function renderTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = headers.map((h, i) =>
    Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}
