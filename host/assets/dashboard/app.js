// The RaceLab host's dashboard: reads the admin API of the host that serves it and nothing
// else. Text from the host (plugin messages, names) is only ever set as text, never as markup.
'use strict';

(() => {
  const TOKEN_KEY = 'racelab.adminToken';
  const REFRESH_MS = 5000;
  const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
  const MAX_LINES = 8;
  const view = { date: null, track: null, race: null, pool: 'WIN', plot: null, retried: new Set() };

  const $ = (id) => document.getElementById(id);

  /** An element with attributes, listeners (`onclick`…) and children (nodes or text). */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'testid') node.dataset.testid = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function fill(tbody, rows, empty, columns) {
    tbody.replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: columns, class: 'muted' }, empty))]));
  }

  const kstTime = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Seoul', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  const kstDay = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Seoul', year: 'numeric', month: '2-digit', day: '2-digit' });
  const time = (t) => (t ? kstTime.format(new Date(t)) : '—');
  const when = (t) => (t ? `${kstDay.format(new Date(t))} ${kstTime.format(new Date(t))}` : '—');
  const yes = (b) => (b ? el('span', { class: 'ok' }, '✓') : el('span', { class: 'muted' }, '—'));

  function notice(text, error) {
    const p = $('notice');
    p.textContent = text;
    p.className = error ? 'error' : '';
    p.hidden = !text;
  }

  // The admin token: asked for once, kept for this browser session only.
  const token = () => sessionStorage.getItem(TOKEN_KEY);
  function showToken() {
    $('token-form').hidden = Boolean(token());
    $('token-forget').hidden = !token();
  }

  class NeedsToken extends Error {}

  async function api(path, options) {
    const opts = options || {};
    const headers = { Accept: 'application/json' };
    if (opts.admin) {
      if (!token()) {
        showToken();
        $('token').focus();
        throw new NeedsToken('enter the admin token first (RACELAB_ADMIN_TOKEN)');
      }
      headers.Authorization = `Bearer ${token()}`;
    }
    let body;
    if (opts.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.json);
    }
    const response = await fetch(path, { method: opts.method || 'GET', headers, body, cache: 'no-store' });
    const answer = await response.json().catch(() => null);
    if (response.status === 401 && opts.admin) {
      sessionStorage.removeItem(TOKEN_KEY);
      showToken();
    }
    if (!response.ok) {
      const why = answer && answer.error ? `${answer.error} (request ${answer.request_id})` : `HTTP ${response.status}`;
      throw new Error(why);
    }
    return answer;
  }

  async function act(what, call) {
    try {
      const done = await call();
      notice(done);
      await refresh();
    } catch (e) {
      notice(`${what}: ${e.message}`, !(e instanceof NeedsToken));
    }
  }

  // Sources and datasets.
  function renderStatus(status) {
    $('clock').textContent = `${status.kst_date} ${time(status.now)} KST · ${status.worker}`;
    fill($('sources'), status.sources.map((s) => {
      const next = s.next_due ? `${s.next_due.op} ${s.next_due.track} ${s.next_due.race_number || ''} at ${time(s.next_due.due)}` : '—';
      const health = el('span', { class: s.health === 'ok' ? 'ok' : 'bad' }, s.health);
      return el('tr', { testid: `source-${s.source}` },
        el('td', {}, s.source), el('td', {}, s.plugin), el('td', {}, health), el('td', {}, when(s.last_success)),
        el('td', {}, next), el('td', { class: 'num' }, `${s.queue.live} / ${s.queue.backfill}`),
        el('td', { class: 'num' }, s.retrying), el('td', { class: 'num' }, s.paused),
        el('td', { class: s.open_failures ? 'num bad' : 'num' }, s.open_failures));
    }), 'no sources', 9);
    const datasets = status.sources.flatMap((s) => s.datasets.map((d) => el('tr', {},
      el('td', {}, s.source), el('td', {}, d.dataset),
      el('td', { class: 'num' }, d.daily_quota === null ? `${d.used_today} (no quota)` : `${d.used_today} / ${d.daily_quota}`),
      el('td', { class: d.exhausted ? 'num bad' : 'num' }, d.left_today === null ? '—' : d.left_today),
      el('td', { class: d.paused_until ? 'warn' : '' }, d.paused_until ? when(d.paused_until) : '—'),
      el('td', { class: d.drift_unmapped + d.drift_missing ? 'warn' : '' }, `${d.drift_unmapped} / ${d.drift_missing}`))));
    fill($('datasets'), datasets, 'no datasets used yet', 6);
    if (!view.date) {
      view.date = status.kst_date;
      $('race-date').value = status.kst_date;
    }
  }

  // The day's races, by track.
  function renderRaces(races) {
    const tracks = [...new Set(races.map((r) => r.track))];
    if (view.track && !tracks.includes(view.track)) view.track = null;
    const button = (label, track) => el('button', {
      class: view.track === track ? 'on' : '', testid: `track-${label}`,
      onclick: () => { view.track = track; renderRaces(races); },
    }, label);
    $('tracks').replaceChildren(button('all', null), ...tracks.map((t) => button(t, t)));
    const shown = races.filter((r) => !view.track || r.track === view.track);
    fill($('races'), shown.map((r) => el('tr', {
      class: r.id === view.race ? 'race chosen' : 'race', testid: `race-${r.id}`,
      'data-final-odds': String(r.final_odds), onclick: () => chooseRace(r.id),
    },
    el('td', {}, r.track), el('td', { class: 'num' }, r.race_number), el('td', {}, time(r.post_time)),
    el('td', {}, r.name || ''), el('td', { class: 'num' }, r.scratched ? `${r.runners} (+${r.scratched} scratched)` : r.runners),
    el('td', {}, yes(r.results_final)), el('td', {}, yes(r.final_odds)), el('td', {}, time(r.last_odds_at)),
    el('td', {}, r.next_job ? `${r.next_job} at ${time(r.next_job_at)}` : '—'))), 'no races stored for this day', 9);
  }

  function chooseRace(id) {
    view.race = id;
    for (const row of document.querySelectorAll('tr.race')) row.classList.toggle('chosen', row.dataset.testid === `race-${id}`);
    drawOdds().catch((e) => notice(`odds: ${e.message}`, true));
  }

  // The odds drift chart: the favourites' prices over time, each held until it next changed.
  async function drawOdds() {
    if (!view.race) return;
    const odds = await api(`/api/races/${encodeURIComponent(view.race)}/odds?pool=${view.pool}`);
    $('chart-race').textContent = `${odds.race} · post ${time(odds.post_time)} KST`;
    const latest = new Map(odds.board.map((q) => [q.selection.join('-'), q.price]));
    const lines = odds.series
      .map((s) => ({ key: s.selection.join('-'), points: s.points }))
      .sort((a, b) => (latest.get(a.key) ?? Infinity) - (latest.get(b.key) ?? Infinity))
      .slice(0, MAX_LINES);
    const xs = [...new Set(lines.flatMap((l) => l.points.map((p) => Date.parse(p.captured_at) / 1000)))].sort((a, b) => a - b);
    const data = [xs];
    let points = 0;
    for (const line of lines) {
      const ys = [];
      let i = 0;
      let held = null;
      for (const x of xs) {
        while (i < line.points.length && Date.parse(line.points[i].captured_at) / 1000 <= x) {
          held = line.points[i].price; // null while the source shows its display cap
          i += 1;
        }
        ys.push(held);
        if (held !== null) points += 1;
      }
      data.push(ys);
    }
    const chart = $('chart');
    chart.dataset.points = String(points);
    chart.dataset.lines = String(lines.length);
    $('chart-note').textContent = lines.length
      ? `${lines.length} of ${odds.series.length} selections (the shortest prices), ${xs.length} captures; a price holds until it changes`
      : 'no odds stored for this race and pool';
    if (view.plot) view.plot.destroy();
    view.plot = null;
    chart.replaceChildren();
    if (!lines.length || typeof uPlot === 'undefined') return;
    const width = Math.max(320, Math.min(chart.clientWidth || 900, 1100));
    view.plot = new uPlot({
      width, height: 320,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Asia/Seoul'),
      scales: { x: { time: true } },
      series: [{ label: 'KST' }, ...lines.map((l, n) => ({ label: l.key, stroke: COLOURS[n % COLOURS.length], width: 1.5, spanGaps: false }))],
      axes: [{}, { label: 'odds' }],
    }, data, chart);
  }

  // Failures, with their retry buttons.
  function renderFailures(page) {
    fill($('failures'), page.failures.map((f) => {
      const job = [f.operation, f.track, f.race_date, f.race_number ? `race ${f.race_number}` : null].filter(Boolean).join(' ');
      const queued = view.retried.has(f.id);
      const retry = f.retryable
        ? el('button', {
          testid: `retry-${f.id}`, disabled: queued,
          onclick: () => act(`retry #${f.id}`, async () => {
            const r = await api(`/api/failures/${f.id}/retry`, { method: 'POST', admin: true });
            view.retried.add(f.id);
            return `failure #${f.id}: job ${r.job} ${r.already_queued ? 'was queued already' : 'queued again'}; it clears when the job succeeds`;
          }),
        }, queued ? 'queued' : 'Retry')
        : el('span', { class: 'muted' }, 'not retryable');
      return el('tr', { testid: `failure-${f.id}` },
        el('td', { class: 'num' }, f.id), el('td', {}, when(f.occurred_at)), el('td', {}, f.source), el('td', {}, job),
        el('td', { class: 'bad' }, f.kind), el('td', { class: 'message' }, f.message), el('td', { class: 'num' }, f.attempts),
        el('td', {}, retry));
    }), 'no open failures', 8);
    $('failures-total').textContent = `${page.total} open`;
    $('retry-all').disabled = page.total === 0;
  }

  function renderBackfill(runs) {
    $('backfill').replaceChildren(...(runs.length ? runs.map((b) => el('li', { testid: `backfill-${b.run.id}` },
      el('progress', { max: Math.max(1, b.counts.slices), value: b.counts.slices_done }), ' ', b.summary))
      : [el('li', { class: 'muted' }, 'no backfill runs')]));
  }

  function renderPlugins(versions) {
    fill($('plugins'), versions.map((v) => {
      const action = v.active
        ? [el('span', { class: 'ok' }, 'active '), el('button', {
          testid: `rollback-${v.name}`,
          onclick: () => act(`roll back ${v.name}`, async () => {
            const r = await api(`/api/plugins/${encodeURIComponent(v.name)}/rollback`, { method: 'POST', admin: true });
            return `${v.name}: ${r.activated.version} is active again`;
          }),
        }, 'Roll back')]
        : el('button', {
          testid: `activate-${v.name}-${v.version}`,
          onclick: () => act(`activate ${v.name} ${v.version}`, async () => {
            const r = await api(`/api/plugins/${encodeURIComponent(v.name)}/activate`, { method: 'POST', admin: true, json: { version: v.version, force: false } });
            return `${v.name}: ${r.activated.version} is active`;
          }),
        }, 'Activate');
      return el('tr', {}, el('td', {}, v.name), el('td', {}, v.version), el('td', {}, v.api_version),
        el('td', { title: v.sha256 }, v.sha256.slice(0, 12)), el('td', {}, when(v.installed_at)), el('td', {}, action));
    }), 'no plugin versions installed', 6);
  }

  let refreshing = false;
  async function refresh() {
    if (refreshing) return;
    refreshing = true;
    try {
      const status = await api('/api/status');
      renderStatus(status);
      const date = view.date || status.kst_date;
      const [races, failures, backfill, plugins] = await Promise.all([
        api(`/api/races?date=${encodeURIComponent(date)}`),
        api('/api/failures?state=open&per_page=100'),
        api('/api/backfill?latest=5'),
        api('/api/plugins'),
      ]);
      renderRaces(races);
      renderFailures(failures);
      renderBackfill(backfill);
      renderPlugins(plugins.versions);
      if (view.race) await drawOdds();
      $('refreshed').textContent = `updated ${new Date().toLocaleTimeString('en-GB', { hourCycle: 'h23' })}`;
      document.body.dataset.loaded = 'true';
    } catch (e) {
      notice(`the host did not answer: ${e.message}`, true);
    } finally {
      refreshing = false;
    }
  }

  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const value = $('token').value.trim();
    if (!value) return;
    sessionStorage.setItem(TOKEN_KEY, value);
    $('token').value = '';
    showToken();
    notice('token kept for this browser session');
  });
  $('token-forget').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showToken();
    notice('token forgotten');
  });
  $('retry-all').addEventListener('click', () => act('retry all', async () => {
    const r = await api('/api/failures/retry', { method: 'POST', admin: true });
    for (const x of r.retried) view.retried.add(x.failure);
    return `${r.retried.length} queued again, ${r.refused.length} not retryable`;
  }));
  $('race-date').addEventListener('change', (event) => {
    view.date = event.target.value || null;
    refresh();
  });
  $('pool').addEventListener('change', (event) => {
    view.pool = event.target.value;
    drawOdds().catch((e) => notice(`odds: ${e.message}`, true));
  });

  showToken();
  refresh();
  setInterval(refresh, REFRESH_MS);
})();
