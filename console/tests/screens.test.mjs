// Browser tests of the console's editors and screens beyond the first flows (console.test.mjs):
// conflicts (If-Match, 412), the layout builder, the trash, promoted searches, page metadata,
// import, report configurations, broken navigation entries and who may see a site. Each screen is
// driven in Chromium against canopy-local, changed behind the console's back through the API where
// a conflict is the point, checked through the API, run through axe, and left as a screenshot
// (target/console-screenshots/screen-*.png).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { adminApi, axeViolations, openBrowser, png, screenshot, startCanopy, statusWaiter } from './harness.mjs';

describe('console screens in chromium', () => {
  let canopy;
  let browser;
  let page;
  let errors;
  let api;
  let siteId;
  let says;
  const status = (id) => page.locator(`#${id}`);
  const siteOf = async (name) => (await api.ok('GET', '/api/sites?limit=200')).items.find((s) => s.name === name);

  before(async () => {
    canopy = await startCanopy();
    ({ browser, page, errors } = await openBrowser());
    says = statusWaiter(page, errors);
    await page.goto(`${canopy.base}/console/`);
    await page.locator('#tenant').filter({ hasText: 'canopy-dev-tenant' }).waitFor();
    api = adminApi(canopy.base);
    await page.fill('#site-name', 'Intranet');
    await page.click('#site-form button[type=submit]');
    await says('site-status', 'Managing Intranet');
    siteId = (await siteOf('Intranet')).id;
  });

  after(async () => {
    await browser?.close();
    await canopy?.stop();
  });

  test('conflicts: the theme editor offers reload or overwrite on a 412, never a silent loss', async () => {
    await page.fill('#font-body', 'Georgia, serif');
    await page.click('#theme-form button[type=submit]');
    await says('theme-status', 'version 1');
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
    await says('theme-status', 'was changed by someone else');
    let stored = await api.ok('GET', `/api/themes/${themeId}`);
    assert.equal(stored.name, 'Their theme', 'nothing is written before the admin chooses');
    assert.equal(stored.fonts.body, 'Georgia, serif');
    assert.deepEqual(await axeViolations(page), []);
    await screenshot(page, 'conflict');
    await page.click('#theme-status button[data-conflict=overwrite]');
    await says('theme-status', 'Overwrote their version. Saved theme Intranet theme (version 3)');
    stored = await api.ok('GET', `/api/themes/${themeId}`);
    assert.equal(stored.fonts.body, 'Verdana, sans-serif');
    assert.equal(stored.name, 'Intranet theme');

    // Again, and this time reload: the form shows theirs, and nothing of ours was written.
    await theirs('Renamed by a colleague');
    await page.fill('#font-body', 'Courier, monospace');
    await page.click('#theme-form button[type=submit]');
    await page.click('#theme-status button[data-conflict=reload]');
    await says('theme-status', 'Reloaded');
    assert.equal(await page.inputValue('#theme-name'), 'Renamed by a colleague');
    assert.equal(await page.inputValue('#font-body'), 'Verdana, sans-serif');
    stored = await api.ok('GET', `/api/themes/${themeId}`);
    assert.equal(stored.version, 4);
    // Saving after a reload sends the reloaded version.
    await page.fill('#font-body', 'Courier, monospace');
    await page.click('#theme-form button[type=submit]');
    await says('theme-status', 'Saved theme Renamed by a colleague (version 5)');
  });

  test('conflicts: navigation and announcement deletion send If-Match too', async () => {
    const addNav = async (label) => {
      await page.fill('#nav-label', label);
      await page.selectOption('#nav-type', 'none');
      await page.click('#nav-form button[type=submit]');
      await says('nav-status', `Added ${label}`);
    };
    await addNav('Home');
    await page.click('#nav-save');
    await says('nav-status', 'Navigation saved (1 items)');
    const path = `/api/sites/${siteId}/navigation`;
    const nav = await api.ok('GET', path);
    await api.ok('PUT', path, { items: [...nav.items, { id: 'theirs', label: 'Theirs', target: { type: 'none' }, children: [] }] }, { 'if-match': `"${nav.version}"` });
    await addNav('Mine');
    await page.click('#nav-save');
    await says('nav-status', 'The navigation was changed by someone else');
    await page.click('#nav-status button[data-conflict=reload]');
    await page.locator('#nav-tree').filter({ hasText: 'Theirs' }).waitFor();
    assert.equal(await page.locator('#nav-tree').filter({ hasText: 'Mine' }).count(), 0);
    assert.deepEqual((await api.ok('GET', path)).items.map((i) => i.label), ['Home', 'Theirs']);

    // An announcement changed by someone else is not deleted until the admin says so.
    await page.fill('#ann-title', 'Office closed');
    await page.click('#ann-form button[type=submit]');
    await says('ann-status', 'Office closed is showing');
    const [announcement] = (await api.ok('GET', `/api/sites/${siteId}/announcements`)).items;
    const { id, version, updatedAt, updatedBy, ...model } = announcement;
    await api.ok('PUT', `/api/sites/${siteId}/announcements/${id}`, { ...model, title: 'Office closed Friday' }, { 'if-match': `"${version}"` });
    await page.click('button[aria-label="Delete Office closed"]');
    await says('ann-status', 'The announcement was changed by someone else');
    assert.equal((await api.call('GET', `/api/sites/${siteId}/announcements/${id}`)).status, 200);
    await page.click('#ann-status button[data-conflict=overwrite]');
    await says('ann-status', 'Announcement deleted');
    assert.equal((await api.call('GET', `/api/sites/${siteId}/announcements/${id}`)).status, 404);
    assert.deepEqual(errors.filter((e) => !/status of 40[349]|status of 412/.test(e)), []);
  });

  test('layout builder: every block type, in-form bounds, keyboard and pointer moves, live preview, home layout', async () => {
    const field = (path) => page.locator(`#layout-form [data-path="${path}"][data-kind]`);
    const problem = (path) => page.locator(`#layout-form [data-error-for="${path}"]`);
    const idOf = (path) => `lb-${path.replace(/[^A-Za-z0-9]+/g, '-').replace(/-$/, '')}`;
    const addBlock = async (list, type) => {
      await page.selectOption(`#${idOf(list)}-type`, type);
      await page.click(`#layout-form button[data-action=add-block][data-path="${list}"]`);
    };
    await says('layout-status', 'This site has no home layout yet');

    await field('title').fill('Welcome');
    await addBlock('sections[0].columns[0].blocks', 'text');
    const markup = 'sections[0].columns[0].blocks[0].markup';
    await field(markup).fill('**Welcome** to the <b>intranet</b>');
    await problem(markup).filter({ hasText: 'contains < or >; only limited markup is allowed, not HTML' }).waitFor();
    assert.equal(await field(markup).getAttribute('aria-invalid'), 'true');
    await field(markup).fill('**Welcome** to the intranet. See [the handbook](https://handbook.example.com).');
    assert.equal(await problem(markup).textContent(), '');

    // A second section of 8 + 4: widths over 12 are refused in the form.
    await page.selectOption('#lb-preset', '8+4');
    await page.click('#layout-form button[data-action=add-section]');
    await field('sections[1].columns[1].width').fill('6');
    await problem('sections[1].columns').filter({ hasText: 'widths add up to more than 12' }).waitFor();
    await field('sections[1].columns[1].width').fill('4');
    assert.equal(await problem('sections[1].columns').textContent(), '');

    // Every other block type, each with its own form and its bounds.
    const left = 'sections[1].columns[0].blocks';
    const right = 'sections[1].columns[1].blocks';
    await addBlock(left, 'image');
    await page.setInputFiles(`#${idOf(`${left}[0]`)}-file`, { name: 'team.png', mimeType: 'image/png', buffer: png(60, 30, [30, 120, 200]) });
    await page.click(`#layout-form button[data-action=upload][data-path="${left}[0]"]`);
    await says('layout-status', 'Uploaded team.png');
    await field(`${left}[0].alt`).fill('Our team');
    await field(`${left}[0].link`).fill('javascript:alert(1)');
    await problem(`${left}[0].link`).filter({ hasText: 'not an http(s) URL' }).waitFor();
    await field(`${left}[0].link`).fill('https://team.example.com');
    await addBlock(left, 'pageList');
    await field(`${left}[1].limit`).fill('60');
    await problem(`${left}[1].limit`).filter({ hasText: 'not between 1 and 50' }).waitFor();
    await field(`${left}[1].limit`).fill('5');
    await field(`${left}[1].spaceKey`).fill('DOCS');
    await field(`${left}[1].parentPageId`).fill('12ab');
    await problem(`${left}[1].parentPageId`).filter({ hasText: 'not a Confluence page id' }).waitFor();
    await field(`${left}[1].parentPageId`).fill('98765');
    await field(`${left}[1].labels`).fill('featured, how to');
    await problem(`${left}[1].labels`).filter({ hasText: 'label 2 contains whitespace' }).waitFor();
    await field(`${left}[1].labels`).fill('featured, howto');
    await addBlock(left, 'container');
    await addBlock(`${left}[2].blocks`, 'links');
    await field(`${left}[2].blocks[0].items[0].label`).fill('Status');
    await field(`${left}[2].blocks[0].items[0].url`).fill('https://status.example.com');
    await addBlock(right, 'spaceList');
    await field(`${right}[0].spaceKeys`).fill('DOCS, K B');
    await problem(`${right}[0].spaceKeys`).filter({ hasText: 'key 2 is not a space key' }).waitFor();
    await field(`${right}[0].spaceKeys`).fill('DOCS, KB');
    await addBlock(right, 'announcements');
    await addBlock(right, 'searchBox');
    await field(`${right}[2].placeholder`).fill('Search the intranet');

    // By keyboard: the search box goes up one, then to the left column (at its end).
    await page.focus(`#layout-form [data-item="${right}[2]"] > .lb-bar .handle`);
    await page.keyboard.press('Alt+ArrowUp');
    await says('layout-status', 'Moved: now Search box block 2 of column 2, section 2');
    await page.keyboard.press('Alt+ArrowLeft');
    await says('layout-status', 'Moved: now Search box block 4 of column 1, section 2');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-path')), `${left}[3]`);
    // By pointer: the second section is dragged above the first.
    // By pointer: the announcements are dragged above the space list.
    await page.locator(`#layout-form [data-item="${right}[0]"]`).scrollIntoViewIfNeeded();
    await page.dragAndDrop(`#layout-form [data-item="${right}[1]"] > .lb-bar .handle`, `#layout-form [data-item="${right}[0]"] > .lb-bar strong`);
    await says('layout-status', 'Moved: now Announcements block 1 of column 2, section 2');
    // And the second section goes above the first, by keyboard.
    await page.focus('#layout-form [data-item="sections[1]"] > .lb-bar .handle');
    await page.keyboard.press('Alt+ArrowUp');
    await says('layout-status', 'Moved: now section 1');

    // The live preview draws the draft as the site will.
    const live = page.locator('#layout-live');
    await live.locator('.lp-section').nth(1).locator('strong', { hasText: 'Welcome' }).waitFor();
    await live.locator('.lp-section').first().locator('.lp-pageList', { hasText: 'Up to 5 pages in space DOCS under page 98765 labelled featured, howto' }).waitFor();
    await page.waitForFunction(() => document.querySelector('#layout-live img')?.naturalWidth === 60);

    await page.click('#layout-form button[type=submit]');
    await says('layout-status', 'Created layout Welcome (version 1)');
    const layouts = (await api.ok('GET', '/api/layouts')).items;
    assert.equal(layouts.length, 1);
    const layout = layouts[0];
    assert.deepEqual(layout.sections.map((s) => s.columns.map((c) => c.width)), [[8, 4], [12]]);
    assert.deepEqual(layout.sections[0].columns[0].blocks.map((b) => b.type), ['image', 'pageList', 'container', 'searchBox']);
    assert.deepEqual(layout.sections[0].columns[1].blocks.map((b) => b.type), ['announcements', 'spaceList']);
    assert.deepEqual(layout.sections[0].columns[0].blocks[1], { type: 'pageList', spaceKey: 'DOCS', parentPageId: '98765', labels: ['featured', 'howto'], limit: 5 });
    assert.deepEqual(layout.sections[0].columns[0].blocks[2].blocks, [{ type: 'links', items: [{ label: 'Status', url: 'https://status.example.com' }] }]);
    assert.equal(layout.sections[0].columns[0].blocks[0].alt, 'Our team');

    // Home layout: the site points at it, and the site preview draws it from the config.
    await page.click('#layout-form button[data-action=set-home]');
    await says('layout-status', 'Welcome is now the home layout of Intranet');
    assert.equal((await siteOf('Intranet')).homeLayoutId, layout.id);
    const config = await api.ok('GET', `/api/sites/${siteId}/config`);
    assert.equal(config.homeLayout.id, layout.id);
    await page.locator('#preview .site-layout strong', { hasText: 'Welcome' }).waitFor();
    assert.ok(await page.locator('#preview .site-sample').isHidden());

    // Someone else renames it meanwhile: the admin overwrites, knowingly.
    const { id, version, updatedAt, updatedBy, ...model } = layout;
    await api.ok('PUT', `/api/layouts/${id}`, { ...model, title: 'Their welcome' }, { 'if-match': `"${version}"` });
    await field('title').fill('Welcome home');
    await page.click('#layout-form button[type=submit]');
    await says('layout-status', 'The layout was changed by someone else');
    assert.equal((await api.ok('GET', `/api/layouts/${id}`)).title, 'Their welcome');
    await page.click('#layout-status button[data-conflict=overwrite]');
    await says('layout-status', 'Saved layout Welcome home (version 3)');
    assert.equal((await api.ok('GET', `/api/layouts/${id}`)).title, 'Welcome home');
    await page.locator('#preview .site-layout').waitFor();
    assert.deepEqual(await axeViolations(page), []);
    await screenshot(page, 'layout-builder');

    // A scratch layout is created and deleted (the trash test restores it).
    await page.click('#layout-new');
    await field('title').fill('Scratch');
    await page.click('#layout-form button[type=submit]');
    await says('layout-status', 'Created layout Scratch (version 1)');
    const scratch = (await api.ok('GET', '/api/layouts')).items.find((l) => l.title === 'Scratch');
    await page.click('#layout-form button[data-action=delete-layout]');
    await says('layout-status', 'Deleted layout Scratch (restorable from the trash for 30 days)');
    assert.equal((await api.call('GET', `/api/layouts/${scratch.id}`)).status, 404);
    assert.deepEqual(errors.filter((e) => !/status of 40[349]|status of 412/.test(e)), []);
  });


  test('trash: lists by kind with days left, shows what a restore brings back, restores with one click', async () => {
    const rows = page.locator('#trash-table tbody tr[data-trash]');
    await rows.filter({ hasText: 'Scratch' }).waitFor();
    const kinds = await page.locator('#trash-kind option').allTextContents();
    assert.deepEqual(kinds, ['All kinds (2)', 'announcement (1)', 'layout (1)']);
    await page.selectOption('#trash-kind', 'layout');
    assert.equal(await rows.count(), 1);
    const scratchRow = rows.filter({ hasText: 'Scratch' });
    assert.match(await scratchRow.textContent(), /30 days/);
    await scratchRow.locator('summary').click();
    await scratchRow.locator('li', { hasText: 'sections: 1 entry (0 blocks)' }).waitFor();
    assert.deepEqual(await axeViolations(page), []);
    await screenshot(page, 'trash');
    const scratch = (await api.ok('GET', '/api/trash')).items.find((e) => e.kind === 'layout');
    await page.click('button[aria-label="Restore layout Scratch"]');
    await says('trash-status', 'Restored layout Scratch: sections: 1 entry (0 blocks); title: Scratch.');
    const restored = (await api.ok('GET', '/api/layouts')).items.find((l) => l.title === 'Scratch');
    assert.ok(restored, 'the layout is back');
    assert.equal((await api.ok('GET', '/api/trash')).items.some((e) => e.id === scratch.id), false);
    await page.locator('#layout-pick option', { hasText: 'Scratch' }).waitFor({ state: 'attached' });

    // The announcement deleted in the conflict test comes back to its site's list.
    await page.selectOption('#trash-kind', '');
    await page.click('button[aria-label="Restore announcement Office closed Friday"]');
    await says('trash-status', 'Restored announcement Office closed Friday');
    await page.locator('#ann-list li', { hasText: 'Office closed Friday' }).waitFor();
    assert.equal((await api.ok('GET', `/api/sites/${siteId}/announcements`)).items.length, 1);
    await page.locator('#trash-table tbody', { hasText: 'The trash is empty.' }).waitFor();
    // A second restore of the same entry finds nothing and says so.
    const again = await api.call('POST', `/api/trash/${scratch.id}/restore`);
    assert.equal(again.status, 404);
  });


  test('promoted searches: keywords, results and window checked in the form, active now, conflict, delete and restore', async () => {
    const field = (path) => page.locator(`#ps-form [data-path="${path}"]`);
    const problem = (path) => page.locator(`#ps-form [data-error-for="${path}"]`);
    const local = (date) => new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    await page.locator('#ps-list', { hasText: 'No promoted searches yet.' }).waitFor();
    await field('keywords').fill('VPN, remote access, vpn');
    await problem('keywords').filter({ hasText: 'keyword 3 duplicate of keyword 1' }).waitFor();
    await field('keywords').fill('VPN, remote access');
    await field('targets[0].title').fill('VPN setup');
    await field('targets[0].target').fill('12ab');
    await problem('targets[0].target').filter({ hasText: 'not a Confluence page id' }).waitFor();
    await field('targets[0].target').fill('123456');
    await field('targets[0].description').fill('How to connect from home.');
    await page.click('#ps-add-target');
    await field('targets[1].title').fill('Request access');
    await page.selectOption('#ps-targets li[data-target="1"] select', 'url');
    await field('targets[1].target').fill('https://it.example.com/request');
    await field('startsAt').fill(local(new Date(Date.now() + 2 * 86_400_000)));
    await field('endsAt').fill(local(new Date(Date.now() + 86_400_000)));
    await problem('endsAt').filter({ hasText: 'before startsAt' }).waitFor();
    await field('startsAt').fill('');
    await field('endsAt').fill('');
    await page.click('#ps-save');
    await says('ps-status', 'Created promoted search VPN, remote access (active)');

    await page.click('#ps-new');
    await field('keywords').fill('holiday');
    await field('targets[0].title').fill('Holiday calendar');
    await page.selectOption('#ps-targets li[data-target="0"] select', 'space');
    await field('targets[0].target').fill('HR');
    await field('startsAt').fill(local(new Date(Date.now() + 86_400_000)));
    await page.click('#ps-save');
    await says('ps-status', 'Created promoted search holiday (scheduled from');

    // Active now is what the site's config serves: the VPN search only.
    assert.deepEqual(await page.locator('#ps-active li').allTextContents(), ['VPN, remote access → VPN setup (page 123456); Request access (https://it.example.com/request)']);
    await page.fill('#ps-try', 'Remote Access ');
    await says('ps-try-result', 'Promoted for “remote access”: VPN setup (page 123456)');
    await page.fill('#ps-try', 'holiday');
    await says('ps-try-result', 'Nothing is promoted for “holiday” now.');
    const path = `/api/sites/${siteId}/promoted-searches`;
    const stored = (await api.ok('GET', path)).items;
    assert.equal(stored.length, 2);
    const vpn = stored.find((s) => s.keywords[0] === 'VPN');
    assert.deepEqual(vpn.targets, [
      { title: 'VPN setup', target: { type: 'page', pageId: '123456' }, description: 'How to connect from home.' },
      { title: 'Request access', target: { type: 'url', url: 'https://it.example.com/request' } },
    ]);
    assert.deepEqual(Object.keys(vpn).filter((k) => k === 'startsAt' || k === 'endsAt'), []);
    assert.deepEqual(await axeViolations(page), []);
    await screenshot(page, 'promoted-searches');

    // A colleague adds a keyword while the admin edits: reload shows theirs.
    await page.click('button[aria-label="Edit VPN, remote access"]');
    const { id, version, updatedAt, updatedBy, ...model } = vpn;
    await api.ok('PUT', `${path}/${id}`, { ...model, keywords: [...model.keywords, 'wireguard'] }, { 'if-match': `"${version}"` });
    await field('targets[0].description').fill('Set up the VPN client.');
    await page.click('#ps-save');
    await says('ps-status', 'The promoted search was changed by someone else');
    await page.click('#ps-status button[data-conflict=reload]');
    await says('ps-status', 'Reloaded');
    assert.equal(await field('keywords').inputValue(), 'VPN, remote access, wireguard');
    assert.equal(await field('targets[0].description').inputValue(), 'How to connect from home.');

    // Deleted, then restored from the trash.
    await page.click('button[aria-label="Delete holiday"]');
    await says('ps-status', 'Deleted promoted search holiday');
    assert.equal((await api.ok('GET', path)).items.length, 1);
    await page.click('button[aria-label="Restore promoted search holiday"]');
    await page.locator('#ps-list li', { hasText: 'holiday' }).waitFor();
    assert.equal((await api.ok('GET', path)).items.length, 2);
  });

  test('navigation: entries whose page or space Confluence removed are shown broken, and go when fixed', async () => {
    const addNav = async (label, type, target) => {
      await page.fill('#nav-label', label);
      await page.selectOption('#nav-type', type);
      await page.fill('#nav-target', target);
      await page.click('#nav-form button[type=submit]');
      await says('nav-status', `Added ${label}`);
    };
    await addNav('Handbook', 'page', '4242');
    await addNav('Projects', 'space', 'PROJ');
    await page.click('#nav-save');
    await says('nav-status', 'Navigation saved');
    assert.equal(await page.locator('#nav-broken').isHidden(), true, 'nothing is broken yet');

    // Confluence trashes the page and deletes the space: Forge triggers, each with a FIT.
    const { fit } = await (
      await fetch(`${canopy.base}/dev/forge-token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ clientKey: 'canopy-dev-tenant' }),
      })
    ).json();
    const event = async (body) => {
      const response = await fetch(`${canopy.base}/forge/events/confluence`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${fit}` },
        body: JSON.stringify(body),
      });
      assert.equal(response.status, 200, await response.text());
    };
    await event({ eventType: 'avi:confluence:trashed:page', content: { id: '4242', type: 'page' } });
    await event({ eventType: 'avi:confluence:deleted:space:V2', space: { id: 7, key: 'PROJ' } });
    const broken = (await api.ok('GET', `/api/sites/${siteId}/navigation/broken`)).items;
    assert.deepEqual(broken.map((e) => [e.label, e.reason]), [['Handbook', 'page_trashed'], ['Projects', 'space_removed']]);

    await page.click('button[aria-label="Manage Intranet"]');
    await page.locator('#nav-broken').filter({ hasText: '2 entries point at pages or spaces that are gone' }).waitFor();
    await page.locator('#nav-tree li.broken', { hasText: 'Broken: page in the Confluence trash since' }).waitFor();
    await page.locator('#nav-tree li.broken', { hasText: 'Broken: space deleted in Confluence since' }).waitFor();
    assert.equal(await page.locator('#nav-tree li.broken').count(), 2, 'only the two gone targets');
    assert.deepEqual(await axeViolations(page), []);
    await screenshot(page, 'navigation-broken');

    // The admin removes the space entry; once saved, one broken entry is left.
    await page.click('button[aria-label="Remove Projects"]');
    await page.click('#nav-save');
    await says('nav-status', 'Navigation saved');
    await page.locator('#nav-broken').filter({ hasText: '1 entry points at a page or space' }).waitFor();
    assert.equal((await api.ok('GET', `/api/sites/${siteId}/navigation/broken`)).items.length, 1);
  });

  test('page metadata: pick a page by id, featured image by upload or library, text, conflict, remove and restore', async () => {
    const field = (path) => page.locator(`#pages-screen [data-path="${path}"]`);
    const problem = (path) => page.locator(`#pages-screen [data-error-for="${path}"]`);
    await page.locator('#pm-list', { hasText: 'No page has metadata yet.' }).waitFor();
    await field('pageId').fill('12ab');
    await page.click('#pm-pick button[type=submit]');
    await problem('pageId').filter({ hasText: 'not a Confluence page id (1 to 20 digits)' }).waitFor();
    await field('pageId').fill('4242');
    await page.click('#pm-pick button[type=submit]');
    await says('pm-status', 'Page 4242 has no metadata yet');
    await field('description').fill('x'.repeat(1001));
    await problem('description').filter({ hasText: 'longer than 1000 characters' }).waitFor();
    await field('description').fill('How we onboard new colleagues.\nRead this first.');
    await page.setInputFiles('#pm-file', { name: 'onboarding.png', mimeType: 'image/png', buffer: png(32, 16, [200, 80, 40]) });
    await page.click('#pm-upload');
    await says('pm-status', 'Uploaded onboarding.png');
    await page.waitForFunction(() => document.querySelector('#pages-screen .pm-thumb')?.naturalWidth === 32);
    await page.click('#pm-save');
    await says('pm-status', 'Saved the metadata of page 4242 (version 1)');
    const path = '/api/pages/4242/metadata';
    const stored = await api.ok('GET', path);
    assert.equal(stored.description, 'How we onboard new colleagues.\nRead this first.');
    assert.equal((await api.ok('GET', `/api/media/${stored.featuredImageMediaId}`)).fileName, 'onboarding.png');
    // The library offers the layout builder's image too.
    assert.ok((await field('featuredImageMediaId').locator('option').allTextContents()).includes('team.png'));
    await page.locator('#pm-list li', { hasText: 'Page 4242' }).waitFor();
    assert.deepEqual(await axeViolations(page), []);
    await screenshot(page, 'page-metadata');

    // Changed elsewhere meanwhile: overwrite keeps the admin's text, with the library image.
    const { id, version, updatedAt, updatedBy, ...model } = stored;
    await api.ok('PUT', path, { ...model, description: 'Theirs.' }, { 'if-match': `"${version}"` });
    await field('featuredImageMediaId').selectOption({ label: 'team.png' });
    await field('description').fill('Start here.');
    await page.click('#pm-save');
    await says('pm-status', 'The page metadata was changed by someone else');
    assert.equal((await api.ok('GET', path)).description, 'Theirs.');
    await page.click('#pm-status button[data-conflict=overwrite]');
    await says('pm-status', 'Overwrote their version. Saved the metadata of page 4242 (version 3)');
    const mine = await api.ok('GET', path);
    assert.equal(mine.description, 'Start here.');
    assert.equal((await api.ok('GET', `/api/media/${mine.featuredImageMediaId}`)).fileName, 'team.png');

    await page.click('#pm-delete');
    await says('pm-status', 'Removed the metadata of page 4242');
    assert.equal((await api.call('GET', path)).status, 404);
    await page.click('button[aria-label="Restore page metadata Start here."]');
    await page.locator('#pm-list li', { hasText: 'Page 4242' }).waitFor();
    assert.equal((await api.ok('GET', path)).description, 'Start here.');
  });


  test('import: a refused file shows the API message at its item; a dry run lists each outcome, then applies', async () => {
    const exported = await api.ok('GET', '/api/export');
    const layout = exported.layouts.find((l) => l.data.title === 'Welcome home');
    const theme = exported.themes[0];
    const file = (name, doc) => ({ name, mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(doc)) });
    const bad = { ...exported, layouts: exported.layouts.map((l) => (l.id === layout.id ? { ...l, data: { ...l.data, title: ' ' } } : l)) };
    const badIndex = exported.layouts.findIndex((l) => l.id === layout.id);
    await page.setInputFiles('#import-file', file('broken.json', bad));
    await page.click('#import-check');
    await says('import-summary', 'Dry run of broken.json: refused');
    assert.match(await status('import-summary').textContent(), new RegExp(`layouts\\[${badIndex}\\]: title: empty \\(422 invalid_import\\)`));
    await page.locator('#import-table tr.refused', { hasText: 'refused: title: empty' }).waitFor();
    assert.equal(await page.locator('#import-apply').isDisabled(), true);

    const NEW_THEME = '01HZX3K8Q9V7W2N4M6P8R0T2Y4';
    const good = {
      ...exported,
      themes: [...exported.themes, { id: NEW_THEME, data: { ...theme.data, name: 'Imported theme' } }],
      layouts: exported.layouts.map((l) => (l.id === layout.id ? { ...l, data: { ...l.data, title: 'Welcome (imported)' } } : l)),
    };
    await page.setInputFiles('#import-file', file('good.json', good));
    await page.click('#import-check');
    await says('import-summary', 'Dry run of good.json: would be created 1 (1 themes); changed 1 (1 layouts); unchanged');
    const outcome = async (name) => (await page.locator('#import-table tbody tr', { hasText: name }).locator('td').nth(2).textContent());
    assert.equal(await outcome('Imported theme'), 'would be created');
    assert.equal(await outcome('Welcome (imported)'), 'would be changed');
    assert.equal(await outcome('Scratch'), 'unchanged');
    assert.equal((await api.call('GET', `/api/themes/${NEW_THEME}`)).status, 404, 'a dry run writes nothing');
    assert.deepEqual(await axeViolations(page), []);
    await screenshot(page, 'import');
    await page.click('#import-apply');
    await says('import-status', 'Imported: created 1 (1 themes); changed 1 (1 layouts)');
    assert.equal((await api.ok('GET', `/api/themes/${NEW_THEME}`)).name, 'Imported theme');
    assert.equal((await api.ok('GET', `/api/layouts/${layout.id}`)).title, 'Welcome (imported)');
    // The home layout's snapshot follows: the site preview draws the imported title's layout.
    assert.equal((await api.ok('GET', `/api/sites/${siteId}/config`)).homeLayout.title, 'Welcome (imported)');
    assert.equal(await page.locator('#import-apply').isDisabled(), true);
  });


  // Last: the page moves to a Jira tenant.
  test('site access: visibility and groups, refused without a group, a conflict reloads, checked through the API', async () => {
    const path = `/api/sites/${siteId}`;
    await page.selectOption('#access-visibility', 'restricted');
    assert.equal(await page.isDisabled('#access-groups'), false, 'groups open for a restricted site');
    await page.fill('#access-groups', '');
    await page.click('#access-form button[type=submit]');
    await says('access-status', 'restrictedToGroups');
    assert.equal((await api.ok('GET', path)).visibility, 'licensed', 'a refused change writes nothing');

    // A group by name only is refused: groups are given by id, the name after it is for people.
    await page.fill('#access-groups', 'by name: execs');
    await page.click('#access-form button[type=submit]');
    await says('access-status', 'restrictedToGroups[0].id: missing');
    assert.equal((await api.ok('GET', path)).visibility, 'licensed', 'a refused change writes nothing');

    await page.fill('#access-groups', 'a1f3c9e2-execs Executive board\n\n  7c9e6679-board  ');
    await page.click('#access-form button[type=submit]');
    await says('access-status', 'Saved: members of Executive board, 7c9e6679-board may see it.');
    let stored = await api.ok('GET', path);
    assert.equal(stored.visibility, 'restricted');
    assert.deepEqual(stored.restrictedToGroups, [{ id: 'a1f3c9e2-execs', name: 'Executive board' }, { id: '7c9e6679-board' }]);
    assert.equal(await page.isHidden('#access-legacy'), true, 'no entry stored by name');
    await page.locator('#site-list').filter({ hasText: 'restricted' }).waitFor();
    assert.deepEqual(await axeViolations(page), []);
    await screenshot(page, 'site-access');

    // A colleague renames the site; opening it to signed-in users is held until the admin chooses.
    const { id, version, updatedAt, updatedBy, ...model } = stored;
    await api.ok('PUT', path, { ...model, name: 'Intranet (execs)' }, { 'if-match': `"${version}"` });
    await page.selectOption('#access-visibility', 'licensed');
    assert.equal(await page.isDisabled('#access-groups'), true, 'groups are closed for other visibilities');
    await page.click('#access-form button[type=submit]');
    await says('access-status', 'The site was changed by someone else');
    assert.equal((await api.ok('GET', path)).visibility, 'restricted', 'nothing is written before the choice');
    await page.click('#access-status button[data-conflict=reload]');
    await says('access-status', 'Reloaded');
    assert.equal(await page.inputValue('#access-visibility'), 'restricted');
    assert.equal(await page.inputValue('#access-groups'), 'a1f3c9e2-execs Executive board\n7c9e6679-board');

    await page.selectOption('#access-visibility', 'licensed');
    await page.click('#access-form button[type=submit]');
    await says('access-status', 'Saved: signed-in users may see it.');
    stored = await api.ok('GET', path);
    assert.equal(stored.visibility, 'licensed');
    assert.deepEqual(stored.restrictedToGroups, []);
    assert.equal(stored.name, 'Intranet (execs)', 'the colleague\'s rename is kept');
    assert.deepEqual(errors.filter((e) => !/status of 40[349]|status of 41[2]|status of 422/.test(e)), []);
  });

  test('report configurations: only for Jira tenants; JQL, fields, sorting, filters and aggregations as the model has them', async () => {
    assert.equal(await page.locator('#reports-screen').isHidden(), true, 'a Confluence tenant has no reports screen');
    const jira = adminApi(canopy.base, 'jira-dev-tenant', { productType: 'jira' });
    assert.equal((await jira.ok('GET', '/api/tenant')).productType, 'jira');
    await page.goto(`${canopy.base}/console/?devTenant=jira-dev-tenant`);
    await page.locator('#tenant').filter({ hasText: 'jira-dev-tenant (jira' }).waitFor();
    await page.locator('#rp-list', { hasText: 'No reports yet.' }).waitFor();
    const field = (path) => page.locator(`#rp-form [data-path="${path}"]`);
    const problem = (path) => page.locator(`#rp-form [data-error-for="${path}"]`);
    await field('name').fill('Open bugs');
    await field('jql').fill('project = WEB AND type = Bug ORDER BY created');
    await field('columns').fill('key, summary, status, key');
    await problem('columns').filter({ hasText: 'column 4 duplicate of column 1' }).waitFor();
    await field('columns').fill('key, summary, status, customfield_10016');
    await field('groupBy').fill('assignee');
    await page.click('#rp-form button[data-rows=sort]:not([data-index])');
    await field('sort[0].field').fill('priority');
    await page.selectOption('#rp-sort-0-direction', 'desc');
    await page.click('#rp-form button[data-rows=filters]:not([data-index])');
    await field('filters[0].field').fill('status');
    await page.selectOption('#rp-filters-0-operator', 'in');
    await problem('filters[0].values').filter({ hasText: 'in takes at least one value' }).waitFor();
    await field('filters[0].values').fill('To Do, In Progress');
    await page.click('#rp-form button[data-rows=filters]:not([data-index])');
    await field('filters[1].field').fill('assignee');
    await page.selectOption('#rp-filters-1-operator', 'isEmpty');
    assert.equal(await field('filters[1].values').isDisabled(), true);
    await page.click('#rp-form button[data-rows=aggregations]:not([data-index])');
    await page.click('#rp-form button[data-rows=aggregations]:not([data-index])');
    await page.selectOption('#rp-aggregations-1-function', 'sum');
    await problem('aggregations[1].field').filter({ hasText: '"issue" can only be counted' }).waitFor();
    await field('aggregations[1].field').fill('customfield_10016');
    await page.click('#rp-save');
    await says('rp-status', 'Created report Open bugs');
    const [report] = (await jira.ok('GET', '/api/reports')).items;
    const { id, version, updatedAt, updatedBy, ...model } = report;
    assert.deepEqual(model, {
      name: 'Open bugs',
      jql: 'project = WEB AND type = Bug ORDER BY created',
      columns: ['key', 'summary', 'status', 'customfield_10016'],
      sort: [{ field: 'priority', direction: 'desc' }],
      groupBy: 'assignee',
      filters: [
        { field: 'status', operator: 'in', values: ['To Do', 'In Progress'] },
        { field: 'assignee', operator: 'isEmpty', values: [] },
      ],
      aggregations: [
        { field: 'issue', function: 'count' },
        { field: 'customfield_10016', function: 'sum' },
      ],
    });
    assert.deepEqual(await axeViolations(page), []);
    await screenshot(page, 'reports');

    await jira.ok('PUT', `/api/reports/${id}`, { ...model, name: 'Bugs (theirs)' }, { 'if-match': `"${version}"` });
    await field('jql').fill('project = WEB AND type = Bug AND resolution = Unresolved');
    await page.click('#rp-save');
    await says('rp-status', 'The report was changed by someone else');
    await page.click('#rp-status button[data-conflict=overwrite]');
    await says('rp-status', 'Overwrote their version. Saved report Open bugs (version 3)');
    const mine = await jira.ok('GET', `/api/reports/${id}`);
    assert.equal(mine.jql, 'project = WEB AND type = Bug AND resolution = Unresolved');
    assert.equal(mine.name, 'Open bugs');

    await page.click('button[aria-label="Delete Open bugs"]');
    await says('rp-status', 'Deleted report Open bugs');
    assert.equal((await jira.call('GET', `/api/reports/${id}`)).status, 404);
    await page.click('button[aria-label="Restore report Open bugs"]');
    await says('trash-status', 'Restored report Open bugs');
    assert.equal((await jira.ok('GET', `/api/reports/${id}`)).name, 'Open bugs');
    await page.locator('#rp-list li', { hasText: 'Open bugs' }).waitFor();
    // The Confluence tenant's data was never touched by the Jira tenant's console.
    assert.equal((await api.ok('GET', '/api/reports')).items.length, 0);
  });

});
