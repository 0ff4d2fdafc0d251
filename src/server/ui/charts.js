/* global window */
// Charts with uPlot (served from the package's node_modules, no build step): one chart per
// figure, created once and given new data as records arrive.
import uPlot from '/vendor/uPlot.esm.js';

const COLORS = { target: '#2b6cb0', source: '#b7791f' };
const PALETTE = ['#2b6cb0', '#c53030', '#1f8f4e', '#b7791f', '#6b46c1', '#2c7a7b', '#97266d', '#4a5568'];

const charts = new Map();

function width(element) {
  return Math.max(280, element.clientWidth - 4);
}

/** Draws (or redraws) the chart `id` inside `element`; `series` names the y series after x. */
export function drawChart(id, element, { series, data, yLabel, stepped = false, yRange }) {
  const existing = charts.get(id);
  const signature = series.map((s) => s.label).join('|');
  if (existing && existing.element === element && existing.signature === signature) {
    existing.plot.setData(data);
    return;
  }
  existing?.plot.destroy();
  element.textContent = '';
  const options = {
    width: width(element),
    height: 170,
    cursor: { drag: { x: false, y: false } },
    legend: { live: true },
    scales: { x: { time: true }, ...(yRange ? { y: { range: yRange } } : {}) },
    axes: [{}, { label: yLabel, size: 56 }],
    series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, spanGaps: true, ...(stepped ? { paths: uPlot.paths.stepped({ align: 1 }) } : {}) }))],
  };
  const plot = new uPlot(options, data, element);
  charts.set(id, { plot, element, signature });
}

/** Replaces a chart by a note (nothing to draw yet). */
export function clearChart(id, element, note) {
  charts.get(id)?.plot.destroy();
  charts.delete(id);
  element.innerHTML = note ? `<p class="empty">${note}</p>` : '';
}

export function dropCharts() {
  for (const { plot } of charts.values()) plot.destroy();
  charts.clear();
}

window.addEventListener('resize', () => {
  for (const { plot, element } of charts.values()) plot.setSize({ width: width(element), height: 170 });
});

/** Weight of every slice over time, held between changes, up to now. */
export function weightChart(element, steps, slices) {
  const times = [...new Set(steps.map((s) => s.at))].sort((a, b) => a - b);
  if (times.length === 0) return clearChart('weights', element, 'No weight set yet.');
  times.push(Math.max(Date.now() / 1000, times.at(-1) + 1));
  const columns = slices.map((slice) => {
    let current = null;
    const mine = steps.filter((s) => s.slice === slice);
    return times.map((t) => {
      for (const step of mine) if (step.at <= t) current = step.weight;
      return current;
    });
  });
  drawChart('weights', element, {
    series: slices.map((slice, i) => ({ label: slice, color: PALETTE[i % PALETTE.length] })),
    data: [times, ...columns],
    yLabel: '% to target',
    stepped: true,
    yRange: [0, 100],
  });
}

/** Per side of one slice: requests/s, error rate, p99. */
export function sampleCharts(elements, rows) {
  const x = rows.map((r) => r.at);
  const sides = (pick) => [rows.map((r) => pick(r.target)), rows.map((r) => pick(r.source))];
  const bySide = [{ label: 'target', color: COLORS.target }, { label: 'source', color: COLORS.source }];
  drawChart('rps', elements.rps, { series: bySide, data: [x, ...sides((s) => s.rps)], yLabel: 'requests/s' });
  drawChart('errors', elements.errors, { series: bySide, data: [x, ...sides((s) => (s.errorRate === null ? null : s.errorRate * 100))], yLabel: 'errors %' });
  drawChart('p99', elements.p99, { series: bySide, data: [x, ...sides((s) => s.p99)], yLabel: 'p99 ms' });
}

/** One line per slice over time (points: { slice, at, value }). */
function perSliceChart(id, element, points, yLabel, empty) {
  const slices = [...new Set(points.map((p) => p.slice))];
  if (slices.length === 0) return clearChart(id, element, empty);
  const times = [...new Set(points.map((p) => p.at))].sort((a, b) => a - b);
  const columns = slices.map((slice) => times.map((t) => points.find((p) => p.slice === slice && p.at === t)?.value ?? null));
  drawChart(id, element, { series: slices.map((slice, i) => ({ label: slice, color: PALETTE[i % PALETTE.length] })), data: [times, ...columns], yLabel });
}

/** Shadow mismatch rate of every slice compared so far. */
export function shadowChart(element, points) {
  perSliceChart('shadow', element, points.map((p) => ({ slice: p.slice, at: p.at, value: p.rate })), 'mismatch %', '');
}

/** Replication lag of every slice that moves a database. */
export function lagChart(element, points) {
  perSliceChart('lag', element, points, 'lag ms', 'No replication lag sampled (no slice moves a database, or none has started syncing).');
}
