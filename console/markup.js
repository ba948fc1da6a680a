// @ts-check
/** Canopy's limited markup drawn as DOM nodes (announcement bodies, layout text blocks). */

import { h } from './dom.js';

/**
 * Limited markup (`**bold**`, `_italic_`, `[label](https://…)`, newlines) as DOM nodes; anything
 * else is text.
 * @param {string} markup
 * @returns {Node[]}
 */
export function renderMarkup(markup) {
  /** @type {Node[]} */
  const nodes = [];
  const pattern = /\*\*(.+?)\*\*|_(.+?)_|\[([^\]]+)\]\((https?:\/\/[^)\s]+)\)|\n/g;
  let at = 0;
  for (const match of markup.matchAll(pattern)) {
    const index = match.index ?? 0;
    if (index > at) nodes.push(document.createTextNode(markup.slice(at, index)));
    if (match[1] !== undefined) nodes.push(h('strong', {}, [match[1]]));
    else if (match[2] !== undefined) nodes.push(h('em', {}, [match[2]]));
    else if (match[3] !== undefined) nodes.push(h('a', { href: match[4], rel: 'noopener noreferrer', target: '_blank' }, [match[3]]));
    else nodes.push(h('br'));
    at = index + match[0].length;
  }
  if (at < markup.length) nodes.push(document.createTextNode(markup.slice(at)));
  return nodes;
}
