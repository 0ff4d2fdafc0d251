/* global document, window, EventSource, location, confirm */
// The dashboard: a runs list and one run's live view, over the server's JSON API and
// server-sent events. The session token is an HttpOnly cookie the server set when the printed
// URL was opened; this code never sees it.
import { auditTrail, bridges, currentWave, dataResults, lagPoints, samplesOf, shadowRates, shadowResults, slicesWithSamples, STAGES, stageTimings, weightSteps } from './derive.js';
import { clearChart, dropCharts, lagChart, sampleCharts, shadowChart, weightChart } from './charts.js';

const main = document.getElementById('main');
const live = document.getElementById('live');
let current = null; // { id, source, view, chartSlice }
let listTimer = null;

const h = (value) => String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const when = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '');
const duration = (msValue) => (msValue === undefined || msValue === null || Number.isNaN(msValue) ? '' : msValue < 1000 ? `${Math.round(msValue)} ms` : msValue < 120_000 ? `${(msValue / 1000).toFixed(1)} s` : `${Math.round(msValue / 60_000)} min`);
const pct = (ratio) => (ratio === undefined || ratio === null ? '–' : `${(ratio * 100).toFixed(2)} %`);

async function api(path, options = {}) {
  const response = await fetch(path, {
    method: options.method ?? 'GET',
    credentials: 'same-origin',
    headers: options.body ? { 'content-type': 'application/json' } : {},
    ...(options.body ? { body: JSON.stringify(options.body) } : {}),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(body.error ?? `HTTP ${response.status}`), { status: response.status });
  return body;
}

function setLive(state) {
  live.textContent = state;
  live.className = `badge ${state === 'live' ? 's-live' : 'dim'}`;
}

/** Sets a section's HTML only when it changed (buttons inside stay put between updates). */
function fill(id, html) {
  const element = document.getElementById(id);
  if (element && element.dataset.html !== html) {
    element.innerHTML = html;
    element.dataset.html = html;
  }
}

async function start() {
  try {
    const session = await api('/api/session');
    document.getElementById('who').textContent = session.kind === 'named' ? `signed in as ${session.identity}` : 'approves as the credentials ferry ui runs with';
  } catch (error) {
    main.innerHTML = `<div class="card"><h2>Not signed in</h2><p>${h(error.status === 401 ? 'Open the URL that `ferry ui` (or `ferry run --ui`) printed: its token signs you in.' : error.message)}</p></div>`;
    return;
  }
  window.addEventListener('hashchange', route);
  route();
}

function route() {
  const match = /^#\/runs\/([^/]+)$/.exec(location.hash);
  if (current) {
    current.source.close();
    current = null;
    dropCharts();
  }
  clearInterval(listTimer);
  if (match) showRun(decodeURIComponent(match[1]));
  else showRuns();
}

async function showRuns() {
  document.getElementById('crumb').textContent = '';
  setLive('list');
  const draw = async () => {
    let runs;
    try {
      runs = await api('/api/runs');
    } catch (error) {
      main.innerHTML = `<p class="error">${h(error.message)}</p>`;
      return;
    }
    const rows = runs.map((run) => `<tr class="link" data-run="${h(run.id)}"><td><a href="#/runs/${encodeURIComponent(run.id)}">${h(run.id)}</a></td><td>${h(run.plan)}</td><td class="s-${h(run.status)}">${h(run.status)}${run.awaitingApproval.length ? ` (${h(run.awaitingApproval.join(', '))})` : ''}</td><td>${h(run.startedAt ? new Date(run.startedAt).toLocaleString() : '')}</td><td>${h(run.endedAt ? new Date(run.endedAt).toLocaleString() : '')}</td><td>${run.drivenBy ? `process ${run.drivenBy}` : '<span class="dim">none</span>'}</td></tr>`).join('');
    const html = `<div class="card"><h2>Runs</h2>${runs.length ? `<table data-testid="runs"><thead><tr><th>RUN</th><th>PLAN</th><th>STATUS</th><th>STARTED</th><th>ENDED</th><th>DRIVEN BY</th></tr></thead><tbody>${rows}</tbody></table>` : '<p class="empty">No runs in this state directory yet: start one with <code>ferry run plan.yaml</code>.</p>'}</div>`;
    if (main.dataset.html !== html) {
      main.innerHTML = html;
      main.dataset.html = html;
    }
  };
  main.onclick = (event) => {
    const row = event.target.closest('tr[data-run]');
    if (row && event.target.tagName !== 'A') location.hash = `#/runs/${encodeURIComponent(row.dataset.run)}`;
  };
  await draw();
  listTimer = setInterval(draw, 3000);
}

function showRun(id) {
  document.getElementById('crumb').innerHTML = `/ <b>${h(id)}</b>`;
  main.dataset.html = '';
  main.innerHTML = `
    <div class="card">
      <div id="run-head"></div>
      <div class="actions">
        <button data-action="pause" data-testid="pause">Pause</button>
        <button data-action="resume" data-testid="resume">Resume</button>
        <button data-action="abort" class="danger" data-testid="abort">Abort</button>
        <button data-action="rollback" class="danger" data-testid="rollback">Roll back</button>
        <span id="message" data-testid="message"></span>
      </div>
      <div id="approvals"></div>
    </div>
    <div class="card"><h3>Waves and slices</h3><div id="slices"></div></div>
    <div class="grid">
      <div class="card"><h3>Weights</h3><div id="chart-weights" class="chart"></div></div>
      <div class="card"><h3>Requests per second <select id="chart-slice" data-testid="chart-slice"></select></h3><div id="chart-rps" class="chart"></div></div>
      <div class="card"><h3>Error rate</h3><div id="chart-errors" class="chart"></div></div>
      <div class="card"><h3>p99 latency</h3><div id="chart-p99" class="chart"></div></div>
      <div class="card"><h3>Replication lag</h3><div id="chart-lag" class="chart"></div></div>
      <div class="card"><h3>Data: lag, parity, cutover</h3><div id="data"></div></div>
      <div class="card"><h3>Shadow comparisons</h3><div id="chart-shadow" class="chart"></div><div id="shadow"></div></div>
      <div class="card"><h3>Cross-cluster calls of the current wave</h3><div id="bridges"></div></div>
    </div>
    <div class="card"><h3>Audit trail</h3><div id="audit"></div></div>
    <div class="card"><h3>Journal (latest records)</h3><div id="journal"></div></div>`;
  const source = new EventSource(`/api/runs/${encodeURIComponent(id)}/events`);
  current = { id, source, view: null, chartSlice: null };
  setLive('connecting');
  source.addEventListener('open', () => setLive('live'));
  source.addEventListener('error', () => {
    // A finished run served by the process that drove it (`ferry run --ui`): that server is gone for good.
    const finished = current?.view && ['completed', 'rolled-back', 'failed', 'aborted'].includes(current.view.state.status);
    if (finished) source.close();
    setLive(finished || source.readyState === EventSource.CLOSED ? 'offline' : 'reconnecting');
  });
  source.addEventListener('snapshot', (event) => {
    if (!current || current.source !== source) return;
    current.view = JSON.parse(event.data);
    renderRun();
  });
  source.addEventListener('update', (event) => {
    if (!current || current.source !== source || !current.view) return;
    const update = JSON.parse(event.data);
    current.view.records.push(...update.records);
    current.view.state = update.state;
    current.view.drivenBy = update.drivenBy;
    renderRun();
  });
  document.getElementById('chart-slice').onchange = (event) => {
    current.chartSlice = event.target.value;
    renderRun();
  };
  main.onclick = (event) => {
    const button = event.target.closest('button[data-action]');
    if (button && !button.disabled) act(button.dataset.action, button.dataset.slice);
  };
}

const CONFIRM = { abort: 'Abort this run for good at its next step boundary?', rollback: 'Take every moved slice of this run back to the source?' };

async function act(action, slice) {
  if (!current) return;
  if (CONFIRM[action] && !confirm(CONFIRM[action])) return;
  const message = document.getElementById('message');
  message.className = '';
  message.textContent = `${action}…`;
  try {
    const result = await api(`/api/runs/${encodeURIComponent(current.id)}/${action}`, { method: 'POST', body: slice ? { slice } : {} });
    message.textContent = result.requested === 'approve' ? `approval of ${result.slice} by ${result.by} recorded` : result.requested === 'resume' || result.requested === 'rollback' ? `${result.requested} started in the dashboard's process` : `${result.requested} requested`;
  } catch (error) {
    message.className = 'error';
    message.textContent = error.message;
  }
}

function stageCell(slice, stage, timing) {
  const status = slice.stages[stage];
  const t = timing(slice.name, stage);
  const took = t?.startedAt ? duration((t.endedAt ?? (status === 'running' ? Date.now() : t.startedAt)) - t.startedAt) : '';
  return `<td class="stage s-${h(status)}" data-testid="stage-${h(slice.name)}-${stage}">${h(status)}${took ? `<small>${h(took)}</small>` : ''}</td>`;
}

function renderRun() {
  const view = current?.view;
  if (!view) return;
  const { state, records, plan } = view;
  const timing = stageTimings(records);
  const outline = new Map(plan.waves.flatMap((wave) => wave.slices.map((slice) => [slice.name, slice])));
  const running = view.drivenBy !== undefined;
  const finished = ['completed', 'rolled-back'].includes(state.status);

  fill('run-head', `<h2>${h(view.id)} <span class="badge s-${h(state.status)}" data-testid="run-status">${h(state.status)}</span></h2>
    <div class="dim">plan ${h(plan.name)} · started ${h(when(state.startedAt))}${state.endedAt ? ` · ended ${h(when(state.endedAt))}` : ''} · ${running ? `driven by process ${h(view.drivenBy)}` : 'no process drives it now'} · ${state.records} records</div>`);
  for (const [action, enabled] of [['pause', running && !finished], ['abort', running && !finished], ['resume', !running && !finished], ['rollback', !running && state.status !== 'rolled-back']]) {
    const button = main.querySelector(`button[data-action="${action}"]`);
    if (button) button.disabled = !enabled;
  }
  fill('approvals', state.awaitingApproval.map((name) => `<p class="s-waiting-approval">Slice <b>${h(name)}</b> waits for an approver (${h((outline.get(name)?.approvers ?? []).join(', ') || 'any')}) <button class="primary" data-action="approve" data-slice="${h(name)}" data-testid="approve-${h(name)}">Approve ${h(name)}</button></p>`).join('')
    + (state.approvals.length ? `<p class="dim">Approved: ${state.approvals.map((a) => `${h(a.slice)} by <span class="actor">${h(a.by)}</span> at ${h(when(a.at))}`).join('; ')}</p>` : ''));

  const waves = plan.waves.map((wave, w) => {
    const rows = state.slices.filter((slice) => slice.wave === w + 1).map((slice) => {
      const notes = [slice.rolledBack ? 'rolled back' : '', slice.automaticRollbacks ? `${slice.automaticRollbacks} automatic rollback(s)` : '', slice.lastError ?? '', ...(slice.openGates ?? []).map((g) => `${g.gate}: ${g.reason}`)].filter(Boolean);
      return `<tr><td><b>${h(slice.name)}</b><div class="dim">${h(outline.get(slice.name)?.traffic ?? '')}</div></td>
        <td><span class="weight" data-testid="weight-${h(slice.name)}">${h(slice.weight)}%</span><div class="bar"><span style="width:${Math.max(0, Math.min(100, Number(slice.weight)))}%"></span></div></td>
        ${STAGES.map((stage) => stageCell(slice, stage, timing)).join('')}
        <td>${notes.map((note) => `<div>${h(note)}</div>`).join('')}</td></tr>`;
    }).join('');
    return `<tr><th colspan="${STAGES.length + 3}">wave ${w + 1}: ${h(wave.name)}</th></tr>${rows}`;
  }).join('');
  fill('slices', `<table data-testid="slices"><thead><tr><th>SLICE</th><th>WEIGHT</th>${STAGES.map((s) => `<th>${h(s.toUpperCase())}</th>`).join('')}<th>NOTE</th></tr></thead><tbody>${waves}</tbody></table>`);

  // Charts
  const sliceNames = state.slices.map((slice) => slice.name);
  weightChart(document.getElementById('chart-weights'), weightSteps(records), sliceNames);
  const sampled = slicesWithSamples(records);
  const select = document.getElementById('chart-slice');
  const options = sampled.map((name) => `<option value="${h(name)}">${h(name)}</option>`).join('');
  if (select.dataset.html !== options) {
    select.innerHTML = options;
    select.dataset.html = options;
  }
  if (!current.chartSlice || !sampled.includes(current.chartSlice)) current.chartSlice = sampled.find((name) => state.slices.find((s) => s.name === name)?.stages.ramp === 'running') ?? sampled.at(-1) ?? null;
  if (current.chartSlice) select.value = current.chartSlice;
  const elements = { rps: document.getElementById('chart-rps'), errors: document.getElementById('chart-errors'), p99: document.getElementById('chart-p99') };
  const rows = current.chartSlice ? samplesOf(records, current.chartSlice) : [];
  elements.rps.dataset.samples = String(rows.length);
  if (rows.length) sampleCharts(elements, rows);
  else {
    const note = 'No ramp samples yet: they come once a second while a slice ramps.';
    clearChart('rps', elements.rps, note);
    clearChart('errors', elements.errors, note);
    clearChart('p99', elements.p99, note);
  }
  lagChart(document.getElementById('chart-lag'), lagPoints(records));

  // Data
  const data = dataResults(records);
  fill('data', data.length ? `<table><thead><tr><th>SLICE</th><th>LAG</th><th>PARITY</th><th>CUTOVER</th></tr></thead><tbody>${data.map((d) => `<tr><td>${h(d.slice)}</td>
    <td>${d.lagMs !== undefined ? h(duration(d.lagMs)) : d.syncLagSeconds !== undefined ? `${h(d.syncLagSeconds)} s at sync` : '–'}${d.tables ? `<div class="dim">${h(d.tablesReady ?? d.tables)} of ${h(d.tables)} tables ready</div>` : ''}</td>
    <td>${d.parity ? (d.parity.ok ? `<span class="s-done">equal</span> (${h(d.parity.rows)} rows${d.parity.transient ? `; ${h(d.parity.transient)} differed while replication was live, gone on re-check` : ''})` : `<span class="s-failed">${h(d.parity.error)}</span>`) : '–'}</td>
    <td>${d.cutover ? (d.cutover.error ? `<span class="s-failed">${h(d.cutover.error)}</span>` : `write pause ${h(duration(d.cutover.writePauseMs))} (limit ${h(duration(d.cutover.maxWritePauseMs))})`) : '–'}</td></tr>`).join('')}</tbody></table>` : '<p class="empty">No slice of this run has moved data yet.</p>');

  // Shadow: the mismatch rate as it was compared, the result, and the differing pairs kept
  shadowChart(document.getElementById('chart-shadow'), shadowRates(records));
  const shadows = shadowResults(records);
  fill('shadow', shadows.length ? shadows.map((s) => {
    const figures = s.compared !== undefined ? s : s.live;
    const summary = s.error ? `<span class="s-failed">${h(s.error)}</span>`
      : figures ? `${h(figures.compared)} compared, ${h(figures.mismatched)} differed — mismatch rate ${h(pct(s.mismatchRate ?? (figures.compared ? figures.mismatched / figures.compared : 0)))}${s.inconclusive ? ' (inconclusive)' : s.compared === undefined ? ' (comparing…)' : ''}`
        : 'comparing…';
    const samples = (s.samples?.length ? s.samples : s.liveSamples ?? []).slice(-3);
    return `<div data-testid="shadow-${h(s.slice)}"><b>${h(s.slice)}</b>: ${summary}
      ${samples.map(sampleDiff).join('')}</div>`;
  }).join('') : '<p class="empty">No shadow comparison in this run (mirroring off, or not reached yet).</p>');

  // Cross-cluster calls of the current wave, and the bridges serving them
  const wave = currentWave(state);
  const calls = plan.waves[wave - 1]?.crossClusterCalls ?? [];
  const { live: liveBridges, events } = bridges(records);
  fill('bridges', `<p class="dim">wave ${h(wave)}${plan.waves[wave - 1] ? `: ${h(plan.waves[wave - 1].name)}` : ''}</p>
    ${calls.length ? `<table><thead><tr><th>FROM</th><th>TO</th><th>DIRECTION</th><th>VIA</th></tr></thead><tbody>${calls.map((c) => `<tr><td>${h(c.from)}</td><td>${h(c.to)}</td><td>${h(c.direction)}</td><td>${c.via.map((v) => `<div>${h(v)}</div>`).join('')}</td></tr>`).join('')}</tbody></table>` : '<p class="empty">No call of this wave crosses clusters.</p>'}
    <p><b>Bridges in place:</b> ${liveBridges.length ? liveBridges.map((b) => `${h(b.key)}${b.provider ? ` (${h(b.provider)})` : ''}`).join(', ') : '<span class="dim">none</span>'}</p>
    ${events.length ? `<div class="dim">${events.slice(-6).map((r) => `${h(when(r.at))} ${h(r.type)} ${h(r.data.key ?? r.data.slice ?? '')}`).join('<br>')}</div>` : ''}`);

  // Audit trail
  const audit = auditTrail(records);
  fill('audit', audit.length ? `<table data-testid="audit"><thead><tr><th>TIME</th><th>ACTOR</th><th>EVENT</th><th>SLICE</th><th>DETAIL</th></tr></thead><tbody>${audit.slice(-40).reverse().map((r) => `<tr><td>${h(when(r.at))}</td><td class="${r.actor === 'ferry' ? 'dim' : 'actor'}">${h(r.actor)}</td><td>${h(r.type)}</td><td>${h(r.data.slice ?? '')}</td><td>${h(detail(r))}</td></tr>`).join('')}</tbody></table>` : '<p class="empty">Nothing yet.</p>');

  fill('journal', `<table><thead><tr><th>#</th><th>TIME</th><th>TYPE</th><th>ACTOR</th><th>DATA</th></tr></thead><tbody>${records.slice(-25).reverse().map((r) => `<tr><td>${h(r.seq)}</td><td>${h(when(r.at))}</td><td>${h(r.type)}</td><td>${h(r.actor)}</td><td><code>${h(JSON.stringify(r.data).slice(0, 220))}</code></td></tr>`).join('')}</tbody></table>`);
}

const excerpt = (value) => (typeof value === 'string' ? value : JSON.stringify(value) ?? '').slice(0, 300);

/** One differing pair as the router kept it: what differed, then both answers side by side. */
function sampleDiff(sample) {
  if (!sample || typeof sample !== 'object') return `<pre>${h(excerpt(sample))}</pre>`;
  const differences = (sample.differences ?? []).slice(0, 6).map((d) => `<li>${h(d.reason)}${d.path ? ` <code>${h(d.path)}</code>` : ''}: <code>${h(excerpt(d.primary))}</code> → <code>${h(excerpt(d.shadow))}</code></li>`).join('');
  const side = (name, answer) => (answer ? `<div><div class="dim">${name}: ${h(answer.status)}</div><pre>${h(excerpt(answer.body))}</pre></div>` : '');
  return `<div class="diff"><div><b>${h(sample.method ?? '')} ${h(sample.path ?? '')}</b></div>${differences ? `<ul>${differences}</ul>` : ''}<div class="sides">${side('source (primary)', sample.primary)}${side('target (shadow)', sample.shadow)}</div></div>`;
}

function detail(record) {
  const d = record.data ?? {};
  if (record.type === 'approval-requested') return `waits for ${(d.approvers ?? []).join(', ')}`;
  if (record.type === 'rolled-back') return `detected in ${duration(d.detectionMs)}, weight 0 after ${duration(d.recoveryMs)} more`;
  if (record.type === 'rollback-slice') return `${d.reason ?? ''}${d.recoveryMs !== undefined ? `, recovered in ${duration(d.recoveryMs)}` : ''}`;
  return d.error ?? d.reason ?? '';
}

// Running stages' durations move on between records.
setInterval(() => {
  if (current?.view) renderRun();
}, 1000);

start();
