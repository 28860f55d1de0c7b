#!/usr/bin/env node
// tests/signup/server.js - the backend of a minimal signup page that
// verifies a phone number with smsverify.  Node's built-in modules only.
//
//   SMSVERIFY_URL=http://127.0.0.1:8080 SMSVERIFY_TOKEN=... node server.js
//
// Environment:
//   SMSVERIFY_URL     smsverify's base URL (required)
//   SMSVERIFY_TOKEN   the API key's token (required; for tests a key with
//                     role = test, so that nothing leaves the gateway)
//   PORT              the port to listen on, on 127.0.0.1 (default 0: any
//                     free port; the port is printed, and written to
//                     SIGNUP_PORT_FILE when that is set)
//
// Routes:
//   GET  /          index.html
//   POST /start     {"phone"}         -> smsverify POST /v1/verifications
//   POST /verify    {"phone", "code"} -> smsverify POST /v1/verifications/check
//
// The token stays here: the browser only ever talks to this server.  The
// code is never logged nor sent back to the browser.
'use strict';

const http = require('node:http');
const https = require('node:https');
const fs = require('node:fs');
const path = require('node:path');

const UPSTREAM_TIMEOUT_MS = 15000;
const MAX_BODY = 4096;

const base = process.env.SMSVERIFY_URL;
const token = process.env.SMSVERIFY_TOKEN;
if (!base || !token) {
  console.error('server.js: set SMSVERIFY_URL and SMSVERIFY_TOKEN');
  process.exit(2);
}
const upstream = new URL(base);
const page = fs.readFileSync(path.join(__dirname, 'index.html'));

// POST a JSON body to smsverify; resolves {status, body} (body parsed, or
// null), rejects on a network error or after UPSTREAM_TIMEOUT_MS.
function smsverify(urlPath, payload) {
  const url = new URL(urlPath, upstream);
  const data = Buffer.from(JSON.stringify(payload));
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, {
      method: 'POST',
      headers: {
        'Authorization': `Bearer ${token}`,
        'Content-Type': 'application/json',
        'Content-Length': data.length,
      },
      timeout: UPSTREAM_TIMEOUT_MS,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        let body = null;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch (e) {
          body = null;
        }
        resolve({ status: res.statusCode, body });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('smsverify did not answer in time')));
    req.on('error', reject);
    req.end(data);
  });
}

function reply(res, status, obj) {
  const data = Buffer.from(JSON.stringify(obj));
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': data.length,
    'Cache-Control': 'no-store',
  });
  res.end(data);
}

// The JSON object the browser sent, or null.
function readJson(req) {
  return new Promise((resolve) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        resolve(null);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      try {
        const v = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        resolve(v && typeof v === 'object' && !Array.isArray(v) ? v : null);
      } catch (e) {
        resolve(null);
      }
    });
    req.on('error', () => resolve(null));
  });
}

// smsverify's error message, for the page.
function errorOf(r) {
  if (r.body && r.body.error && r.body.error.message) {
    return r.body.error.message;
  }
  return `smsverify answered ${r.status}`;
}

async function start(req, res) {
  const body = await readJson(req);
  if (!body || typeof body.phone !== 'string' || body.phone.trim() === '') {
    return reply(res, 400, { error: 'Enter your phone number.' });
  }
  // client_ip lets smsverify's [limits] sends_per_ip see the end user.
  const r = await smsverify('/v1/verifications', {
    phone: body.phone.trim(),
    client_ip: req.socket.remoteAddress.replace(/^::ffff:/, ''),
  });
  if (r.status !== 201 || !r.body) {
    return reply(res, r.status === 429 ? 429 : 400, { error: errorOf(r) });
  }
  if (r.body.status === 'failed') {
    return reply(res, 502, { error: 'The code could not be sent. Try again later.' });
  }
  // The verification's id could be kept in a session; this page checks by
  // phone number, which smsverify accepts as well.
  return reply(res, 200, { sent: true, phone: r.body.phone });
}

async function verify(req, res) {
  const body = await readJson(req);
  if (!body || typeof body.phone !== 'string' || typeof body.code !== 'string') {
    return reply(res, 400, { error: 'Enter the code you received.' });
  }
  const code = body.code.trim();
  if (!/^[0-9]{4,12}$/.test(code)) {
    return reply(res, 400, { error: 'The code is 4 to 12 digits.' });
  }
  const r = await smsverify('/v1/verifications/check', {
    phone: body.phone.trim(),
    code,
  });
  if (r.status !== 200 || !r.body) {
    return reply(res, 400, { error: errorOf(r) });
  }
  const { valid, status } = r.body;
  const left = r.body.attempts_left;
  return reply(res, 200, { valid: valid === true, status, attempts_left: left });
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  const route = `${req.method} ${url.pathname}`;
  let work;
  if (route === 'GET /' || route === 'GET /index.html') {
    res.writeHead(200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': page.length,
      'Cache-Control': 'no-store',
      'Content-Security-Policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
    });
    res.end(page);
    return;
  } else if (route === 'POST /start') {
    work = start(req, res);
  } else if (route === 'POST /verify') {
    work = verify(req, res);
  } else {
    reply(res, 404, { error: 'not found' });
    return;
  }
  work.catch((e) => {
    console.error(`server.js: ${route}: ${e.message}`);
    if (!res.headersSent) {
      reply(res, 502, { error: 'The verification service is unavailable.' });
    }
  });
});
server.requestTimeout = 30000;
server.headersTimeout = 10000;

server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  const { port } = server.address();
  console.log(`signup page on http://127.0.0.1:${port}/`);
  if (process.env.SIGNUP_PORT_FILE) {
    // Written whole, then renamed: a reader never sees half of it.
    const file = process.env.SIGNUP_PORT_FILE;
    fs.writeFileSync(`${file}.tmp`, `${port}\n`);
    fs.renameSync(`${file}.tmp`, file);
  }
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
