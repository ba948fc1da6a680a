// @ts-check
/**
 * Media uploads the way Canopy wants them from a browser: ask for a ticket, PUT the bytes straight
 * to the media store with the signed headers, then ask Canopy to check what arrived.
 */

import { ApiError } from './api.js';

/** The `logo` purpose's types and size (Canopy refuses others; checked here to say so early). */
export const LOGO_TYPES = ['image/png', 'image/jpeg', 'image/webp'];
export const MAX_LOGO_BYTES = 1024 * 1024;

/**
 * The signed headers a script may send: the browser sets `Content-Length` from the body itself,
 * and the store checks it against the signed length.
 * @param {[string, string][]} headers
 */
export function sendableHeaders(headers) {
  return Object.fromEntries(headers.filter(([name]) => name.toLowerCase() !== 'content-length'));
}

/** The `layoutImage` purpose (layout blocks, featured images): photos up to 5 MiB. */
export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
export const MAX_IMAGE_BYTES = 5 * 1024 * 1024;

/**
 * Uploads `file` as a logo; answers the completed media item.
 * @param {import('./api.js').Api} api
 * @param {File} file
 */
export async function uploadLogo(api, file) {
  if (!LOGO_TYPES.includes(file.type)) {
    throw new ApiError(422, 'unsupported_type', 'A logo must be a PNG, JPEG or WebP image.');
  }
  if (file.size > MAX_LOGO_BYTES) throw new ApiError(413, 'too_large', 'A logo may be at most 1 MiB.');
  return upload(api, file, 'logo');
}

/**
 * Uploads `file` as an image for layouts and pages; answers the completed media item.
 * @param {import('./api.js').Api} api
 * @param {File} file
 */
export async function uploadImage(api, file) {
  if (!IMAGE_TYPES.includes(file.type)) {
    throw new ApiError(422, 'unsupported_type', 'An image must be a PNG, JPEG, GIF or WebP file.');
  }
  if (file.size > MAX_IMAGE_BYTES) throw new ApiError(413, 'too_large', 'An image may be at most 5 MiB.');
  return upload(api, file, 'layoutImage');
}

/**
 * Ticket, straight PUT to the store, completion.
 * @param {import('./api.js').Api} api
 * @param {File} file
 * @param {string} purpose
 */
async function upload(api, file, purpose) {
  const ticket = await api.json('POST', '/api/media/uploads', {
    body: { purpose, contentType: file.type, size: file.size, fileName: file.name },
  });
  const { media, upload } = ticket.data;
  const put = await fetch(upload.url, { method: upload.method, headers: sendableHeaders(upload.headers), body: file });
  if (!put.ok) {
    throw new ApiError(put.status, 'upload_refused', `The media store refused the upload (${put.status}).`);
  }
  return (await api.json('POST', `/api/media/${encodeURIComponent(media.id)}/complete`)).data;
}

/**
 * The tenant's ready images, newest first as the API lists them (the first 100).
 * @param {import('./api.js').Api} api
 * @returns {Promise<any[]>}
 */
export async function imageLibrary(api) {
  const page = await api.get('/api/media?limit=100');
  return page.items.filter((/** @type {any} */ m) => m.state === 'ready' && String(m.contentType).startsWith('image/'));
}

/** Download URLs by media id; they live 5 minutes, so they are kept 4. */
const urls = new Map();
const URL_REUSE_MS = 4 * 60 * 1000;

/**
 * @param {import('./api.js').Api} api
 * @param {string} id
 * @returns {Promise<string>}
 */
export async function mediaUrl(api, id) {
  const known = urls.get(id);
  if (known && Date.now() - known.at < URL_REUSE_MS) return known.url;
  const item = await api.get(`/api/media/${encodeURIComponent(id)}`);
  urls.set(id, { url: item.url, at: Date.now() });
  return item.url;
}
