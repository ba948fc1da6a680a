// What the screen tests share: a canopy-local started as the README starts it (a free port, a
// fresh data dir), Debian's chromium, axe-core, the API as a second admin would call it (to check
// results and to change things behind the console's back), and screenshots. The environment is
// the one scripts/test sets (see console.test.mjs).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, '../..');
const env = (name, fallback) => {
  const value = process.env[name] || fallback;
  if (!value) throw new Error(`${name} is not set: run the browser tests through scripts/test`);
  return value;
};
const nodeModules = env('CANOPY_CONSOLE_NODE_MODULES', join(root, 'console/node_modules'));
const require = createRequire(join(nodeModules, 'noop.js'));
const { chromium } = require('playwright-core');
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const binary = env('CANOPY_LOCAL_BIN', join(root, 'target/debug/canopy-local'));
const browserPath = env('CANOPY_CHROMIUM', '/usr/bin/chromium');
export const artifacts = env('CANOPY_CONSOLE_ARTIFACTS', join(root, 'target/console-screenshots'));
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const STEP_MS = 20_000;
export const DEV_TENANT = 'canopy-dev-tenant';

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/** canopy-local on a free port (region `us` alone: these tests never move the tenant). */
export async function startCanopy() {
  const dataDir = mkdtempSync(join(tmpdir(), 'canopy-screens-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('CANOPY_')));
  const child = spawn(binary, ['--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--one-region'], {
    env: { ...inherited, RUST_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`canopy-local exited:\n${log}`);
    try {
      if ((await fetch(`${base}/atlassian-connect.json`)).ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`canopy-local did not answer in 30 s:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Chromium with one page, its console errors collected. */
export async function openBrowser() {
  const browser = await chromium.launch({ executablePath: browserPath, headless: true, args: CHROMIUM_ARGS });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  const errors = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(String(e)));
  return { browser, page, errors };
}

/**
 * The API as another admin of the tenant calls it (a token of its own), answering
 * `{status, body, etag}`; installs the tenant when it is not yet.
 */
export function adminApi(base, clientKey = DEV_TENANT, install = {}) {
  let token = '';
  const post = (path, body) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const call = async (method, path, body, headers = {}) => {
    if (!token) {
      let response = await post('/dev/token', { clientKey });
      if (response.status === 404) response = await post('/dev/install', { clientKey, ...install });
      token = (await response.json()).contextJwt;
    }
    const init = { method, headers: { authorization: `JWT ${token}`, ...headers } };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers['content-type'] = 'application/json';
    }
    const response = await fetch(`${base}${path}`, init);
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null, etag: response.headers.get('etag') };
  };
  /** The body of a call that must succeed. */
  const ok = async (method, path, body, headers) => {
    const answer = await call(method, path, body, headers);
    assert.ok(answer.status < 300, `${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  };
  return { call, ok };
}

/** axe-core's WCAG 2.1 A/AA rules on the whole page: the violations, as readable lines. */
export async function axeViolations(page) {
  await page.evaluate(axeSource);
  const results = await page.evaluate(() =>
    window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
  );
  return results.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** A screenshot named after the screen, left in the artifacts folder. */
export async function screenshot(page, name) {
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, `screen-${name}.png`), fullPage: true });
}

/** A valid PNG of `width`×`height` pixels of one colour. */
export function png(width, height, [r, g, b]) {
  const chunk = (type, data) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: width }, () => [r, g, b]).flat())]);
  const pixels = deflateSync(Buffer.concat(Array.from({ length: height }, () => row)));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', pixels),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * Waits until the element `#id` shows `text`. On a timeout the failure names what it showed
 * instead and the page's console errors, so a failure in CI says which answer the console got.
 * @param {import('playwright-core').Page} page
 * @param {string[]} errors the console errors openBrowser collects
 */
export function statusWaiter(page, errors) {
  return async (/** @type {string} */ id, /** @type {string | RegExp} */ text) => {
    const element = page.locator(`#${id}`);
    try {
      await element.filter({ hasText: text }).waitFor();
    } catch (error) {
      const shown = await element.textContent({ timeout: 1000 }).catch(() => '(not found)');
      throw new Error(`#${id} did not show ${JSON.stringify(String(text))}; it shows ${JSON.stringify(shown)}; console errors: ${JSON.stringify(errors)}`, { cause: error });
    }
  };
}
