// Browser tests of the console's editors and screens beyond the first flows (console.test.mjs):
// conflicts (If-Match, 412), the layout builder, the trash, promoted searches, page metadata,
// import and report configurations. Each screen is driven in Chromium against canopy-local,
// changed behind the console's back through the API where a conflict is the point, checked
// through the API, run through axe, and left as a screenshot (target/console-screenshots/screen-*.png).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { adminApi, axeViolations, openBrowser, screenshot, startCanopy } from './harness.mjs';

describe('console screens in chromium', () => {
  let canopy;
  let browser;
  let page;
  let errors;
  let api;
  let siteId;
  const status = (id) => page.locator(`#${id}`);
  const siteOf = async (name) => (await api.ok('GET', '/api/sites?limit=200')).items.find((s) => s.name === name);

  before(async () => {
    canopy = await startCanopy();
    ({ browser, page, errors } = await openBrowser());
    await page.goto(`${canopy.base}/console/`);
    await page.locator('#tenant').filter({ hasText: 'canopy-dev-tenant' }).waitFor();
    api = adminApi(canopy.base);
    await page.fill('#site-name', 'Intranet');
    await page.click('#site-form button[type=submit]');
    await status('site-status').filter({ hasText: 'Managing Intranet' }).waitFor();
    siteId = (await siteOf('Intranet')).id;
  });

  after(async () => {
    await browser?.close();
    await canopy?.stop();
  });

  test('conflicts: the theme editor offers reload or overwrite on a 412, never a silent loss', async () => {
    await page.fill('#font-body', 'Georgia, serif');
    await page.click('#theme-form button[type=submit]');
    await status('theme-status').filter({ hasText: 'version 1' }).waitFor();
    const themeId = (await siteOf('Intranet')).themeId;
    const theirs = async (name) => {
      const stored = await api.ok('GET', `/api/themes/${themeId}`);
      const { id, version, updatedAt, updatedBy, ...model } = stored;
      await api.ok('PUT', `/api/themes/${themeId}`, { ...model, name }, { 'if-match': `"${version}"` });
    };

    // Someone else saves; ours is refused with 412 and the choice appears; overwrite wins.
    await theirs('Their theme');
    await page.fill('#font-body', 'Verdana, sans-serif');
    await page.click('#theme-form button[type=submit]');
    await status('theme-status').filter({ hasText: 'was changed by someone else' }).waitFor();
    let stored = await api.ok('GET', `/api/themes/${themeId}`);
    assert.equal(stored.name, 'Their theme', 'nothing is written before the admin chooses');
    assert.equal(stored.fonts.body, 'Georgia, serif');
    assert.deepEqual(await axeViolations(page), []);
    await screenshot(page, 'conflict');
    await page.click('#theme-status button[data-conflict=overwrite]');
    await status('theme-status').filter({ hasText: 'Overwrote their version. Saved theme Intranet theme (version 3)' }).waitFor();
    stored = await api.ok('GET', `/api/themes/${themeId}`);
    assert.equal(stored.fonts.body, 'Verdana, sans-serif');
    assert.equal(stored.name, 'Intranet theme');

    // Again, and this time reload: the form shows theirs, and nothing of ours was written.
    await theirs('Renamed by a colleague');
    await page.fill('#font-body', 'Courier, monospace');
    await page.click('#theme-form button[type=submit]');
    await page.click('#theme-status button[data-conflict=reload]');
    await status('theme-status').filter({ hasText: 'Reloaded' }).waitFor();
    assert.equal(await page.inputValue('#theme-name'), 'Renamed by a colleague');
    assert.equal(await page.inputValue('#font-body'), 'Verdana, sans-serif');
    stored = await api.ok('GET', `/api/themes/${themeId}`);
    assert.equal(stored.version, 4);
    // Saving after a reload sends the reloaded version.
    await page.fill('#font-body', 'Courier, monospace');
    await page.click('#theme-form button[type=submit]');
    await status('theme-status').filter({ hasText: 'Saved theme Renamed by a colleague (version 5)' }).waitFor();
  });

  test('conflicts: navigation and announcement deletion send If-Match too', async () => {
    const addNav = async (label) => {
      await page.fill('#nav-label', label);
      await page.selectOption('#nav-type', 'none');
      await page.click('#nav-form button[type=submit]');
      await status('nav-status').filter({ hasText: `Added ${label}` }).waitFor();
    };
    await addNav('Home');
    await page.click('#nav-save');
    await status('nav-status').filter({ hasText: 'Navigation saved (1 items)' }).waitFor();
    const path = `/api/sites/${siteId}/navigation`;
    const nav = await api.ok('GET', path);
    await api.ok('PUT', path, { items: [...nav.items, { id: 'theirs', label: 'Theirs', target: { type: 'none' }, children: [] }] }, { 'if-match': `"${nav.version}"` });
    await addNav('Mine');
    await page.click('#nav-save');
    await status('nav-status').filter({ hasText: 'The navigation was changed by someone else' }).waitFor();
    await page.click('#nav-status button[data-conflict=reload]');
    await page.locator('#nav-tree').filter({ hasText: 'Theirs' }).waitFor();
    assert.equal(await page.locator('#nav-tree').filter({ hasText: 'Mine' }).count(), 0);
    assert.deepEqual((await api.ok('GET', path)).items.map((i) => i.label), ['Home', 'Theirs']);

    // An announcement changed by someone else is not deleted until the admin says so.
    await page.fill('#ann-title', 'Office closed');
    await page.click('#ann-form button[type=submit]');
    await status('ann-status').filter({ hasText: 'Office closed is showing' }).waitFor();
    const [announcement] = (await api.ok('GET', `/api/sites/${siteId}/announcements`)).items;
    const { id, version, updatedAt, updatedBy, ...model } = announcement;
    await api.ok('PUT', `/api/sites/${siteId}/announcements/${id}`, { ...model, title: 'Office closed Friday' }, { 'if-match': `"${version}"` });
    await page.click('button[aria-label="Delete Office closed"]');
    await status('ann-status').filter({ hasText: 'The announcement was changed by someone else' }).waitFor();
    assert.equal((await api.call('GET', `/api/sites/${siteId}/announcements/${id}`)).status, 200);
    await page.click('#ann-status button[data-conflict=overwrite]');
    await status('ann-status').filter({ hasText: 'Announcement deleted' }).waitFor();
    assert.equal((await api.call('GET', `/api/sites/${siteId}/announcements/${id}`)).status, 404);
    assert.deepEqual(errors.filter((e) => !/status of 40[349]|status of 412/.test(e)), []);
  });
});
