// @ts-check
/**
 * The layout builder's model, without the DOM: a layout in the API's own shape (sections of
 * columns of blocks, containers nesting blocks), the block types with their fresh values, every
 * problem a layout has under the API's bounds (`layout.rs`, by the API's field paths), and moves.
 */

import * as check from './bounds.js';

/** `shared/src/domain/content/model/layout.rs`, name for name (a unit test compares). */
export const LAYOUT_BOUNDS = {
  MAX_TITLE_CHARS: 200,
  MAX_SECTIONS: 50,
  MAX_COLUMNS: 4,
  GRID_WIDTH: 12,
  MAX_BLOCKS_PER_LIST: 40,
  MAX_BLOCK_DEPTH: 4,
  MAX_BLOCKS: 500,
  MAX_LAYOUT_BYTES: 128 * 1024,
  MAX_TEXT_CHARS: 20_000,
  MAX_ALT_CHARS: 500,
  MAX_PAGE_LIST_LABELS: 20,
  MAX_PAGE_LABEL_CHARS: 255,
  MAX_PAGE_LIST_LIMIT: 50,
  MAX_SPACE_LIST_KEYS: 50,
  MAX_LINKS: 50,
  MAX_PLACEHOLDER_CHARS: 200,
};
const B = LAYOUT_BOUNDS;

/**
 * @typedef {{type: string, [field: string]: any}} Block
 * @typedef {{width: number, blocks: Block[]}} Column
 * @typedef {{id: string, background?: {color?: string, imageMediaId?: string}, columns: Column[]}} Section
 * @typedef {{title: string, sections: Section[]}} Layout
 */

/** Every block type of the model, how the builder names it, and a fresh one. */
export const BLOCK_TYPES = {
  text: { label: 'Text', make: () => ({ type: 'text', markup: '' }) },
  image: { label: 'Image', make: () => ({ type: 'image', mediaId: '', alt: '' }) },
  pageList: { label: 'Page list', make: () => ({ type: 'pageList', labels: [], limit: 10 }) },
  spaceList: { label: 'Space list', make: () => ({ type: 'spaceList', spaceKeys: [] }) },
  links: { label: 'Links', make: () => ({ type: 'links', items: [{ label: '', url: '' }] }) },
  searchBox: { label: 'Search box', make: () => ({ type: 'searchBox' }) },
  announcements: { label: 'Announcements', make: () => ({ type: 'announcements' }) },
  container: { label: 'Container', make: () => ({ type: 'container', blocks: [] }) },
};

/** Column splits offered for a new section (grid units). */
export const SECTION_PRESETS = [[12], [6, 6], [8, 4], [4, 8], [4, 4, 4], [3, 3, 3, 3]];

/** A fresh section id (the API wants a content id, unique in the layout). */
export function newSectionId() {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `s${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * @param {number[]} widths
 * @returns {Section}
 */
export function newSection(widths) {
  return { id: newSectionId(), columns: widths.map((width) => ({ width, blocks: [] })) };
}

/** @returns {Layout} */
export function newLayout() {
  return { title: 'Home', sections: [newSection([12])] };
}

/**
 * Every problem of `layout`, by the API's path (`sections[0].columns[1].blocks[2].markup`).
 * @param {Layout} layout
 * @returns {Map<string, string>}
 */
export function problemsOf(layout) {
  /** @type {Map<string, string>} */
  const problems = new Map();
  const note = (/** @type {string} */ path, /** @type {string | null} */ problem) => check.note(problems, path, problem);
  note('title', check.requiredText(layout.title, B.MAX_TITLE_CHARS));
  note('sections', check.listLength(layout.sections.length, 1, B.MAX_SECTIONS));
  const total = { blocks: 0 };
  const ids = new Set();
  layout.sections.forEach((section, i) => {
    const path = `sections[${i}]`;
    note(`${path}.id`, check.contentId(section.id) ?? (ids.has(section.id) ? `duplicate id ${section.id}` : null));
    ids.add(section.id);
    if (section.background?.color !== undefined) note(`${path}.background.color`, check.color(section.background.color));
    note(`${path}.columns`, check.listLength(section.columns.length, 1, B.MAX_COLUMNS));
    let width = 0;
    section.columns.forEach((column, j) => {
      const columnPath = `${path}.columns[${j}]`;
      if (!Number.isInteger(column.width) || column.width < 1 || column.width > B.GRID_WIDTH) {
        note(`${columnPath}.width`, `not between 1 and ${B.GRID_WIDTH}`);
      } else {
        width += column.width;
      }
      blockProblems(note, `${columnPath}.blocks`, column.blocks, 1, total);
    });
    if (width > B.GRID_WIDTH) note(`${path}.columns`, `widths add up to more than ${B.GRID_WIDTH}`);
  });
  const bytes = new TextEncoder().encode(JSON.stringify(layout)).length;
  if (bytes > B.MAX_LAYOUT_BYTES) note('', `layout is ${bytes} bytes; the limit is ${B.MAX_LAYOUT_BYTES} bytes.`);
  return problems;
}

/**
 * @param {(path: string, problem: string | null) => void} note
 * @param {string} path
 * @param {Block[]} blocks
 * @param {number} depth
 * @param {{blocks: number}} total
 */
function blockProblems(note, path, blocks, depth, total) {
  note(path, check.listLength(blocks.length, 0, B.MAX_BLOCKS_PER_LIST));
  blocks.forEach((block, k) => {
    const at = `${path}[${k}]`;
    if (depth > B.MAX_BLOCK_DEPTH) note(at, `blocks nested deeper than ${B.MAX_BLOCK_DEPTH} levels`);
    total.blocks += 1;
    if (total.blocks === B.MAX_BLOCKS + 1) note(at, `the layout has more than ${B.MAX_BLOCKS} blocks`);
    fieldProblems(note, at, block);
    if (block.type === 'container') blockProblems(note, `${at}.blocks`, block.blocks, depth + 1, total);
  });
}

/**
 * A block's own fields (`Block::validate`).
 * @param {(path: string, problem: string | null) => void} note
 * @param {string} path
 * @param {Block} block
 */
function fieldProblems(note, path, block) {
  switch (block.type) {
    case 'text':
      note(`${path}.markup`, check.markup(block.markup, B.MAX_TEXT_CHARS));
      break;
    case 'image':
      note(`${path}.mediaId`, block.mediaId ? check.contentId(block.mediaId) : 'choose an image from the media library or upload one');
      note(`${path}.alt`, check.singleLine(block.alt ?? '', B.MAX_ALT_CHARS));
      if (block.link !== undefined) note(`${path}.link`, check.httpUrl(block.link));
      break;
    case 'pageList':
      if (block.spaceKey !== undefined) note(`${path}.spaceKey`, check.spaceKey(block.spaceKey));
      if (block.parentPageId !== undefined) note(`${path}.parentPageId`, check.pageId(block.parentPageId));
      note(`${path}.labels`, check.listLength(block.labels.length, 0, B.MAX_PAGE_LIST_LABELS));
      block.labels.forEach((/** @type {string} */ label, /** @type {number} */ i) => {
        const problem = check.requiredText(label, B.MAX_PAGE_LABEL_CHARS) ?? (/\s/.test(label) ? 'contains whitespace; Confluence labels cannot' : null);
        // The form edits the labels as one field: its message names the label.
        note(`${path}.labels`, problem && `label ${i + 1} ${problem}`);
      });
      if (!Number.isInteger(block.limit) || block.limit < 1 || block.limit > B.MAX_PAGE_LIST_LIMIT) {
        note(`${path}.limit`, `not between 1 and ${B.MAX_PAGE_LIST_LIMIT}`);
      }
      break;
    case 'spaceList':
      note(`${path}.spaceKeys`, check.listLength(block.spaceKeys.length, 0, B.MAX_SPACE_LIST_KEYS));
      block.spaceKeys.forEach((/** @type {string} */ key, /** @type {number} */ i) => {
        const problem = check.spaceKey(key);
        note(`${path}.spaceKeys`, problem && `key ${i + 1} is ${problem}`);
      });
      break;
    case 'links':
      note(`${path}.items`, check.listLength(block.items.length, 0, B.MAX_LINKS));
      /** @type {Map<string, string>} */
      {
        const links = new Map();
        block.items.forEach((/** @type {{label: string, url: string}} */ link, /** @type {number} */ i) => check.checkLink(links, `${path}.items[${i}]`, link));
        for (const [at, problem] of links) note(at, problem);
      }
      break;
    case 'searchBox':
      if (block.placeholder !== undefined) note(`${path}.placeholder`, check.singleLine(block.placeholder, B.MAX_PLACEHOLDER_CHARS));
      break;
    default:
      break;
  }
}

/**
 * The list a path names: `sections`, `sections[0].columns`, `sections[0].columns[1].blocks`, or a
 * container's `….blocks[2].blocks`.
 * @param {Layout} layout
 * @param {string} path
 * @returns {any[]}
 */
export function listAt(layout, path) {
  /** @type {any} */
  let node = layout;
  for (const part of path.match(/[A-Za-z]+|\d+/g) ?? []) node = node[/^\d+$/.test(part) ? Number(part) : part];
  if (!Array.isArray(node)) throw new Error(`${path} is not a list`);
  return node;
}

/**
 * The list path and index of an item path (`sections[0].columns[1]` → `sections[0].columns`, 1).
 * @param {string} path
 */
export function splitItemPath(path) {
  const match = /^(.*)\[(\d+)\]$/.exec(path);
  if (!match) throw new Error(`${path} names no item`);
  return { list: match[1], index: Number(match[2]) };
}

/**
 * Moves the item at `from` to `to` inside one list; answers the item's new path, or null when it
 * cannot move that way.
 * @param {Layout} layout
 * @param {string} itemPath
 * @param {number} delta
 */
export function moveWithin(layout, itemPath, delta) {
  const { list, index } = splitItemPath(itemPath);
  const items = listAt(layout, list);
  const to = index + delta;
  if (to < 0 || to >= items.length) return null;
  const [item] = items.splice(index, 1);
  items.splice(to, 0, item);
  return `${list}[${to}]`;
}

/**
 * Moves a block to another list (another column, a container, or the same list) before
 * `beforeIndex` (the end when past it); answers its new path. A container never moves into itself.
 * @param {Layout} layout
 * @param {string} blockPath
 * @param {string} targetList
 * @param {number} beforeIndex
 * @returns {string | null}
 */
export function moveBlock(layout, blockPath, targetList, beforeIndex) {
  if (targetList === blockPath || targetList.startsWith(`${blockPath}.`)) return null;
  const { list, index } = splitItemPath(blockPath);
  const source = listAt(layout, list);
  const target = listAt(layout, targetList);
  const [block] = source.splice(index, 1);
  let at = Math.min(Math.max(beforeIndex, 0), target.length);
  // Removing it first shifted the later items of the same list up by one.
  if (source === target && index < beforeIndex) at -= 1;
  target.splice(at, 0, block);
  return `${targetList}[${at}]`;
}

/**
 * The block list next to a column's (`±1`), for keyboard moves between columns, with the section's
 * columns in order; null at either end.
 * @param {Layout} layout
 * @param {string} blockPath a column's block (containers' blocks move within their container)
 * @param {number} delta
 */
export function neighbourColumn(layout, blockPath, delta) {
  const match = /^sections\[(\d+)\]\.columns\[(\d+)\]\.blocks\[\d+\]$/.exec(blockPath);
  if (!match) return null;
  const [section, column] = [Number(match[1]), Number(match[2]) + delta];
  if (column < 0 || column >= layout.sections[section].columns.length) return null;
  return `sections[${section}].columns[${column}].blocks`;
}

/**
 * How a block reads in a sentence ("Text block 2 of column 1, section 1").
 * @param {string} path
 * @param {Block} block
 */
export function describeBlock(path, block) {
  const numbers = [...path.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1]) + 1);
  const name = BLOCK_TYPES[/** @type {keyof BLOCK_TYPES} */ (block.type)]?.label ?? block.type;
  const [section, column, ...blocks] = numbers;
  const where = blocks.length > 1 ? `, in container ${blocks.slice(0, -1).join('.')}` : '';
  return `${name} block ${blocks[blocks.length - 1]} of column ${column}, section ${section}${where}`;
}
