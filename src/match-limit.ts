/**
 * The bound on outside text that patterns run on. Courier remarks (FDR events), customer replies
 * and webhook fields come in any length, and a regular expression's time can grow with its input
 * faster than the input does; so no pattern in the service runs on more than MAX_MATCHED_CHARS
 * characters of such text. What the service looks for (a reason keyword, an action phrase, a
 * date, a number, a phone number) is short.
 *
 * Two ways to bound, by what the pattern is for:
 * - searching a text for a keyword (a courier's remark): cut it to its first KiB (`cutForSearch`);
 * - reading a whole field as one thing (a reply that must *be* "Cancel my order", a date, a
 *   phone number): a longer field is none of these and is not matched at all (`fieldToMatch`).
 *   Cutting it instead could turn "cancel … (a KiB later) not" into "cancel".
 */

/** 1 KiB of characters (UTF-16 code units). */
export const MAX_MATCHED_CHARS = 1_024;

/** `text` cut to its first MAX_MATCHED_CHARS characters, to search for keywords in. */
export function cutForSearch(text: string): string {
  return text.length > MAX_MATCHED_CHARS ? text.slice(0, MAX_MATCHED_CHARS) : text;
}

/** `text` when it is short enough to be read as one value; null when it is longer. */
export function fieldToMatch(text: string): string | null {
  return text.length > MAX_MATCHED_CHARS ? null : text;
}
