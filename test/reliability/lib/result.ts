/** What a scenario reports: its figures, and the checks that decide the run's exit code. */

export interface Check {
  what: string;
  pass: boolean;
  /** The figure or reason behind the verdict. */
  detail: string;
}

export interface ScenarioResult {
  scenario: string;
  title: string;
  seconds: number;
  figures: Record<string, number | string>;
  checks: Check[];
}

export function check(what: string, pass: boolean, detail: string | number): Check {
  return { what, pass, detail: String(detail) };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A whole number in [min, max]. */
export function between(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}
