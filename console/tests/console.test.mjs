// Browser tests of the admin console: Debian's chromium driven by playwright-core against a real
// canopy-local (started here as the README starts it, no flags but a free port and a fresh data
// dir: two regions, `us` on that port and `eu` on the next), through every flow of the console, with screenshots as artifacts. Run by `scripts/test` (step `browser`), which sets:
//   CANOPY_LOCAL_BIN             the canopy-local binary
//   CANOPY_CHROMIUM              the browser (/usr/bin/chromium)
//   CANOPY_CONSOLE_NODE_MODULES  playwright-core and axe-core (console/package-lock.json)
//   CANOPY_CONSOLE_ARTIFACTS     where screenshots go

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { crc32, deflateSync } from 'node:zlib';

import { statusWaiter } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
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
const artifacts = env('CANOPY_CONSOLE_ARTIFACTS', join(root, 'target/console-screenshots'));
/** Launch flags that keep chromium off the network and out of any shared profile (TOOLCHAIN.md). */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** How long one step may wait for the page (a cold debug server on a busy machine is slow). */
const STEP_MS = 20_000;

/** A free port whose next port is free too: the server's second region listens there. */
async function freePortPair() {
  for (let i = 0; i < 50; i += 1) {
    const port = await freePort();
    if (port < 65535 && (await freePort(port + 1).then(() => true, () => false))) return port;
  }
  throw new Error('no two free loopback ports in a row');
}

function freePort(wanted = 0) {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(wanted, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/** A valid PNG of `width`×`height` pixels of one colour. */
function png(width, height, [r, g, b]) {
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
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: width }, () => [r, g, b]).flat())]);
  const pixels = deflateSync(Buffer.concat(Array.from({ length: height }, () => row)));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', pixels),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('admin console in chromium', () => {
  let server;
  let serverLog = '';
  let dataDir;
  let base;
  let euBase;
  let browser;
  let page;
  const configAnswers = [];
  const consoleErrors = [];
  let shot = 0;

  const screenshot = async (name) => {
    shot += 1;
    await page.screenshot({ path: join(artifacts, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
  };
  const statusOf = (id) => page.locator(`#${id}`);
  const says = (id, text) => statusWaiter(page, consoleErrors)(id, text);

  before(async () => {
    rmSync(artifacts, { recursive: true, force: true });
    mkdirSync(artifacts, { recursive: true });
    dataDir = mkdtempSync(join(tmpdir(), 'canopy-console-'));
    const port = await freePortPair();
    base = `http://127.0.0.1:${port}`;
    euBase = `http://127.0.0.1:${port + 1}`;
    // No Canopy settings from the caller's environment (regions, base URL): the defaults are
    // what is under test.
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('CANOPY_')));
    server = spawn(binary, ['--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], {
      env: { ...inherited, RUST_LOG: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout.on('data', (d) => (serverLog += d));
    server.stderr.on('data', (d) => (serverLog += d));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (server.exitCode !== null) throw new Error(`canopy-local exited:\n${serverLog}`);
      try {
        if ((await fetch(`${base}/atlassian-connect.json`)).ok) break;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) throw new Error(`canopy-local did not answer in 30 s:\n${serverLog}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    browser = await chromium.launch({ executablePath: browserPath, headless: true, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(STEP_MS);
    page.on('response', (response) => {
      if (/\/api\/sites\/[^/]+\/config$/.test(new URL(response.url()).pathname)) configAnswers.push(response.status());
    });
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    console.log(`# screenshots: ${artifacts}`);
  });

  after(async () => {
    await browser?.close();
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test('serves the console with a strict CSP and ETag revalidation', async () => {
    const response = await fetch(`${base}/console/`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type'), /^text\/html/);
    const csp = response.headers.get('content-security-policy');
    assert.match(csp, /script-src 'self' https:\/\/connect-cdn\.atl-paas\.net;/);
    assert.match(csp, /frame-ancestors 'self' https:\/\/\*\.atlassian\.net/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const again = await fetch(`${base}/console/app.js`, { headers: { 'if-none-match': (await fetch(`${base}/console/app.js`)).headers.get('etag') } });
    assert.equal(again.status, 304);
  });

  test('serves two regions from the plain start command, both named in the banner', async () => {
    // The banner's region lines come once the home region already answers.
    for (const deadline = Date.now() + 5_000; !/\n\s+region eu /.test(serverLog) && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const regions = serverLog
      .split('\n')
      .filter((line) => /^\s+region /.test(line))
      .map((line) => line.trim().split(/\s+/).slice(1, 3).join(' '));
    assert.deepEqual(regions, [`us ${base}`, `eu ${euBase}`]);
    assert.equal((await fetch(`${euBase}/atlassian-connect.json`)).status, 200);
  });

  test('opens with the dev tenant installed on first use and lists sites', async () => {
    await page.goto(`${base}/console/`);
    await page.locator('#tenant').filter({ hasText: 'canopy-dev-tenant' }).waitFor();
    await page.locator('#site-list').filter({ hasText: 'No sites yet' }).waitFor();
    for (const name of ['Help Center', 'Partner Portal']) {
      await page.fill('#site-name', name);
      await page.click('#site-form button[type=submit]');
      await says('site-status', `Managing ${name}`);
    }
    const rows = await page.locator('#site-list li strong').allTextContents();
    assert.deepEqual(rows.sort(), ['Help Center', 'Partner Portal']);
    await page.click('button[aria-label="Manage Help Center"]');
    await says('site-status', 'Managing Help Center');
    await page.locator('#preview .site-title').filter({ hasText: 'Help Center' }).waitFor();
    await screenshot('sites');
  });

  test('edits the theme with a live preview, then saves it', async () => {
    const header = page.locator('#preview .site-header');
    await page.fill('#color-header-background', '#5e2750');
    // Shown before anything is saved.
    assert.equal(await header.evaluate((e) => getComputedStyle(e).backgroundColor), 'rgb(94, 39, 80)');
    await page.fill('#color-text', '#dddddd');
    await says('contrast', 'Hard to read: text on background');
    await page.fill('#color-text', '#1d1d1d');
    await says('contrast', 'Contrast is fine');
    await page.fill('#font-body', 'Georgia, serif');
    await page.click('#theme-form button[type=submit]');
    await says('theme-status', 'Saved theme Help Center theme (version 1)');
    const config = await page.evaluate(async () => {
      const { Api, devTokens } = await import('/console/api.js');
      const api = new Api(devTokens());
      const sites = await api.get('/api/sites');
      const site = sites.items.find((s) => s.name === 'Help Center');
      return api.get(`/api/sites/${site.id}/config`);
    });
    assert.equal(config.theme.colors.headerBackground, '#5e2750');
    assert.equal(config.theme.fonts.body, 'Georgia, serif');
    await screenshot('theme');
  });

  test('uploads a logo straight to the media store and shows it in the preview', async () => {
    await page.setInputFiles('#logo-file', { name: 'logo.png', mimeType: 'image/png', buffer: png(40, 20, [255, 200, 0]) });
    await page.click('#logo-form button[type=submit]');
    await says('logo-status', 'uploaded and checked');
    const logo = page.locator('#preview .site-logo');
    await logo.waitFor({ state: 'visible' });
    await page.waitForFunction(() => document.querySelector('#preview .site-logo')?.naturalWidth === 40);
    // Served from the pinned copy complete checked, never the key the upload URL wrote.
    assert.match(await logo.getAttribute('src'), /\/local-media\/tenants\/canopy-dev-tenant\/pinned\//);
    assert.equal(await logo.getAttribute('alt'), 'Help Center logo');
    await screenshot('logo');
  });

  test('an upload whose size differs from the signed one is refused', async () => {
    const outcome = await page.evaluate(async () => {
      const { Api, devTokens } = await import('/console/api.js');
      const { sendableHeaders } = await import('/console/media.js');
      const api = new Api(devTokens());
      const bytes = Uint8Array.from(atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC'), (c) => c.charCodeAt(0));
      const ticket = await api.json('POST', '/api/media/uploads', {
        body: { purpose: 'logo', contentType: 'image/png', size: bytes.length - 5, fileName: 'short.png' },
      });
      const { media, upload } = ticket.data;
      const put = await fetch(upload.url, { method: 'PUT', headers: sendableHeaders(upload.headers), body: bytes });
      const complete = await api.send('POST', `/api/media/${media.id}/complete`);
      const item = await api.get(`/api/media/${media.id}`);
      return { put: put.status, complete: complete.status, code: (await complete.json()).error?.code, state: item.state };
    });
    assert.deepEqual(outcome, { put: 403, complete: 409, code: 'not_uploaded', state: 'pending' });
  });

  test('builds the navigation tree', async () => {
    const add = async (label, type, target, parent) => {
      await page.fill('#nav-label', label);
      await page.selectOption('#nav-type', type);
      await page.fill('#nav-target', target);
      await page.selectOption('#nav-parent', { label: parent });
      await page.click('#nav-form button[type=submit]');
      await says('nav-status', `Added ${label}`);
    };
    await add('Docs', 'url', 'https://docs.example.com/', 'Top level');
    await add('Guides', 'none', '', 'Top level');
    await add('Getting started', 'page', '123456', '— Guides');
    await add('Scratch', 'space', 'KB', 'Top level');
    await page.click('button[aria-label="Remove Scratch"]');
    await page.click('#nav-save');
    await says('nav-status', 'Navigation saved (3 items)');
    const nav = page.locator('#preview .site-nav');
    await nav.filter({ hasText: 'Getting started' }).waitFor();
    assert.equal(await nav.locator('> ul > li').count(), 2);
    assert.equal(await nav.locator('> ul > li:nth-child(2) > ul > li').textContent(), 'Getting started');
    assert.equal(await nav.locator('a').getAttribute('href'), 'https://docs.example.com/');
    await screenshot('navigation');
  });

  test('schedules announcements; the preview shows only the active one', async () => {
    const local = (date) => new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    await page.fill('#ann-title', 'Maintenance tonight');
    await page.fill('#ann-body', 'The site is **read-only** from 22:00. [Details](https://status.example.com)');
    await page.selectOption('#ann-severity', 'warning');
    await page.click('#ann-form button[type=submit]');
    await says('ann-status', 'Announcement Maintenance tonight is showing');
    await page.fill('#ann-title', 'New look next week');
    await page.fill('#ann-starts', local(new Date(Date.now() + 86_400_000)));
    await page.fill('#ann-ends', local(new Date(Date.now() + 8 * 86_400_000)));
    await page.click('#ann-form button[type=submit]');
    await says('ann-status', 'New look next week is scheduled from');
    assert.equal(await page.locator('#ann-list li').count(), 2);
    const shown = page.locator('#preview .site-announcements > div');
    await shown.filter({ hasText: 'Maintenance tonight' }).waitFor();
    assert.equal(await shown.count(), 1);
    assert.equal(await shown.locator('strong', { hasText: 'read-only' }).count(), 1);
    assert.equal(await shown.locator('a').getAttribute('href'), 'https://status.example.com');
    await screenshot('announcements');
  });

  test('shows feedback sent from the site', async () => {
    await page.selectOption('#preview-rating', '4');
    await page.fill('#preview-feedback', 'Found what I needed.');
    await page.click('#preview .site-feedback button[type=submit]');
    const row = page.locator('#feedback-table tbody tr').filter({ hasText: 'Found what I needed.' });
    await row.waitFor();
    assert.match(await row.textContent(), /4 of 5/);
    await screenshot('feedback');
  });

  test('re-reads the preview with If-None-Match and gets a 304', async () => {
    const isConfig = (response) => /\/api\/sites\/[^/]+\/config$/.test(new URL(response.url()).pathname);
    const [answer] = await Promise.all([page.waitForResponse(isConfig), page.click('#preview-refresh')]);
    assert.equal(answer.status(), 304);
    assert.match(await answer.request().headerValue('if-none-match'), /^"[0-9a-f]{32}"$/);
    await says('preview-status', 'Up to date (304 Not Modified');
    // The first read of each site had no tag and got the document.
    assert.equal(configAnswers[0], 200, `config answers: ${configAnswers}`);
  });

  test('exports the tenant data as a download', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
    assert.match(download.suggestedFilename(), /^canopy-export-\d{4}-\d{2}-\d{2}\.json$/);
    const document = JSON.parse(readFileSync(await download.path(), 'utf8'));
    assert.equal(document.format, 'canopy-export');
    assert.deepEqual(document.sites.map((s) => s.data.name).sort(), ['Help Center', 'Partner Portal']);
    assert.equal(document.themes.length, 1);
    assert.equal(document.announcements.length, 2);
    await says('export-status', 'Exported: 2 sites, 1 themes');
  });

  test('accessibility: labels and contrast (axe-core), everything reachable by keyboard', async () => {
    await page.evaluate(axeSource);
    const results = await page.evaluate(() =>
      window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
    );
    const violations = results.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    assert.deepEqual(violations, []);
    const passed = results.passes.map((p) => p.id);
    for (const rule of ['label', 'color-contrast', 'button-name', 'select-name']) {
      assert.ok(passed.includes(rule), `axe rule ${rule} checked nothing; passes: ${passed}`);
    }

    // Tab from the top through the page: every visible control is reached, in a cycle.
    const controls = await page.evaluate(() => {
      const all = [...document.querySelectorAll('a[href], button, input, select, textarea')];
      return all.filter((e) => !e.disabled && e.getClientRects().length > 0).length;
    });
    await page.evaluate(() => document.activeElement instanceof HTMLElement && document.activeElement.blur());
    // Date-time fields take several Tab presses (one per part), hence the generous bound.
    const reached = new Set();
    for (let i = 0; i < controls * 4 && reached.size < controls; i++) {
      await page.keyboard.press('Tab');
      const id = await page.evaluate(() => {
        const e = document.activeElement;
        if (!e || e === document.body) return null;
        e.dataset.tabSeen ??= String(Math.random());
        return e.dataset.tabSeen;
      });
      if (id) reached.add(id);
    }
    const unreached = await page.evaluate(() =>
      [...document.querySelectorAll('a[href], button, input, select, textarea')]
        .filter((e) => !e.disabled && e.getClientRects().length > 0 && !e.dataset.tabSeen)
        .map((e) => e.id || e.getAttribute('aria-label') || e.textContent.trim()),
    );
    assert.deepEqual(unreached, []);
    assert.ok(reached.size >= controls, `${reached.size} reached of ${controls}`);

    // A whole flow by keyboard alone: create a site with Enter, then choose it with Space.
    await page.focus('#site-name');
    await page.keyboard.type('Keyboard Site');
    await page.keyboard.press('Enter');
    await says('site-status', 'Managing Keyboard Site');
    await page.focus('button[aria-label="Manage Help Center"]');
    await page.keyboard.press('Space');
    await says('site-status', 'Managing Help Center');
    await screenshot('accessibility');
  });

  // Last: after the switch this server answers 421 for the tenant, and the eu region serves it.
  test('starts a residency migration and shows its progress to the switch', async () => {
    await page.locator('#residency-where').filter({ hasText: 'region us' }).waitFor();
    assert.deepEqual(await page.locator('#residency-region option').allTextContents(), ['eu']);
    const seen = new Set();
    const watch = setInterval(() => {
      page
        .evaluate(() => [document.querySelector('#residency-progress').value, document.querySelector('#residency-status').textContent])
        .then(([value, text]) => seen.add(`${value}|${text.split(':')[1]?.split(';')[0]?.trim()}`))
        .catch(() => {});
    }, 50);
    try {
      await page.click('#residency-form button[type=submit]');
      await says('residency-status', 'Move to eu: switched');
    } finally {
      clearInterval(watch);
    }
    assert.equal(await page.locator('#residency-progress').evaluate((e) => e.value), 100);
    assert.match(await statusOf('residency-where').textContent(), /now lives in region eu/);
    // The read-only phase lasts milliseconds since the residency write fence replaced the 1 s
    // drain wait, too short for a 50 ms poll to see reliably; the phases before and after it are.
    const phases = [...seen].map((s) => s.split('|')[1]);
    assert.ok(phases.includes('copying') && phases.some((p) => p?.startsWith('switched')), `phases seen: ${[...seen]}`);
    const values = [...seen].map((s) => Number(s.split('|')[0]));
    assert.ok(values.some((v) => v > 0 && v < 100), `progress values seen: ${values}`);
    await screenshot('residency');
    const euToken = await fetch(`${euBase}/dev/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ clientKey: 'canopy-dev-tenant' }),
    }).then((r) => r.json());
    const residency = await fetch(`${euBase}/api/residency`, { headers: { authorization: `JWT ${euToken.contextJwt}` } });
    assert.equal(residency.status, 200);
    assert.equal((await residency.json()).region, 'eu');
    assert.deepEqual(consoleErrors.filter((e) => !/status of 40[349]|status of 421/.test(e)), []);
  });
});
