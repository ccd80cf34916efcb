// Charts drawn as inline SVG, each with an accessible name and description and the same
// figures in a table (inside <details>), so screen-reader users and people who want exact
// numbers get them. A null value is a suppressed count: the line breaks there and the table
// shows "<5". Colours come from classes in dashboard.css (no inline styles: the CSP forbids
// them).
import { h, s, uniqueId } from './dom.js';
import { t, tEnum, formatCount, formatNumber } from './i18n.js';

// The top of the y axis: four equal steps of 1, 2 or 5 times a power of ten (at least 1, as
// every series is a count or a sum of counts), so the tick labels are round numbers.
function niceMax(max) {
  const raw = Math.max(max, 1) / 4;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((v) => v >= raw);
  return Math.max(1, step) * 4;
}

function dataTable(caption, headers, rows) {
  return h('details', { class: 'chart-table' },
    h('summary', null, t('common.show_table')),
    h('div', { class: 'table-scroll' },
      h('table', null,
        h('caption', null, caption),
        h('thead', null, h('tr', null, headers.map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', null, rows.map((r) =>
          h('tr', null, h('th', { scope: 'row' }, r[0]), r.slice(1).map((c) => h('td', null, c))))))));
}

// A trend over months: points = [{label, axis?, value}] (value null when suppressed; `axis` a
// shorter label for under the axis, `label` the one for the table and the description).
export function trendChart({ title, points, seriesClass, valueHeader }) {
  const W = 640, H = 260, left = 48, right = 12, top = 16, bottom = 40;
  const plotW = W - left - right, plotH = H - top - bottom;
  const values = points.map((p) => p.value).filter((v) => v !== null);
  const max = niceMax(Math.max(0, ...values));
  const inset = 24;  // keeps the first and last month's labels inside the picture
  const x = (i) => left + inset + (points.length <= 1 ? (plotW - 2 * inset) / 2 : (i * (plotW - 2 * inset)) / (points.length - 1));
  const y = (v) => top + plotH - (v / max) * plotH;
  const titleId = uniqueId('chart-title');
  const descId = uniqueId('chart-desc');
  const desc = t('overview.chart_desc', {
    title,
    points: points.map((p) => `${p.label} ${formatCount(p.value)}`).join(', '),
  });

  const grid = [];
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    grid.push(s('line', { class: 'grid', x1: left, x2: W - right, y1: y(v), y2: y(v) }));
    grid.push(s('text', { class: 'axis', x: left - 6, y: y(v) + 4, 'text-anchor': 'end' },
                formatNumber(v, 1)));
  }
  // One path segment per run of known values; a suppressed month breaks the line.
  let d = '';
  let pen = false;
  points.forEach((p, i) => {
    if (p.value === null) { pen = false; return; }
    d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(p.value).toFixed(1)}`;
    pen = true;
  });
  const marks = points.map((p, i) => p.value === null
    ? s('text', { class: 'suppressed-mark', x: x(i), y: top + plotH - 6, 'text-anchor': 'middle' },
        t('common.suppressed'))
    : s('circle', { class: `point ${seriesClass}`, cx: x(i), cy: y(p.value), r: 4 }));
  const labels = points.map((p, i) =>
    s('text', { class: 'axis', x: x(i), y: H - bottom + 18, 'text-anchor': 'middle' }, p.axis ?? p.label));

  const svg = s('svg', {
    class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img',
    'aria-labelledby': titleId, 'aria-describedby': descId, preserveAspectRatio: 'xMidYMid meet',
  },
  s('title', { id: titleId }, title),
  s('desc', { id: descId }, desc),
  grid,
  s('line', { class: 'axis-line', x1: left, x2: W - right, y1: top + plotH, y2: top + plotH }),
  d ? s('path', { class: `line ${seriesClass}`, d }) : null,
  marks,
  labels);

  return h('figure', { class: 'chart-figure' },
    h('figcaption', null, title),
    svg,
    dataTable(title, [t('col.month'), valueHeader], points.map((p) => [p.label, formatCount(p.value)])));
}

const LEVELS = ['none', 'low', 'medium', 'high'];

// Risk-group distribution of one semester: groups = {group: {level: count|null}}, drawn as one
// 100 % bar per group split by level.
export function riskChart({ title, groups }) {
  const order = ['learning', 'social_health', 'family', 'economic', 'overall'].filter((g) => g in groups);
  const W = 640, rowH = 34, left = 200, right = 12, top = 8;
  const H = top + order.length * rowH + 36;
  const plotW = W - left - right;
  const titleId = uniqueId('chart-title');
  const descId = uniqueId('chart-desc');
  const rows = [];
  const bars = [];
  order.forEach((g, gi) => {
    const levels = groups[g] ?? {};
    // Suppressed cells (null) take no width: the bar shows the known shares only.
    const known = LEVELS.reduce((sum, l) => sum + (levels[l] ?? 0), 0);
    let cursor = left;
    const yTop = top + gi * rowH;
    bars.push(s('text', { class: 'axis', x: left - 8, y: yTop + rowH / 2 + 4, 'text-anchor': 'end' },
                t(`group.${g}`)));
    if (known === 0 && LEVELS.some((l) => levels[l] === null)) {
      // Every non-zero cell of this group is suppressed: say so instead of an empty bar.
      bars.push(s('text', { class: 'suppressed-mark', x: left + 4, y: yTop + rowH / 2 + 4 }, t('common.suppressed')));
    }
    for (const l of LEVELS) {
      const v = levels[l];
      if (!v || known === 0) continue;
      const w = (v / known) * plotW;
      bars.push(s('rect', { class: `risk-${l}`, x: cursor, y: yTop + 4, width: w, height: rowH - 10 },
                  s('title', null, `${t(`group.${g}`)}, ${tEnum(l)}: ${formatCount(v)}`)));
      if (w > 28) {
        bars.push(s('text', { class: 'bar-label', x: cursor + w / 2, y: yTop + rowH / 2 + 3, 'text-anchor': 'middle' },
                    formatCount(v)));
      }
      cursor += w;
    }
    rows.push([t(`group.${g}`), ...LEVELS.map((l) => (l in levels ? formatCount(levels[l]) : '—'))]);
  });
  const legendY = H - 14;
  const legend = LEVELS.map((l, i) => [
    s('rect', { class: `risk-${l}`, x: left + i * 110, y: legendY - 10, width: 12, height: 12 }),
    s('text', { class: 'axis', x: left + i * 110 + 18, y: legendY }, tEnum(l)),
  ]);
  const desc = rows.map((r) => `${r[0]}: ${LEVELS.map((l, i) => `${tEnum(l)} ${r[i + 1]}`).join(', ')}`).join('; ');
  const svg = s('svg', {
    class: 'chart risk', viewBox: `0 0 ${W} ${H}`, role: 'img',
    'aria-labelledby': titleId, 'aria-describedby': descId,
  },
  s('title', { id: titleId }, title),
  s('desc', { id: descId }, desc),
  bars,
  legend);
  return h('figure', { class: 'chart-figure' },
    h('figcaption', null, title),
    svg,
    dataTable(title, [t('col.group'), ...LEVELS.map((l) => tEnum(l))], rows));
}
