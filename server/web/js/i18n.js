// Language: one dictionary per language (i18n/lv.js, i18n/en.js), the choice remembered in
// localStorage, <html lang> kept in step. Latvian is the default.
import lv from './i18n/lv.js';
import en from './i18n/en.js';

export const dictionaries = { lv, en };
const STORAGE_KEY = 'mentorsync.lang';
let current = 'lv';

function stored() {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;  // storage disabled: fall back to the default each time
  }
}

export function initLanguage() {
  const saved = stored();
  current = saved in dictionaries ? saved : 'lv';
  document.documentElement.lang = current;
}

export function language() {
  return current;
}

export function setLanguage(lang) {
  if (!(lang in dictionaries)) return;
  current = lang;
  document.documentElement.lang = lang;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // not remembered, still switched
  }
}

// The string for `key` with {placeholders} replaced; a missing key shows itself, so a gap is
// visible rather than blank.
export function t(key, params = {}) {
  const s = dictionaries[current][key] ?? dictionaries.lv[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

// The label of an enum field's value, or the value itself when the dictionary has none (a
// value from a newer app version).
export function tEnum(value) {
  const key = `enum.${value}`;
  return dictionaries[current][key] ?? String(value);
}

// Fills every element carrying data-i18n (text) or data-i18n-attr="attr:key" in `root`.
export function translateStatic(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    const [attr, key] = el.dataset.i18nAttr.split(':');
    el.setAttribute(attr, t(key));
  }
  document.title = t('app.title');
}

function locale() {
  return current === 'lv' ? 'lv-LV' : 'en-GB';
}

export function formatNumber(n, digits = 0) {
  return new Intl.NumberFormat(locale(), {
    minimumFractionDigits: 0,
    maximumFractionDigits: digits,
  }).format(n);
}

// A count from the API: null means suppressed (national role, 1 to 4).
export function formatCount(n) {
  return n === null || n === undefined ? t('common.suppressed') : formatNumber(n);
}

// "2026. g. sept." / "Sept 2026"; `monthOnly` for chart axes: "sept." / "Sept".
export function formatMonth(yyyyMm, monthOnly = false) {
  const [y, m] = yyyyMm.split('-').map(Number);
  const opts = monthOnly ? { month: 'short' } : { month: 'short', year: 'numeric' };
  return new Intl.DateTimeFormat(locale(), { ...opts, timeZone: 'UTC' })
    .format(new Date(Date.UTC(y, m - 1, 1)));
}

export function formatDate(isoDate) {
  if (!isoDate) return '—';
  const [y, m, d] = isoDate.slice(0, 10).split('-').map(Number);
  if (!y || !m || !d) return isoDate;
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeZone: 'UTC' })
    .format(new Date(Date.UTC(y, m - 1, d)));
}

export function formatDateTime(iso, dateStyle = 'medium') {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(locale(), { dateStyle, timeStyle: 'short' }).format(d);
}
