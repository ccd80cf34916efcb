// The coordinator dashboard: sign-in, then pages chosen by the URL fragment (#/overview, …).
// Each page has load() (fetches into its state) and draw() (renders that state), so switching
// the language redraws without asking the server again (reads of learner records are audited:
// no needless reads).
// Security: all data goes into the page through dom.js (text nodes), never as HTML; the session
// cookie is HttpOnly and the CSRF token lives in memory only; signing out drops every cached
// record.
import { api, apiUrl, ApiError, setCsrfToken, setUnauthenticatedHandler } from './api.js';
import { h, clear } from './dom.js';
import {
  t, tEnum, initLanguage, setLanguage, language, translateStatic,
  formatCount, formatNumber, formatMonth, formatDate, formatDateTime,
} from './i18n.js';
import { trendChart, riskChart } from './charts.js';

const main = document.getElementById('main');

// Everything known about the signed-in coordinator; reset on sign-out.
let session = null;  // {account, municipality_name}
let orgs = null;     // {municipalities: Map, institutions: Map}
let learners = null; // Map learner id -> name (loaded when a page needs names)
let currentPage = null;

const PAGES_BY_ROLE = {
  municipality: ['overview', 'escalations', 'conflicts', 'devices', 'records'],
  admin: ['overview', 'escalations', 'conflicts', 'devices', 'records'],
  national: ['overview'],
};

// ---------- helpers ----------

function shortId(id) {
  return id ? String(id).slice(0, 8) : '—';
}

function errorText(e) {
  if (!(e instanceof ApiError)) return t('common.error', { message: String(e?.message ?? e) });
  if (e.status === 0) return t('common.network');
  if (e.status === 403) return t('common.forbidden');
  if (e.status === 404) return t('common.not_found');
  return t('common.error', { message: e.message });
}

function errorBox(e) {
  return h('p', { class: 'notice error', role: 'alert' }, errorText(e));
}

function schoolYearOf(date) {
  const y = date.getUTCFullYear();
  return date.getUTCMonth() >= 8 ? `${y}/${y + 1}` : `${y - 1}/${y}`;
}

function schoolYears(count = 5) {
  const [first] = schoolYearOf(new Date()).split('/').map(Number);
  return Array.from({ length: count }, (_, i) => `${first - i}/${first - i + 1}`);
}

function semesters(count = 6) {
  const now = new Date();
  const [y] = schoolYearOf(now).split('/').map(Number);
  let year = y;
  let half = now.getUTCMonth() >= 8 ? 1 : 2;
  const out = [];
  for (let i = 0; i < count; i++) {
    out.push(`${year}/${year + 1}-${half}`);
    if (half === 2) half = 1; else { half = 2; year -= 1; }
  }
  return out;
}

function select(id, label, options, value) {
  return h('label', { class: 'field', for: id },
    h('span', null, label),
    h('select', { id, name: id },
      options.map(([v, text]) => h('option', { value: v, selected: v === value }, text))));
}

function institutionName(id) {
  return orgs?.institutions.get(id)?.name ?? shortId(id);
}

function municipalityName(id) {
  return orgs?.municipalities.get(id)?.name ?? shortId(id);
}

function learnerName(id) {
  return learners?.get(id) ?? shortId(id);
}

async function loadOrgs() {
  if (orgs) return orgs;
  const [m, i] = await Promise.all([api('/api/v1/municipalities'), api('/api/v1/institutions')]);
  orgs = {
    municipalities: new Map(m.items.map((x) => [x.id, x])),
    institutions: new Map(i.items.map((x) => [x.id, x])),
  };
  return orgs;
}

// Learner names for tables (municipality and admin roles only; the read is audited).
async function loadLearnerNames() {
  if (learners) return learners;
  const names = new Map();
  let cursor = null;
  do {
    const page = await api('/api/v1/records/learners', { query: { limit: 500, cursor } });
    for (const r of page.items) names.set(r.id, r.fields.name ?? shortId(r.id));
    cursor = page.next_cursor;
  } while (cursor && names.size < 5000);
  learners = names;
  return learners;
}

function municipalityChoice(id, value) {
  if (!orgs || session.account.role === 'municipality') return null;
  return select(id, t('common.municipality'),
    [['', t('common.all_municipalities')],
     ...[...orgs.municipalities.values()].map((m) => [m.id, m.name])], value);
}

// Fields whose values are codes (docs/schema.md enum and enum_list types).
const ENUM_FIELDS = new Set(['education', 'status', 'closing_reason', 'place', 'form', 'topics',
  'justification', 'source', 'learning_level', 'social_health_level', 'family_level',
  'economic_level', 'factor_codes', 'overall_level']);

// Fields where a coordinator may type an own value when resolving a conflict (docs/schema.md
// string and text types); codes, dates, numbers and ids are chosen from the two values only.
const FREE_TEXT_FIELDS = new Set(['name', 'viis_link', 'notes', 'next_steps', 'evidence', 'goals',
  'measures', 'responsible', 'mentor_support', 'review_outcome', 'reason']);

function formatValue(field, value) {
  if (value === null || value === undefined || value === '') return '—';
  if (Array.isArray(value)) return value.map((v) => formatValue(field, v)).join(', ');
  if (typeof value === 'boolean') return value ? t('common.yes') : t('common.no');
  if (field === 'school_id' || field === 'centre_id') return institutionName(value);
  if (field === 'municipality_id') return municipalityName(value);
  if (field === 'learner_id') return learnerName(value);
  if (field.endsWith('_id')) return shortId(value);
  if (ENUM_FIELDS.has(field)) return tEnum(value);
  if (field === 'starts_at' && typeof value === 'string') return value.replace('T', ' ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function pageShell(titleKey, ...content) {
  return [h('h1', null, t(titleKey)), ...content];
}

// ---------- sign-in ----------

function showSignIn(messageKey) {
  session = null;
  orgs = null;
  learners = null;
  currentPage = null;
  setCsrfToken(null);
  updateChrome();
  const status = h('p', { id: 'signin-status', class: 'notice', role: 'status', 'aria-live': 'polite' },
                   messageKey ? t(messageKey) : '');
  const form = h('form', { class: 'signin card', id: 'signin-form', novalidate: true },
    h('h1', null, t('signin.heading')),
    h('p', { class: 'muted' }, t('signin.intro')),
    h('label', { class: 'field', for: 'username' }, h('span', null, t('signin.username')),
      h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true,
                   maxlength: 100, autocapitalize: 'none', spellcheck: 'false' })),
    h('label', { class: 'field', for: 'password' }, h('span', null, t('signin.password')),
      h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password',
                   required: true, maxlength: 1024 })),
    h('button', { type: 'submit', class: 'primary' }, t('signin.submit')),
    status);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    status.className = 'notice';
    status.textContent = t('common.loading');
    try {
      const res = await api('/api/v1/auth/sign-in', {
        method: 'POST',
        body: { username: form.username.value.trim(), password: form.password.value },
      });
      setCsrfToken(res.csrf_token);
      await startSession();
      if (!location.hash.startsWith('#/') || location.hash === '#/sign-in') location.hash = '#/overview';
      else route();
    } catch (e) {
      status.className = 'notice error';
      if (e instanceof ApiError && e.code === 'bad_credentials') status.textContent = t('signin.bad_credentials');
      else if (e instanceof ApiError && e.code === 'locked_out') {
        status.textContent = t('signin.locked_out', { seconds: e.retryAfter || '?' });
      } else status.textContent = errorText(e);
      form.password.value = '';
      button.disabled = false;
    }
  });
  clear(main).append(form);
  form.username.focus();
}

async function startSession() {
  const me = await api('/api/v1/me');
  if (me.csrf_token) setCsrfToken(me.csrf_token);
  session = { account: me.account, municipality_name: me.municipality_name };
  try {
    await loadOrgs();
  } catch {
    orgs = null;  // names fall back to short ids; the pages still work
  }
  updateChrome();
}

async function signOut() {
  try {
    await api('/api/v1/auth/sign-out', { method: 'POST', body: {} });
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401) {
      // Still leave the page: the user asked to go; the server session ends on its own.
      console.warn('sign-out failed', e.code);
    }
  }
  history.replaceState(null, '', '#/sign-in');
  showSignIn('signin.signed_out');
}

// ---------- chrome: navigation, user, language ----------

function updateChrome() {
  const nav = document.getElementById('nav');
  const who = document.getElementById('whoami');
  const out = document.getElementById('sign-out');
  if (!session) {
    nav.hidden = true;
    who.hidden = true;
    out.hidden = true;
    return;
  }
  const allowed = PAGES_BY_ROLE[session.account.role] ?? ['overview'];
  for (const a of nav.querySelectorAll('a[data-page]')) {
    a.hidden = !allowed.includes(a.dataset.page);
    if (a.dataset.page === currentPage) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  nav.hidden = false;
  const role = t(`role.${session.account.role}`);
  const muniId = session.account.municipality_id;
  const muni = session.municipality_name ?? (muniId && orgs?.municipalities.get(muniId)?.name);
  const place = muni ? ` · ${muni}` : '';
  who.textContent = t('user.signed_in_as', { user: session.account.username, role }) + place;
  who.hidden = false;
  out.hidden = false;
}

function updateLanguageButtons() {
  for (const b of document.querySelectorAll('.lang-switch button')) {
    b.setAttribute('aria-pressed', String(b.dataset.lang === language()));
  }
}

// ---------- pages ----------

const overview = {
  state: { schoolYear: schoolYears()[0], municipality: '', data: null, error: null, semester: null },
  async load() {
    const st = this.state;
    st.error = null;
    try {
      st.data = await api('/api/v1/indicators', {
        query: { school_year: st.schoolYear, municipality: st.municipality },
      });
      const withData = st.data.risk_by_semester.filter((r) => r.assessed_learners !== 0);
      if (!st.data.risk_by_semester.some((r) => r.semester === st.semester)) {
        st.semester = (withData.at(-1) ?? st.data.risk_by_semester.at(-1))?.semester ?? null;
      }
    } catch (e) {
      st.data = null;
      st.error = e;
    }
  },
  draw() {
    const st = this.state;
    const controls = h('form', { class: 'controls', id: 'overview-controls' },
      select('school-year', t('common.school_year'), schoolYears().map((y) => [y, y]), st.schoolYear),
      municipalityChoice('overview-municipality', st.municipality),
      h('button', { type: 'submit', class: 'secondary' }, t('common.show')),
      h('a', {
        class: 'button', id: 'export-indicators', download: '',
        href: apiUrl('/api/v1/export/indicators', { school_year: st.schoolYear, municipality: st.municipality }),
      }, t('overview.export')));
    controls.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      st.schoolYear = controls.querySelector('#school-year').value;
      st.municipality = controls.querySelector('#overview-municipality')?.value ?? '';
      await show(this);
    });
    if (st.error) return pageShell('overview.heading', controls, errorBox(st.error));
    const d = st.data;
    const card = (id, label, value, extra) => h('section', { class: 'card stat', id, 'aria-label': label },
      h('h2', null, label), h('p', { class: 'stat-value' }, value), extra ? h('p', { class: 'muted' }, extra) : null);
    const target = (id, label, tv) => {
      const pct = tv.value === null ? 0 : Math.min(100, (tv.value / tv.target) * 100);
      return card(id, label, formatCount(tv.value), [
        t('overview.of_target', { target: formatNumber(tv.target) }),
        h('progress', { max: 100, value: pct.toFixed(1), 'aria-label': `${label}: ${formatNumber(pct, 1)} %` }),
      ]);
    };
    const cards = h('div', { class: 'cards' },
      target('ind-supported', t('overview.supported'), d.supported_learners),
      target('ind-municipalities', t('overview.municipalities'), d.active_municipalities),
      target('ind-institutions', t('overview.institutions'), d.active_institutions),
      card('ind-mentors', t('overview.mentors_active'), formatCount(d.mentors.active),
           t('overview.mentors_with_cases', { n: formatCount(d.mentors.with_cases) })),
      card('ind-mentees', t('overview.mentees_per_mentor'),
           d.mentors.mentees_per_mentor === null ? t('common.suppressed') : formatNumber(d.mentors.mentees_per_mentor, 2)),
      card('ind-escalations', t('overview.escalations'), formatCount(d.escalations.learners),
           t('overview.escalations_semester', { semester: d.escalations.semester })),
      card('ind-conflicts', t('overview.open_conflicts'), formatCount(d.data_quality.open_conflicts)));

    // Months after the current one have no data yet: leave them out rather than draw zeros.
    const thisMonth = new Date().toISOString().slice(0, 7);
    const months = d.contacts_by_month.filter((m) => m.month <= thisMonth);
    const charts = h('div', { class: 'charts' },
      trendChart({
        title: t('overview.contacts_chart'), seriesClass: 'series-contacts', valueHeader: t('col.contacts'),
        points: months.map((m) => ({ label: formatMonth(m.month), axis: formatMonth(m.month, true), value: m.contacts })),
      }),
      trendChart({
        title: t('overview.absences_chart'), seriesClass: 'series-absences', valueHeader: t('col.unjustified_lessons'),
        points: months.map((m) => ({ label: formatMonth(m.month), axis: formatMonth(m.month, true), value: m.unjustified_lessons })),
      }));

    const num = (v, digits) => (v === null ? t('common.suppressed') : formatNumber(v, digits));
    const perMentee = h('section', { class: 'card' },
      h('h2', null, t('overview.hours_table')),
      h('div', { class: 'table-scroll' }, h('table', { id: 'per-mentee' },
        h('thead', null, h('tr', null, ['col.month', 'col.contacts', 'col.hours', 'col.mentees',
          'col.contacts_per_mentee', 'col.hours_per_mentee'].map((k) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', null, months.map((m) => h('tr', null,
          h('th', { scope: 'row' }, formatMonth(m.month)),
          h('td', null, formatCount(m.contacts)), h('td', null, num(m.hours, 2)),
          h('td', null, formatCount(m.mentees)), h('td', null, num(m.contacts_per_mentee, 2)),
          h('td', null, num(m.hours_per_mentee, 2))))))));

    const risk = d.risk_by_semester.find((r) => r.semester === st.semester);
    const riskSection = h('section', { class: 'card', id: 'risk' },
      h('h2', null, t('overview.risk_chart')));
    if (!risk || risk.assessed_learners === 0) {
      riskSection.append(h('p', { class: 'muted' }, t('overview.risk_none')));
    } else {
      const semSelect = select('risk-semester', t('common.semester'),
        d.risk_by_semester.map((r) => [r.semester, r.semester]), st.semester);
      semSelect.querySelector('select').addEventListener('change', (ev) => {
        st.semester = ev.target.value;
        render();
      });
      riskSection.append(semSelect,
        h('p', { class: 'muted' }, t('overview.risk_assessed', { n: formatCount(risk.assessed_learners), semester: risk.semester })),
        riskChart({ title: `${t('overview.risk_chart')} ${risk.semester}`, groups: risk.groups }));
    }

    const dq = d.data_quality;
    const noneReported = dq.devices !== null && dq.devices === dq.devices_not_reporting;
    const buckets = ['0-1', '2-7', '8-30', 'over_30', 'never'];
    const quality = h('section', { class: 'card', id: 'data-quality' },
      h('h2', null, t('overview.data_quality')),
      h('dl', { class: 'facts' },
        h('dt', null, t('overview.devices')), h('dd', null, formatCount(dq.devices)),
        // A bucket that is absent has no devices; null is a suppressed count ("<5").
        buckets.flatMap((b) => [h('dt', { class: 'sub' }, t(`bucket.${b}`)),
                                h('dd', null, formatCount(dq.devices_by_days_since_sync?.[b] === undefined ? 0 : dq.devices_by_days_since_sync[b]))]),
        h('dt', null, t('overview.open_conflicts')), h('dd', null, formatCount(dq.open_conflicts)),
        h('dt', null, t('overview.quarantined')), h('dd', null, formatCount(dq.quarantined_on_server)),
        h('dt', null, t('overview.rejected')), h('dd', { id: 'dq-rejected' }, formatCount(dq.rejected_on_server)),
        // The devices' own reports: null is "none reported" when no device in scope reported,
        // else a suppressed count.
        h('dt', null, t('overview.not_reporting')), h('dd', null, formatCount(dq.devices_not_reporting)),
        [['overview.pending', dq.pending_on_devices, 'dq-pending'],
         ['overview.quarantined_devices', dq.quarantined_on_devices, 'dq-quarantined-devices'],
         ['overview.rejected_devices', dq.rejected_on_devices, 'dq-rejected-devices']].flatMap(([key, v, id]) => [
          h('dt', null, t(key)),
          h('dd', { id }, v === null && noneReported ? t('overview.not_reported') : formatCount(v))])));

    return pageShell('overview.heading', controls,
      h('p', { class: 'muted', id: 'period' }, t('overview.period', { from: formatDate(d.period.from), to: formatDate(d.period.to) })),
      d.suppressed ? h('p', { class: 'notice', id: 'suppressed-note' }, t('common.suppressed_note')) : null,
      cards, charts, perMentee, riskSection, quality);
  },
};

const escalations = {
  state: { semester: semesters()[0], municipality: '', data: null, error: null },
  async load() {
    const st = this.state;
    st.error = null;
    try {
      await loadOrgs().catch(() => null);
      st.data = await api('/api/v1/escalations', { query: { semester: st.semester, municipality: st.municipality } });
    } catch (e) {
      st.data = null;
      st.error = e;
    }
  },
  draw() {
    const st = this.state;
    const controls = h('form', { class: 'controls' },
      select('esc-semester', t('common.semester'), semesters().map((x) => [x, x]), st.semester),
      municipalityChoice('esc-municipality', st.municipality),
      h('button', { type: 'submit', class: 'secondary' }, t('common.show')));
    controls.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      st.semester = controls.querySelector('#esc-semester').value;
      st.municipality = controls.querySelector('#esc-municipality')?.value ?? '';
      await show(this);
    });
    if (st.error) return pageShell('esc.heading', controls, errorBox(st.error));
    const d = st.data;
    const body = d.items.length === 0
      ? h('p', { class: 'notice' }, t('esc.empty'))
      : h('div', { class: 'table-scroll' }, h('table', { id: 'escalation-table' },
        h('thead', null, h('tr', null, [t('common.learner'), t('common.school'), t('esc.lessons'), t('esc.days'), t('esc.parents')]
          .map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', null, d.items.map((e) => h('tr', null,
          h('th', { scope: 'row' }, e.name),
          h('td', null, institutionName(e.school_id)),
          h('td', { class: 'num' }, formatNumber(e.unjustified_lessons)),
          h('td', { class: 'num' }, formatNumber(e.absences)),
          h('td', null, formatDate(e.last_parents_contacted)))))));
    return pageShell('esc.heading', controls,
      h('p', { class: 'muted' }, t('esc.intro', { threshold: d.threshold })),
      h('p', { class: 'muted' }, t('overview.period', { from: formatDate(d.period.from), to: formatDate(d.period.to) })),
      body);
  },
};

const conflicts = {
  state: { items: [], next: null, error: null, message: null },
  async load() {
    const st = this.state;
    st.error = null;
    st.message = null;
    try {
      await loadLearnerNames().catch(() => null);
      const page = await api('/api/v1/conflicts', { query: { limit: 50 } });
      st.items = page.items;
      st.next = page.next_cursor;
    } catch (e) {
      st.items = [];
      st.error = e;
    }
  },
  async more() {
    const st = this.state;
    try {
      const page = await api('/api/v1/conflicts', { query: { limit: 50, cursor: st.next } });
      st.items = st.items.concat(page.items);
      st.next = page.next_cursor;
    } catch (e) {
      st.error = e;
    }
    render();
  },
  async resolve(item, resolution, value) {
    const st = this.state;
    const body = { id: item.id, resolution };
    if (resolution === 'custom') body.value = value;
    try {
      await api('/api/v1/conflicts/resolve', { method: 'POST', body });
      st.items = st.items.filter((x) => x.id !== item.id);
      st.message = { kind: 'ok', text: t('conf.resolved') };
    } catch (e) {
      if (e instanceof ApiError && (e.status === 409 || e.status === 404)) {
        // Written again (409 conflict_changed) or resolved by someone else (404) since the
        // queue was read: show the queue as it is now.
        await this.load();
        st.message = { kind: 'error', text: t('conf.changed') };
      } else {
        st.message = { kind: 'error', text: errorText(e) };
      }
    }
    render();
    document.getElementById('conflict-status')?.focus();
  },
  writer(labelKey, field, w) {
    const value = w.value === null || w.value === '' ? t('conf.empty_value') : formatValue(field, w.value);
    return h('div', { class: 'writer' },
      h('h3', null, t(labelKey)),
      h('p', { class: 'value' }, value),
      h('p', { class: 'muted' }, t('conf.written', {
        when: formatDateTime(w.written_at),
        role: w.role ? t(`role.${w.role}`) : '',
        user: shortId(w.user_id),
        device: shortId(w.device_id),
      })));
  },
  draw() {
    const st = this.state;
    const status = h('p', {
      id: 'conflict-status', tabindex: '-1', role: 'status', 'aria-live': 'polite',
      class: st.message ? `notice ${st.message.kind === 'error' ? 'error' : 'ok'}` : 'notice-empty',
    }, st.message?.text ?? '');
    if (st.error) return pageShell('conf.heading', errorBox(st.error));
    const list = h('ol', { class: 'conflicts', id: 'conflict-list' }, st.items.map((c) => {
      const actions = h('div', { class: 'actions' });
      if (c.values_redacted) {
        actions.append(h('p', { class: 'notice' }, t('conf.redacted')));
      } else {
        const keep = h('button', { type: 'button', class: 'primary', 'data-resolution': 'keep_winner' }, t('conf.keep'));
        const take = h('button', { type: 'button', class: 'secondary', 'data-resolution': 'take_loser' }, t('conf.take'));
        keep.addEventListener('click', () => { keep.disabled = true; take.disabled = true; this.resolve(c, 'keep_winner'); });
        take.addEventListener('click', () => { keep.disabled = true; take.disabled = true; this.resolve(c, 'take_loser'); });
        actions.append(keep, take);
        if (FREE_TEXT_FIELDS.has(c.field)) {
          const inputId = `custom-${c.id}`;
          const form = h('form', { class: 'custom' },
            h('label', { class: 'field', for: inputId }, h('span', null, t('conf.custom')),
              h('textarea', { id: inputId, rows: 2, maxlength: 10000 }, typeof c.winner.value === 'string' ? c.winner.value : '')),
            h('button', { type: 'submit', class: 'secondary' }, t('conf.custom_save')));
          form.addEventListener('submit', (ev) => {
            ev.preventDefault();
            this.resolve(c, 'custom', form.querySelector('textarea').value);
          });
          actions.append(form);
        }
      }
      return h('li', { class: 'card conflict', 'data-conflict': c.id },
        h('h2', null, t('conf.item', { collection: t(`coll.${c.collection}`), field: t(`field.${c.field}`) })),
        h('p', { class: 'muted' }, `${t('common.learner')}: `, learnerName(c.learner_id)),
        h('div', { class: 'writers' }, this.writer('conf.current', c.field, c.winner), this.writer('conf.other', c.field, c.loser)),
        actions);
    }));
    const more = st.next ? h('button', { type: 'button', class: 'secondary', id: 'conflicts-more' }, t('conf.more')) : null;
    more?.addEventListener('click', () => this.more());
    return pageShell('conf.heading', h('p', { class: 'muted' }, t('conf.intro')), status,
      st.items.length === 0 ? h('p', { class: 'notice', id: 'conflicts-empty' }, t('conf.empty')) : list, more);
  },
};

const devices = {
  state: { items: [], error: null },
  async load() {
    const st = this.state;
    st.error = null;
    try {
      await loadOrgs().catch(() => null);
      st.items = (await api('/api/v1/devices')).items;
    } catch (e) {
      st.items = [];
      st.error = e;
    }
  },
  draw() {
    const st = this.state;
    if (st.error) return pageShell('dev.heading', errorBox(st.error));
    if (st.items.length === 0) return pageShell('dev.heading', h('p', { class: 'notice' }, t('dev.empty')));
    return pageShell('dev.heading', h('p', { class: 'muted' }, t('dev.intro')),
      h('div', { class: 'table-scroll' }, h('table', { id: 'device-table' },
        h('thead', null, h('tr', null, ['dev.device', 'dev.role', 'dev.institution', 'dev.enrolled', 'dev.last_sync',
          'dev.days', 'dev.quarantined', 'dev.rejected_by_server', 'dev.pending', 'dev.quarantined_on_device',
          'dev.rejected_on_device', 'dev.reported'].map((k) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', null, st.items.map((d) => h('tr', { class: [d.revoked && 'revoked', (d.days_since_sync ?? 99) > 7 && 'stale'] },
          h('th', { scope: 'row' }, h('code', null, shortId(d.id)), d.revoked ? ` (${t('dev.revoked')})` : ''),
          h('td', null, t(`role.${d.role}`)),
          h('td', null, d.institution_id ? institutionName(d.institution_id) : '—'),
          // Short dates: twelve columns must fit a laptop screen.
          h('td', { class: 'nowrap' }, formatDateTime(d.enrolled_at, 'short')),
          h('td', { class: 'nowrap' }, d.last_sync_at ? formatDateTime(d.last_sync_at, 'short') : t('common.never')),
          h('td', { class: 'num' }, d.days_since_sync === null ? t('common.never') : formatNumber(d.days_since_sync)),
          h('td', { class: 'num' }, formatNumber(d.quarantined_on_server)),
          h('td', { class: 'num' }, formatNumber(d.rejected_by_server)),
          // The device's own last report; "—" when it never sent one.
          [d.pending_on_device, d.quarantined_on_device, d.rejected_on_device].map((v) =>
            h('td', { class: 'num' }, v === null ? '—' : formatNumber(v))),
          h('td', { class: 'nowrap' }, d.reported_at ? formatDateTime(d.reported_at, 'short') : t('dev.not_reported'))))))));
  },
};

const COLLECTIONS = ['learners', 'assignments', 'contacts', 'absences', 'risk_assessments', 'support_plans'];
// Column order: the schema's field order (docs/schema.md); fields it does not list (from a
// newer app version) follow in the order the server sent them.
const FIELD_ORDER = {
  learners: ['name', 'birth_year', 'school_id', 'municipality_id', 'grade', 'education', 'viis_link'],
  assignments: ['learner_id', 'mentor_id', 'centre_id', 'status', 'start_date', 'end_date', 'closing_reason'],
  contacts: ['learner_id', 'mentor_id', 'starts_at', 'duration_min', 'place', 'form', 'group_session',
    'topics', 'notes', 'next_steps', 'follow_up', 'risk_flag'],
  absences: ['learner_id', 'date', 'lessons', 'status', 'justification', 'source', 'parents_contacted'],
  risk_assessments: ['learner_id', 'semester', 'assessed_on', 'assessor_id', 'learning_level',
    'social_health_level', 'family_level', 'economic_level', 'factor_codes', 'overall_level', 'evidence'],
  support_plans: ['learner_id', 'semester', 'author_id', 'starts_on', 'goals', 'measures', 'responsible',
    'mentor_support', 'review_date', 'review_outcome'],
};
const PAGE_SIZE = 25;

const records = {
  state: {
    filters: { collection: 'contacts', centre: '', learner: '', from: '', to: '' },
    items: [], cursors: [null], pageIndex: 0, next: null, error: null,
  },
  query() {
    const f = this.state.filters;
    const q = { centre: f.centre, learner: f.learner };
    if (f.collection !== 'learners') Object.assign(q, { from: f.from, to: f.to });
    return q;
  },
  async load() {
    const st = this.state;
    st.error = null;
    try {
      await loadOrgs().catch(() => null);
      await loadLearnerNames();
      const page = await api(`/api/v1/records/${st.filters.collection}`, {
        query: { ...this.query(), limit: PAGE_SIZE, cursor: st.cursors[st.pageIndex] },
      });
      st.items = page.items;
      st.next = page.next_cursor;
    } catch (e) {
      st.items = [];
      st.next = null;
      st.error = e;
    }
  },
  draw() {
    const st = this.state;
    const f = st.filters;
    const centres = orgs ? [...orgs.institutions.values()] : [];
    const learnerOptions = learners ? [...learners.entries()].sort((a, b) => a[1].localeCompare(b[1], language())) : [];
    const form = h('form', { class: 'controls filters', id: 'record-filters' },
      select('rec-collection', t('rec.collection'), COLLECTIONS.map((c) => [c, t(`coll.${c}`)]), f.collection),
      select('rec-centre', t('rec.centre'), [['', t('rec.all_centres')], ...centres.map((c) => [c.id, c.name])], f.centre),
      select('rec-learner', t('rec.learner'), [['', t('rec.all_learners')], ...learnerOptions], f.learner),
      h('label', { class: 'field', for: 'rec-from' }, h('span', null, t('rec.from')),
        h('input', { id: 'rec-from', type: 'date', value: f.from, disabled: f.collection === 'learners' })),
      h('label', { class: 'field', for: 'rec-to' }, h('span', null, t('rec.to')),
        h('input', { id: 'rec-to', type: 'date', value: f.to, disabled: f.collection === 'learners' })),
      h('button', { type: 'submit', class: 'primary' }, t('rec.apply')));
    form.querySelector('#rec-collection').addEventListener('change', (ev) => {
      const isLearners = ev.target.value === 'learners';
      form.querySelector('#rec-from').disabled = isLearners;
      form.querySelector('#rec-to').disabled = isLearners;
    });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      st.filters = {
        collection: form.querySelector('#rec-collection').value,
        centre: form.querySelector('#rec-centre').value,
        learner: form.querySelector('#rec-learner').value,
        from: form.querySelector('#rec-from').value,
        to: form.querySelector('#rec-to').value,
      };
      st.cursors = [null];
      st.pageIndex = 0;
      await show(this);
    });
    const exportLink = h('a', {
      class: 'button', id: 'export-records', download: '',
      href: apiUrl(`/api/v1/export/records/${f.collection}`, this.query()),
    }, t('rec.export'));
    if (st.error) return pageShell('rec.heading', form, errorBox(st.error));

    const present = new Set(st.items.flatMap((r) => Object.keys(r.fields)));
    const known = FIELD_ORDER[f.collection] ?? [];
    const fieldNames = [...known.filter((k) => present.has(k)), ...[...present].filter((k) => !known.includes(k))];
    const redacted = [...new Set(st.items.flatMap((r) => r.redacted))];
    const showLearner = f.collection !== 'learners' && !fieldNames.includes('learner_id');
    const table = st.items.length === 0
      ? h('p', { class: 'notice', id: 'records-empty' }, t('rec.empty'))
      : h('div', { class: 'table-scroll' }, h('table', { id: 'record-table' },
        h('thead', null, h('tr', null,
          showLearner ? h('th', { scope: 'col' }, t('common.learner')) : null,
          fieldNames.map((k) => h('th', { scope: 'col' }, t(`field.${k}`))),
          h('th', { scope: 'col' }, t('rec.updated')))),
        h('tbody', null, st.items.map((r) => h('tr', { class: r.deleted ? 'deleted' : null },
          showLearner ? h('td', null, learnerName(r.learner_id)) : null,
          fieldNames.map((k) => h('td', null, formatValue(k, r.fields[k]))),
          h('td', null, formatDateTime(r.updated_at), r.deleted ? ` (${t('rec.deleted')})` : ''))))));
    const prev = h('button', { type: 'button', class: 'secondary', id: 'records-prev', disabled: st.pageIndex === 0 }, t('rec.prev'));
    const next = h('button', { type: 'button', class: 'secondary', id: 'records-next', disabled: !st.next }, t('rec.next'));
    prev.addEventListener('click', async () => { st.pageIndex -= 1; await show(this); });
    next.addEventListener('click', async () => {
      st.cursors[st.pageIndex + 1] = st.next;
      st.pageIndex += 1;
      await show(this);
    });
    return pageShell('rec.heading', form,
      h('div', { class: 'toolbar' }, exportLink),
      redacted.length ? h('p', { class: 'muted' }, t('rec.redacted', { fields: redacted.map((k) => t(`field.${k}`)).join(', ') })) : null,
      table,
      h('nav', { class: 'pager', 'aria-label': t('rec.page', { n: st.pageIndex + 1 }) },
        prev, h('span', null, t('rec.page', { n: st.pageIndex + 1 })), next));
  },
};

const PAGES = { overview, escalations, conflicts, devices, records };

// ---------- routing and rendering ----------

function render() {
  const page = PAGES[currentPage];
  if (!page || !session) return;
  clear(main).append(...page.draw().flat().filter(Boolean));
}

async function show(page) {
  main.setAttribute('aria-busy', 'true');
  clear(main).append(h('p', { class: 'muted' }, t('common.loading')));
  await page.load();
  main.removeAttribute('aria-busy');
  if (PAGES[currentPage] === page && session) render();
}

async function route() {
  const name = location.hash.startsWith('#/') ? location.hash.slice(2) : '';
  if (!session) {
    showSignIn();
    return;
  }
  const allowed = PAGES_BY_ROLE[session.account.role] ?? ['overview'];
  if (!allowed.includes(name)) {
    if (location.hash !== '#/overview') history.replaceState(null, '', '#/overview');
    currentPage = 'overview';
  } else {
    currentPage = name;
  }
  updateChrome();
  await show(PAGES[currentPage]);
  main.focus({ preventScroll: true });
}

function redrawForLanguage() {
  translateStatic();
  updateLanguageButtons();
  updateChrome();
  if (session && currentPage) render();
  else if (!session) showSignIn();
}

async function boot() {
  initLanguage();
  translateStatic();
  updateLanguageButtons();
  for (const b of document.querySelectorAll('.lang-switch button')) {
    b.addEventListener('click', () => {
      setLanguage(b.dataset.lang);
      redrawForLanguage();
    });
  }
  document.getElementById('sign-out').addEventListener('click', signOut);
  setUnauthenticatedHandler(() => {
    if (session) showSignIn('signin.expired');
  });
  window.addEventListener('hashchange', () => {
    if (location.hash.startsWith('#/')) route();
  });
  try {
    await startSession();
  } catch {
    showSignIn();
    return;
  }
  route();
}

boot();
