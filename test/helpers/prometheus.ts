/**
 * A strict reader of the Prometheus text exposition format (0.0.4), enough to prove `/metrics`
 * parses and to read sample values: `# HELP` / `# TYPE` lines, then samples
 * `name{label="value",…} number`. Anything else, a sample without a declared family, a bad
 * escape or a non-numeric value throws, naming the line.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  /** Family name → its declared type (counter, gauge, histogram, summary, untyped). */
  types: Map<string, string>;
  samples: Sample[];
  /** Sum of the samples named `name` whose labels include `labels`. */
  value(name: string, labels?: Record<string, string>): number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\[\\"n])*)"\s*(?:,|$)/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
/** Series a histogram or summary family exposes besides its own name. */
const SUFFIXES = ['_bucket', '_sum', '_count'];

export function parsePrometheus(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  text.split('\n').forEach((line, index) => {
    const fail = (why: string) => {
      throw new Error(`line ${index + 1}: ${why}: ${line}`);
    };
    if (line.trim() === '') {
      return;
    }
    if (line.startsWith('#')) {
      const [, keyword, name, rest] = /^#\s+(\S+)\s+(\S+)\s*(.*)$/.exec(line) ?? [];
      if (keyword === 'TYPE') {
        if (!name || !NAME.test(name) || !TYPES.has(rest ?? '')) {
          fail('bad TYPE line');
        }
        types.set(name!, rest!);
      } else if (keyword === 'HELP' && (!name || !NAME.test(name))) {
        fail('bad HELP line');
      }
      return;
    }
    const match = SAMPLE.exec(line);
    if (!match) {
      return fail('not a sample');
    }
    const name = match[1]!;
    const labelText = match[2];
    const valueText = match[3]!;
    const family = types.has(name)
      ? name
      : SUFFIXES.map((s) => (name.endsWith(s) ? name.slice(0, -s.length) : '')).find((f) =>
          types.has(f),
        );
    if (!family) {
      fail('sample of an undeclared family');
    }
    const labels: Record<string, string> = {};
    let rest = labelText ?? '';
    while (rest.trim() !== '') {
      const label = LABEL.exec(rest);
      if (!label) {
        return fail('bad labels');
      }
      labels[label[1]!] = label[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      rest = rest.slice(label[0].length);
    }
    const value = Number(valueText.replace(/^\+?Inf$/, 'Infinity').replace(/^-Inf$/, '-Infinity'));
    // Values are what Go's ParseFloat reads, which takes NaN in any case (prom-client writes "Nan").
    if (Number.isNaN(value) && !/^nan$/i.test(valueText)) {
      fail('value is not a number');
    }
    samples.push({ name, labels, value });
  });
  return {
    types,
    samples,
    value(name, labels = {}) {
      return samples
        .filter(
          (s) => s.name === name && Object.entries(labels).every(([key, v]) => s.labels[key] === v),
        )
        .reduce((sum, s) => sum + s.value, 0);
    },
  };
}
