// The console's form checks are the API's: their numbers are read here from the Rust models and
// the block types from the OpenAPI document, and the layout checks give the API's messages for the
// cases the Rust model tests pin down.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import * as bounds from '../bounds.js';
import { PAGE_BOUNDS, pageProblems } from '../pages.js';
import { REPORT_BOUNDS, reportProblems } from '../reports.js';
import { SEARCH_BOUNDS, searchProblems } from '../searches.js';
import { BLOCK_TYPES, LAYOUT_BOUNDS, moveBlock, moveWithin, neighbourColumn, problemsOf } from '../layoutmodel.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const model = (name) => readFileSync(join(root, 'shared/src/domain/content/model', name), 'utf8');

/** `pub const NAME: usize|u8 = <expr>;` of a Rust file, evaluated (numbers, `_`, `*`). */
function rustConsts(source) {
  const out = {};
  for (const [, name, expr] of source.matchAll(/pub const ([A-Z_]+): (?:usize|u8|u32|u64) = ([0-9_ *]+);/g)) {
    out[name] = expr.split('*').map((n) => Number(n.trim().replaceAll('_', ''))).reduce((a, b) => a * b, 1);
  }
  return out;
}

test('the layout bounds are layout.rs, name for name', () => {
  const rust = rustConsts(model('layout.rs'));
  assert.deepEqual(LAYOUT_BOUNDS, rust);
});

test('the field bounds are bounds.rs and link.rs', () => {
  const rust = { ...rustConsts(model('bounds.rs')), ...rustConsts(model('link.rs')) };
  for (const name of ['MAX_CONTENT_ID_LEN', 'MAX_PAGE_ID_LEN', 'MAX_SPACE_KEY_LEN', 'MAX_FIELD_ID_LEN', 'MAX_URL_LEN', 'MAX_LINK_LABEL_CHARS']) {
    assert.equal(bounds[name], rust[name], name);
  }
});

test('the builder offers exactly the block types of the OpenAPI document, each with its fields', () => {
  const api = JSON.parse(readFileSync(join(root, 'docs/openapi.json'), 'utf8'));
  const variants = api.components.schemas.Block.oneOf;
  const byType = Object.fromEntries(variants.map((v) => [v.properties.type.enum[0], v]));
  assert.deepEqual(Object.keys(BLOCK_TYPES).sort(), Object.keys(byType).sort());
  for (const [type, { make }] of Object.entries(BLOCK_TYPES)) {
    const fresh = make();
    const schema = byType[type];
    for (const field of Object.keys(fresh)) assert.ok(field in schema.properties, `${type}.${field} is not in the API`);
    for (const field of schema.required) assert.ok(field in fresh, `${type} lacks the required ${field}`);
  }
});

const layoutOf = (columns) => ({ title: 'T', sections: [{ id: 's', columns }] });
const column = (blocks, width = 12) => ({ width, blocks });

test('layout problems carry the API paths and messages', () => {
  assert.deepEqual([...problemsOf(layoutOf([column([{ type: 'text', markup: 'Hi **there**' }])]))], []);
  const cases = [
    [layoutOf([column([], 8), column([], 5)]), 'sections[0].columns', 'widths add up to more than 12'],
    [layoutOf([column([], 0)]), 'sections[0].columns[0].width', 'not between 1 and 12'],
    [layoutOf([]), 'sections[0].columns', 'needs at least 1 item'],
    [layoutOf(Array.from({ length: 5 }, () => column([], 2))), 'sections[0].columns', 'more than 4 items'],
    [{ title: ' ', sections: [] }, 'title', 'empty'],
    [{ title: 't'.repeat(201), sections: [] }, 'title', 'longer than 200 characters'],
    [{ title: 'T', sections: [] }, 'sections', 'needs at least 1 item'],
    [layoutOf([column([{ type: 'text', markup: '<b>' }])]), 'sections[0].columns[0].blocks[0].markup', 'contains < or >; only limited markup is allowed, not HTML'],
    [layoutOf([column([{ type: 'text', markup: '[x](javascript:1)' }])]), 'sections[0].columns[0].blocks[0].markup', 'a link target is not an http(s) URL'],
    [layoutOf([column([{ type: 'text', markup: 't'.repeat(20_001) }])]), 'sections[0].columns[0].blocks[0].markup', 'longer than 20000 characters'],
    [layoutOf([column([{ type: 'pageList', labels: [], limit: 51 }])]), 'sections[0].columns[0].blocks[0].limit', 'not between 1 and 50'],
    [layoutOf([column([{ type: 'image', mediaId: 'a/b', alt: '' }])]), 'sections[0].columns[0].blocks[0].mediaId', 'not an id (1 to 64 characters of A-Z, a-z, 0-9, _ and -)'],
    [layoutOf([column([{ type: 'searchBox', placeholder: 'p'.repeat(201) }])]), 'sections[0].columns[0].blocks[0].placeholder', 'longer than 200 characters'],
    [layoutOf([column(Array.from({ length: 41 }, () => ({ type: 'announcements' })))]), 'sections[0].columns[0].blocks', 'more than 40 items'],
    [layoutOf([column([{ type: 'links', items: [{ label: 'L', url: 'ftp://x' }] }])]), 'sections[0].columns[0].blocks[0].items[0].url', 'not an http(s) URL with a host and no user info, of at most 2048 characters'],
  ];
  for (const [layout, path, message] of cases) assert.equal(problemsOf(layout).get(path), message, path);
  let deep = { type: 'text', markup: 'x' };
  for (let i = 0; i < 4; i++) deep = { type: 'container', blocks: [deep] };
  assert.equal(problemsOf(layoutOf([column([deep])])).get('sections[0].columns[0].blocks[0].blocks[0].blocks[0].blocks[0].blocks[0]'), 'blocks nested deeper than 4 levels');
});

test('http URLs are judged as the API judges them', () => {
  for (const ok of ['https://example.com', 'http://a.b/c?d#e', 'https://[::1]:8080/x']) assert.equal(bounds.isHttpUrl(ok), true, ok);
  for (const bad of ['javascript:alert(1)', 'https://user@evil.example', 'https://', 'ftp://x', 'https://a b', `https://x/${'a'.repeat(2048)}`]) {
    assert.equal(bounds.isHttpUrl(bad), false, bad);
  }
});

test('moves: within a list, across columns, never a container into itself', () => {
  const layout = layoutOf([column([{ type: 'text', markup: 'a' }, { type: 'container', blocks: [] }], 6), column([], 6)]);
  assert.equal(moveWithin(layout, 'sections[0].columns[0].blocks[0]', 1), 'sections[0].columns[0].blocks[1]');
  assert.equal(moveWithin(layout, 'sections[0].columns[0].blocks[1]', 1), null);
  assert.deepEqual(layout.sections[0].columns[0].blocks.map((b) => b.type), ['container', 'text']);
  assert.equal(neighbourColumn(layout, 'sections[0].columns[0].blocks[1]', -1), null);
  const right = neighbourColumn(layout, 'sections[0].columns[0].blocks[1]', 1);
  assert.equal(moveBlock(layout, 'sections[0].columns[0].blocks[1]', right, 0), 'sections[0].columns[1].blocks[0]');
  assert.equal(moveBlock(layout, 'sections[0].columns[0].blocks[0]', 'sections[0].columns[0].blocks[0].blocks', 0), null);
  assert.equal(moveBlock(layout, 'sections[0].columns[1].blocks[0]', 'sections[0].columns[0].blocks[0].blocks', 0), 'sections[0].columns[0].blocks[0].blocks[0]');
  assert.deepEqual(layout.sections[0].columns[0].blocks[0].blocks.map((b) => b.type), ['text']);
});

test('the promoted search bounds are promoted_search.rs, and its problems carry the API paths', () => {
  assert.deepEqual(SEARCH_BOUNDS, rustConsts(model('promoted_search.rs')));
  const search = { keywords: ['vpn'], targets: [{ title: 'VPN', target: { type: 'page', pageId: '123' } }] };
  assert.deepEqual([...searchProblems(search)], []);
  const problems = searchProblems({
    keywords: ['VPN', ' vpn '],
    targets: [{ title: '', target: { type: 'url', url: 'ftp://x' } }],
    startsAt: '2026-01-02T00:00:00Z',
    endsAt: '2026-01-01T00:00:00Z',
  });
  assert.equal(problems.get('keywords'), 'keyword 2 duplicate of keyword 1');
  assert.equal(problems.get('targets[0].title'), 'empty');
  assert.match(problems.get('targets[0].target'), /^not an http\(s\) URL/);
  assert.equal(problems.get('endsAt'), 'before startsAt');
  assert.equal(searchProblems({ keywords: [], targets: [] }).get('targets'), 'needs at least 1 item');
});

test('the page metadata bound is page_metadata.rs, with the API messages', () => {
  assert.deepEqual(PAGE_BOUNDS, rustConsts(model('page_metadata.rs')));
  assert.equal(pageProblems({}).get('featuredImageMediaId'), 'missing, and so is description; give at least one');
  assert.equal(pageProblems({ description: 'd'.repeat(1001) }).get('description'), 'longer than 1000 characters');
  assert.equal(pageProblems({ description: 'ok\nfine' }).size, 0);
});

test('the report bounds are report.rs, with the API messages', () => {
  assert.deepEqual(REPORT_BOUNDS, rustConsts(model('report.rs')));
  const report = { name: 'Open bugs', jql: 'project = X', columns: ['key'], sort: [], filters: [], aggregations: [] };
  assert.deepEqual([...reportProblems(report)], []);
  const problems = reportProblems({
    ...report,
    columns: ['key', 'key'],
    filters: [{ field: 'status', operator: 'isEmpty', values: ['x'] }, { field: 'priority', operator: 'in', values: [] }],
    aggregations: [{ field: 'issue', function: 'sum' }],
  });
  assert.equal(problems.get('columns'), 'column 2 duplicate of column 1');
  assert.equal(problems.get('filters[0].values'), 'isEmpty takes no values');
  assert.equal(problems.get('filters[1].values'), 'in takes at least one value');
  assert.equal(problems.get('aggregations[0].field'), '"issue" can only be counted');
});
