#!/usr/bin/env node
// tests/signup/signup.test.js - drive the signup page in a real headless
// Chromium (Debian's, through playwright-core): enter a number, send a code,
// read it from smsverify's GET /v1/test/messages with the test key, type a
// wrong code (an error shows), then the right one ("verified" shows).
//
// Environment:
//   SIGNUP_URL         the signup page (server.js), e.g. http://127.0.0.1:41234/
//   SMSVERIFY_URL      smsverify's base URL
//   SMSVERIFY_TOKEN    a key with role = test (or admin) for /v1/test/messages
//   SIGNUP_PHONE       the number to sign up with (default +15005550001)
//   CHROMIUM           the browser (default /usr/bin/chromium)
//   SIGNUP_ARTIFACTS   where screenshots go (default $SV_TMPDIR or the
//                      system's temporary directory)
//
// Exits 0 when every step passed, 1 otherwise; prints each step.  The code
// itself is never printed.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const TIMEOUT_MS = 15000;      // each browser step
const TOTAL_MS = 90000;        // the whole test

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`signup.test.js: set ${name}`);
    process.exit(2);
  }
  return v;
}

const signupUrl = need('SIGNUP_URL');
const svUrl = need('SMSVERIFY_URL');
const svToken = need('SMSVERIFY_TOKEN');
const phone = process.env.SIGNUP_PHONE || '+15005550001';
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const artifacts = process.env.SIGNUP_ARTIFACTS || process.env.SV_TMPDIR || os.tmpdir();

let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  console.error('FAIL: playwright-core is not installed: run `npm ci` in tests/signup ' +
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

// The newest message test mode captured for the number at or after since,
// waiting up to 10 s for it (long poll).
async function capturedCode(since) {
  const q = new URLSearchParams({ phone, since, wait: '10' });
  const r = await fetch(`${svUrl}/v1/test/messages?${q}`, {
    headers: { Authorization: `Bearer ${svToken}` },
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  if (r.status !== 200) {
    throw new Error(`GET /v1/test/messages answered ${r.status}: ${await r.text()}`);
  }
  const { messages } = await r.json();
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new Error(`no message captured for ${phone} within 10 s`);
  }
  const m = messages[0];
  if (m.phone !== phone || typeof m.code !== 'string' || !/^[0-9]{4,12}$/.test(m.code)) {
    throw new Error(`the captured message has no code (id ${m.id})`);
  }
  return m.code;
}

// A code of the same length that is certainly not this one.
function wrongCode(code) {
  const last = (Number(code[code.length - 1]) + 1) % 10;
  return code.slice(0, -1) + String(last);
}

async function expectStatus(page, re, what) {
  const status = page.locator('#status');
  try {
    await status.filter({ hasText: re }).waitFor({ timeout: TIMEOUT_MS });
  } catch (e) {
    throw new Error(`${what}: the page shows "${await status.textContent()}", ` +
      `expected ${re}`);
  }
}

async function run(page) {
  step(`open ${signupUrl}`);
  await page.goto(signupUrl, { waitUntil: 'load', timeout: TIMEOUT_MS });
  await page.locator('h1', { hasText: 'Sign up' }).waitFor({ timeout: TIMEOUT_MS });

  // since: the second before the send (RFC 3339), so that no message of an
  // earlier run is read.
  const since = new Date(Math.floor(Date.now() / 1000) * 1000 - 1000)
    .toISOString().replace(/\.\d{3}Z$/, 'Z');
  step(`enter ${phone}, click "Send code"`);
  await page.fill('#phone', phone);
  await page.click('#send');
  await expectStatus(page, /Code sent/, 'after "Send code"');

  step('read the code from GET /v1/test/messages (wait=10)');
  const code = await capturedCode(since);

  step('type a wrong code, click "Verify": an error shows');
  await page.fill('#code', wrongCode(code));
  await page.click('#verify');
  await expectStatus(page, /Wrong code/, 'after a wrong code');
  if (await page.locator('#status.error').count() !== 1) {
    throw new Error('the wrong code is not shown as an error');
  }

  step('type the code, click "Verify": "verified" shows');
  await page.fill('#code', code);
  await page.click('#verify');
  await expectStatus(page, /^verified$/, 'after the right code');
}

async function main() {
  fs.mkdirSync(artifacts, { recursive: true });
  // No screenshot of an earlier run may pass for this one's.
  for (const f of ['signup-verified.png', 'signup-failure.png']) {
    fs.rmSync(path.join(artifacts, f), { force: true });
  }
  const args = [];
  // Chromium's sandbox refuses to run as root (containers, CI).
  if (process.getuid && process.getuid() === 0) {
    args.push('--no-sandbox');
  }
  console.log(`signup browser test: ${chromiumPath} (headless), page ${signupUrl}`);
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args,
    timeout: 30000,
  });
  let ok = false;
  let page;
  try {
    const context = await browser.newContext();
    page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT_MS);
    await run(page);
    ok = true;
    const shot = path.join(artifacts, 'signup-verified.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot: ${shot}`);
  } catch (e) {
    console.error(`FAIL: ${e.message.split('\n')[0]}`);
    if (page) {
      const shot = path.join(artifacts, 'signup-failure.png');
      try {
        await page.screenshot({ path: shot, fullPage: true, timeout: 5000 });
        console.error(`screenshot of the failure: ${shot}`);
      } catch (e2) {
        // the page is gone: nothing to show
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
  console.log(ok ? 'signup browser test: PASS' : 'signup browser test: FAIL');
  process.exit(ok ? 0 : 1);
}, (e) => {
  clearTimeout(deadline);
  console.error(`FAIL: ${e.message.split('\n')[0]}`);
  process.exit(1);
});
