// @ts-check
/**
 * Saving without silent loss. Every editor sends `If-Match` with the version it read; when Canopy
 * answers 412 (someone saved in between) the editor's status shows "changed by someone else" with
 * two choices: reload (their version replaces the form) or overwrite (the form is sent again,
 * against the version stored now). Nothing is written until the admin chooses.
 */

import { ApiError, ifMatch } from './api.js';
import { h, say } from './dom.js';

/**
 * @template T
 * @typedef {object} GuardedSave
 * @property {string} what how the item reads in a sentence ("The theme")
 * @property {{version: number} | null} read the stored item the form was filled from (null: none yet)
 * @property {(headers: Record<string, string>) => Promise<T>} send writes the form's draft with these headers
 * @property {() => Promise<{version: number} | null>} latest reads the item as stored now (null: gone)
 * @property {() => Promise<void>} reload refills the form from the stored item
 * @property {(result: T) => Promise<void> | void} saved what follows a successful write
 */

/**
 * `If-Match` for the version read; none for an item not yet stored (the API creates it then).
 * @param {{version: number} | null} read
 * @returns {Record<string, string>}
 */
export function preconditionOf(read) {
  return read ? ifMatch(read) : {};
}

/** @param {unknown} error */
export function isConflict(error) {
  return error instanceof ApiError && error.status === 412;
}

/**
 * Sends the draft; a 412 becomes the reload-or-overwrite choice in `status`. Other failures throw.
 * @template T
 * @param {HTMLElement} status
 * @param {GuardedSave<T>} save
 * @returns {Promise<boolean>} whether it was written now (false: the choice is waiting)
 */
export async function guardedSave(status, save) {
  try {
    await save.saved(await save.send(preconditionOf(save.read)));
    return true;
  } catch (error) {
    if (!isConflict(error)) throw error;
    offerChoice(status, save);
    return false;
  }
}

/**
 * @template T
 * @param {HTMLElement} status
 * @param {GuardedSave<T>} save
 */
function offerChoice(status, save) {
  const reload = h('button', { type: 'button', class: 'secondary', 'data-conflict': 'reload' }, ['Reload their version']);
  const overwrite = h('button', { type: 'button', class: 'danger', 'data-conflict': 'overwrite' }, ['Overwrite with mine']);
  say(status, '', 'error');
  status.append(
    h('span', { class: 'conflict' }, [
      `${save.what} was changed by someone else since you opened it. `,
      'Reload to see their version (your changes are dropped), or overwrite it with yours. ',
      reload,
      ' ',
      overwrite,
    ]),
  );
  reload.focus();
  /** @param {() => Promise<void>} action */
  const choose = (action) => {
    reload.setAttribute('disabled', '');
    overwrite.setAttribute('disabled', '');
    action().catch((error) => say(status, error instanceof Error ? error.message : String(error), 'error'));
  };
  reload.addEventListener('click', () =>
    choose(async () => {
      await save.reload();
      say(status, `Reloaded: ${lower(save.what)} now shows their version.`, 'ok');
    }),
  );
  overwrite.addEventListener('click', () =>
    choose(async () => {
      const current = await save.latest();
      if (await guardedSave(status, { ...save, read: current })) {
        say(status, `Overwrote their version. ${status.textContent}`.trim(), 'ok');
      }
    }),
  );
}

/** @param {string} text */
function lower(text) {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
