// Canopy dashboard: one page, no framework, no build step. Every number comes from the /v1 API with the
// session cookie (GET) or the cookie plus the session's CSRF token (changes). Text from the server is always
// set as text (never parsed as HTML), and the page loads nothing from elsewhere (see the CSP header).
'use strict';
(function () {
  const main = document.getElementById('main');
  const SVG = 'http://www.w3.org/2000/svg';
  let session = null;
  let streams = [];
  let generation = 0;

  // ---------- small DOM helpers ----------
  function attrs(e, a) {
    if (!a) return;
    for (const [k, v] of Object.entries(a)) {
      if (v == null || v === false) continue;
      if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v === true ? '' : String(v));
    }
  }
  function kids(e, list) {
    for (const k of list.flat(3)) {
      if (k == null || k === false) continue;
      e.appendChild(k instanceof Node ? k : document.createTextNode(String(k)));
    }
  }
  function el(tag, a, ...children) { const e = document.createElement(tag); attrs(e, a); kids(e, children); return e; }
  function sv(tag, a, ...children) { const e = document.createElementNS(SVG, tag); attrs(e, a); kids(e, children); return e; }
  const enc = encodeURIComponent;
  function num(v, digits) {
    if (v == null || Number.isNaN(v)) return '–';
    return Number(v).toLocaleString('en', { maximumFractionDigits: digits == null ? 0 : digits, minimumFractionDigits: 0 });
  }
  function when(iso) { return iso && iso !== 'null' ? new Date(iso).toLocaleString('en-GB') : '–'; }
  function duration(s) {
    if (s == null) return '–';
    if (s < 90) return num(s, 1) + ' s';
    if (s < 5400) return num(s / 60, 1) + ' min';
    return num(s / 3600, 1) + ' h';
  }
  function badge(status) { return el('span', { class: 'badge ' + String(status || '').toLowerCase(), text: status || '–' }); }
  function bar(fraction) {
    const fill = el('span');
    fill.style.width = Math.max(0, Math.min(1, fraction || 0)) * 100 + '%';
    return el('span', { class: 'bar' }, fill);
  }
  function card(title, ...children) { return el('div', { class: 'card' }, title ? el('h2', { text: title }) : null, children); }
  function terminal(status) { return status === 'succeeded' || status === 'failed' || status === 'cancelled'; }
  function admin() { return session && session.scopes.includes('admin'); }

  class Quiet extends Error {}

  // ---------- the API ----------
  async function api(path, opts) {
    opts = opts || {};
    const method = opts.method || 'GET';
    const headers = { Accept: 'application/json' };
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET') headers['X-CSRF-Token'] = session ? session.csrf_token : '';
    const r = await fetch(path, { method, headers, credentials: 'same-origin', body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    if (r.status === 401) {
      session = null;
      signIn('Your session has ended; sign in again.');
      throw new Quiet();
    }
    const type = r.headers.get('Content-Type') || '';
    const data = type.includes('json') ? await r.json() : await r.text();
    if (!r.ok) {
      const e = new Error((data && data.detail) || 'HTTP ' + r.status);
      e.status = r.status;
      e.code = data && data.code;
      throw e;
    }
    return data;
  }

  function stream(path) {
    const es = new EventSource(path);
    streams.push(es);
    // a stream the server refused for good (session ended, token revoked): check the session, and sign in again if it is gone
    es.addEventListener('error', () => {
      if (es.readyState !== EventSource.CLOSED || !streams.includes(es)) return;
      loadSession().then(() => { if (!session) signIn('Your session has ended; sign in again.'); }, () => {});
    });
    return es;
  }

  function closeStreams() {
    streams.forEach(s => s.close());
    streams = [];
  }

  // ---------- confirmation ----------
  function confirmAction(text) {
    const d = document.getElementById('confirm');
    document.getElementById('confirm-text').textContent = text;
    return new Promise(resolve => {
      d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true });
      d.returnValue = '';
      d.showModal();
    });
  }

  async function act(button, question, work, after) {
    if (!(await confirmAction(question))) return;
    button.disabled = true;
    const label = button.textContent;
    button.textContent = 'Working…';
    try {
      await work();
      await after();
    } catch (e) {
      if (e instanceof Quiet) return;
      button.disabled = false;
      button.textContent = label;
      flash(e.message, true);
    }
  }

  function flash(text, isError) {
    const box = el('div', { class: isError ? 'error-box' : 'card', role: 'status', id: 'flash', text });
    const old = document.getElementById('flash');
    if (old) old.remove();
    main.prepend(box);
  }

  // ---------- session ----------
  async function loadSession() {
    const r = await fetch('/ui/session', { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    const s = await r.json();
    session = s.signed_in ? s : null;
    document.getElementById('who').textContent = session ? 'team ' + session.team + ' · ' + session.scopes.join(', ') : '';
    document.getElementById('sign-out').hidden = !session;
  }

  function signIn(message) {
    closeStreams();
    generation++;
    document.getElementById('who').textContent = '';
    document.getElementById('sign-out').hidden = true;
    const input = el('input', { type: 'password', id: 'token', autocomplete: 'off', placeholder: 'cnp_…', 'aria-label': 'token' });
    const problem = el('div', { class: 'error-box', hidden: !message, text: message || '' });
    const form = el('form', { id: 'sign-in', onsubmit: async ev => {
      ev.preventDefault();
      let r;
      try {
        r = await fetch('/ui/session', { method: 'POST', credentials: 'same-origin',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify({ token: input.value.trim() }) });
      } catch (e) {
        problem.hidden = false;
        problem.textContent = 'The server did not answer: ' + e.message;
        return;
      }
      if (!r.ok) {
        problem.hidden = false;
        problem.textContent = 'That token was not accepted: it is unknown, revoked or expired. Make one with: canopy token create';
        return;
      }
      await loadSession();
      go();
    } }, input, el('button', { class: 'primary', type: 'submit', text: 'Sign in' }));
    main.replaceChildren(el('div', { class: 'card signin' }, el('h1', { text: 'Sign in' }),
      el('p', { class: 'muted', text: 'Paste a token made with "canopy token create". It is exchanged for a session cookie and not kept by the page.' }),
      problem, form));
    input.focus();
  }

  document.getElementById('sign-out').addEventListener('click', async () => {
    await fetch('/ui/session', { method: 'DELETE', credentials: 'same-origin', headers: { 'X-CSRF-Token': session ? session.csrf_token : '' } });
    session = null;
    signIn();
  });

  // ---------- routing ----------
  const routes = [
    [/^#\/jobs\/([^/]+)$/, showJob],
    [/^#\/experiments\/(.+)$/, showExperiment],
    [/^#\/models\/([^/]+)$/, showModel],
    [/^#\/experiments$/, listExperiments],
    [/^#\/models$/, listModels],
    [/^#\/clusters$/, listClusters],
    [/^(#\/?|#\/jobs|)$/, listJobs]
  ];

  async function route() {
    closeStreams();
    const mine = ++generation;
    if (!session) await loadSession();
    if (mine !== generation) return;
    if (!session) { signIn(); return; }
    const hash = location.hash;
    for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', hash.startsWith('#/' + a.dataset.page) || (!hash && a.dataset.page === 'jobs'));
    const view = {
      alive: () => mine === generation,
      set(node) { if (mine === generation) main.replaceChildren(node); }
    };
    for (const [re, page] of routes) {
      const m = hash.match(re);
      if (!m) continue;
      main.replaceChildren(el('p', { class: 'muted', text: 'Loading…' }));
      try {
        await page(view, ...m.slice(1).map(x => decodeURIComponent(x)));
      } catch (e) {
        if (!(e instanceof Quiet) && view.alive()) view.set(el('div', { class: 'error-box', text: e.message }));
      }
      return;
    }
    view.set(el('p', null, 'No such page. ', el('a', { href: '#/jobs', text: 'Jobs' })));
  }

  function go() {
    route().catch(e => { if (!(e instanceof Quiet)) main.replaceChildren(el('div', { class: 'error-box', text: 'The server did not answer: ' + e.message })); });
  }
  window.addEventListener('hashchange', go);

  // ---------- charts ----------
  // A line chart in SVG. series: [{points: [[x, y]], attrs, end}] where end(x, y) may return a marker node.
  function lineChart(series, o) {
    const W = o.width || 640, H = o.height || 280, L = 56, R = 16, T = 12, B = 40;
    const all = series.flatMap(s => s.points);
    const xs = all.map(p => p[0]), ys = all.map(p => p[1]);
    let x0 = o.xMin != null ? o.xMin : Math.min(0, ...xs), x1 = Math.max(...xs, x0 + 1e-9);
    let y0 = o.yMin != null ? o.yMin : Math.min(...ys), y1 = o.yMax != null ? o.yMax : Math.max(...ys);
    if (!(y1 > y0)) { y1 = y0 + 1; }
    const pad = (y1 - y0) * 0.05;
    if (o.yMin == null) y0 -= pad;
    if (o.yMax == null) y1 += pad;
    const X = x => L + (x - x0) / (x1 - x0 || 1) * (W - L - R);
    const Y = y => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
    const svg = sv('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': o.label || 'chart' });
    for (let i = 0; i <= 4; i++) {
      const yv = y0 + (y1 - y0) * i / 4;
      svg.append(sv('line', { class: 'grid', x1: L, x2: W - R, y1: Y(yv), y2: Y(yv) }),
        sv('text', { x: L - 6, y: Y(yv) + 4, 'text-anchor': 'end', text: num(yv, Math.abs(y1 - y0) < 5 ? 2 : 0) }));
    }
    // whole-number x (iterations) gets a tick per value when there are few; anything else five even ticks
    const xTicks = o.xInteger && x1 - x0 <= 20 ? Array.from({ length: Math.floor(x1 - x0) + 1 }, (_, i) => x0 + i) : [0, 1, 2, 3, 4].map(i => x0 + (x1 - x0) * i / 4);
    for (const xv of xTicks) svg.append(sv('text', { x: X(xv), y: H - B + 16, 'text-anchor': 'middle', text: num(xv, o.xInteger ? 0 : Math.abs(x1 - x0) < 5 ? 1 : 0) }));
    svg.append(sv('line', { class: 'axis', x1: L, x2: L, y1: T, y2: H - B }), sv('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }),
      sv('text', { x: (L + W - R) / 2, y: H - 6, 'text-anchor': 'middle', text: o.xLabel || '' }),
      sv('text', { x: 12, y: (T + H - B) / 2, 'text-anchor': 'middle', transform: `rotate(-90 12 ${(T + H - B) / 2})`, text: o.yLabel || '' }));
    // the highlighted series last, so it draws on top
    for (const s of series.slice().sort((a, b) => (a.top ? 1 : 0) - (b.top ? 1 : 0))) {
      if (!s.points.length) continue;
      const d = s.points.map((p, i) => (i ? 'L' : 'M') + X(p[0]).toFixed(1) + ' ' + Y(p[1]).toFixed(1)).join(' ');
      svg.append(sv('path', Object.assign({ d }, s.attrs)));
      // a dot per point: a curve of one point (a trial stopped at its first rung) shows too
      if (s.dots) for (const p of s.points) svg.append(sv('circle', { class: 'dot', cx: X(p[0]).toFixed(1), cy: Y(p[1]).toFixed(1), r: s.top ? 3.5 : 2.5, fill: s.attrs.stroke }));
      const last = s.points[s.points.length - 1];
      if (s.end) { const m = s.end(X(last[0]), Y(last[1])); if (m) svg.append(m); }
    }
    return svg;
  }

  const PALETTE = ['#1b9e77', '#d95f02', '#7570b3', '#e7298a', '#66a61e', '#e6ab02', '#a6761d', '#1f78b4', '#b15928', '#6a3d9a', '#ff7f00', '#33a02c'];

  // A table whose columns sort on a click of their header (numbers as numbers, missing values last).
  function sortableTable(columns, rows, initial) {
    let key = initial || columns[0].key, asc = true;
    const tbody = el('tbody');
    const head = el('tr');
    const table = el('table', { class: 'sortable' }, el('thead', null, head), tbody);
    function draw() {
      const sorted = rows.slice().sort((a, b) => {
        const va = a[key], vb = b[key];
        if (va == null && vb == null) return 0;
        if (va == null) return 1;
        if (vb == null) return -1;
        const c = typeof va === 'number' && typeof vb === 'number' ? va - vb : String(va).localeCompare(String(vb), 'en', { numeric: true });
        return asc ? c : -c;
      });
      tbody.replaceChildren(...sorted.map(r => el('tr', { 'data-id': r.id }, columns.map(c => el('td', { class: c.num ? 'num' : null }, c.show ? c.show(r) : (r[c.key] == null ? '–' : c.num ? num(r[c.key], 4) : String(r[c.key])))))));
      head.replaceChildren(...columns.map(c => el('th', { class: 'sortable' + (c.num ? ' num' : ''), 'data-key': c.key, 'aria-sort': c.key === key ? (asc ? 'ascending' : 'descending') : null,
        onclick: () => { if (key === c.key) asc = !asc; else { key = c.key; asc = true; } draw(); } }, c.label + (c.key === key ? (asc ? ' ▲' : ' ▼') : ''))));
    }
    draw();
    return table;
  }

  // ---------- jobs ----------
  function progressOf(j) {
    const p = j.progress || {};
    if (terminal(j.status) && j.result && j.result.tiles != null) {
      // a finished job: its result counts the tiles of its area (the plan may have counted the whole survey)
      return { done: j.result.tiles, planned: j.result.tiles, errors: j.result.errors, rate: j.result.tiles_per_second, eta: 0, stage: p.stage || j.status };
    }
    const done = p.tilesDone != null ? p.tilesDone : j.result ? j.result.tiles : null;
    const planned = p.tilesPlanned != null ? p.tilesPlanned : j.result ? j.result.tiles : null;
    return { done, planned, errors: p.errors != null ? p.errors : j.result ? j.result.errors : null, rate: p.tilesPerSecond, eta: p.etaSeconds, stage: p.stage };
  }

  function jobRow(j) {
    const p = progressOf(j);
    return el('tr', { 'data-job-id': j.id, 'data-status': j.status },
      el('td', null, el('a', { class: 'mono', href: '#/jobs/' + enc(j.id), text: j.request && j.request.name ? j.request.name : j.id })),
      el('td', { text: j.kind }), el('td', null, badge(j.status)), el('td', { text: j.model || '–' }),
      el('td', null, bar(p.planned ? p.done / p.planned : 0), ' ', el('span', { class: 'muted', text: p.planned ? num(p.done) + ' / ' + num(p.planned) : p.stage || '' })),
      el('td', { class: 'num', text: num(p.errors) }), el('td', { class: 'num', text: p.rate ? num(p.rate, 1) + '/s' : '–' }),
      el('td', { text: j.team }), el('td', { text: when(j.created_at) }));
  }

  async function listJobs(view) {
    const first = await api('/v1/jobs?limit=50');
    const tbody = el('tbody');
    const rows = new Map();
    const upsert = (j, onTop) => {
      const tr = jobRow(j);
      const none = document.getElementById('no-jobs');
      if (none) none.remove();
      const old = rows.get(j.id);
      if (old) old.replaceWith(tr); else if (onTop) tbody.prepend(tr); else tbody.append(tr);
      rows.set(j.id, tr);
    };
    first.items.forEach(j => upsert(j, false));
    const live = el('span', { class: 'muted', id: 'live', text: 'connecting…' });
    view.set(el('div', null, el('h1', null, 'Jobs ', live),
      first.items.length ? null : el('p', { class: 'muted', id: 'no-jobs', text: 'No jobs yet. Run "canopy demo", or ask for a prediction: canopy predict --survey demo --area AREA.geojson --model land-cover@production' }),
      el('table', { id: 'jobs' }, el('thead', null, el('tr', null, ['Job', 'Kind', 'Status', 'Model', 'Progress', 'Errors', 'Rate', 'Team', 'Created'].map(h => el('th', { text: h })))), tbody)));
    if (!view.alive()) return;
    const es = stream('/v1/events/jobs');
    es.addEventListener('open', () => { live.textContent = '· live'; });
    es.addEventListener('job', ev => upsert(JSON.parse(ev.data), true));
    es.addEventListener('error', () => { live.textContent = '· reconnecting…'; });
  }

  function counters(j) {
    const p = progressOf(j);
    const c = (label, value, id) => el('div', { class: 'counter', id }, el('div', { class: 'value', text: value }), el('div', { class: 'label', text: label }));
    return el('div', { class: 'counters', id: 'counters' },
      c('status', j.status, 'c-status'), c('tiles done', p.planned ? num(p.done) + ' / ' + num(p.planned) : num(p.done), 'c-tiles'),
      c('errors', num(p.errors), 'c-errors'), c('tiles per second', num(p.rate, 1), 'c-rate'),
      c(terminal(j.status) ? 'ran for' : 'time left', terminal(j.status) ? duration(j.result && j.result.seconds) : duration(p.eta), 'c-eta'),
      c('stage', p.stage || '–', 'c-stage'));
  }

  function throughputChart(points) {
    if (points.length < 2) return el('p', { class: 'muted', text: 'No shard committed yet.' });
    const rate = [];
    for (let i = 1; i < points.length; i++) {
      const dt = points[i][0] - points[i - 1][0];
      const r = dt > 0 ? (points[i][1] - points[i - 1][1]) / dt : 0;
      rate.push([points[i - 1][0], r], [points[i][0], r]);
    }
    return lineChart([{ points: rate, attrs: { class: 'series', id: 'throughput-line' } }], { xLabel: 'seconds since the start', yLabel: 'tiles per second', yMin: 0, label: 'throughput over time', height: 220 });
  }

  async function showJob(view, id) {
    let job = await api('/v1/jobs/' + enc(id));
    const timeline = await api('/v1/jobs/' + enc(id) + '/timeline');
    const points = timeline.points.slice();
    const counterBox = el('div', null, counters(job));
    const chartBox = el('div', { id: 'throughput' }, throughputChart(points));
    const stages = Object.entries(timeline.stages_ms_mean || {});
    const head = el('div', null,
      el('h1', null, 'Job ', el('span', { class: 'mono', text: job.id }), ' ', badge(job.status)),
      el('p', { class: 'muted' }, job.kind, ' · model ', job.model || '–', job.request && job.request.name ? ' · ' + job.request.name : '',
        job.indexed ? ' · found under the Canopy home' : '', ' · created ', when(job.created_at), ' · started ', when(job.started_at), ' · finished ', when(job.finished_at)),
      job.error ? el('div', { class: 'error-box', text: job.error }) : null);
    const has = s => session.scopes.includes(s) || session.scopes.includes('admin');
    const canCancel = !terminal(job.status) && has('predict') && (job.kind !== 'retrain' || has('train'));
    const cancel = canCancel ? el('button', { class: 'danger', id: 'cancel-job', text: 'Cancel job', onclick: ev => act(ev.target, 'Cancel job ' + job.id + '? Committed shards stay.',
      () => api('/v1/jobs/' + enc(job.id) + '/cancel', { method: 'POST' }), route) }) : null;
    const logLink = el('p', null, 'Log: ', el('a', { href: job.log, id: 'log-link', target: '_blank', rel: 'noopener', text: location.origin + job.log }), ' ', cancel);
    const errorsBox = el('div', { id: 'errors' });
    const mapBox = el('div', { id: 'map-box' });
    view.set(el('div', null, head, card('Progress', counterBox, logLink),
      el('div', { class: 'row' }, card('Throughput', chartBox),
        card('Stages', stages.length ? el('table', { id: 'stages' }, el('thead', null, el('tr', null, el('th', { text: 'stage' }), el('th', { class: 'num', text: 'mean ms per call' }))),
          el('tbody', null, stages.map(([k, v]) => el('tr', null, el('td', { text: k.replace('_', ' ') }), el('td', { class: 'num', text: num(v, 2) }))))) : el('p', { class: 'muted', text: 'Stage times come with the summary, when the job ends.' }))),
      card('Failed tiles', errorsBox), mapBox));
    if (job.kind === 'prediction' && job.status === 'succeeded' && job.result) {
      if (job.result.errors > 0) await renderErrors(errorsBox, job); else errorsBox.append(el('p', { class: 'muted', text: 'None: every tile was read and predicted.' }));
      if (view.alive()) await renderMap(mapBox, job, view);
    } else {
      errorsBox.append(el('p', { class: 'muted', text: terminal(job.status) ? 'No tile results for this job.' : 'Listed when the job ends.' }));
    }
    if (!terminal(job.status) && view.alive()) {
      const es = stream('/v1/jobs/' + enc(id) + '/events');
      es.addEventListener('job', ev => {
        job = JSON.parse(ev.data);
        counterBox.replaceChildren(counters(job));
        const p = job.progress || {};
        // the driver's own clock (its start, its last write), as the committed-shard points use: no browser clock skew
        const t = Date.parse(p.updatedAt) - Date.parse(p.startedAt || timeline.started_at);
        if (p.tilesDone != null && t >= 0 && (!points.length || t / 1000 > points[points.length - 1][0])) {
          points.push([t / 1000, p.tilesDone]);
          chartBox.replaceChildren(throughputChart(points));
        }
      });
      es.addEventListener('end', () => { es.close(); route(); });
    }
  }

  async function renderErrors(box, job) {
    const fc = await api('/v1/jobs/' + enc(job.id) + '/features?status=error&limit=200');
    box.append(el('table', { id: 'error-tiles' }, el('thead', null, el('tr', null, el('th', { text: 'tile' }), el('th', { text: 'error' }))),
      el('tbody', null, fc.features.map(f => el('tr', null, el('td', { class: 'mono', text: f.id }), el('td', { text: f.properties.error || '' }))))),
      fc.next_cursor ? el('p', { class: 'muted', text: 'The first 200 of ' + num(job.result.errors) + ' failed tiles.' }) : null);
  }

  // ---------- the map ----------
  // land cover people know by colour; other class sets take the palette in order
  const NAMED_COLORS = { invasive_weed: '#d62728', native_grass: '#9ccc65', shrub: '#2e7d32', bare_soil: '#a1887f', water: '#1e88e5' };
  const RAMP = ['#ffffcc', '#c2e699', '#78c679', '#31a354', '#006837'];
  const ERROR_COLOR = '#9e9e9e';

  async function renderMap(box, job, view) {
    const tiles = job.result.tiles || 0;
    if (tiles > 100000) {
      box.append(card('Map', el('p', { class: 'muted', text: 'This job has ' + num(tiles) + ' tiles, more than the map draws; its GeoParquet is at ' + job.result.geoparquet }))); return;
    }
    const features = [];
    let cursor = null;
    do {
      const fc = await api('/v1/jobs/' + enc(job.id) + '/features?limit=10000' + (cursor ? '&cursor=' + enc(cursor) : ''));
      features.push(...fc.features);
      cursor = fc.next_cursor;
      if (!view.alive()) return;
    } while (cursor);
    const area = job.has_area ? await api('/v1/jobs/' + enc(job.id) + '/area') : null;
    const cover = job.result.cover || {};
    const classes = Object.keys(cover).length ? Object.keys(cover)
      : [...new Set(features.flatMap(f => Object.keys(f.properties).filter(k => k.startsWith('prob_')).map(k => k.slice(5))))];
    const colorOf = {};
    classes.forEach((c, i) => { colorOf[c] = NAMED_COLORS[c] || PALETTE[i % PALETTE.length]; });
    const mode = el('select', { id: 'map-mode', 'aria-label': 'colour by' },
      el('option', { value: 'top', text: 'Top class' }), classes.map(c => el('option', { value: 'prob:' + c, text: 'Probability of ' + c.replace(/_/g, ' ') })));
    const weed = classes.find(c => /weed/.test(c));
    const legend = el('ul', { class: 'legend', id: 'legend' });
    const side = el('div', { class: 'side', id: 'tile-panel' }, el('p', { class: 'muted', text: 'Click a tile to see its image and probabilities.' }));
    const mapBox = el('div', { id: 'map-svg' });
    const wrap = el('div', { class: 'map-wrap' }, mapBox, el('div', { class: 'side' }, el('label', null, 'Colour by ', mode), legend,
      el('p', { class: 'muted', text: job.result.area_hectares != null ? 'Area: ' + num(job.result.area_hectares, 2) + ' ha' : '' }), side));
    box.append(card('Map', wrap));

    // equirectangular, with x shrunk by cos(latitude) so that tiles keep their shape
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    const grow = (x, y) => { minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y); };
    for (const f of features) for (const p of f.geometry.coordinates[0]) grow(p[0], p[1]);
    const rings = area ? (area.type === 'Polygon' ? [area.coordinates] : area.type === 'MultiPolygon' ? area.coordinates : []) : [];
    for (const poly of rings) for (const ring of poly) for (const p of ring) grow(p[0], p[1]);
    if (!features.length && !rings.length) { mapBox.append(el('p', { class: 'muted', text: 'No tiles.' })); return; }
    const k = Math.cos(((minY + maxY) / 2) * Math.PI / 180);
    const W = 800, spanX = Math.max((maxX - minX) * k, 1e-12), spanY = Math.max(maxY - minY, 1e-12);
    const scale = W / spanX, H = Math.min(1200, Math.max(200, spanY * scale)), sy = H / spanY;
    const px = x => ((x - minX) * k * scale).toFixed(2), py = y => ((maxY - y) * sy).toFixed(2);

    // jobs past 10,000 tiles are drawn as aggregated cells (mean probabilities per cell), not one shape per tile
    let shapes;
    if (features.length > 10000) {
      const n = 100, cells = new Map();
      for (const f of features) {
        const c = f.geometry.coordinates[0];
        const cx = Math.min(n - 1, Math.floor((c[0][0] - minX) / (maxX - minX || 1) * n)), cy = Math.min(n - 1, Math.floor((c[0][1] - minY) / (maxY - minY || 1) * n));
        const key = cx + ',' + cy;
        let cell = cells.get(key);
        if (!cell) { cell = { cx, cy, n: 0, sums: {}, errors: 0 }; cells.set(key, cell); }
        cell.n++;
        if (f.properties.status === 'error') cell.errors++;
        for (const cl of classes) cell.sums[cl] = (cell.sums[cl] || 0) + (f.properties['prob_' + cl] || 0);
      }
      shapes = [...cells.values()].map(cell => {
        const probs = {};
        let top = null;
        for (const cl of classes) { probs['prob_' + cl] = cell.sums[cl] / cell.n; if (top == null || probs['prob_' + cl] > probs['prob_' + top]) top = cl; }
        const x0 = minX + cell.cx / n * (maxX - minX), x1 = minX + (cell.cx + 1) / n * (maxX - minX);
        const y0 = minY + cell.cy / n * (maxY - minY), y1 = minY + (cell.cy + 1) / n * (maxY - minY);
        return { id: 'cell ' + cell.cx + ',' + cell.cy + ' (' + cell.n + ' tiles)', cell: true,
          geometry: { coordinates: [[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]] }, properties: Object.assign({ status: cell.errors === cell.n ? 'error' : 'ok', top_class: top }, probs) };
      });
    } else {
      shapes = features;
    }
    const svg = sv('svg', { class: 'map', id: 'map', viewBox: `0 0 ${W} ${H.toFixed(0)}`, role: 'img', 'aria-label': 'tiles of the job' });
    const nodes = shapes.map(f => {
      const ring = f.geometry.coordinates[0];
      const pts = ring.map(p => px(p[0]) + ',' + py(p[1])).join(' ');
      const node = sv('polygon', { class: f.cell ? 'tile cell' : 'tile', points: pts, 'data-tile': f.id, 'data-top-class': f.properties.status === 'error' ? 'error' : f.properties.top_class,
        onclick: () => select(f, node) });
      return node;
    });
    svg.append(...nodes);
    for (const poly of rings) {
      const d = poly.map(ring => 'M' + ring.map(p => px(p[0]) + ' ' + py(p[1])).join(' L') + ' Z').join(' ');
      svg.append(sv('path', { class: 'area', d }));
    }
    mapBox.append(svg);

    function paint() {
      const m = mode.value;
      legend.replaceChildren();
      const entry = (key, color, label) => {
        const sw = el('span', { class: 'swatch' });
        sw.style.background = color;
        legend.append(el('li', { 'data-class': key, 'data-color': color }, sw, el('span', { text: label })));
      };
      const count = {};
      shapes.forEach(f => { const c = f.properties.status === 'error' ? 'error' : f.properties.top_class; count[c] = (count[c] || 0) + 1; });
      if (m === 'top') {
        classes.forEach(c => {
          const cv = cover[c] || {};
          entry(c, colorOf[c], c.replace(/_/g, ' ') + ' — ' + num(count[c] || 0) + (shapes[0] && shapes[0].cell ? ' cells' : ' tiles')
            + (cv.percent != null ? ', ' + num(cv.percent, 1) + '%' : '') + (cv.hectares != null ? ', ' + num(cv.hectares, 2) + ' ha' : ''));
        });
      } else {
        const c = m.slice(5);
        RAMP.forEach((color, i) => entry('bin-' + i, color, 'p(' + c.replace(/_/g, ' ') + ') ' + (i / RAMP.length).toFixed(1) + '–' + ((i + 1) / RAMP.length).toFixed(1)));
      }
      if (count.error) entry('error', ERROR_COLOR, 'failed tile — ' + num(count.error));
      shapes.forEach((f, i) => {
        let color;
        if (f.properties.status === 'error') color = ERROR_COLOR;
        else if (m === 'top') color = colorOf[f.properties.top_class] || ERROR_COLOR;
        else color = RAMP[Math.min(RAMP.length - 1, Math.floor((f.properties['prob_' + m.slice(5)] || 0) * RAMP.length))];
        nodes[i].setAttribute('fill', color);
        nodes[i].setAttribute('data-color', color);
      });
    }
    mode.addEventListener('change', paint);
    if (weed && features.length) mode.title = 'Tip: "Probability of ' + weed + '" shows weed cover';
    paint();

    function select(f, node) {
      svg.querySelectorAll('.selected').forEach(n => n.classList.remove('selected'));
      node.classList.add('selected');
      const probs = Object.entries(f.properties).filter(([key]) => key.startsWith('prob_')).sort((a, b) => b[1] - a[1]);
      side.replaceChildren();
      kids(side, [el('h2', { class: 'mono', text: f.id }),
        f.cell ? el('p', { class: 'muted', text: 'Mean probabilities of the tiles in this cell.' })
          : tileImage(job, f),
        f.properties.status === 'error' ? el('div', { class: 'error-box', text: f.properties.error || 'failed' }) : el('p', null, 'Top class: ', el('strong', { text: f.properties.top_class })),
        probs.map(([key, v]) => el('div', { class: 'prob' }, el('span', { text: key.slice(5).replace(/_/g, ' ') }), bar(v), el('span', { text: num(v, 3) })))]);
    }
  }

  // The image through fetch, so that a refusal (outside the allowed prefixes) shows its reason rather than a broken image.
  function tileImage(job, f) {
    const box = el('div', { class: 'tile-image-box' }, el('p', { class: 'muted', text: 'Loading the image…' }));
    fetch('/v1/jobs/' + enc(job.id) + '/tiles/' + enc(f.id) + '/image', { credentials: 'same-origin' }).then(async r => {
      if (!r.ok) {
        const p = await r.json().catch(() => ({}));
        box.replaceChildren(el('div', { class: 'error-box', text: p.detail || 'The image could not be read (HTTP ' + r.status + ').' }));
        return;
      }
      const url = URL.createObjectURL(await r.blob());
      const img = el('img', { id: 'tile-image', alt: 'tile ' + f.id, src: url });
      img.addEventListener('load', () => URL.revokeObjectURL(url), { once: true });
      box.replaceChildren(img);
    }, e => box.replaceChildren(el('div', { class: 'error-box', text: 'The image could not be read: ' + e.message })));
    return box;
  }

  // ---------- experiments ----------
  function trialChart(e) {
    const best = e.best_trial;
    const series = e.trials.filter(t => t.curve.length).map((t, i) => {
      const isBest = t.id === best;
      const color = isBest ? '#111' : PALETTE[i % PALETTE.length];
      return {
        points: t.curve, top: isBest, dots: true,
        attrs: { class: 'trial-line' + (isBest ? ' best' : ''), stroke: color, 'data-trial': t.id, 'data-status': t.status, 'data-iterations': t.curve.length },
        end: t.status === 'stopped' ? (x, y) => sv('g', { class: 'stop-mark', 'data-trial': t.id, stroke: color },
          sv('line', { x1: x - 4, y1: y - 4, x2: x + 4, y2: y + 4 }), sv('line', { x1: x - 4, y1: y + 4, x2: x + 4, y2: y - 4 })) : null
      };
    });
    if (!series.length) return el('p', { class: 'muted', text: 'No trial has reported yet.' });
    return lineChart(series, { xLabel: 'iteration (epochs)', yLabel: e.metric, xMin: 0, xInteger: true, label: 'trial curves', height: 300 });
  }

  function experimentSummary(e) {
    const c = e.cost || {};
    const trials = Array.isArray(e.trials) ? e.trials.length : e.trials; // the detail carries the trials themselves
    return el('p', { class: 'summary' }, el('strong', { text: e.scheduler }), ' on ', e.metric, ' (', e.mode, ') · ', num(trials), ' trials, ',
      num(e.stopped), ' stopped early · best ', el('span', { class: 'mono', text: e.best_trial || '–' }), ' = ', num(e.best, 4),
      ' · compute: ', num(c.trial_iterations), ' of ', num(c.if_every_trial_ran_to_max_t), ' trial-iterations, ',
      el('strong', { class: 'saved', text: num(c.saved_percent, 1) + '% saved' }));
  }

  function trialTable(e) {
    const rows = e.trials.map(t => {
      const vals = t.curve.map(p => p[1]);
      return { id: t.id, status: t.status, iterations: t.iterations, last: vals.length ? vals[vals.length - 1] : null,
        best: vals.length ? (e.mode === 'min' ? Math.min(...vals) : Math.max(...vals)) : null,
        config: Object.entries(t.config || {}).map(([k, v]) => k + '=' + (typeof v === 'number' ? Number(v.toPrecision(4)) : JSON.stringify(v))).join(', ') };
    });
    return sortableTable([
      { key: 'id', label: 'Trial', show: r => el('span', { class: 'mono' + (r.id === e.best_trial ? ' best' : ''), text: r.id + (r.id === e.best_trial ? ' ★' : '') }) },
      { key: 'status', label: 'Status', show: r => badge(r.status) },
      { key: 'iterations', label: 'Iterations', num: true },
      { key: 'last', label: 'Last ' + e.metric, num: true },
      { key: 'best', label: 'Best ' + e.metric, num: true },
      { key: 'config', label: 'Configuration', show: r => el('code', { text: r.config }) }
    ], rows, 'id');
  }

  async function listExperiments(view) {
    const data = await api('/v1/experiments');
    view.set(el('div', null, el('h1', { text: 'Experiments' }),
      data.items.length ? sortableTable([
        { key: 'id', label: 'Experiment', show: r => el('a', { class: 'mono', href: '#/experiments/' + enc(r.id), text: r.id }) },
        { key: 'status', label: 'Status', show: r => badge(String(r.status).toLowerCase()) },
        { key: 'scheduler', label: 'Scheduler' }, { key: 'metric', label: 'Metric' },
        { key: 'trials', label: 'Trials', num: true }, { key: 'stopped', label: 'Stopped', num: true },
        { key: 'best', label: 'Best', num: true }, { key: 'saved', label: 'Compute saved %', num: true },
        { key: 'refined', label: 'Refined', show: r => r.refined ? 'coarse → fine' : '–' }
      ], data.items.map(x => Object.assign({ saved: x.cost ? x.cost.saved_percent : null }, x)), 'id')
        : el('p', { class: 'muted', text: 'No experiments yet: run "canopy demo" or "canopy tune".' })));
  }

  async function showExperiment(view, id) {
    const e = await api('/v1/experiments/' + id.split('/').map(enc).join('/'));
    const parts = [el('h1', null, 'Experiment ', el('span', { class: 'mono', text: e.id }), ' ', badge(String(e.status).toLowerCase())), card(null, experimentSummary(e)),
      card('Trial curves', el('div', { id: 'trial-chart' }, trialChart(e)),
        el('p', { class: 'muted', text: '× marks where the scheduler stopped a trial; the thick black line is the best trial.' })),
      card('Trials', trialTable(e))];
    if (e.refined) {
      const r = e.refined;
      const gain = e.best != null && r.best != null ? (r.best - e.best) * (e.mode === 'min' ? -1 : 1) : null;
      parts.push(el('h2', { text: 'Coarse then fine' }),
        el('p', { id: 'refine-gain' }, 'Best ', e.metric, ': coarse ', num(e.best, 4), ' → refined ', num(r.best, 4),
          gain == null ? '' : ' (' + (gain >= 0 ? '+' : '') + num(gain, 4) + ')'),
        el('div', { class: 'split', id: 'side-by-side' },
          card('Coarse search', experimentSummary(e), trialChart(e)),
          card('Refined search (around the coarse top trials)', experimentSummary(r), trialChart(r), trialTable(r))));
    }
    view.set(el('div', null, parts));
  }

  // ---------- models ----------
  async function listModels(view) {
    const data = await api('/v1/models?limit=500');
    view.set(el('div', null, el('h1', { text: 'Models' }),
      data.items.length ? el('table', { id: 'models' }, el('thead', null, el('tr', null, ['Model', 'Versions', 'Stages'].map(h => el('th', { text: h })))),
        el('tbody', null, data.items.map(m => el('tr', { 'data-model': m.name },
          el('td', null, el('a', { href: '#/models/' + enc(m.name), text: m.name })), el('td', { class: 'num', text: num(m.versions) }),
          el('td', { text: Object.entries(m.stages).map(([s, v]) => s + ': v' + v).join(' · ') || '–' })))))
        : el('p', { class: 'muted', text: 'No models yet.' })));
  }

  function confusionMatrix(c) {
    if (!c || !c.matrix) return el('p', { class: 'muted', text: 'No confusion matrix recorded for this version.' });
    const max = Math.max(1, ...c.matrix.flat());
    return el('table', { class: 'matrix', id: 'confusion' },
      el('thead', null, el('tr', null, el('th', { text: 'true \\ predicted' }), c.classes.map(x => el('th', { text: x.replace(/_/g, ' ') })))),
      el('tbody', null, c.matrix.map((row, i) => el('tr', null, el('th', { text: c.classes[i].replace(/_/g, ' ') }), row.map((v, j) => {
        const td = el('td', { text: num(v) });
        const a = v / max;
        td.style.background = i === j ? `rgba(47,125,50,${(0.1 + 0.8 * a).toFixed(2)})` : v ? `rgba(179,38,30,${(0.1 + 0.6 * a).toFixed(2)})` : '';
        if (a > 0.6) td.style.color = '#fff';
        return td;
      })))));
  }

  function versionDetail(v) {
    const p = v.provenance || {};
    const metrics = Object.entries(v.metrics || {}).sort();
    return el('div', { class: 'row', id: 'version-detail' },
      card('v' + v.version + ' metrics', el('table', null, el('tbody', null, metrics.map(([k, x]) => el('tr', null, el('td', { text: k }), el('td', { class: 'num', text: num(x, 4) })))))),
      card('Confusion matrix (validation)', confusionMatrix(v.confusion)),
      card('Provenance', el('table', null, el('tbody', null,
        [['source', p.source], ['seed', p.seed], ['data set', p.dataset], ['data set digest', p.datasetDigest], ['code version', p.codeVersion], ['created', when(p.createdAt)]]
          .map(([k, x]) => el('tr', null, el('td', { text: k }), el('td', { class: 'mono', text: x == null ? '–' : String(x) }))))),
        p.parameters ? el('details', null, el('summary', { text: 'parameters' }), el('pre', { class: 'mono', text: JSON.stringify(p.parameters, null, 2) })) : null));
  }

  async function showModel(view, name, selected) {
    const m = await api('/v1/models/' + enc(name));
    const versions = m.versions.slice().sort((a, b) => b.version - a.version);
    let chosen = versions.find(v => v.version === selected) || versions.find(v => v.stage === 'production') || versions[0];
    const detail = el('div', null, versionDetail(chosen));
    const reload = () => showModel(view, name, chosen.version);
    const isAdmin = admin();
    const actions = v => {
      if (!isAdmin) return null;
      const b = (label, cls, question, work) => el('button', { class: 'admin-action ' + (cls || ''), 'data-action': label.toLowerCase().replace(/ /g, '-'), 'data-version': v.version, text: label,
        onclick: ev => act(ev.target, question, work, reload) });
      const out = [];
      if (v.approval === 'pending' || v.approval === 'none') {
        out.push(b('Approve', 'primary', `Approve ${v.ref}? It is promoted to production.`, () => api(`/v1/models/${enc(name)}/versions/${v.version}/approve`, { method: 'POST', body: {} })));
        out.push(b('Reject', 'danger', `Reject ${v.ref}? Production stays as it is.`, () => api(`/v1/models/${enc(name)}/versions/${v.version}/reject`, { method: 'POST', body: {} })));
      }
      if (v.stage !== 'production') out.push(b('Promote', null, `Promote ${v.ref} to production?`, () => api(`/v1/models/${enc(name)}/promote`, { method: 'POST', body: { version: v.version, stage: 'production' } })));
      if (v.stage === 'none') out.push(b('Stage', null, `Move ${v.ref} to staging?`, () => api(`/v1/models/${enc(name)}/promote`, { method: 'POST', body: { version: v.version, stage: 'staging' } })));
      return out;
    };
    const rows = versions.map(v => el('tr', { 'data-version': v.version, 'data-stage': v.stage, class: v === chosen ? 'chosen' : null },
      el('td', null, el('a', { href: '#/models/' + enc(name), text: 'v' + v.version, onclick: ev => { ev.preventDefault(); chosen = v; detail.replaceChildren(versionDetail(v)); } })),
      el('td', { class: 'stage', text: v.stage }), el('td', null, badge(v.approval)),
      el('td', { class: 'num', text: num(v.metrics && v.metrics.val_accuracy, 4) }), el('td', { class: 'num', text: num(v.metrics && v.metrics.val_macro_f1, 4) }),
      el('td', { text: when(v.registered_at) }), el('td', null, actions(v))));
    const rollbacks = isAdmin ? ['production', 'staging'].filter(s => versions.some(v => v.stage === s)).map(s =>
      el('button', { class: 'admin-action', 'data-action': 'rollback-' + s, text: 'Roll back ' + s,
        onclick: ev => act(ev.target, `Roll ${name}'s ${s} back to the version it had before?`, () => api(`/v1/models/${enc(name)}/rollback`, { method: 'POST', body: { stage: s } }), reload) })) : [];
    view.set(el('div', null, el('h1', null, 'Model ', el('span', { class: 'mono', text: name })),
      card('Versions', el('table', { id: 'versions' }, el('thead', null, el('tr', null, ['Version', 'Stage', 'Approval', 'Val accuracy', 'Val macro F1', 'Registered', isAdmin ? 'Actions' : ''].map(h => el('th', { text: h })))),
        el('tbody', null, rows)), rollbacks.length ? el('p', null, rollbacks) : null),
      detail,
      card('Stage history', m.history.length ? el('table', { id: 'history' }, el('thead', null, el('tr', null, ['When', 'Stage', 'Version', 'Previous', 'Action', 'By'].map(h => el('th', { text: h })))),
        el('tbody', null, m.history.map(h => el('tr', null, el('td', { text: when(h.at) }), el('td', { text: h.stage }), el('td', { text: 'v' + h.version }),
          el('td', { text: h.previous == null ? '–' : 'v' + h.previous }), el('td', { text: h.action }), el('td', { text: h.actor }))))) : el('p', { class: 'muted', text: 'No stage changes through the control plane yet.' }))));
  }

  // ---------- clusters ----------
  function warmInput(c) {
    return el('input', { type: 'number', min: 0, max: 8, value: c.warm_pool ? c.warm_pool.drivers : 0, class: 'admin-action warm-size',
      'aria-label': 'warm pool size for ' + c.name });
  }

  async function listClusters(view) {
    const data = await api('/v1/clusters');
    const isAdmin = admin();
    const reload = () => listClusters(view);
    const rows = data.items.map(c => {
      const scale = el('input', { type: 'number', min: 0, max: 64, value: c.workers_wanted, 'aria-label': 'workers for ' + c.name, class: 'admin-action' });
      const running = c.state === 'running';
      const warmSize = warmInput(c);
      return el('tr', { 'data-cluster': c.name, 'data-state': c.state },
        el('td', { class: 'mono', text: c.name }), el('td', null, badge(c.state)),
        el('td', { class: 'num', text: num(c.workers_alive) + ' / ' + num(c.workers_wanted) }),
        el('td', { class: 'num', text: num(c.cores_used) + ' / ' + num(c.cores) }),
        el('td', { class: 'num', text: num(c.memory_used_mb / 1024, 1) + ' / ' + num(c.memory_mb / 1024, 1) + ' GB' }),
        el('td', { text: (c.running_applications || []).join(', ') || '–' }),
        el('td', { class: 'warm-pool', text: c.warm_pool && c.warm_pool.drivers ? `${c.warm_pool.ready}/${c.warm_pool.drivers} ready, ${c.warm_pool.busy} busy, ${c.warm_pool.jobs_run} jobs run` : 'none' }),
        el('td', { text: running ? duration(c.uptime_seconds) : '–' }),
        el('td', { class: 'mono', text: c.master || '–' }),
        isAdmin ? el('td', null, running ? [scale, ' ', el('button', { class: 'admin-action', 'data-action': 'scale', text: 'Scale',
          onclick: ev => {
            if (!/^[0-9]+$/.test(scale.value)) { flash('Give the number of workers (0-64) before scaling.', true); return; }
            act(ev.target, `Scale ${c.name} to ${scale.value} workers? Workers removed stop their tasks, which Spark runs again elsewhere.`,
            () => api(`/v1/clusters/${enc(c.name)}/scale`, { method: 'POST', body: { workers: Number(scale.value) } }), reload);
          } }), ' ',
          warmSize, ' ', el('button', { class: 'admin-action', 'data-action': 'warm', text: 'Warm pool',
            onclick: ev => {
              const size = warmSize.value;
              if (!/^[0-9]$/.test(size)) { flash('Give the warm pool size (0-8) first.', true); return; }
              act(ev.target, `Make ${c.name}'s warm pool ${size} driver(s)? Each holds a share of the cluster's cores while it waits for predictions.`,
                () => api(`/v1/clusters/${enc(c.name)}/warm-pool`, { method: 'POST', body: { size: Number(size) } }), reload);
            } }), ' ',
          el('button', { class: 'admin-action danger', 'data-action': 'stop', text: 'Stop',
            onclick: ev => act(ev.target, `Stop cluster ${c.name}? Its running applications lose their executors.`, () => api(`/v1/clusters/${enc(c.name)}/stop`, { method: 'POST' }), reload) })]
          : el('button', { class: 'admin-action', 'data-action': 'start', text: 'Start',
            onclick: ev => act(ev.target, `Start cluster ${c.name} again?`, () => api(`/v1/clusters/${enc(c.name)}/start`, { method: 'POST' }), reload) })) : null);
    });
    let create = null;
    if (isAdmin) {
      const name = el('input', { id: 'new-cluster-name', placeholder: 'name', required: true });
      const workers = el('input', { id: 'new-cluster-workers', type: 'number', min: 0, max: 64, value: 2, 'aria-label': 'workers' });
      const cores = el('input', { id: 'new-cluster-cores', type: 'number', min: 1, max: 256, value: 1, 'aria-label': 'cores per worker' });
      const memory = el('input', { id: 'new-cluster-memory', value: '1g', size: 5, 'aria-label': 'memory per worker' });
      const go = el('button', { class: 'admin-action primary', type: 'submit', 'data-action': 'create', text: 'Create' });
      create = card('New cluster on this host', el('form', { class: 'inline', id: 'create-cluster', onsubmit: ev => {
        ev.preventDefault();
        act(go, `Create cluster ${name.value} with ${workers.value} workers of ${cores.value} core(s) and ${memory.value}?`,
          () => api('/v1/clusters', { method: 'POST', body: { name: name.value, workers: Number(workers.value), worker_cores: Number(cores.value), worker_memory: memory.value } }), reload);
      } }, 'Name ', name, ' workers ', workers, ' cores each ', cores, ' memory each ', memory, ' ', go));
    }
    view.set(el('div', null, el('h1', { text: 'Clusters' }),
      data.items.length ? el('table', { id: 'clusters' }, el('thead', null, el('tr', null,
        ['Cluster', 'State', 'Workers', 'Cores used', 'Memory used', 'Running applications', 'Warm pool', 'Up', 'Master', isAdmin ? 'Actions' : null].filter(x => x != null).map(h => el('th', { text: h })))),
        el('tbody', null, rows)) : el('p', { class: 'muted', text: 'No clusters on this host. Create one here (admin) or with: canopy cluster create NAME --workers 2' }),
      create));
  }

  go();
})();
