// @ts-check
/**
 * Canopy's field checks (`shared/src/domain/content/model/bounds.rs`, `markup.rs`, `link.rs`) as
 * the console runs them before sending, so every field of a form has its message at once, worded
 * as the API words it. Each check answers the problem, or null when the value is fine. The
 * numbers are the API's (a unit test reads them from the Rust models and compares).
 */

export const MAX_CONTENT_ID_LEN = 64;
export const MAX_PAGE_ID_LEN = 20;
export const MAX_SPACE_KEY_LEN = 255;
export const MAX_FIELD_ID_LEN = 100;
export const MAX_URL_LEN = 2048;
export const MAX_LINK_LABEL_CHARS = 200;

/** Rust's `char::is_control`: the Unicode Cc category. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;
const CONTROL_BUT_NEWLINE_TAB = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/u;

/** Characters as the API counts them (Unicode scalar values). */
export function chars(/** @type {string} */ value) {
  return [...value].length;
}

/**
 * @param {string} value
 * @param {number} max
 * @returns {string | null}
 */
export function singleLine(value, max) {
  if (chars(value) > max) return `longer than ${max} characters`;
  if (CONTROL.test(value)) return 'contains a control character';
  return null;
}

/**
 * @param {string} value
 * @param {number} max
 * @returns {string | null}
 */
export function multiLine(value, max) {
  if (chars(value) > max) return `longer than ${max} characters`;
  if (CONTROL_BUT_NEWLINE_TAB.test(value)) return 'contains a control character other than newline or tab';
  return null;
}

/**
 * Non-blank and single-line: names, titles, labels.
 * @param {string} value
 * @param {number} max
 */
export function requiredText(value, max) {
  return value.trim() ? singleLine(value, max) : 'empty';
}

/**
 * Limited markup: text with `**bold**`, `_italic_`, `[label](https://…)` and newlines, no `<` or `>`.
 * @param {string} value
 * @param {number} max
 */
export function markup(value, max) {
  const lines = multiLine(value, max);
  if (lines) return lines;
  if (/[<>]/.test(value)) return 'contains < or >; only limited markup is allowed, not HTML';
  for (let at = value.indexOf(']('); at >= 0; at = value.indexOf('](', at + 2)) {
    const end = value.indexOf(')', at + 2);
    if (end < 0) return 'a link has no closing parenthesis';
    if (!isHttpUrl(value.slice(at + 2, end))) return 'a link target is not an http(s) URL';
  }
  return null;
}

/**
 * @param {number} length
 * @param {number} min
 * @param {number} max
 */
export function listLength(length, min, max) {
  if (length < min) return `needs at least ${min} ${min === 1 ? 'item' : 'items'}`;
  if (length > max) return `more than ${max} items`;
  return null;
}

/** @param {string} value */
export function contentId(value) {
  return value.length >= 1 && value.length <= MAX_CONTENT_ID_LEN && /^[A-Za-z0-9_-]+$/.test(value)
    ? null
    : `not an id (1 to ${MAX_CONTENT_ID_LEN} characters of A-Z, a-z, 0-9, _ and -)`;
}

/** @param {string} value */
export function pageId(value) {
  return new RegExp(`^[0-9]{1,${MAX_PAGE_ID_LEN}}$`).test(value) ? null : `not a Confluence page id (1 to ${MAX_PAGE_ID_LEN} digits)`;
}

/** @param {string} value */
export function spaceKey(value) {
  return value.length >= 1 && value.length <= MAX_SPACE_KEY_LEN && /^[A-Za-z0-9~:_-]+$/.test(value)
    ? null
    : `not a space key (1 to ${MAX_SPACE_KEY_LEN} characters of A-Z, a-z, 0-9, ~, :, _ and -)`;
}

/** @param {string} value */
export function fieldId(value) {
  return value.length >= 1 && value.length <= MAX_FIELD_ID_LEN && /^[A-Za-z0-9_.:-]+$/.test(value)
    ? null
    : `not a field id (1 to ${MAX_FIELD_ID_LEN} characters of A-Z, a-z, 0-9, _, ., : and -)`;
}

/** @param {string} value */
export function color(value) {
  return /^#([0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/.test(value) ? null : 'not a color (#RRGGBB or #RRGGBBAA)';
}

/** @param {string} value */
export function httpUrl(value) {
  return isHttpUrl(value) ? null : `not an http(s) URL with a host and no user info, of at most ${MAX_URL_LEN} characters`;
}

/**
 * An absolute http(s) URL with a host and no user info (`bounds::is_http_url`).
 * @param {string} value
 */
export function isHttpUrl(value) {
  if (new TextEncoder().encode(value).length > MAX_URL_LEN || /[\s<>"\\`]/u.test(value) || CONTROL.test(value)) return false;
  const split = value.indexOf('://');
  if (split < 0) return false;
  const scheme = value.slice(0, split).toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return false;
  const authority = value.slice(split + 3).split(/[/?#]/)[0];
  if (authority.includes('@')) return false;
  const host = authority.startsWith('[') ? authority.slice(1).split(']')[0] : authority.split(':')[0];
  return host.length > 0;
}

/**
 * A labelled link (`link.rs`), its problems under `path`.
 * @param {Map<string, string>} problems
 * @param {string} path
 * @param {{label: string, url: string}} link
 */
export function checkLink(problems, path, link) {
  note(problems, `${path}.label`, requiredText(link.label, MAX_LINK_LABEL_CHARS));
  note(problems, `${path}.url`, httpUrl(link.url));
}

/**
 * Records `problem` at `path` (the first one a path gets is kept, as the API reports one).
 * @param {Map<string, string>} problems
 * @param {string} path
 * @param {string | null} problem
 */
export function note(problems, path, problem) {
  if (problem && !problems.has(path)) problems.set(path, problem);
}

/**
 * The API's 422 message `path: problem` split; no path when the message names none.
 * @param {string} message
 * @returns {{path: string, problem: string}}
 */
export function splitFieldMessage(message) {
  const match = /^([A-Za-z][A-Za-z0-9_.[\]]*): (.*)$/s.exec(message);
  return match ? { path: match[1], problem: match[2] } : { path: '', problem: message };
}
