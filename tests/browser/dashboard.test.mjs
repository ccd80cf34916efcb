// The coordinator dashboard in headless Chromium, against the real mentorsync-server.
//
// Flow: a fresh data dir → `admin init` → the server on 127.0.0.1:0 → browser_seed fills it
// (organisation, cases, two tablets syncing records, two conflicts) → a municipality
// coordinator account → in the browser: sign in (a wrong password first), the indicators,
// the language switch (remembered across a reload), escalations, devices, the records browser
// (filters, paging, markup in a name shown as text), resolving a conflict, CSV exports (BOM,
// header, Latvian letters), sign-out (and the old session cookie is refused afterwards); then
// the same on a tablet viewport. Screenshots go to $MENTORSYNC_BROWSER_ARTIFACTS.
//
// Run by ctest (label "browser"), which sets MENTORSYNC_SERVER_BINARY, MENTORSYNC_SEED_BINARY
// and MENTORSYNC_BROWSER_ARTIFACTS. Needs Debian's chromium at /usr/bin/chromium and
// `npm ci` in tests/browser (scripts/setup.sh does both); never downloads a browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const CHROMIUM = process.env.MENTORSYNC_CHROMIUM ?? '/usr/bin/chromium';
const SERVER = process.env.MENTORSYNC_SERVER_BINARY;
const SEED = process.env.MENTORSYNC_SEED_BINARY;
const ARTIFACTS = process.env.MENTORSYNC_BROWSER_ARTIFACTS ?? path.resolve('build/browser-artifacts');
const USERNAME = 'rezekne.koord';
const NATIONAL = 'visc.koord';
const PASSWORD = 'synthetic-Pa55word-for-tests';

const run = promisify(execFile);

function requireTools() {
  for (const [name, file] of [['MENTORSYNC_SERVER_BINARY', SERVER], ['MENTORSYNC_SEED_BINARY', SEED]]) {
    if (!file || !fs.existsSync(file)) {
      throw new Error(`${name} must name the built binary (got '${file ?? ''}'); run the test through ctest`);
    }
  }
  try {
    fs.accessSync(CHROMIUM, fs.constants.X_OK);
  } catch {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (scripts/setup.sh does)`);
  }
}

async function loadPlaywright() {
  try {
    return await import('playwright-core');
  } catch (e) {
    throw new Error(`playwright-core is not installed in tests/browser: run scripts/setup.sh ` +
                    `(npm ci there) — ${e.message}`);
  }
}

async function admin(dataDir, args, env = {}) {
  const { stdout } = await run(SERVER, ['admin', ...args, '--data-dir', dataDir], {
    env: { ...process.env, ...env },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1));
}

// Starts the server on an ephemeral port; resolves with {proc, port, url, stop()} once it
// logs "listening".
function startServer(dataDir) {
  return new Promise((resolve, reject) => {
    const proc = spawn(SERVER, ['--listen', '127.0.0.1:0', '--data-dir', dataDir, '--threads', '2'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const log = [];
    const timer = setTimeout(() => reject(new Error(`server did not log "listening" in 20 s:\n${log.join('\n')}`)), 20000);
    const exited = new Promise((res) => proc.on('exit', (code, signal) => res({ code, signal })));
    proc.on('error', reject);
    readline.createInterface({ input: proc.stderr }).on('line', (line) => {
      log.push(line);
      if (!line.includes('"event":"listening"')) return;
      clearTimeout(timer);
      const port = JSON.parse(line).port;
      resolve({
        proc, port, log, url: `http://127.0.0.1:${port}`,
        async stop() {
          proc.kill('SIGTERM');
          return exited;
        },
      });
    });
    exited.then(({ code }) => reject(new Error(`server exited with ${code} before listening:\n${log.join('\n')}`)));
  });
}

const VIEWPORTS = {
  laptop: { viewport: { width: 1366, height: 900 } },
  tablet: { viewport: { width: 820, height: 1180 }, hasTouch: true, isMobile: true, deviceScaleFactor: 2 },
};

async function newPage(browser, kind, problems) {
  const context = await browser.newContext({ ...VIEWPORTS[kind], acceptDownloads: true, locale: 'lv-LV' });
  const page = await context.newPage();
  // Any script error or CSP violation fails the test at the end.
  page.on('pageerror', (e) => problems.push(`${kind}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 40[13]/.test(m.text())) problems.push(`${kind}: console: ${m.text()}`);
  });
  return { context, page };
}

async function shot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

async function signIn(page, url, password = PASSWORD, username = USERNAME) {
  await page.goto(url);
  await page.locator('#username').fill(username);
  await page.locator('#password').fill(password);
  await page.locator('#signin-form button[type=submit]').click();
}

async function text(page, selector) {
  return (await page.locator(selector).first().textContent()).trim();
}

// The table inside the chart figure whose caption is `title`, as {row header: [cells]}.
async function chartTable(page, title) {
  const figure = page.locator('figure.chart-figure', { has: page.locator('figcaption', { hasText: title }) });
  return figure.locator('table tbody tr').evaluateAll((rows) =>
    Object.fromEntries(rows.map((r) => [r.querySelector('th').textContent, [...r.querySelectorAll('td')].map((td) => td.textContent)])));
}

async function download(page, selector) {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.locator(selector).click()]);
  const file = await dl.path();
  return { name: dl.suggestedFilename(), bytes: fs.readFileSync(file) };
}

function monthLabel(yyyyMm, locale) {
  const [y, m] = yyyyMm.split('-').map(Number);
  return new Intl.DateTimeFormat(locale, { month: 'short', year: 'numeric', timeZone: 'UTC' })
    .format(new Date(Date.UTC(y, m - 1, 1)));
}

test('coordinator dashboard in headless Chromium', { timeout: 240000 }, async (t) => {
  requireTools();
  const { chromium } = await loadPlaywright();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mentorsync-browser-'));
  const dataDir = path.join(tmp, 'data');
  const problems = [];
  let server;
  let browser;
  t.after(async () => {
    await browser?.close();
    if (server) await server.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  await admin(dataDir, ['init']);
  server = await startServer(dataDir);
  const seedOut = path.join(tmp, 'seed.json');
  await run(SEED, [], {
    env: { ...process.env, MENTORSYNC_SEED_DATA: dataDir, MENTORSYNC_SEED_URL: server.url, MENTORSYNC_SEED_OUT: seedOut },
  }).catch((e) => { throw new Error(`browser_seed failed:\n${e.stdout}\n${e.stderr}`); });
  const seed = JSON.parse(fs.readFileSync(seedOut, 'utf8'));
  await admin(dataDir, ['coord-add-account', '--username', USERNAME, '--role', 'municipality',
                        '--municipality', seed.municipality_id], { MENTORSYNC_COORD_PASSWORD: PASSWORD });
  await admin(dataDir, ['coord-add-account', '--username', NATIONAL, '--role', 'national'],
              { MENTORSYNC_COORD_PASSWORD: PASSWORD });

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });

  await t.test('the dashboard is served self-contained with security headers', async () => {
    const res = await fetch(`${server.url}/`);
    assert.equal(res.status, 200);
    const body = await res.text();
    assert.match(res.headers.get('content-security-policy'), /default-src 'none'; script-src 'self'/);
    assert.match(res.headers.get('content-security-policy'), /frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    const head = await fetch(`${server.url}/`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(Number(head.headers.get('content-length')), Buffer.byteLength(body));
    assert.equal((await fetch(`${server.url}/missing.js`)).status, 404);
    const etag = res.headers.get('etag');
    assert.match(etag, /^"sha256-[0-9a-f]{32}"$/);
    assert.equal((await fetch(`${server.url}/`, { headers: { 'If-None-Match': etag } })).status, 304);
  });

  const { context, page } = await newPage(browser, 'laptop', problems);

  await t.test('sign-in: Latvian by default, a wrong password is refused', async () => {
    await page.goto(server.url);
    assert.equal(await page.getAttribute('html', 'lang'), 'lv');
    assert.equal(await text(page, '#signin-form h1'), 'Pieslēgties');
    await shot(page, 'signin-lv-laptop');
    await signIn(page, server.url, 'wrong-password-123');
    await page.locator('#signin-status.error').waitFor();
    assert.equal(await text(page, '#signin-status'), 'Nepareizs lietotājvārds vai parole.');
    assert.equal(await page.locator('#password').inputValue(), '');
  });

  await t.test('overview: the indicators and charts match the seeded data', async () => {
    await signIn(page, server.url);
    await page.locator('#ind-supported .stat-value').waitFor();
    assert.match(page.url(), /#\/overview$/);
    assert.match(await text(page, '#whoami'), /rezekne\.koord/);
    assert.match(await text(page, '#whoami'), /Rēzeknes novads/);
    assert.equal(await text(page, '#ind-supported .stat-value'), String(seed.supported_learners));
    assert.equal(await text(page, '#ind-escalations .stat-value'), String(seed.escalated.length));
    assert.equal(await text(page, '#ind-conflicts .stat-value'), String(seed.open_conflicts));
    assert.equal(await text(page, '#ind-municipalities .stat-value'), '1');
    // Three charts drawn as SVG, each with an accessible name.
    const charts = page.locator('svg.chart[role=img]');
    assert.equal(await charts.count(), 3);
    for (const svg of await charts.all()) {
      const labelledBy = await svg.getAttribute('aria-labelledby');
      assert.ok((await page.locator(`[id="${labelledBy}"]`).textContent()).length > 0);
    }
    const contacts = await chartTable(page, 'Kontakti mēnesī');
    for (const [month, n] of Object.entries(seed.contacts_by_month)) {
      assert.deepEqual(contacts[monthLabel(month, 'lv-LV')], [String(n)], `contacts in ${month}`);
    }
    const absences = await chartTable(page, 'Neattaisnoti kavētās stundas mēnesī');
    for (const [month, n] of Object.entries(seed.unjustified_by_month)) {
      assert.deepEqual(absences[monthLabel(month, 'lv-LV')], [String(n)], `unjustified lessons in ${month}`);
    }
    const risk = page.locator('#risk svg.chart rect.risk-high');
    assert.ok(await risk.count() >= 1, 'the risk chart has a high-risk segment');
    await shot(page, 'overview-lv-laptop');
  });

  await t.test('the language switch translates everything and is remembered', async () => {
    await page.locator('.lang-switch button[data-lang=en]').click();
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.equal(await text(page, 'main h1'), 'Overview');
    assert.equal(await text(page, 'nav a[data-page=conflicts]'), 'Conflicts');
    assert.equal(await page.getAttribute('.lang-switch button[data-lang=en]', 'aria-pressed'), 'true');
    await page.reload();
    await page.locator('#ind-supported .stat-value').waitFor();
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.equal(await text(page, 'main h1'), 'Overview');
    await shot(page, 'overview-en-laptop');
    await page.locator('.lang-switch button[data-lang=lv]').click();
    assert.equal(await text(page, 'main h1'), 'Pārskats');
    assert.equal(await text(page, 'nav a[data-page=records]'), 'Ieraksti');
  });

  await t.test('escalations list the learner over 20 lessons, in scope only', async () => {
    await page.locator('nav a[data-page=escalations]').click();
    await page.locator('#escalation-table').waitFor();
    const rows = await page.locator('#escalation-table tbody tr').evaluateAll((trs) =>
      trs.map((tr) => [...tr.children].map((c) => c.textContent)));
    assert.equal(rows.length, seed.escalated.length);
    assert.equal(rows[0][0], 'Anna Bērziņa');
    assert.equal(rows[0][1], 'Rēzeknes Valsts ģimnāzija');
    assert.equal(rows[0][2], String(seed.escalated[0].lessons));
    assert.ok(!rows.some((r) => r[0].includes('Ārpusniece')), 'another municipality\'s learner is hidden');
    await shot(page, 'escalations-lv-laptop');
  });

  await t.test('device sync status lists both tablets', async () => {
    await page.locator('nav a[data-page=devices]').click();
    await page.locator('#device-table').waitFor();
    assert.equal(await page.locator('#device-table tbody tr').count(), seed.devices);
    assert.match(await text(page, '#device-table tbody tr td'), /mentors/);
    // Each tablet's last sync pushed everything, then pulled: its own report says 0 waiting.
    const headers = await page.locator('#device-table thead th').allTextContents();
    const pendingCol = headers.indexOf('Gaida ierīcē') - 1;  // the first column is a <th>
    assert.ok(pendingCol >= 0, 'the devices table has the reported pending column');
    const pending = await page.locator('#device-table tbody tr').evaluateAll(
      (rows, i) => rows.map((r) => r.querySelectorAll('td')[i].textContent), pendingCol);
    assert.deepEqual(pending, Array(seed.devices).fill('0'));
    await shot(page, 'devices-lv-laptop');
  });

  await t.test('records browser: filters, paging, and markup in data shown as text', async () => {
    await page.locator('nav a[data-page=records]').click();
    await page.locator('#record-filters').waitFor();
    await page.locator('#record-table, #records-empty').first().waitFor();
    // Contacts by default: more than one page.
    assert.equal(await page.locator('#record-table tbody tr').count(), 25);
    assert.equal(await page.locator('#records-prev').isDisabled(), true);
    await page.locator('#records-next').click();
    await page.locator('#records-prev:not([disabled])').waitFor();
    const secondPage = await page.locator('#record-table tbody tr').count();
    const totalContacts = Object.values(seed.contacts_by_month).reduce((a, b) => a + b, 0);
    assert.equal(secondPage, Math.min(25, totalContacts - 25));
    await page.locator('#records-prev').click();
    await page.locator('#records-prev[disabled]').waitFor();

    // A date range: the first month of contacts only.
    const [firstMonth, firstCount] = Object.entries(seed.contacts_by_month).sort()[0];
    const [y, m] = firstMonth.split('-').map(Number);
    const lastDay = new Date(Date.UTC(y, m, 0)).getUTCDate();
    await page.locator('#rec-from').fill(`${firstMonth}-01`);
    await page.locator('#rec-to').fill(`${firstMonth}-${lastDay}`);
    await page.locator('#record-filters button[type=submit]').click();
    await page.locator('#records-next[disabled]').waitFor();
    assert.equal(await page.locator('#record-table tbody tr').count(), firstCount);
    await page.locator('#rec-from').fill('');
    await page.locator('#rec-to').fill('');

    // Learners: the name with markup is text, nothing was parsed or run.
    await page.locator('#rec-collection').selectOption('learners');
    await page.locator('#record-filters button[type=submit]').click();
    await page.locator('#record-table').waitFor();
    const names = await page.locator('#record-table tbody tr td:first-child').allTextContents();
    assert.ok(names.includes('<img src=x onerror="window.__xss=1">Laura Kalniņa'), names.join(' | '));
    assert.ok(names.includes('Pēteris Ozoliņš'));
    assert.ok(!names.some((n) => n.includes('Ārpusniece')), 'another municipality\'s learner is hidden');
    assert.equal(await page.locator('main img').count(), 0);
    assert.equal(await page.evaluate(() => window.__xss), undefined);

    // One learner's absences in a date range.
    await page.locator('#rec-collection').selectOption('absences');
    await page.locator('#rec-learner').selectOption(seed.learners.anna);
    await page.locator('#record-filters button[type=submit]').click();
    await page.locator('#record-table').waitFor();
    assert.equal(await page.locator('#record-table tbody tr').count(), 4);
    await shot(page, 'records-lv-laptop');
  });

  await t.test('CSV exports: BOM, header, Latvian letters', async () => {
    await page.locator('#rec-collection').selectOption('learners');
    await page.locator('#rec-learner').selectOption('');
    await page.locator('#record-filters button[type=submit]').click();
    await page.locator('#record-table').waitFor();
    const learners = await download(page, '#export-records');
    assert.match(learners.name, /\.csv$/);
    assert.deepEqual([...learners.bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 byte-order mark');
    const csv = learners.bytes.subarray(3).toString('utf8');
    const lines = csv.split('\r\n');
    assert.match(lines[0], /^id,deleted,updated_at,name,/);
    assert.ok(csv.includes('Anna Bērziņa'), 'Latvian letters intact');
    assert.ok(csv.includes('Pēteris Ozoliņš'));
    assert.ok(!csv.includes('Ārpusniece'), 'the export is scoped to the municipality');

    await page.locator('nav a[data-page=overview]').click();
    await page.locator('#export-indicators').waitFor();
    const indicators = await download(page, '#export-indicators');
    assert.deepEqual([...indicators.bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
    assert.match(indicators.bytes.subarray(3).toString('utf8'), /^indicator,period,group,value,target\r\n/);
  });

  await t.test('conflict queue: both values, resolve one with the CSRF token', async () => {
    await page.locator('nav a[data-page=conflicts]').click();
    await page.locator('#conflict-list').waitFor();
    const items = page.locator('#conflict-list > li');
    assert.equal(await items.count(), seed.open_conflicts);
    const first = items.first();
    const values = await first.locator('.writer .value').allTextContents();
    assert.equal(values.length, 2);
    assert.notEqual(values[0], values[1]);
    assert.match(await first.locator('.writer .muted').first().textContent(), /mentors/);
    assert.match(await first.locator('p.muted').first().textContent(), /Pēteris Ozoliņš/);
    await shot(page, 'conflicts-lv-laptop');

    const resolved = await first.getAttribute('data-conflict');
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/v1/conflicts/resolve')),
      first.locator('button[data-resolution=take_loser]').click(),
    ]);
    assert.equal(response.status(), 200);
    assert.ok(response.request().headers()['x-csrf-token'], 'the resolve request carries X-CSRF-Token');
    await page.locator('#conflict-status.ok').waitFor();
    assert.equal(await items.count(), seed.open_conflicts - 1);
    // The server agrees: one conflict left, not the resolved one.
    const left = await page.evaluate(async () => (await (await fetch('/api/v1/conflicts')).json()).items.map((c) => c.id));
    assert.equal(left.length, seed.open_conflicts - 1);
    assert.ok(!left.includes(resolved));
    // Without the CSRF token the same kind of request is refused.
    const forged = await page.evaluate(async (id) => (await fetch('/api/v1/conflicts/resolve', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ id, resolution: 'keep_winner' }),
    })).status, left[0]);
    assert.equal(forged, 403);
    await shot(page, 'conflicts-resolved-lv-laptop');

    // Two tabs on the same queue: the second one's click on a conflict the first just resolved
    // is refused by the server, and the tab shows the queue as it is now.
    const other = await context.newPage();
    await other.goto(`${server.url}/#/conflicts`);
    await other.locator('#conflict-list').waitFor();
    await page.reload();
    await page.locator('#conflict-list > li button[data-resolution=keep_winner]').click();
    await page.locator('#conflicts-empty').waitFor();
    await other.locator('#conflict-list > li button[data-resolution=take_loser]').click();
    await other.locator('#conflicts-empty').waitFor();
    assert.match(await text(other, '#conflict-status'), /kopš saraksta ielādes/);
    await other.close();
  });

  await t.test('an ended session leads back to sign-in with a message', async () => {
    const saved = await context.cookies();
    await context.clearCookies();
    await page.locator('nav a[data-page=devices]').click();
    await page.locator('#signin-form').waitFor();
    assert.equal(await text(page, '#signin-status'), 'Sesija ir beigusies. Lūdzu, pieslēdzieties vēlreiz.');
    // With the cookie back, a reload finds the session again (GET /api/v1/me).
    await context.addCookies(saved);
    await page.goto(`${server.url}/#/conflicts`);
    await page.reload();
    await page.locator('#conflicts-empty').waitFor();
  });

  await t.test('sign-out ends the session on the server', async () => {
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'ms_session');
    assert.ok(session, 'the session cookie is set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    const cookieHeader = `ms_session=${session.value}`;
    assert.equal((await fetch(`${server.url}/api/v1/me`, { headers: { Cookie: cookieHeader } })).status, 200);

    await page.locator('#sign-out').click();
    await page.locator('#signin-form').waitFor();
    assert.equal(await text(page, '#signin-status'), 'Jūs esat izgājis no sistēmas.');
    assert.equal(await page.locator('#nav').isHidden(), true);
    assert.equal((await fetch(`${server.url}/api/v1/me`, { headers: { Cookie: cookieHeader } })).status, 401);
    await page.reload();
    await page.locator('#signin-form').waitFor();
    await shot(page, 'signed-out-lv-laptop');
  });
  await context.close();

  await t.test('tablet viewport: no sideways scrolling, touch-sized targets', async () => {
    const { context: tabletContext, page: tablet } = await newPage(browser, 'tablet', problems);
    await signIn(tablet, server.url);
    await tablet.locator('#ind-supported .stat-value').waitFor();
    await shot(tablet, 'overview-lv-tablet');
    const overflow = await tablet.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
    const small = await tablet.evaluate(() => [...document.querySelectorAll('nav a, button, select, input')]
      .filter((el) => el.offsetParent !== null)
      .map((el) => [el.textContent.trim() || el.id, el.getBoundingClientRect().height])
      .filter(([, hgt]) => hgt < 44));
    assert.deepEqual(small, [], 'touch targets are at least 44 px high');
    await tablet.locator('nav a[data-page=conflicts]').tap();
    await tablet.locator('#conflicts-empty').waitFor();
    await shot(tablet, 'conflicts-lv-tablet');
    await tablet.locator('nav a[data-page=records]').tap();
    await tablet.locator('#record-table').waitFor();
    await shot(tablet, 'records-lv-tablet');
    await tabletContext.close();
  });

  await t.test('national role: the overview only, small counts shown as <5', async () => {
    const { context: ctx, page: nat } = await newPage(browser, 'laptop', problems);
    await signIn(nat, server.url, PASSWORD, NATIONAL);
    await nat.locator('#ind-supported .stat-value').waitFor();
    // Three supported learners: suppressed for the national role.
    assert.equal(await text(nat, '#ind-supported .stat-value'), '<5');
    assert.equal(await text(nat, '#ind-escalations .stat-value'), '<5');
    await nat.locator('#suppressed-note').waitFor();
    // Two devices in the 0-1 day bucket: suppressed, not shown as 0.
    assert.match(await text(nat, '#data-quality'), /0–1 diena\s*<5/);
    // Both tablets reported nothing waiting: 0 describes no one, so it is shown.
    assert.equal(await text(nat, '#dq-pending'), '0');
    assert.ok(await nat.locator('#risk svg .suppressed-mark').count() > 0, 'suppressed risk groups are marked');
    for (const hidden of ['escalations', 'conflicts', 'devices', 'records']) {
      assert.equal(await nat.locator(`nav a[data-page=${hidden}]`).isHidden(), true, `${hidden} hidden`);
    }
    // A typed address of a page the role may not see falls back to the overview.
    await nat.goto(`${server.url}/#/records`);
    await nat.locator('#ind-supported .stat-value').waitFor();
    assert.match(nat.url(), /#\/overview$/);
    await shot(nat, 'overview-national-lv-laptop');
    await ctx.close();
  });

  await t.test('no script errors or CSP violations', () => {
    assert.deepEqual(problems, []);
  });

  const stopped = await server.stop();
  server = null;
  assert.equal(stopped.code, 0, 'the server stops cleanly');
});
