// ringgate dashboard: plain JavaScript, no framework, no build step, nothing fetched from
// anywhere but this server. The API it speaks is documented in docs/dashboard-api.md (HAJIMI's
// field names plus a few additions).
//
// Everything the server sends is put on the page with textContent / setAttribute, never as
// HTML, so log lines and model names cannot inject markup.
'use strict';

(() => {
  const POLL_MS = 5000;
  const PROGRESS_MS = 1000;
  const KEYS_PER_PAGE = 20;
  const THEME_KEY = 'ringgate-theme';

  const $ = (id) => document.getElementById(id);

  const state = {
    data: null,
    signedIn: false,
    pollTimer: 0,
    polling: false,
    range: 'minute',
    logLevel: 'ALL',
    keyPage: 1,
    keyState: 'all',
    expanded: new Set(),
    modelFilter: '',
    settingsBuilt: '',
    dirty: new Set(),
    testTimer: 0,
    testSeenRunning: false,
    testPolls: 0,
    renderCache: {},
    loginUnlockAt: 0,
    loginTimer: 0,
    refetch: false,
  };

  // ---------------------------------------------------------------- DOM helpers

  // h('div', {class: 'x', title: 't'}, child, 'text', ...): children are nodes or strings
  // (strings become text nodes); null/undefined/false children are skipped.
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === null || v === undefined || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return el;
  }

  function setText(id, text) {
    const el = $(id);
    if (el && el.textContent !== text) el.textContent = text;
  }

  // Re-renders only when the input changed (keeps focus, open <details> and scroll otherwise).
  function changed(name, value) {
    const s = JSON.stringify(value);
    if (state.renderCache[name] === s) return false;
    state.renderCache[name] = s;
    return true;
  }

  // ---------------------------------------------------------------- formatting

  const intFmt = new Intl.NumberFormat('en-US');
  const compactFmt = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

  function num(v) {
    const n = Number(v);
    return Number.isFinite(n) ? n : 0;
  }
  function fmtInt(v) {
    return v === undefined || v === null ? '–' : intFmt.format(num(v));
  }
  function fmtCompact(v) {
    return compactFmt.format(num(v));
  }
  function fmtDuration(seconds) {
    let s = Math.max(0, Math.floor(num(seconds)));
    const d = Math.floor(s / 86400);
    s -= d * 86400;
    const hh = Math.floor(s / 3600);
    s -= hh * 3600;
    const mm = Math.floor(s / 60);
    s -= mm * 60;
    if (d > 0) return `${d} d ${hh} h`;
    if (hh > 0) return `${hh} h ${mm} min`;
    if (mm > 0) return s > 0 && mm < 10 ? `${mm} min ${s} s` : `${mm} min`;
    return `${s} s`;
  }
  // An epoch-ms instant as local time, with the date when it is not today, plus "in N min"
  // measured against the server's clock (now_ms) when the server sends it.
  function fmtUntil(untilMs) {
    if (untilMs === null || untilMs === undefined || untilMs === '') return '';
    const t = typeof untilMs === 'number' ? untilMs : Date.parse(untilMs);
    if (!Number.isFinite(t)) return String(untilMs);
    const d = new Date(t);
    const now = state.data && Number.isFinite(state.data.now_ms) ? state.data.now_ms : Date.now();
    const sameDay = new Date(now).toDateString() === d.toDateString();
    const clock = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    const when = sameDay ? clock : `${d.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${clock}`;
    const left = Math.round((t - now) / 1000);
    return left > 0 ? `${when} (in ${fmtDuration(left)})` : when;
  }

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, body, message, headers) {
      super(message);
      this.status = status;
      this.body = body;
      this.headers = headers;
    }
  }

  function errorText(body, status) {
    if (body && typeof body === 'object') {
      if (body.errors && typeof body.errors === 'object') {
        const parts = Object.entries(body.errors).map(([k, v]) => `${k}: ${v}`);
        if (parts.length) return parts.join('; ');
      }
      const d = body.detail;
      if (typeof d === 'string' && d) return d;
      if (Array.isArray(d) && d.length) return d.map((x) => (x && x.msg) || JSON.stringify(x)).join('; ');
      if (d && typeof d === 'object') return JSON.stringify(d);
      if (typeof body.message === 'string' && body.message) return body.message;
    }
    if (typeof body === 'string' && body) return body;
    return status ? `HTTP ${status}` : 'network error';
  }

  async function api(method, path, body) {
    const opts = { method, credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, opts);
    } catch (e) {
      throw new ApiError(0, null, `cannot reach the server (${e.message || e})`, null);
    }
    const text = await res.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (_) {
        data = text;
      }
    }
    if (!res.ok) {
      const err = new ApiError(res.status, data, errorText(data, res.status), res.headers);
      if (res.status === 401 && path !== '/api/login' && state.signedIn) {
        showLogin('Your session has ended. Please sign in again.');
      }
      throw err;
    }
    return data;
  }

  // ---------------------------------------------------------------- toast and dialogs

  let toastTimer = 0;
  function toast(message, bad) {
    const el = $('toast');
    el.textContent = message;
    el.classList.toggle('bad', !!bad);
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => {
      el.hidden = true;
    }, bad ? 7000 : 4000);
  }

  function openDialog(id) {
    const d = $(id);
    if (typeof d.showModal === 'function') {
      if (!d.open) d.showModal();
    } else {
      d.setAttribute('open', '');
    }
  }
  function closeDialog(id) {
    const d = $(id);
    if (typeof d.close === 'function') d.close();
    else d.removeAttribute('open');
  }

  function confirmAction(title, text, okLabel) {
    return new Promise((resolve) => {
      const d = $('confirm-dialog');
      setText('confirm-title', title);
      setText('confirm-text', text);
      setText('confirm-ok', okLabel || 'OK');
      const done = () => {
        d.removeEventListener('close', done);
        resolve(d.returnValue === 'ok');
      };
      d.returnValue = '';
      d.addEventListener('close', done);
      openDialog('confirm-dialog');
    });
  }

  async function copyText(text, fallbackTextarea) {
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        return true;
      }
    } catch (_) {
      // fall through to the selection-based copy
    }
    const ta = fallbackTextarea || h('textarea', { class: 'offscreen' });
    const temporary = !fallbackTextarea;
    if (temporary) {
      ta.value = text;
      document.body.appendChild(ta);
    }
    const previous = ta.value;
    ta.value = text;
    ta.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch (_) {
      ok = false;
    }
    ta.value = previous;
    if (temporary) ta.remove();
    return ok;
  }

  // ---------------------------------------------------------------- theme

  function currentTheme() {
    const t = localStorage.getItem(THEME_KEY);
    return t === 'light' || t === 'dark' ? t : 'system';
  }
  function applyTheme() {
    const t = currentTheme();
    if (t === 'system') document.documentElement.removeAttribute('data-theme');
    else document.documentElement.setAttribute('data-theme', t);
    const label = { system: 'Theme: system', dark: 'Theme: dark', light: 'Theme: light' }[t];
    setText('theme-btn', label);
    drawChart();
  }
  function cycleTheme() {
    const next = { system: 'dark', dark: 'light', light: 'system' }[currentTheme()];
    if (next === 'system') localStorage.removeItem(THEME_KEY);
    else localStorage.setItem(THEME_KEY, next);
    applyTheme();
  }

  // ---------------------------------------------------------------- sign-in

  function showLogin(message) {
    state.signedIn = false;
    stopPolling();
    stopTestPolling();
    $('boot').hidden = true;
    $('app-view').hidden = true;
    $('login-view').hidden = false;
    setText('login-error', message || '');
    const pw = $('login-password');
    pw.value = '';
    pw.focus();
  }

  function showApp() {
    state.signedIn = true;
    $('boot').hidden = true;
    $('login-view').hidden = true;
    $('app-view').hidden = false;
  }

  function lockLogin(seconds) {
    state.loginUnlockAt = Date.now() + seconds * 1000;
    const btn = $('login-submit');
    clearInterval(state.loginTimer);
    const tick = () => {
      const left = Math.ceil((state.loginUnlockAt - Date.now()) / 1000);
      if (left <= 0) {
        clearInterval(state.loginTimer);
        btn.disabled = false;
        setText('login-error', '');
        return;
      }
      btn.disabled = true;
      setText('login-error', `Too many attempts, wait ${left} s.`);
    };
    tick();
    state.loginTimer = setInterval(tick, 1000);
  }

  async function onLogin(ev) {
    ev.preventDefault();
    if (Date.now() < state.loginUnlockAt) return;
    const pw = $('login-password').value;
    if (!pw) {
      setText('login-error', 'Enter the web password.');
      return;
    }
    const btn = $('login-submit');
    btn.disabled = true;
    setText('login-error', '');
    try {
      await api('POST', '/api/login', { password: pw });
      $('login-password').value = '';
      btn.disabled = false;
      startDashboard();
    } catch (e) {
      btn.disabled = false;
      if (e.status === 429) {
        let wait = e.body && Number.isFinite(Number(e.body.retry_after)) ? Number(e.body.retry_after) : NaN;
        if (!Number.isFinite(wait) && e.headers) wait = Number(e.headers.get('Retry-After'));
        if (!Number.isFinite(wait) || wait <= 0) wait = 30;
        lockLogin(Math.ceil(wait));
      } else if (e.status === 401) {
        setText('login-error', 'Wrong password.');
        $('login-password').select();
      } else {
        setText('login-error', e.message);
      }
    }
  }

  async function onLogout() {
    try {
      await api('POST', '/api/logout', {});
    } catch (_) {
      // signed out locally either way
    }
    state.data = null;
    state.renderCache = {};
    state.settingsBuilt = '';
    state.dirty.clear();
    showLogin('Signed out.');
  }

  // ---------------------------------------------------------------- polling

  function stopPolling() {
    clearTimeout(state.pollTimer);
    state.pollTimer = 0;
  }
  function schedulePoll(ms) {
    stopPolling();
    state.pollTimer = setTimeout(poll, ms === undefined ? POLL_MS : ms);
  }

  function dashboardUrl() {
    const q = new URLSearchParams({
      key_page: String(state.keyPage),
      key_page_size: String(KEYS_PER_PAGE),
      key_state: state.keyState,
    });
    return `/api/dashboard-data?${q}`;
  }

  async function poll() {
    if (!state.signedIn) return;
    if (document.hidden) {
      stopPolling(); // resumed by visibilitychange
      return;
    }
    if (state.polling) return;
    state.polling = true;
    try {
      const data = await api('GET', dashboardUrl());
      setText('conn-state', '');
      render(data || {});
    } catch (e) {
      if (e.status === 401) return;
      setText('conn-state', `Update failed: ${e.message}. Retrying…`);
    } finally {
      state.polling = false;
    }
    if (state.signedIn) schedulePoll(state.refetch ? 0 : POLL_MS);
    state.refetch = false;
  }

  function refreshNow() {
    if (state.polling) return;
    schedulePoll(0);
  }

  async function startDashboard() {
    state.renderCache = {};
    showApp();
    await poll();
    // A key test started elsewhere (or before a reload) shows its progress here too.
    try {
      const p = await api('GET', '/api/test-api-keys/progress');
      if (p && p.is_running) startTestPolling(false);
    } catch (_) {
      // not essential
    }
  }

  async function boot() {
    applyTheme();
    try {
      const data = await api('GET', dashboardUrl());
      showApp();
      render(data || {});
      schedulePoll();
      try {
        const p = await api('GET', '/api/test-api-keys/progress');
        if (p && p.is_running) startTestPolling(false);
      } catch (_) {
        // not essential
      }
    } catch (e) {
      if (e.status === 401 || e.status === 403) showLogin('');
      else showLogin(`Cannot load the dashboard: ${e.message}`);
    }
  }

  // ---------------------------------------------------------------- render

  function render(data) {
    state.data = data;
    renderHeader(data);
    renderUsage(data);
    drawChart();
    renderKeys(data);
    renderModels(data);
    renderSettings(data);
    renderLogs(data);
  }

  function renderHeader(d) {
    const status = typeof d.status === 'string' && d.status ? d.status : 'running';
    const badge = $('status-badge');
    const ok = status === 'running' || status === 'ok';
    badge.className = `badge ${ok ? 'ok' : status === 'draining' || status === 'degraded' ? 'warn' : 'bad'}`;
    badge.textContent = ok ? 'Running' : status;
    setText('uptime', d.uptime_seconds !== undefined ? fmtDuration(d.uptime_seconds) : '–');
    setText('server-time', d.current_time || '–');
    let v = d.local_version ? `v${String(d.local_version).replace(/^v/, '')}` : '';
    if (d.has_update && d.remote_version) v += ` (update: ${d.remote_version})`;
    setText('version', v);
  }

  function renderUsage(d) {
    setText('calls-minute', fmtInt(d.minute_calls));
    setText('calls-hour', fmtInt(d.hourly_calls));
    setText('calls-day', fmtInt(d.last_24h_calls));
    setText('tokens-minute', fmtInt(d.minute_tokens));
    setText('tokens-hour', fmtInt(d.hourly_tokens));
    setText('tokens-day', fmtInt(d.last_24h_tokens));
  }

  // ---- chart (canvas, drawn by hand: bars for calls on the left axis, a line for tokens on
  // the right axis)

  let chartPoints = null; // {labels, calls, tokens, x0, step, top, bottom}
  let chartHover = -1;

  function seriesFor(range) {
    const d = state.data || {};
    const calls = range === 'hour' ? d.calls_time_series_24h : d.calls_time_series;
    const tokens = range === 'hour' ? d.tokens_time_series_24h : d.tokens_time_series;
    return { calls: Array.isArray(calls) ? calls : [], tokens: Array.isArray(tokens) ? tokens : [] };
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) {
      if (v <= m * p) return m * p;
    }
    return 10 * p;
  }

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
  }

  function drawChart() {
    const canvas = $('chart');
    if (!canvas || $('app-view').hidden) return;
    const { calls, tokens } = seriesFor(state.range);
    const n = Math.max(calls.length, tokens.length);
    $('chart-empty').hidden = n > 0;
    const rect = canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(rect.width));
    const hgt = Math.max(1, Math.round(rect.height));
    if (canvas.width !== w * dpr || canvas.height !== hgt * dpr) {
      canvas.width = w * dpr;
      canvas.height = hgt * dpr;
    }
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, hgt);
    if (n === 0) {
      chartPoints = null;
      $('chart-tip').hidden = true;
      return;
    }

    const colCalls = cssVar('--calls');
    const colTokens = cssVar('--tokens');
    const colGrid = cssVar('--grid');
    const colText = cssVar('--muted');
    const font = '11px system-ui, sans-serif';
    ctx.font = font;

    const cv = [];
    const tv = [];
    const labels = [];
    for (let i = 0; i < n; i++) {
      const c = calls[i];
      const t = tokens[i];
      cv.push(num(c && typeof c === 'object' ? c.value : c));
      tv.push(num(t && typeof t === 'object' ? t.value : t));
      labels.push(String((c && c.time) || (t && t.time) || ''));
    }
    const maxC = niceMax(Math.max(...cv));
    const maxT = niceMax(Math.max(...tv));

    const left = Math.max(30, ctx.measureText(fmtCompact(maxC)).width + 10);
    const right = Math.max(34, ctx.measureText(fmtCompact(maxT)).width + 10);
    const top = 10;
    const bottom = hgt - 24;
    const plotW = Math.max(1, w - left - right);
    const plotH = Math.max(1, bottom - top);
    const step = plotW / n;

    // grid and axes
    ctx.strokeStyle = colGrid;
    ctx.lineWidth = 1;
    ctx.fillStyle = colText;
    ctx.textBaseline = 'middle';
    const ticks = 4;
    for (let i = 0; i <= ticks; i++) {
      const y = Math.round(bottom - (plotH * i) / ticks) + 0.5;
      ctx.beginPath();
      ctx.moveTo(left, y);
      ctx.lineTo(w - right, y);
      ctx.stroke();
      ctx.textAlign = 'right';
      ctx.fillStyle = colCalls;
      ctx.fillText(fmtCompact((maxC * i) / ticks), left - 5, y);
      ctx.textAlign = 'left';
      ctx.fillStyle = colTokens;
      ctx.fillText(fmtCompact((maxT * i) / ticks), w - right + 5, y);
    }

    // calls: bars
    ctx.fillStyle = colCalls;
    ctx.globalAlpha = 0.75;
    const barW = Math.max(1, step * 0.62);
    for (let i = 0; i < n; i++) {
      const bh = (cv[i] / maxC) * plotH;
      if (bh <= 0) continue;
      ctx.fillRect(left + i * step + (step - barW) / 2, bottom - bh, barW, bh);
    }
    ctx.globalAlpha = 1;

    // tokens: line with a light area under it
    const px = (i) => left + i * step + step / 2;
    const py = (v) => bottom - (v / maxT) * plotH;
    ctx.beginPath();
    for (let i = 0; i < n; i++) {
      if (i === 0) ctx.moveTo(px(i), py(tv[i]));
      else ctx.lineTo(px(i), py(tv[i]));
    }
    ctx.strokeStyle = colTokens;
    ctx.lineWidth = 2;
    ctx.lineJoin = 'round';
    ctx.stroke();
    ctx.lineTo(px(n - 1), bottom);
    ctx.lineTo(px(0), bottom);
    ctx.closePath();
    ctx.globalAlpha = 0.12;
    ctx.fillStyle = colTokens;
    ctx.fill();
    ctx.globalAlpha = 1;

    // x labels, thinned so that they do not overlap
    ctx.fillStyle = colText;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    const labelW = ctx.measureText('00:00').width + 10;
    const every = Math.max(1, Math.ceil((labelW * n) / plotW));
    for (let i = n - 1; i >= 0; i -= every) {
      ctx.fillText(labels[i], px(i), bottom + 6);
    }

    // hover marker
    if (chartHover >= 0 && chartHover < n) {
      ctx.strokeStyle = colText;
      ctx.globalAlpha = 0.5;
      ctx.beginPath();
      ctx.moveTo(Math.round(px(chartHover)) + 0.5, top);
      ctx.lineTo(Math.round(px(chartHover)) + 0.5, bottom);
      ctx.stroke();
      ctx.globalAlpha = 1;
      ctx.fillStyle = colTokens;
      ctx.beginPath();
      ctx.arc(px(chartHover), py(tv[chartHover]), 3.5, 0, Math.PI * 2);
      ctx.fill();
    }

    chartPoints = { labels, calls: cv, tokens: tv, left, step, n, w };
    updateChartTip();
  }

  function updateChartTip() {
    const tip = $('chart-tip');
    if (!chartPoints || chartHover < 0 || chartHover >= chartPoints.n) {
      tip.hidden = true;
      return;
    }
    const i = chartHover;
    tip.replaceChildren(
      h('strong', null, chartPoints.labels[i] || ''),
      h('br'),
      `Calls: ${fmtInt(chartPoints.calls[i])}`,
      h('br'),
      `Tokens: ${fmtInt(chartPoints.tokens[i])}`,
    );
    tip.hidden = false;
    const x = chartPoints.left + i * chartPoints.step + chartPoints.step / 2;
    const half = tip.offsetWidth / 2;
    tip.style.left = `${Math.min(Math.max(x, half + 2), chartPoints.w - half - 2)}px`;
  }

  function onChartPointer(ev) {
    if (!chartPoints) return;
    const rect = $('chart').getBoundingClientRect();
    const x = ev.clientX - rect.left;
    const i = Math.floor((x - chartPoints.left) / chartPoints.step);
    const next = i >= 0 && i < chartPoints.n ? i : -1;
    if (next !== chartHover) {
      chartHover = next;
      drawChart();
    }
  }

  // ---- keys

  function keyHealth(k) {
    const hl = k && k.health && typeof k.health === 'object' ? k.health : { state: 'healthy' };
    const st = hl.state === 'resting' || hl.state === 'quarantined' ? hl.state : 'healthy';
    return { state: st, until: hl.until, reason: hl.reason || '', models: Array.isArray(hl.models) ? hl.models : [] };
  }

  function keyView(d) {
    const all = Array.isArray(d.api_key_stats) ? d.api_key_stats : [];
    const serverPaged = d.api_key_page && typeof d.api_key_page === 'object';
    let counts = d.key_state_counts;
    if (!counts || typeof counts !== 'object') {
      counts = { healthy: 0, resting: 0, quarantined: 0 };
      if (!serverPaged) for (const k of all) counts[keyHealth(k).state]++;
    }
    if (serverPaged) {
      const p = d.api_key_page;
      return {
        items: all,
        page: Math.max(1, num(p.page) || 1),
        pages: Math.max(1, num(p.pages) || Math.ceil(num(p.total) / (num(p.page_size) || KEYS_PER_PAGE)) || 1),
        total: num(p.total),
        counts,
        serverPaged: true,
      };
    }
    const filtered = state.keyState === 'all' ? all : all.filter((k) => keyHealth(k).state === state.keyState);
    const pages = Math.max(1, Math.ceil(filtered.length / KEYS_PER_PAGE));
    const page = Math.min(Math.max(1, state.keyPage), pages);
    return {
      items: filtered.slice((page - 1) * KEYS_PER_PAGE, page * KEYS_PER_PAGE),
      page,
      pages,
      total: filtered.length,
      counts,
      serverPaged: false,
    };
  }

  function healthBlock(hl) {
    const labels = { healthy: 'Healthy', resting: 'Resting', quarantined: 'Quarantined' };
    const cls = { healthy: 'ok', resting: 'warn', quarantined: 'bad' }[hl.state];
    const parts = [];
    if (hl.until !== undefined && hl.until !== null && hl.until !== '') parts.push(`until ${fmtUntil(hl.until)}`);
    if (hl.reason) parts.push(hl.reason);
    return h('div', { class: 'key-health' },
      h('span', { class: `badge ${cls}` }, labels[hl.state]),
      parts.length ? h('span', { class: 'key-health-detail' }, parts.join(' · ')) : null);
  }

  function modelTable(k, hl) {
    const stats = k.model_stats && typeof k.model_stats === 'object' ? k.model_stats : {};
    const rests = new Map();
    for (const m of hl.models) if (m && m.model) rests.set(m.model, m);
    const names = new Set([...Object.keys(stats), ...rests.keys()]);
    if (names.size === 0) return null;
    const rows = [...names]
      .map((name) => ({ name, calls: num(stats[name] && stats[name].calls), tokens: num(stats[name] && stats[name].tokens) }))
      .sort((a, b) => b.calls - a.calls || a.name.localeCompare(b.name));
    const tbody = h('tbody');
    for (const r of rows) {
      const rest = rests.get(r.name);
      let status = '';
      if (rest) {
        status = `resting${rest.until ? ` until ${fmtUntil(rest.until)}` : ''}${rest.reason ? ` · ${rest.reason}` : ''}`;
      }
      tbody.appendChild(h('tr', null,
        h('td', { class: 'mono' }, r.name),
        h('td', { class: 'num' }, fmtInt(r.calls)),
        h('td', { class: 'num' }, fmtInt(r.tokens)),
        h('td', null, status)));
    }
    const name = String(k.api_key || '');
    const details = h('details', { class: 'key-models' },
      h('summary', null, `Per model (${rows.length})`),
      h('table', null,
        h('thead', null, h('tr', null,
          h('th', null, 'Model'), h('th', { class: 'num' }, 'Calls'), h('th', { class: 'num' }, 'Tokens'), h('th', null, 'State'))),
        tbody));
    if (state.expanded.has(name)) details.open = true;
    details.addEventListener('toggle', () => {
      if (details.open) state.expanded.add(name);
      else state.expanded.delete(name);
    });
    return details;
  }

  function keyItem(k) {
    const hl = keyHealth(k);
    const calls = num(k.calls_24h);
    const limit = num(k.limit);
    let pct = k.usage_percent !== undefined ? num(k.usage_percent) : limit > 0 ? (calls / limit) * 100 : 0;
    pct = Math.round(pct * 100) / 100;
    const bar = h('div', { class: `bar${pct > 75 ? ' high' : pct > 50 ? ' medium' : ''}` }, h('span'));
    bar.firstChild.style.width = `${Math.min(100, Math.max(0, pct))}%`;
    return h('li', { class: 'key-item' },
      h('div', { class: 'key-row' },
        h('span', { class: 'key-name', title: 'first 8 characters' }, String(k.api_key || '?')),
        h('div', { class: 'key-usage' },
          h('span', { class: 'key-usage-text' }, `${fmtInt(calls)} / ${limit > 0 ? fmtInt(limit) : '∞'} calls (${pct}%)`),
          bar),
        h('span', { class: 'key-tokens' }, `${fmtInt(k.total_tokens)} tokens`),
        healthBlock(hl)),
      modelTable(k, hl));
  }

  function renderKeys(d) {
    const v = keyView(d);
    if (!v.serverPaged && v.page !== state.keyPage) state.keyPage = v.page;
    if (v.serverPaged && state.keyPage > v.pages) {
      state.keyPage = v.pages;
      state.refetch = true; // the page asked for is past the end now: fetch the last one
    }
    const rotation = d.key_count !== undefined ? num(d.key_count) : null;
    const summary = [];
    if (rotation !== null) summary.push(`${fmtInt(rotation)} in rotation`);
    summary.push(`${fmtInt(v.counts.healthy)} healthy`, `${fmtInt(v.counts.resting)} resting`, `${fmtInt(v.counts.quarantined)} quarantined`);
    if (d.api_key_daily_limit !== undefined) summary.push(`daily limit ${fmtInt(d.api_key_daily_limit)}`);
    setText('keys-summary', summary.join(' · '));

    setText('key-page-info', `Page ${v.page} of ${v.pages} (${fmtInt(v.total)} keys)`);
    $('key-prev').disabled = v.page <= 1;
    $('key-next').disabled = v.page >= v.pages;
    $('key-empty').hidden = v.items.length > 0;

    if (!changed('keys', [v.items, d.now_ms ? Math.floor(d.now_ms / 60000) : 0])) return;
    const list = $('key-list');
    list.replaceChildren(...v.items.map(keyItem));
  }

  // ---- models

  function renderModels(d) {
    const models = Array.isArray(d.available_models) ? d.available_models.map(String) : [];
    setText('model-count', `${models.length}`);
    if (!changed('models', [models, state.modelFilter])) return;
    const f = state.modelFilter.trim().toLowerCase();
    const shown = f ? models.filter((m) => m.toLowerCase().includes(f)) : models;
    const items = shown.map((m) => {
      const tags = [];
      if (m.endsWith('-search')) tags.push(h('span', { class: 'badge info' }, 'search'));
      if (/thinking/i.test(m)) tags.push(h('span', { class: 'badge' }, 'thinking'));
      return h('li', null, h('span', { class: 'model-name' }, m), ...tags);
    });
    if (items.length === 0) items.push(h('li', { class: 'muted' }, models.length ? 'No model matches.' : 'No models loaded yet.'));
    $('model-list').replaceChildren(...items);
  }

  // ---- settings

  // What the page lets one edit (HAJIMI's editable settings, hajimi-behaviour.md 20.3). A field
  // appears only when the server reports the setting (in `settings`, or as HAJIMI's top-level
  // field), so a server without Vertex support simply omits those.
  const SETTINGS = [
    { group: 'Rate limits', key: 'max_requests_per_minute', label: 'Requests per minute', type: 'int', min: 1, hint: 'Per path, all clients together.' },
    { group: 'Rate limits', key: 'max_requests_per_day_per_ip', label: 'Requests per day per IP', type: 'int', min: 1 },
    { group: 'Retries and concurrency', key: 'max_retry_num', label: 'Keys tried per request', type: 'int', min: 1 },
    { group: 'Retries and concurrency', key: 'max_empty_responses', label: 'Empty responses allowed', type: 'int', min: 0 },
    { group: 'Retries and concurrency', key: 'concurrent_requests', label: 'Concurrent upstream calls', type: 'int', min: 1, hint: 'Initial fan-out per request.' },
    { group: 'Retries and concurrency', key: 'increase_concurrent_on_failure', label: 'Added after a failed round', type: 'int', min: 0 },
    { group: 'Retries and concurrency', key: 'max_concurrent_requests', label: 'Most concurrent upstream calls', type: 'int', min: 1 },
    { group: 'Streaming', key: 'fake_streaming', label: 'Fake streaming', type: 'bool', hint: 'stream=true answered from a non-stream call, with keep-alives meanwhile.' },
    { group: 'Streaming', key: 'fake_streaming_interval', label: 'Keep-alive interval (s)', type: 'float', gt: 0, step: '0.1' },
    { group: 'Disguise', key: 'random_string', label: 'Random disguise string', type: 'bool' },
    { group: 'Disguise', key: 'random_string_length', label: 'Disguise length', type: 'int', min: 1 },
    { group: 'Search', key: 'search_mode', label: 'Search model variants (-search)', type: 'bool' },
    { group: 'Search', key: 'search_prompt', label: 'Search prompt', type: 'text', wide: true },
    { group: 'Vertex', key: 'enable_vertex', label: 'Vertex mode', type: 'bool' },
    { group: 'Vertex', key: 'enable_vertex_express', label: 'Vertex Express', type: 'bool' },
    { group: 'Vertex', key: 'vertex_express_api_key', label: 'Vertex Express API key', type: 'secret', wide: true },
    { group: 'Vertex', key: 'google_credentials_json', label: 'Google credentials JSON', type: 'secret-text', wide: true },
  ];

  function settingOf(d, key) {
    const s = d.settings && typeof d.settings === 'object' ? d.settings[key] : undefined;
    if (s && typeof s === 'object' && 'value' in s) return { value: s.value, source: s.source || null };
    if (d.settings && typeof d.settings === 'object') return null; // the server lists what it has
    if (key in d) return { value: d[key], source: null };
    return null;
  }

  function inputFor(meta) {
    const id = `set-${meta.key}`;
    switch (meta.type) {
      case 'bool':
        return h('input', { id, type: 'checkbox', name: meta.key });
      case 'int':
        return h('input', { id, type: 'number', name: meta.key, inputmode: 'numeric', step: '1', min: meta.min });
      case 'float':
        return h('input', { id, type: 'number', name: meta.key, inputmode: 'decimal', step: meta.step || 'any', min: '0' });
      case 'text':
        return h('textarea', { id, name: meta.key, rows: '2' });
      case 'secret':
        return h('input', { id, type: 'password', name: meta.key, autocomplete: 'off', placeholder: 'unchanged' });
      case 'secret-text':
        return h('textarea', { id, name: meta.key, rows: '3', spellcheck: 'false', placeholder: 'unchanged' });
      default:
        return h('input', { id, type: 'text', name: meta.key });
    }
  }

  // The input's value as the string the server value would give (for dirty checks).
  function serverString(meta, value) {
    if (meta.type === 'bool') return value === true || value === 'true' ? 'true' : 'false';
    if (meta.type === 'secret' || meta.type === 'secret-text') return '';
    return value === null || value === undefined ? '' : String(value);
  }
  function inputString(meta, el) {
    return meta.type === 'bool' ? (el.checked ? 'true' : 'false') : el.value;
  }
  function setInput(meta, el, value) {
    if (meta.type === 'bool') el.checked = value === true || value === 'true';
    else if (meta.type === 'secret' || meta.type === 'secret-text') {
      el.value = '';
      el.placeholder = value ? 'set (enter a new value to replace it)' : 'not set';
    } else el.value = value === null || value === undefined ? '' : String(value);
  }

  // Client-side check, the same rules as the server (hajimi-behaviour.md 20.3). Returns
  // [value to send, error message or ''].
  function parseInput(meta, el) {
    const raw = inputString(meta, el).trim();
    switch (meta.type) {
      case 'bool':
        return [el.checked, ''];
      case 'int': {
        if (!/^[+-]?\d+$/.test(raw)) return [null, 'Enter a whole number.'];
        const n = Number(raw);
        if (!Number.isSafeInteger(n)) return [null, 'Number too large.'];
        if (meta.min !== undefined && n < meta.min) return [null, meta.min === 0 ? 'Must be 0 or more.' : `Must be ${meta.min} or more.`];
        return [n, ''];
      }
      case 'float': {
        const n = Number(raw);
        if (raw === '' || !Number.isFinite(n)) return [null, 'Enter a number.'];
        if (meta.gt !== undefined && !(n > meta.gt)) return [null, `Must be greater than ${meta.gt}.`];
        return [n, ''];
      }
      case 'secret-text':
        // One service-account JSON object, an array of them, or several separated by commas.
        if (raw && !parsesAsJson(raw) && !parsesAsJson(`[${raw}]`)) return [null, 'Not valid JSON.'];
        return [raw, ''];
      default:
        return [meta.type === 'text' ? el.value : raw, ''];
    }
  }

  function parsesAsJson(text) {
    try {
      JSON.parse(text);
      return true;
    } catch (_) {
      return false;
    }
  }

  function fieldError(key, message) {
    const err = $(`err-${key}`);
    const el = $(`set-${key}`);
    if (err) err.textContent = message || '';
    if (el) {
      el.classList.toggle('invalid', !!message);
      if (message) el.setAttribute('aria-invalid', 'true');
      else el.removeAttribute('aria-invalid');
    }
  }

  function buildSettings(present) {
    const root = $('settings-fields');
    const groups = new Map();
    for (const meta of present) {
      if (!groups.has(meta.group)) groups.set(meta.group, h('fieldset', { class: 'setting-group' }, h('legend', null, meta.group)));
      const input = inputFor(meta);
      const row = h('div', { class: `setting${meta.wide ? ' wide' : ''}`, id: `row-${meta.key}` },
        h('div', { class: 'setting-label' },
          h('label', { for: `set-${meta.key}` }, meta.label),
          h('span', { class: 'badge source', id: `src-${meta.key}` })),
        h('div', { class: 'setting-input' }, input),
        meta.hint ? h('div', { class: 'setting-hint' }, meta.hint) : null,
        h('p', { class: 'field-error', id: `err-${meta.key}`, role: 'alert' }));
      const onEdit = () => {
        const d = state.data || {};
        const s = settingOf(d, meta.key);
        const dirty = inputString(meta, input) !== serverString(meta, s ? s.value : undefined);
        if (dirty) state.dirty.add(meta.key);
        else state.dirty.delete(meta.key);
        row.classList.toggle('dirty', dirty);
        fieldError(meta.key, '');
        setText('settings-status', '');
      };
      input.addEventListener('input', onEdit);
      input.addEventListener('change', onEdit);
      groups.get(meta.group).appendChild(row);
    }
    root.replaceChildren(...groups.values());
    if (present.length === 0) root.replaceChildren(h('p', { class: 'muted' }, 'The server reports no editable settings.'));
  }

  function renderSettings(d) {
    const present = SETTINGS.filter((m) => settingOf(d, m.key) !== null);
    const sig = present.map((m) => m.key).join(',');
    if (sig !== state.settingsBuilt) {
      state.settingsBuilt = sig;
      state.dirty.clear();
      buildSettings(present);
    }
    $('settings-save').disabled = present.length === 0;
    for (const meta of present) {
      const s = settingOf(d, meta.key);
      const src = $(`src-${meta.key}`);
      const source = s.source || '';
      src.textContent = source;
      src.hidden = !source;
      src.className = `badge source${source === 'runtime' ? ' info' : source === 'env' ? ' ok' : ''}`;
      const el = $(`set-${meta.key}`);
      // Keep what the user is editing; refresh everything else.
      if (!state.dirty.has(meta.key) && document.activeElement !== el) setInput(meta, el, s.value);
    }
  }

  function revertSettings() {
    state.dirty.clear();
    const d = state.data || {};
    for (const meta of SETTINGS) {
      const el = $(`set-${meta.key}`);
      if (!el) continue;
      const s = settingOf(d, meta.key);
      if (s) setInput(meta, el, s.value);
      fieldError(meta.key, '');
      $(`row-${meta.key}`).classList.remove('dirty');
    }
    setText('settings-status', '');
  }

  async function saveSettings(ev) {
    ev.preventDefault();
    const status = $('settings-status');
    status.className = 'small';
    const pending = [];
    let invalid = 0;
    for (const meta of SETTINGS) {
      if (!state.dirty.has(meta.key)) continue;
      const el = $(`set-${meta.key}`);
      if (!el) continue;
      const [value, err] = parseInput(meta, el);
      fieldError(meta.key, err);
      if (err) invalid++;
      else if ((meta.type === 'secret' || meta.type === 'secret-text') && value === '') state.dirty.delete(meta.key);
      else pending.push({ meta, value });
    }
    if (invalid) {
      status.textContent = `Fix the ${invalid === 1 ? 'field' : `${invalid} fields`} marked in red.`;
      status.classList.add('status-bad');
      return;
    }
    if (pending.length === 0) {
      status.textContent = 'Nothing changed.';
      return;
    }
    const btn = $('settings-save');
    btn.disabled = true;
    status.textContent = 'Saving…';
    let saved = 0;
    let failed = 0;
    // One update-config call per setting, as HAJIMI's page does.
    for (const { meta, value } of pending) {
      try {
        await api('POST', '/api/update-config', { key: meta.key, value });
        saved++;
        state.dirty.delete(meta.key);
        $(`row-${meta.key}`).classList.remove('dirty');
        if (meta.type === 'secret' || meta.type === 'secret-text') $(`set-${meta.key}`).value = '';
        if (state.data && state.data.settings && state.data.settings[meta.key]) {
          state.data.settings[meta.key].value = meta.type.startsWith('secret') ? true : value;
        } else if (state.data && meta.key in state.data) {
          state.data[meta.key] = meta.type.startsWith('secret') ? true : value;
        }
      } catch (e) {
        if (e.status === 401) {
          btn.disabled = false;
          return;
        }
        failed++;
        const errors = e.body && e.body.errors && typeof e.body.errors === 'object' ? e.body.errors : null;
        if (errors) {
          for (const [k, msg] of Object.entries(errors)) fieldError(k, String(msg));
          if (!(meta.key in errors)) fieldError(meta.key, e.message);
        } else {
          fieldError(meta.key, e.message);
        }
      }
    }
    btn.disabled = false;
    if (failed) {
      status.textContent = `${saved} saved, ${failed} not saved (see the fields).`;
      status.classList.add('status-bad');
    } else {
      status.textContent = `Saved ${saved} setting${saved === 1 ? '' : 's'}.`;
      status.classList.add('status-ok');
    }
    refreshNow();
  }

  // ---- logs

  function logLine(e) {
    if (typeof e === 'string') return { level: (/\[(DEBUG|INFO|WARNING|ERROR)\]/.exec(e) || [])[1] || 'INFO', node: h('div', { class: 'log-entry' }, e) };
    const level = String(e.level || 'INFO').toUpperCase();
    const key = e.key || e.vertex_id;
    const type = e.request_type || e.operation;
    const code = e.status_code !== undefined && e.status_code !== '' ? e.status_code : e.status;
    const node = h('div', { class: `log-entry lvl-${level}` },
      h('span', { class: 'log-ts' }, String(e.timestamp || '')), ' ',
      h('span', { class: 'log-lvl' }, `[${level}]`),
      key ? ` [${key}]` : '',
      type ? ` ${type}` : '',
      e.model ? ` [${e.model}]` : '',
      code !== undefined && code !== null && code !== '' ? ` ${code}` : '',
      `: ${e.message !== undefined ? e.message : e.formatted || ''}`,
      e.error_message ? h('span', { class: 'log-err' }, ` - ${e.error_message}`) : null);
    return { level, node };
  }

  function renderLogs(d) {
    const logs = Array.isArray(d.logs) ? d.logs : [];
    if (!changed('logs', [logs, state.logLevel])) return;
    const box = $('log-list');
    const first = box.childElementCount === 0;
    const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 50;
    const lines = logs.map(logLine).filter((l) => state.logLevel === 'ALL' || l.level === state.logLevel);
    if (lines.length === 0) box.replaceChildren(h('div', { class: 'log-empty' }, logs.length ? 'No entries at this level.' : 'No log entries yet.'));
    else box.replaceChildren(...lines.map((l) => l.node));
    if (first || nearBottom) box.scrollTop = box.scrollHeight;
  }

  // ---------------------------------------------------------------- key actions

  async function onAddKeys(ev) {
    ev.preventDefault();
    const text = $('add-keys-input').value;
    const items = text.split(/[,\r\n]+/).map((s) => s.trim()).filter(Boolean);
    if (items.length === 0) {
      setText('add-keys-error', 'Enter at least one key.');
      return;
    }
    const short = items.find((s) => s.length < 10);
    if (short) {
      setText('add-keys-error', `“${short.slice(0, 12)}” is too short to be a key.`);
      return;
    }
    const btn = $('add-keys-submit');
    btn.disabled = true;
    setText('add-keys-error', '');
    try {
      const r = await api('POST', '/api/update-config', { key: 'gemini_api_keys', value: items.join(',') });
      closeDialog('add-keys-dialog');
      $('add-keys-input').value = '';
      toast((r && r.message) || `Added ${items.length} key${items.length === 1 ? '' : 's'}.`);
      refreshNow();
    } catch (e) {
      if (e.status !== 401) {
        const errs = e.body && e.body.errors;
        setText('add-keys-error', (errs && errs.gemini_api_keys) || e.message);
      }
    } finally {
      btn.disabled = false;
    }
  }

  function stopTestPolling() {
    clearTimeout(state.testTimer);
    state.testTimer = 0;
  }

  function showTestProgress(p, finished) {
    const total = num(p.total);
    const completed = num(p.completed);
    for (const id of ['test-bar', 'test-inline-bar']) {
      const bar = $(id);
      bar.max = Math.max(1, total);
      bar.value = Math.min(completed, Math.max(1, total));
    }
    const text = finished
      ? `Done: ${fmtInt(p.valid)} valid, ${fmtInt(p.invalid)} invalid (of ${fmtInt(total)}).`
      : `Testing keys: ${fmtInt(completed)} / ${fmtInt(total)} (${fmtInt(p.valid)} valid, ${fmtInt(p.invalid)} invalid)`;
    setText('test-text', text);
    setText('test-inline-text', text);
    $('test-inline').hidden = false;
  }

  function startTestPolling(openIt) {
    stopTestPolling();
    state.testSeenRunning = false;
    state.testPolls = 0;
    $('test-keys-btn').disabled = true;
    if (openIt) openDialog('test-keys-dialog');
    setText('test-text', 'Starting…');
    const tick = async () => {
      state.testPolls++;
      try {
        const p = (await api('GET', '/api/test-api-keys/progress')) || {};
        if (p.is_running) state.testSeenRunning = true;
        // Right after the start, the previous run's "completed" may still show: trust a finish
        // only once this run was seen running (or after a few polls).
        const finished = !p.is_running && (state.testSeenRunning || state.testPolls > 3);
        showTestProgress(p, finished && p.is_completed !== false);
        if (finished) {
          stopTestPolling();
          $('test-keys-btn').disabled = false;
          refreshNow();
          setTimeout(() => {
            if (!state.testTimer) $('test-inline').hidden = true;
          }, 15000);
          return;
        }
      } catch (e) {
        if (e.status === 401) return;
        setText('test-text', `Progress unavailable: ${e.message}`);
      }
      state.testTimer = setTimeout(tick, PROGRESS_MS);
    };
    state.testTimer = setTimeout(tick, 300);
  }

  async function onTestKeys() {
    try {
      const r = await api('POST', '/api/test-api-keys', {});
      if (r && r.message) toast(r.message);
      startTestPolling(true);
    } catch (e) {
      if (e.status === 409) startTestPolling(true); // already running: follow it
      else if (e.status !== 401) toast(`Cannot start the key test: ${e.message}`, true);
    }
  }

  async function onClearInvalid() {
    const ok = await confirmAction('Clear invalid keys?',
      'Quarantined keys are forgotten: they will not be re-tested by “Test all keys”.', 'Clear');
    if (!ok) return;
    try {
      const r = await api('POST', '/api/clear-invalid-api-keys', {});
      toast((r && r.message) || 'Invalid keys cleared.');
      refreshNow();
    } catch (e) {
      if (e.status !== 401) toast(`Cannot clear invalid keys: ${e.message}`, true);
    }
  }

  async function onExport() {
    try {
      const r = (await api('POST', '/api/export-valid-api-keys', {})) || {};
      const keys = Array.isArray(r.keys) ? r.keys.map(String) : [];
      setText('export-message', r.message || `${keys.length} valid key${keys.length === 1 ? '' : 's'}.`);
      $('export-text').value = keys.join('\n');
      $('export-text').hidden = keys.length === 0;
      $('export-copy').disabled = keys.length === 0;
      $('export-list').replaceChildren(...keys.map((k) => {
        const btn = h('button', { type: 'button', class: 'btn small-btn' }, 'Copy');
        btn.addEventListener('click', async () => {
          const ok = await copyText(k, null);
          btn.textContent = ok ? 'Copied' : 'Copy failed';
          setTimeout(() => {
            btn.textContent = 'Copy';
          }, 1500);
        });
        return h('li', null, h('code', null, k), btn);
      }));
      openDialog('export-dialog');
    } catch (e) {
      if (e.status !== 401) toast(`Cannot export keys: ${e.message}`, true);
    }
  }

  async function onExportCopyAll() {
    const ta = $('export-text');
    const ok = await copyText(ta.value, null);
    if (!ok) {
      ta.focus();
      ta.select();
    }
    toast(ok ? 'Copied all keys.' : 'Copy failed: the keys are selected, copy them by hand.', !ok);
  }

  async function onResetStats() {
    const ok = await confirmAction('Reset statistics?', 'Calls and tokens of every key and model go back to zero.', 'Reset');
    if (!ok) return;
    try {
      const r = await api('POST', '/api/reset-stats', {});
      toast((r && r.message) || 'Statistics reset.');
      state.renderCache = {};
      refreshNow();
    } catch (e) {
      if (e.status !== 401) toast(`Cannot reset stats: ${e.message}`, true);
    }
  }

  // ---------------------------------------------------------------- wiring

  function setSegActive(container, attr, value) {
    for (const b of container.querySelectorAll(`[${attr}]`)) {
      const on = b.getAttribute(attr) === value;
      b.classList.toggle('active', on);
      b.setAttribute('aria-pressed', on ? 'true' : 'false');
    }
  }

  function wire() {
    $('login-form').addEventListener('submit', onLogin);
    $('logout-btn').addEventListener('click', onLogout);
    $('refresh-btn').addEventListener('click', refreshNow);
    $('theme-btn').addEventListener('click', cycleTheme);
    if (window.matchMedia) {
      const mq = window.matchMedia('(prefers-color-scheme: dark)');
      if (mq.addEventListener) mq.addEventListener('change', drawChart);
    }

    for (const b of document.querySelectorAll('[data-range]')) {
      b.addEventListener('click', () => {
        state.range = b.getAttribute('data-range');
        setSegActive(b.parentElement, 'data-range', state.range);
        chartHover = -1;
        drawChart();
      });
    }
    for (const b of document.querySelectorAll('[data-level]')) {
      b.addEventListener('click', () => {
        state.logLevel = b.getAttribute('data-level');
        setSegActive(b.parentElement, 'data-level', state.logLevel);
        if (state.data) renderLogs(state.data);
      });
    }

    const canvas = $('chart');
    canvas.addEventListener('pointermove', onChartPointer);
    canvas.addEventListener('pointerdown', onChartPointer);
    canvas.addEventListener('pointerleave', () => {
      chartHover = -1;
      drawChart();
    });
    if (window.ResizeObserver) new ResizeObserver(() => drawChart()).observe(canvas);
    else window.addEventListener('resize', drawChart);

    const keysChanged = () => {
      if (state.data && !state.data.api_key_page) renderKeys(state.data);
      else refreshNow();
    };
    $('key-state-filter').addEventListener('change', (e) => {
      state.keyState = e.target.value;
      state.keyPage = 1;
      keysChanged();
    });
    $('key-prev').addEventListener('click', () => {
      state.keyPage = Math.max(1, state.keyPage - 1);
      keysChanged();
    });
    $('key-next').addEventListener('click', () => {
      state.keyPage++;
      keysChanged();
    });

    $('model-filter').addEventListener('input', (e) => {
      state.modelFilter = e.target.value;
      if (state.data) renderModels(state.data);
    });

    $('settings-form').addEventListener('submit', saveSettings);
    $('settings-revert').addEventListener('click', revertSettings);

    $('add-keys-btn').addEventListener('click', () => {
      setText('add-keys-error', '');
      openDialog('add-keys-dialog');
      $('add-keys-input').focus();
    });
    $('add-keys-form').addEventListener('submit', onAddKeys);
    $('test-keys-btn').addEventListener('click', onTestKeys);
    $('clear-invalid-btn').addEventListener('click', onClearInvalid);
    $('export-keys-btn').addEventListener('click', onExport);
    $('export-copy').addEventListener('click', onExportCopyAll);
    $('export-dialog').addEventListener('close', () => {
      // Do not leave full keys in the page once the dialog is closed.
      $('export-text').value = '';
      $('export-list').replaceChildren();
    });
    $('reset-stats-btn').addEventListener('click', onResetStats);

    for (const b of document.querySelectorAll('[data-close]')) {
      b.addEventListener('click', () => {
        const d = b.closest('dialog');
        if (d) closeDialog(d.id);
      });
    }

    document.addEventListener('visibilitychange', () => {
      if (!document.hidden && state.signedIn) refreshNow();
    });
  }

  function main() {
    wire();
    boot();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', main);
  else main();
})();
