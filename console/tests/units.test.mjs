// The console's pure parts without a browser: the navigation editor's bounds, contrast, the
// migration progress, the media checks made before any upload.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { MIN_TEXT_CONTRAST, contrast } from '../colors.js';
import { LOGO_TYPES, MAX_LOGO_BYTES, sendableHeaders, uploadLogo } from '../media.js';
import { MAX_DEPTH, MAX_ITEMS, addItem, flatten, newId, removeItem, targetOf } from '../navigation.js';
import { percent } from '../residency.js';
import { restoreSummary } from '../trash.js';

const item = (label) => ({ id: newId(), label, target: { type: 'none' }, children: [] });

test('navigation items nest at most MAX_DEPTH levels', () => {
  let items = [];
  let parent = '';
  for (let depth = 1; depth <= MAX_DEPTH; depth++) {
    const next = item(`level ${depth}`);
    items = addItem(items, parent, next);
    parent = next.id;
  }
  assert.deepEqual(flatten(items).map((e) => e.depth), [1, 2, 3, 4]);
  assert.throws(() => addItem(items, parent, item('too deep')), /at most 4 levels/);
});

test('a navigation holds at most MAX_ITEMS items', () => {
  let items = [];
  for (let i = 0; i < MAX_ITEMS; i++) items = addItem(items, '', item(`item ${i}`));
  assert.equal(flatten(items).length, MAX_ITEMS);
  assert.throws(() => addItem(items, '', item('one more')), /at most 300 items/);
});

test('removing an item removes its children and nothing else', () => {
  const [a, b, c] = [item('a'), item('b'), item('c')];
  let items = addItem(addItem(addItem([], '', a), a.id, b), '', c);
  items = removeItem(items, a.id);
  assert.deepEqual(flatten(items).map((e) => e.item.label), ['c']);
  assert.match(newId(), /^[A-Za-z0-9_-]{1,64}$/);
  assert.notEqual(newId(), newId());
});

test('targets are checked as Canopy checks them', () => {
  assert.deepEqual(targetOf('page', ' 123 '), { type: 'page', pageId: '123' });
  assert.throws(() => targetOf('page', '12a'), /digits only/);
  assert.throws(() => targetOf('url', 'javascript:alert(1)'), /https:\/\//);
  assert.deepEqual(targetOf('url', 'https://x.example/a'), { type: 'url', url: 'https://x.example/a' });
  assert.throws(() => targetOf('space', ' '), /space key/);
  assert.deepEqual(targetOf('none', 'ignored'), { type: 'none' });
});

test('contrast follows WCAG 2', () => {
  assert.equal(contrast('#000000', '#ffffff'), 21);
  assert.equal(contrast('#ffffff', '#ffffff'), 1);
  assert.ok(contrast('#767676', '#ffffff') >= MIN_TEXT_CONTRAST); // the lightest grey that passes
  assert.ok(contrast('#777777', '#ffffff') < MIN_TEXT_CONTRAST);
});

test('the progress bar fills with the copy, then by phase', () => {
  const copying = (copied, total) => ({ phase: 'copying', progress: { itemsTotal: total, itemsCopied: copied } });
  assert.equal(percent(copying(0, 0)), 5);
  assert.equal(percent(copying(50, 100)), 45);
  assert.equal(percent(copying(300, 100)), 85); // later passes count again
  assert.equal(percent({ phase: 'read-only', progress: {} }), 85);
  assert.equal(percent({ phase: 'switched', progress: {} }), 100);
  assert.equal(percent({ phase: 'failed', progress: {} }), 0);
});

test('a logo is checked for type and size (at most MAX_LOGO_BYTES) before any call', async () => {
  const calls = [];
  const api = {
    json: async (method, path, options) => {
      calls.push([method, path, options.body.size]);
      throw new Error('stop here');
    },
  };
  await assert.rejects(uploadLogo(api, { type: 'image/svg+xml', size: 10, name: 'x.svg' }), /PNG, JPEG or WebP/);
  await assert.rejects(uploadLogo(api, { type: 'image/png', size: MAX_LOGO_BYTES + 1, name: 'big.png' }), /at most 1 MiB/);
  assert.deepEqual(calls, []);
  await assert.rejects(uploadLogo(api, { type: LOGO_TYPES[0], size: MAX_LOGO_BYTES, name: 'ok.png' }), /stop here/);
  assert.deepEqual(calls, [['POST', '/api/media/uploads', MAX_LOGO_BYTES]]);
});

test('the signed Content-Length is left to the browser', () => {
  const headers = sendableHeaders([['content-type', 'image/png'], ['Content-Length', '42']]);
  assert.deepEqual(headers, { 'content-type': 'image/png' });
});

test('a restore summary lists fields in the same order however the item was written', () => {
  const sections = [{ columns: [{ width: 12, blocks: [{ type: 'text' }, { type: 'columns', blocks: [{ type: 'text' }] }] }] }];
  const expected = ['sections: 1 entry (3 blocks)', 'title: Scratch'];
  assert.deepEqual(restoreSummary({ title: 'Scratch', sections }), expected);
  assert.deepEqual(restoreSummary({ sections, title: 'Scratch' }), expected);
  assert.deepEqual(restoreSummary({ text: 'x'.repeat(100) }), [`text: ${'x'.repeat(79)}…`]);
  assert.deepEqual(restoreSummary(null), []);
});
