// @ts-check
/** The navigation tree editor's model: adding and removing items under Canopy's bounds. */

/** Canopy's bounds (`navigation.rs`): top-level items are depth 1. */
export const MAX_DEPTH = 4;
export const MAX_ITEMS = 300;

/**
 * @typedef {{type: 'page', pageId: string} | {type: 'space', spaceKey: string} | {type: 'url', url: string} | {type: 'none'}} Target
 * @typedef {{id: string, label: string, target: Target, children: NavItem[]}} NavItem
 */

/** A fresh item id (Canopy wants 1 to 64 of A-Z, a-z, 0-9, _ and -). */
export function newId() {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return `n${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * Every item with its depth, depth first in document order.
 * @param {NavItem[]} items
 * @returns {{item: NavItem, depth: number}[]}
 */
export function flatten(items, depth = 1) {
  return items.flatMap((item) => [{ item, depth }, ...flatten(item.children, depth + 1)]);
}

/**
 * The target an admin typed.
 * @param {string} type
 * @param {string} value
 * @returns {Target}
 */
export function targetOf(type, value) {
  const text = value.trim();
  switch (type) {
    case 'page':
      if (!/^\d{1,20}$/.test(text)) throw new Error('A page id is digits only.');
      return { type: 'page', pageId: text };
    case 'space':
      if (!text) throw new Error('Give the space key.');
      return { type: 'space', spaceKey: text };
    case 'url':
      if (!/^https?:\/\/\S+$/.test(text)) throw new Error('A web address starts with https:// or http://.');
      return { type: 'url', url: text };
    default:
      return { type: 'none' };
  }
}

/**
 * Adds `item` at the end of `parentId`'s children (top level when empty); a new tree.
 * @param {NavItem[]} items
 * @param {string} parentId
 * @param {NavItem} item
 * @returns {NavItem[]}
 */
export function addItem(items, parentId, item) {
  const all = flatten(items);
  if (all.length >= MAX_ITEMS) throw new Error(`A navigation has at most ${MAX_ITEMS} items.`);
  if (!parentId) return [...items, item];
  const parent = all.find((entry) => entry.item.id === parentId);
  if (!parent) throw new Error('That parent item is gone.');
  if (parent.depth >= MAX_DEPTH) throw new Error(`Items nest at most ${MAX_DEPTH} levels deep.`);
  /** @type {(list: NavItem[]) => NavItem[]} */
  const insert = (list) =>
    list.map((entry) =>
      entry.id === parentId ? { ...entry, children: [...entry.children, item] } : { ...entry, children: insert(entry.children) },
    );
  return insert(items);
}

/**
 * The tree without `id` (and its children).
 * @param {NavItem[]} items
 * @param {string} id
 * @returns {NavItem[]}
 */
export function removeItem(items, id) {
  return items.filter((item) => item.id !== id).map((item) => ({ ...item, children: removeItem(item.children, id) }));
}

/**
 * @typedef {{id: string, label: string, target: Target, reason: string, since: string}} BrokenEntry
 *   an entry whose page or space Confluence trashed or removed (`GET …/navigation/broken`)
 */

/** What each reason Canopy answers means to an admin. */
const BROKEN_REASONS = /** @type {Record<string, string>} */ ({
  page_trashed: 'page in the Confluence trash',
  page_removed: 'page deleted in Confluence',
  space_removed: 'space deleted in Confluence',
});

/**
 * How a broken entry reads: what happened and since when (a date, in the admin's locale).
 * @param {BrokenEntry} entry
 */
export function describeBroken(entry) {
  const what = BROKEN_REASONS[entry.reason] ?? 'target gone in Confluence';
  const since = new Date(entry.since);
  return Number.isNaN(since.getTime()) ? `Broken: ${what}` : `Broken: ${what} since ${since.toLocaleDateString()}`;
}

/**
 * How an item's target reads.
 * @param {Target} target
 */
export function describeTarget(target) {
  switch (target.type) {
    case 'page':
      return `page ${target.pageId}`;
    case 'space':
      return `space ${target.spaceKey}`;
    case 'url':
      return target.url;
    default:
      return 'heading';
  }
}
