/**
 * Counters over a window, from either kind of source, as the same readings: how many in the
 * window and how many per second, per label set.
 */
import { request } from 'undici';
import { queryVector } from '../../analysis/prometheus.js';
import { FerryError } from '../../util/errors.js';
import { withoutCredentials } from '../../util/url.js';
import { parseExposition, type TextSample } from './exposition.js';

export interface CounterReading {
  labels: Record<string, string>;
  count: number;
  perSecond: number;
}

/** Sums readings by the given labels (the others, e.g. `response_code`, fold away). */
export function sumBy(readings: readonly CounterReading[], by: readonly string[]): CounterReading[] {
  const groups = new Map<string, CounterReading>();
  for (const reading of readings) {
    const labels: Record<string, string> = {};
    for (const label of by) labels[label] = reading.labels[label] ?? '';
    const key = by.map((label) => labels[label]).join('\u0000');
    const group = groups.get(key);
    if (group) {
      group.count += reading.count;
      group.perSecond += reading.perSecond;
    } else groups.set(key, { labels, count: reading.count, perSecond: reading.perSecond });
  }
  return [...groups.values()];
}

/**
 * A counter over the window from Prometheus, per group: the value now minus the value a
 * window ago — exact, where `increase()` extrapolates to the window's edges and gives
 * fractional calls; all of the value now for a group born inside the window (a caller's
 * first calls: `increase()` would take its first sample as the baseline and could miss a
 * lone call); `increase()` where the sum went down (a pod restarted or went away, resetting
 * or dropping its counter) or the group is gone now.
 */
export async function prometheusReadings(url: string, selector: string, by: readonly string[], windowSeconds: number, at: number): Promise<CounterReading[]> {
  const labels = by.join(', ');
  const window = `${Math.max(1, Math.round(windowSeconds))}s`;
  const [increase, now, before] = await Promise.all([
    queryVector(url, `sum by (${labels}) (increase(${selector}[${window}]))`, at),
    queryVector(url, `sum by (${labels}) (${selector})`, at),
    queryVector(url, `sum by (${labels}) (${selector})`, at - windowSeconds * 1000),
  ]);
  const key = (sample: { labels: Record<string, string> }) => by.map((label) => sample.labels[label] ?? '').join('\u0000');
  const earlier = new Map(before.map((sample) => [key(sample), sample.value]));
  const increased = new Map(increase.map((sample) => [key(sample), sample]));
  const counts = new Map<string, CounterReading>();
  for (const sample of now) {
    const was = earlier.get(key(sample));
    const count = was === undefined ? sample.value : sample.value >= was ? sample.value - was : (increased.get(key(sample))?.value ?? sample.value);
    counts.set(key(sample), { labels: sample.labels, count, perSecond: 0 });
  }
  for (const sample of increase) if (!counts.has(key(sample))) counts.set(key(sample), { labels: sample.labels, count: sample.value, perSecond: 0 });
  return [...counts.values()].filter((reading) => reading.count > 0).map((reading) => ({ ...reading, perSecond: reading.count / windowSeconds }));
}

/**
 * A counter read straight from an exporter, which keeps no history: two scrapes
 * `sampleSeconds` apart. Count = the value at the second scrape (everything since the
 * exporter started); rate = the difference over the interval (a reset counts from zero).
 */
export function readingsFromScrapes(first: readonly TextSample[], second: readonly TextSample[], metric: string, seconds: number): CounterReading[] {
  const key = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const before = new Map(first.filter((sample) => sample.name === metric).map((sample) => [key(sample.labels), sample.value]));
  return second
    .filter((sample) => sample.name === metric && sample.value > 0)
    .map((sample) => {
      const earlier = before.get(key(sample.labels)) ?? 0;
      const delta = sample.value >= earlier ? sample.value - earlier : sample.value;
      return { labels: sample.labels, count: sample.value, perSecond: seconds > 0 ? delta / seconds : 0 };
    });
}

/** Two scrapes of an exporter, `sampleSeconds` apart; the seconds that really passed between them. */
export async function scrapeTwice(url: string, sampleSeconds: number, source: string, fix: string, metrics: ReadonlySet<string>): Promise<{ first: TextSample[]; second: TextSample[]; seconds: number }> {
  const first = await scrape(url, source, fix, metrics);
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, sampleSeconds * 1000));
  const second = await scrape(url, source, fix, metrics);
  return { first, second, seconds: (performance.now() - started) / 1000 };
}

export async function scrape(url: string, source: string, fix: string, metrics: ReadonlySet<string>): Promise<TextSample[]> {
  let text: string;
  try {
    const response = await request(url, { headersTimeout: 10_000, bodyTimeout: 10_000 });
    text = await response.body.text();
    if (response.statusCode !== 200) throw new Error(`HTTP ${response.statusCode}`);
  } catch (error) {
    throw new FerryError('graph.observed-unreachable', `--observed ${source}: cannot read metrics at ${withoutCredentials(url)}: ${(error as Error).message}`, { location: { field: '--observed' }, fix, cause: error });
  }
  return parseExposition(text, metrics);
}

export { withoutCredentials };
