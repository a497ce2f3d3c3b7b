// bbo dashboard page: vanilla JS over the JSON API of `bbo dashboard` (cli/dashboard/api.h). Plots are SVGs
// rendered by the server; this script only lays out data. Location hash: #/study/<id>[/trial/<number>].
'use strict';

const POLL_MS = 2000;
const STATES = ['COMPLETE', 'RUNNING', 'WAITING', 'PRUNED', 'FAIL'];
const MAX_PARAM_COLUMNS = 12;

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function fmt(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-4 || a >= 1e7)) return v.toExponential(4);
    return String(Number(v.toPrecision(6)));
  }
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

function fmtDuration(s) {
  if (s === null || s === undefined || typeof s !== 'number') return '';
  if (s < 1) return (s * 1000).toFixed(0) + ' ms';
  if (s < 120) return s.toFixed(s < 10 ? 2 : 1) + ' s';
  if (s < 7200) return (s / 60).toFixed(1) + ' min';
  return (s / 3600).toFixed(1) + ' h';
}

function fmtTime(iso) {
  if (!iso) return '';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

async function api(path, options = {}) {
  const res = await fetch(path, {cache: 'no-cache', ...options});
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = {error: text}; }
  if (!res.ok) throw new Error((body && body.error) || res.statusText);
  return body;
}

// ---- state

const state = {
  studies: [],
  allowWrite: false,
  plotKinds: [],
  studyId: null,
  study: null,
  page: null,           // the last /trials answer
  trialNumber: null,
  query: {offset: 0, limit: 50, sort: 'number', order: 'desc', states: new Set(), filter: ''},
  lastTrialsKey: '',
  plotKey: '',
  plotVersion: -1,
  plotUrl: null,
};

function route() {
  const m = location.hash.match(/^#\/study\/(\d+)(?:\/trial\/(\d+))?/);
  const id = m ? Number(m[1]) : null;
  const trial = m && m[2] !== undefined ? Number(m[2]) : null;
  if (id !== state.studyId) {
    state.studyId = id;
    state.study = null;
    state.page = null;
    state.query.offset = 0;
    state.query.filter = '';
    state.query.states = new Set();
    $('trial-filter').value = '';
    state.plotKey = '';
    state.lastTrialsKey = '';
    $('plot').replaceChildren(el('p', {class: 'muted', text: 'No plot.'}));
    $('detail-body').replaceChildren(el('p', {class: 'muted', text: 'Click a row to see a trial.'}));
    $('detail-title').textContent = 'Trial';
    $('detail-actions').replaceChildren();
  }
  state.trialNumber = trial;
  renderStudyList();
  refresh();
  if (trial !== null) loadTrial();
}

function showError(message) {
  const b = $('error-banner');
  b.hidden = !message;
  b.textContent = message || '';
}

// ---- studies list

async function loadStudies() {
  const data = await api('/api/studies');
  state.studies = data.studies;
  state.allowWrite = data.allow_write;
  state.plotKinds = data.plot_kinds;
  const mode = $('mode');
  mode.textContent = data.allow_write ? 'writes allowed' : 'read-only';
  mode.className = 'badge' + (data.allow_write ? ' write' : '');
  renderStudyList();
}

function renderStudyList() {
  const filter = $('study-filter').value.toLowerCase();
  const items = state.studies
    .filter((s) => s.name.toLowerCase().includes(filter))
    .map((s) => el('li', {},
      el('a', {href: `#/study/${s.id}`, class: s.id === state.studyId ? 'active' : null, 'data-study': s.name},
        el('div', {class: 'name', text: s.name}),
        el('div', {class: 'sub', text: `${s.n_trials} trials · ${s.directions.join(', ')}` +
                                       (s.strategy ? ` · ${s.strategy}` : '')}))));
  $('study-list').replaceChildren(...items);
  $('study-count').textContent = state.studies.length ? String(state.studies.length) : '';
  if (!items.length) $('study-list').append(el('li', {class: 'muted', text: 'No studies.'}));
}

// ---- one study

async function loadStudy() {
  const s = await api(`/api/studies/${state.studyId}`);
  if (s.id !== state.studyId) return;
  const changed = !state.study || state.study.version !== s.version;
  state.study = s;
  renderStudy();
  if (changed) renderPlotControls();
}

function chip(label, value) {
  return el('span', {class: 'chip'}, label + ' ', el('b', {text: value}));
}

function renderStudy() {
  const s = state.study;
  $('welcome').hidden = true;
  $('study').hidden = false;
  $('study-name').textContent = s.name;
  document.title = `${s.name} · bbo dashboard`;
  const meta = [chip('directions', s.directions.join(', '))];
  if (s.strategy) meta.push(chip('strategy', s.strategy.name || fmt(s.strategy)));
  if (s.pruner && s.pruner.name && s.pruner.name !== 'none') meta.push(chip('pruner', s.pruner.name));
  if (s.seed !== null && s.seed !== undefined) meta.push(chip('seed', s.seed));
  if (s.datetime_start) meta.push(chip('started', fmtTime(s.datetime_start)));
  $('study-meta').replaceChildren(...meta);

  const counts = [el('div', {class: 'count'}, el('div', {class: 'n', text: String(s.n_trials)}),
                     el('div', {class: 'l', text: 'trials'}))];
  for (const st of STATES) {
    if (!s.counts[st]) continue;
    counts.push(el('div', {class: 'count'}, el('div', {class: 'n', text: String(s.counts[st])}),
                   el('div', {class: 'l', text: st.toLowerCase()})));
  }
  $('study-counts').replaceChildren(...counts);

  const extra = [];
  if (s.best && s.best.length) {
    if (s.directions.length === 1) {
      const b = s.best[0];
      extra.push(el('div', {class: 'note'}, 'Best: ', el('b', {text: fmt(b.values[0])}), ' (trial ',
                    el('a', {href: `#/study/${s.id}/trial/${b.number}`, text: `#${b.number}`}), ')'));
    } else {
      extra.push(el('div', {class: 'note', text: `Pareto front: ${s.best.length} trial(s)`}));
    }
  }
  if (s.strategy_choice) {
    const c = s.strategy_choice;
    extra.push(el('div', {class: 'note'}, 'auto chose ', el('b', {text: c.strategy || '?'}),
                  c.params && Object.keys(c.params).length ? ` ${JSON.stringify(c.params)}` : '',
                  c.reason ? ` — ${c.reason}` : ''));
  }
  $('study-extra').replaceChildren(...extra);
  $('enqueue-card').hidden = !state.allowWrite;
  if (state.allowWrite && !$('enqueue-params').value && s.space) {
    const example = {};
    for (const [name, d] of Object.entries(s.space)) {
      const a = d.attributes || {};
      example[name] = a.choices ? a.choices[0] : a.low;
    }
    $('enqueue-params').value = JSON.stringify(example);
  }
}

// ---- trial table

function trialsQuery() {
  const q = state.query;
  const p = new URLSearchParams({offset: q.offset, limit: q.limit, sort: q.sort, order: q.order});
  if (q.states.size) p.set('state', [...q.states].join(','));
  if (q.filter) p.set('filter', q.filter);
  return p.toString();
}

async function loadTrials() {
  const key = `${state.studyId}?${trialsQuery()}`;
  const page = await api(`/api/studies/${state.studyId}/trials?${trialsQuery()}`);
  if (`${state.studyId}?${trialsQuery()}` !== key) return;  // the query changed meanwhile
  const renderKey = `${key}@${page.version}`;
  state.page = page;
  if (renderKey === state.lastTrialsKey) return;  // unchanged: keep the DOM (and the selection)
  state.lastTrialsKey = renderKey;
  renderTrials();
}

function columns() {
  const p = state.page;
  const cols = [{key: 'number', label: '#', sort: 'number', cls: 'num'},
                {key: 'state', label: 'State', sort: 'state', cls: 'left'}];
  const n = p.n_objectives;
  for (let k = 0; k < n; ++k)
    cols.push({key: `value${k}`, label: n === 1 ? 'Value' : `Value ${k}`, sort: n === 1 ? 'value' : `value:${k}`,
               cls: 'num'});
  cols.push({key: 'duration', label: 'Duration', sort: 'duration', cls: 'num'});
  for (const name of p.param_names.slice(0, MAX_PARAM_COLUMNS))
    cols.push({key: `param:${name}`, label: name, sort: `param:${name}`, cls: 'num', param: name});
  cols.push({key: 'start', label: 'Started', sort: null, cls: 'left muted'});
  return cols;
}

function cell(t, c) {
  if (c.key === 'number') return String(t.number);
  if (c.key === 'state') return el('span', {class: `state ${t.state}`, text: t.state});
  if (c.key.startsWith('value')) {
    const k = Number(c.key.slice(5));
    return t.values ? fmt(t.values[k]) : '';
  }
  if (c.key === 'duration') return fmtDuration(t.duration_s);
  if (c.param !== undefined) return t.params[c.param] === undefined ? '' : fmt(t.params[c.param]);
  if (c.key === 'start') return fmtTime(t.datetime_start);
  return '';
}

function renderTrials() {
  const p = state.page;
  const q = state.query;
  const cols = columns();
  const head = el('tr', {}, ...cols.map((c) => {
    const sorted = c.sort && c.sort === q.sort;
    return el('th', {
      class: [c.cls.includes('left') ? 'left' : '', sorted ? 'sorted' : '', sorted && q.order === 'desc' ? 'desc' : '']
        .filter(Boolean).join(' ') || null,
      title: c.sort ? 'Sort by ' + c.label : null,
      'data-sort': c.sort,
      onclick: c.sort ? () => setSort(c.sort) : null,
      text: c.label,
    });
  }));
  $('trials-table').tHead.replaceChildren(head);
  const best = new Set((state.study && state.study.best || []).map((b) => b.number));
  const rows = p.trials.map((t) => el('tr', {
    class: [t.number === state.trialNumber ? 'selected' : '', best.has(t.number) ? 'best-row' : '']
      .filter(Boolean).join(' ') || null,
    'data-number': t.number,
    onclick: () => { location.hash = `#/study/${state.studyId}/trial/${t.number}`; },
  }, ...cols.map((c) => el('td', {class: c.cls}, cell(t, c)))));
  if (!rows.length)
    rows.push(el('tr', {}, el('td', {class: 'empty', colspan: cols.length,
      text: p.total ? 'No trial matches the filter.' : 'No trials yet.'})));
  $('trials-table').tBodies[0].replaceChildren(...rows);

  const pages = Math.max(1, Math.ceil(p.matched / q.limit));
  const pageNo = Math.floor(q.offset / q.limit) + 1;
  $('page-num').textContent = `page ${pageNo} / ${pages}`;
  const from = p.matched ? q.offset + 1 : 0;
  const to = Math.min(q.offset + q.limit, p.matched);
  $('pager-info').textContent = `${from}–${to} of ${p.matched}` + (p.matched !== p.total ? ` (${p.total} total)` : '');
  $('first-page').disabled = $('prev-page').disabled = q.offset === 0;
  $('next-page').disabled = $('last-page').disabled = q.offset + q.limit >= p.matched;
}

function setSort(sort) {
  const q = state.query;
  if (q.sort === sort) q.order = q.order === 'asc' ? 'desc' : 'asc';
  else { q.sort = sort; q.order = sort === 'number' ? 'desc' : 'asc'; }
  q.offset = 0;
  refreshTrials();
}

function renderStateFilter() {
  const boxes = STATES.map((st) => {
    const box = el('input', {type: 'checkbox', value: st});
    box.addEventListener('change', () => {
      if (box.checked) state.query.states.add(st); else state.query.states.delete(st);
      state.query.offset = 0;
      refreshTrials();
    });
    return el('label', {title: `Only ${st} trials (none checked: all)`}, box, st.toLowerCase());
  });
  $('state-filter').replaceChildren(...boxes);
}

// ---- trial detail

function kvTable(rows) {
  return el('table', {class: 'kv'}, el('tbody', {}, ...rows.filter((r) => r[1] !== '' && r[1] !== undefined)
    .map(([k, v]) => el('tr', {}, el('td', {text: k}), el('td', {text: v})))));
}

function distText(d) {
  if (!d) return '';
  const a = d.attributes || {};
  if (d.name === 'CategoricalDistribution') return `{${a.choices.map(fmt).join(', ')}}`;
  let s = `[${fmt(a.low)}, ${fmt(a.high)}]`;
  if (a.log) s += ' log';
  if (a.step !== null && a.step !== undefined && !(d.name === 'IntDistribution' && a.step === 1)) s += ` step ${fmt(a.step)}`;
  return s;
}

async function loadTrial() {
  const study = state.studyId, number = state.trialNumber;
  let t;
  try {
    t = await api(`/api/studies/${study}/trials/${number}`);
  } catch (e) {
    $('detail-title').textContent = `Trial #${number}`;
    $('detail-body').replaceChildren(el('p', {class: 'muted', text: e.message}));
    return;
  }
  if (study !== state.studyId || number !== state.trialNumber) return;
  renderTrial(t);
}

function renderTrial(t) {
  $('detail-title').replaceChildren(`Trial #${t.number} `, el('span', {class: `state ${t.state}`, text: t.state}));
  const actions = [];
  if (state.allowWrite && t.state === 'RUNNING') {
    for (const st of ['FAIL', 'PRUNED'])
      actions.push(el('button', {class: 'danger', text: st === 'FAIL' ? 'Stop (fail)' : 'Stop (prune)',
        onclick: () => stopTrial(t.number, st)}));
  }
  $('detail-actions').replaceChildren(...actions);

  const body = [];
  const values = t.values ? t.values.map(fmt).join(', ') : '';
  body.push(kvTable([
    ['values', values],
    ['constraints', t.constraints && t.constraints.length ? t.constraints.map(fmt).join(', ') : ''],
    ['started', fmtTime(t.datetime_start)],
    ['completed', fmtTime(t.datetime_complete)],
    ['duration', fmtDuration(t.duration_s)],
    ['heartbeat', t.state === 'RUNNING' ? fmtTime(t.heartbeat) : ''],
    ['fail reason', t.system_attrs && t.system_attrs.fail_reason ? t.system_attrs.fail_reason : ''],
  ]));
  const names = Object.keys(t.params);
  if (names.length) {
    body.push(el('h3', {text: 'Parameters'}));
    body.push(el('table', {class: 'kv'}, el('tbody', {}, ...names.map((n) => el('tr', {},
      el('td', {text: n}), el('td', {}, fmt(t.params[n]), el('span', {class: 'muted', text: '  ' + distText(t.distributions[n])})))))));
  } else if (t.system_attrs && t.system_attrs.fixed_params) {
    body.push(el('h3', {text: 'Enqueued parameters'}));
    body.push(el('pre', {class: 'json', text: JSON.stringify(t.system_attrs.fixed_params, null, 2)}));
  }
  const curves = Object.entries(t.curves || {});
  if (curves.length) {
    body.push(el('h3', {text: 'Intermediate values'}));
    for (const [objective, points] of curves) {
      const shown = points.slice(-50);
      const text = (curves.length > 1 ? `objective ${objective}\n` : '') +
        (points.length > shown.length ? `… ${points.length - shown.length} earlier steps\n` : '') +
        shown.map(([s, v]) => `${String(s).padStart(6)}  ${fmt(v)}`).join('\n');
      body.push(el('pre', {class: 'json', text}));
    }
  }
  if (t.user_attrs && Object.keys(t.user_attrs).length) {
    body.push(el('h3', {text: 'User attributes'}));
    body.push(el('pre', {class: 'json', text: JSON.stringify(t.user_attrs, null, 2)}));
  }
  if (t.system_attrs && Object.keys(t.system_attrs).length) {
    body.push(el('h3', {text: 'System attributes'}));
    body.push(el('pre', {class: 'json', text: JSON.stringify(t.system_attrs, null, 2)}));
  }
  if (t.log) {
    body.push(el('h3', {text: 'Log' + (t.log.truncated ? ` (last part of ${t.log.size} bytes)` : '')}));
    if (t.log.error) body.push(el('p', {class: 'muted', text: `${t.log.path}: ${t.log.error}`}));
    else body.push(el('pre', {class: 'log', text: t.log.text || '(empty)'}));
  }
  $('detail-body').replaceChildren(...body);
  for (const tr of $('trials-table').tBodies[0].rows)
    tr.classList.toggle('selected', Number(tr.dataset.number) === t.number);
}

async function stopTrial(number, st) {
  try {
    await api(`/api/studies/${state.studyId}/trials/${number}/stop`, {
      method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({state: st})});
    showError('');
  } catch (e) { showError(`Stop trial ${number}: ${e.message}`); }
  refresh();
  loadTrial();
}

async function enqueue() {
  let params;
  try { params = JSON.parse($('enqueue-params').value); } catch (e) {
    $('enqueue-result').textContent = 'Not JSON: ' + e.message;
    return;
  }
  try {
    const r = await api(`/api/studies/${state.studyId}/enqueue`, {
      method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({params})});
    $('enqueue-result').textContent = `Enqueued as trial #${r.number}.`;
  } catch (e) { $('enqueue-result').textContent = e.message; }
  refresh();
}

// ---- plots (SVG rendered by the server, shown as images)

const PARAM_PLOTS = new Set(['slice', 'contour', 'parallel', 'importance']);

function renderPlotControls() {
  const s = state.study;
  const kind = $('plot-kind');
  if (!state.plotKinds.length) {
    kind.hidden = true;
    $('plot').replaceChildren(el('p', {class: 'muted', text: 'This bbo was built without plots.'}));
    return;
  }
  if (kind.options.length !== state.plotKinds.length) {
    kind.replaceChildren(...state.plotKinds.map((k) => el('option', {value: k, text: k})));
    kind.value = state.plotKinds.includes('history') ? 'history' : state.plotKinds[0];
  }
  const obj = $('plot-objective');
  if (obj.options.length !== s.directions.length || obj.dataset.study !== String(s.id)) {
    obj.replaceChildren(...s.directions.map((d, k) => el('option', {value: k, text: `objective ${k} (${d})`})));
    obj.dataset.study = String(s.id);
  }
  obj.hidden = s.directions.length < 2;
  const box = $('plot-params');
  const have = [...box.querySelectorAll('input')].map((i) => i.value).join(',');
  if (have !== s.param_names.join(',')) {
    box.replaceChildren(...s.param_names.map((n, i) => {
      const input = el('input', {type: 'checkbox', value: n});
      input.checked = i < 2;
      input.addEventListener('change', () => loadPlot(true));
      return el('label', {}, input, n);
    }));
  }
  box.hidden = !PARAM_PLOTS.has(kind.value);
  loadPlot(false);
}

async function loadPlot(force) {
  const s = state.study;
  if (!s || !state.plotKinds.length) return;
  const kind = $('plot-kind').value;
  $('plot-params').hidden = !PARAM_PLOTS.has(kind);
  $('plot-objective').hidden = s.directions.length < 2 || kind === 'pareto' || kind === 'timeline';
  const p = new URLSearchParams({objective: $('plot-objective').value || 0});
  if (PARAM_PLOTS.has(kind)) {
    const params = [...$('plot-params').querySelectorAll('input:checked')].map((i) => i.value);
    if (params.length) p.set('params', params.join(','));
  }
  const url = `/api/studies/${s.id}/plot/${encodeURIComponent(kind)}?${p}`;
  // Redraw when the plot or the data changed, at most every few seconds for live studies.
  if (!force && url === state.plotKey && s.version === state.plotVersion) return;
  if (!force && url === state.plotKey && Date.now() - (state.plotTime || 0) < 5000) return;
  state.plotKey = url;
  state.plotVersion = s.version;
  state.plotTime = Date.now();
  const res = await fetch(url, {cache: 'no-cache'});
  if (url !== state.plotKey) return;
  if (!res.ok) {
    let message = res.statusText;
    try { message = (await res.json()).error; } catch (e) { /* keep the status text */ }
    $('plot').replaceChildren(el('p', {class: 'muted', text: message}));
    return;
  }
  const blob = await res.blob();
  if (state.plotUrl) URL.revokeObjectURL(state.plotUrl);
  state.plotUrl = URL.createObjectURL(blob);
  $('plot').replaceChildren(el('img', {src: state.plotUrl, alt: `${kind} plot`, 'data-kind': kind}));
}

// ---- refresh loop

let refreshing = false;
let refreshAgain = false;  // a refresh was asked for while one ran (a click, a new hash): run once more

async function refreshTrials() {
  try { await loadTrials(); showError(''); } catch (e) { showError(e.message); }
}

async function refresh() {
  if (refreshing) { refreshAgain = true; return; }
  refreshing = true;
  refreshAgain = false;
  try {
    await loadStudies();
    if (state.studyId === null) {
      $('welcome').hidden = false;
      $('study').hidden = true;
    } else {
      await loadStudy();
      await loadTrials();
    }
    showError('');
    $('live').classList.remove('stale');
  } catch (e) {
    showError(e.message);
    $('live').classList.add('stale');
  } finally {
    refreshing = false;
    if (refreshAgain) refresh();
  }
}

function init() {
  renderStateFilter();
  $('study-filter').addEventListener('input', renderStudyList);
  let timer = null;
  $('trial-filter').addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      state.query.filter = $('trial-filter').value.trim();
      state.query.offset = 0;
      refreshTrials();
    }, 250);
  });
  $('page-size').addEventListener('change', () => {
    state.query.limit = Number($('page-size').value);
    state.query.offset = 0;
    refreshTrials();
  });
  const move = (f) => () => {
    const q = state.query, matched = state.page ? state.page.matched : 0;
    const last = Math.max(0, Math.floor((matched - 1) / q.limit) * q.limit);
    q.offset = Math.min(Math.max(0, f(q, last)), last);
    refreshTrials();
  };
  $('first-page').addEventListener('click', move(() => 0));
  $('prev-page').addEventListener('click', move((q) => q.offset - q.limit));
  $('next-page').addEventListener('click', move((q) => q.offset + q.limit));
  $('last-page').addEventListener('click', move((q, last) => last));
  $('plot-kind').addEventListener('change', () => loadPlot(true));
  $('plot-objective').addEventListener('change', () => loadPlot(true));
  $('enqueue-button').addEventListener('click', enqueue);
  window.addEventListener('hashchange', route);
  route();
  setInterval(() => {
    if (document.hidden) return;
    refresh();
    if (state.trialNumber !== null && state.page &&
        state.page.trials.some((t) => t.number === state.trialNumber && (t.state === 'RUNNING' || t.state === 'WAITING')))
      loadTrial();  // a live trial: its intermediate values and log grow
  }, POLL_MS);
}

init();
