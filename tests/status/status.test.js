#!/usr/bin/env node
// tests/status/status.test.js - smsverify's status page (GET /status) in a
// real headless Chromium (Debian's, through playwright-core):
//
//   1. a few sends with the client key reach the simulated handset;
//   2. the page, loaded with the admin token, shows the simulator's bind
//      as up and the count of those sends (as /metrics and GET /v1/smscs
//      say them), under a Content-Security-Policy that blocks everything
//      but the page's own inline code, loading nothing from elsewhere;
//   3. the token stays for the tab (a reload shows the figures again);
//   4. with the daemon unreachable (its requests aborted) the page says so,
//      and comes back by itself;
//   5. a wrong token, and a client (not admin) token, are shown refused
//      (and a token no header could carry is refused before it is sent).
// Screenshots in STATUS_ARTIFACTS: status-live.png (the daemon as it is),
// status-stats.png (with statistics the test answers for GET /v1/stats in
// the SPEC's shape, whether or not the daemon has them) and
// status-refused.png.
//
// Environment:
//   SMSVERIFY_URL        smsverify's base URL (a fresh daemon: its counters
//                        are this test's sends)
//   STATUS_ADMIN_TOKEN   a key with role = admin
//   STATUS_CLIENT_TOKEN  a key with role = client
//   STATUS_HANDSET       the simulator's handset log (JSON lines)
//   CHROMIUM             the browser (default /usr/bin/chromium)
//   STATUS_ARTIFACTS     where screenshots go (default $SV_TMPDIR or the
//                        system's temporary directory)
//
// The /v1/stats panels are not asserted: they show figures or "statistics
// unavailable", whichever the daemon offers.  Exits 0 when every step
// passed, 1 otherwise; prints each step.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const TIMEOUT_MS = 15000;      // each browser step
const TOTAL_MS = 100000;       // the whole test
const SENDS = 3;

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`status.test.js: set ${name}`);
    process.exit(2);
  }
  return v;
}

const svUrl = need('SMSVERIFY_URL');
const admin = need('STATUS_ADMIN_TOKEN');
const client = need('STATUS_CLIENT_TOKEN');
const handset = need('STATUS_HANDSET');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const artifacts = process.env.STATUS_ARTIFACTS || process.env.SV_TMPDIR || os.tmpdir();
const pageUrl = `${svUrl}/status`;

let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  console.error('FAIL: playwright-core is not installed: run `npm ci` in tests/status ' +
    `(${e.message.split('\n')[0]})`);
  process.exit(1);
}
if (!fs.existsSync(chromiumPath)) {
  console.error(`FAIL: no Chromium at ${chromiumPath}: install Debian's chromium ` +
    'package (scripts/bootstrap does) or set CHROMIUM');
  process.exit(1);
}

function step(msg) {
  console.log(`  - ${msg}`);
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// Poll fn() every 100 ms until it returns a truthy value, at most ms.
async function until(what, ms, fn) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last) {
      return last;
    }
    if (Date.now() > end) {
      throw new Error(`${what}: not within ${ms / 1000} s`);
    }
    await sleep(100);
  }
}

async function api(method, p, token, body) {
  const headers = {};
  if (token) {
    headers.Authorization = `Bearer ${token}`;
  }
  if (body) {
    headers['Content-Type'] = 'application/json';
  }
  const r = await fetch(`${svUrl}${p}`, {
    method, headers, body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const text = await r.text();
  return { status: r.status, text };
}

function handsetLines() {
  let text = '';
  try {
    text = fs.readFileSync(handset, 'utf8');
  } catch (e) {
    return [];
  }
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
}

// The value of one sample of /metrics.
async function metric(name) {
  const r = await api('GET', '/metrics');
  const line = r.text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) {
    throw new Error(`/metrics has no ${name}`);
  }
  return Number(line.slice(name.length + 1));
}

async function textOf(page, selector) {
  const l = page.locator(selector);
  return (await l.count()) ? (await l.first().textContent()).trim() : null;
}

async function expectText(page, selector, want, what) {
  try {
    await until(what, TIMEOUT_MS, async () => {
      const t = await textOf(page, selector);
      return t !== null && (want instanceof RegExp ? want.test(t) : t === want);
    });
  } catch (e) {
    throw new Error(`${what}: ${selector} shows ${JSON.stringify(await textOf(page, selector))}, ` +
      `expected ${want}`);
  }
}

async function login(page, token) {
  await page.locator('#login').waitFor({ state: 'visible', timeout: TIMEOUT_MS });
  await page.fill('#token', token);
  await page.click('#login-button');
}

// The checks on every page this test opens: the policy came with it,
// nothing broke it, nothing was loaded from elsewhere.
function watch(page, problems) {
  page.on('console', (m) => {
    if (/Content[- ]Security[- ]Policy/i.test(m.text())) {
      problems.push(`CSP violation: ${m.text()}`);
    }
  });
  page.on('pageerror', (e) => problems.push(`script error: ${e.message}`));
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(`${svUrl}/`) && !u.startsWith('data:')) {
      problems.push(`a request outside the daemon: ${u}`);
    }
  });
}

async function run(browser, problems) {
  const numbers = [];
  for (let i = 0; i < SENDS; i++) {
    numbers.push(`+1415555${String(1001 + i).padStart(4, '0')}`);
  }
  step(`${SENDS} sends with the client key`);
  for (const phone of numbers) {
    const r = await api('POST', '/v1/verifications', client, { phone });
    if (r.status !== 201) {
      throw new Error(`POST /v1/verifications ${phone}: ${r.status} ${r.text}`);
    }
  }
  await until('the codes reaching the simulated handset', TIMEOUT_MS, () => {
    const to = new Set(handsetLines().map((m) => m.to));
    return numbers.every((n) => to.has(n) || to.has(n.slice(1)));
  });
  const sends = await metric('smsverify_sends_total');
  if (sends !== SENDS) {
    throw new Error(`/metrics counts ${sends} sends, expected ${SENDS}`);
  }

  step(`open ${pageUrl}: the login form, under a strict policy`);
  const ctx = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  watch(page, problems);
  const resp = await page.goto(pageUrl, { waitUntil: 'load', timeout: TIMEOUT_MS });
  if (resp.status() !== 200 || !/^text\/html/.test(resp.headers()['content-type'] || '')) {
    throw new Error(`GET /status: ${resp.status()} ${resp.headers()['content-type']}`);
  }
  const csp = resp.headers()['content-security-policy'] || '';
  for (const want of ["default-src 'none'", "connect-src 'self'", "script-src 'sha256-"]) {
    if (!csp.includes(want)) {
      throw new Error(`the page's Content-Security-Policy lacks ${want}: ${csp}`);
    }
  }
  if (/unsafe-inline|unsafe-eval|\*/.test(csp)) {
    throw new Error(`the page's Content-Security-Policy is not strict: ${csp}`);
  }

  step('enter the admin token: the bind shows up, with the sends counted');
  await login(page, admin);
  await expectText(page, '#conn', 'LIVE', 'the connection state');
  if (await page.title() !== 'smsverify: LIVE') {
    throw new Error(`the tab's title is "${await page.title()}"`);
  }
  await expectText(page, '#smscs [data-smsc="sim"] .smsc-state', 'UP', 'the SMSC "sim"');
  if (await page.locator('#smscs [data-smsc="sim"] .bind[data-state="bound"]').count() < 1) {
    throw new Error('no bind of "sim" is shown bound');
  }
  await expectText(page, '#sends-total', String(SENDS), 'sends since start');
  await expectText(page, '#sent-total', String(SENDS), 'sends accepted by SMSCs');
  await expectText(page, '#smscs [data-smsc="sim"] .submits .n', String(SENDS),
    'the submits of "sim"');
  await expectText(page, '#binds-up', '1 / 1', 'binds up');
  await expectText(page, '#tripped', '0', 'tripped ranges');
  // Each panel shows something: figures, or why there are none.
  for (const id of ['routes', 'countries', 'latency', 'chart', 'shield']) {
    await until(`the ${id} panel`, TIMEOUT_MS, async () =>
      ((await page.locator(`#${id}`).textContent()) || '').trim() !== '');
  }
  const shot = path.join(artifacts, 'status-live.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);

  step('reload: the token is kept for the tab');
  await page.reload({ waitUntil: 'load' });
  await expectText(page, '#conn', 'LIVE', 'after a reload');
  if (!(await page.locator('#login').isHidden())) {
    throw new Error('the login form shows after a reload');
  }

  step('with statistics (GET /v1/stats answered by the test in the SPEC\'s shape): ' +
    'tables, latency and the chart');
  const minute = new Date(Math.floor(Date.now() / 60000) * 60000 - 120000)
    .toISOString().replace(/\.\d{3}Z$/, 'Z');
  const row = (group, sends, delivered, approved) => ({
    group, sends, sent: sends, delivered, undeliverable: sends - delivered, approved,
    conversion: (100 * approved) / sends, delivery_p50_ms: 800, delivery_p95_ms: 2400,
    approve_p50_ms: 15000, failures: {},
  });
  const stats = {
    route: [row('default', 40, 38, 30), row('backup', 10, 5, 1)],
    country: [row('US', 50, 43, 31)],
    minute: [row(minute, 7, 7, 5)],
  };
  const isStats = (u) => u.pathname === '/v1/stats';
  await page.route(isStats, (r) => {
    const rows = stats[new URL(r.request().url()).searchParams.get('by')];
    r.fulfill(rows ? {
      status: 200, contentType: 'application/json',
      body: JSON.stringify({ rows, since: minute, until: minute }),
    } : { status: 422, contentType: 'application/json', body: '{"error":{"code":"invalid_field"}}' });
  });
  await expectText(page, '#routes tbody tr:first-child td:nth-child(1)', 'default', 'the route table');
  await expectText(page, '#routes tbody tr:first-child td:nth-child(3)', '95.0 %', 'delivered of route default');
  await expectText(page, '#routes tbody tr:first-child td:nth-child(4)', '75.0 %', 'conversion of route default');
  await expectText(page, '#routes tbody tr:nth-child(2) td:nth-child(4)', '10.0 %', 'conversion of route backup');
  // Coloured from 20 sends on: default (40) converts 75 %, green; backup's
  // 10 % of 10 sends is no alarm yet.
  if (await page.locator('#routes tbody tr:first-child td:nth-child(4).ok').count() !== 1 ||
      await page.locator('#routes tbody tr:nth-child(2) td.bad, ' +
        '#routes tbody tr:nth-child(2) td.warn').count() !== 0) {
    throw new Error('the route table\'s colours are not by the figures');
  }
  await expectText(page, '#countries tbody tr:first-child td:nth-child(1)', 'US', 'the country table');
  await expectText(page, '#latency tbody tr:first-child td:nth-child(3)', '2.4 s', 'the p95 latency');
  if (await page.locator('#chart svg rect.bar-sends').count() !== 1) {
    throw new Error('the chart does not show the one minute with sends');
  }
  const shot3 = path.join(artifacts, 'status-stats.png');
  await page.screenshot({ path: shot3, fullPage: true });
  console.log(`screenshot: ${shot3}`);
  await page.unroute(isStats);

  step('the daemon unreachable: the page says so, then recovers');
  await page.route('**/*', (r) => r.abort('connectionrefused'));
  await expectText(page, '#conn', 'UNREACHABLE', 'with the daemon unreachable');
  await expectText(page, '#banner', /unreachable/, 'the banner');
  await page.unroute('**/*');
  // The page waits 10 s after its first failed refresh (backing off).
  await until('the page live again', 30000, async () =>
    (await textOf(page, '#conn')) === 'LIVE');
  await ctx.close();

  step('a wrong token: refused');
  const ctx2 = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
  const page2 = await ctx2.newPage();
  page2.setDefaultTimeout(TIMEOUT_MS);
  watch(page2, problems);
  await page2.goto(pageUrl, { waitUntil: 'load', timeout: TIMEOUT_MS });
  await login(page2, 'not-a-token-of-this-daemon-0123456789');
  await expectText(page2, '#banner', /^Token refused \(HTTP 401 unauthorized/, 'a wrong token');
  if (!(await page2.locator('#login').isVisible()) || !(await page2.locator('#board').isHidden())) {
    throw new Error('after a wrong token the login form is not shown alone');
  }
  const shot2 = path.join(artifacts, 'status-refused.png');
  await page2.screenshot({ path: shot2, fullPage: true });
  console.log(`screenshot: ${shot2}`);

  step('a token no header can carry: said so, nothing sent');
  await login(page2, 'tökén with spaces');
  await expectText(page2, '#banner', /printable ASCII/, 'a token with spaces');

  step('a client token: refused, not an admin key');
  await login(page2, client);
  await expectText(page2, '#banner', /not an admin key \(HTTP 403 forbidden/, 'a client token');
  if (await page2.evaluate(() => sessionStorage.length) !== 0) {
    throw new Error('a refused token stays in sessionStorage');
  }
  await ctx2.close();

  if (problems.length) {
    throw new Error(problems.join('; '));
  }
}

async function main() {
  fs.mkdirSync(artifacts, { recursive: true });
  // No screenshot of an earlier run may pass for this one's.
  for (const f of ['status-live.png', 'status-stats.png', 'status-refused.png',
    'status-failure.png']) {
    fs.rmSync(path.join(artifacts, f), { force: true });
  }
  const args = [];
  // Chromium's sandbox refuses to run as root (containers, CI).
  if (process.getuid && process.getuid() === 0) {
    args.push('--no-sandbox');
  }
  console.log(`status page browser test: ${chromiumPath} (headless), page ${pageUrl}`);
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args,
    timeout: 30000,
  });
  const problems = [];
  let ok = false;
  try {
    await run(browser, problems);
    ok = true;
  } catch (e) {
    console.error(`FAIL: ${e.message.split('\n')[0]}`);
    for (const ctx of browser.contexts()) {
      for (const page of ctx.pages()) {
        const shot = path.join(artifacts, 'status-failure.png');
        try {
          await page.screenshot({ path: shot, fullPage: true, timeout: 5000 });
          console.error(`screenshot of the failure: ${shot}`);
        } catch (e2) {
          // the page is gone: nothing to show
        }
      }
    }
  } finally {
    await browser.close().catch(() => {});
  }
  return ok;
}

const deadline = setTimeout(() => {
  console.error(`FAIL: the test did not finish within ${TOTAL_MS / 1000} s`);
  process.exit(1);
}, TOTAL_MS);

main().then((ok) => {
  clearTimeout(deadline);
  console.log(ok ? 'status page browser test: PASS' : 'status page browser test: FAIL');
  process.exit(ok ? 0 : 1);
}, (e) => {
  clearTimeout(deadline);
  console.error(`FAIL: ${e.message.split('\n')[0]}`);
  process.exit(1);
});
