// @ts-check
/** Colour contrast as WCAG 2 defines it, to warn about theme colours people cannot read. */

/** WCAG AA for body text. */
export const MIN_TEXT_CONTRAST = 4.5;

/**
 * Relative luminance of `#RRGGBB` (an alpha part is ignored).
 * @param {string} hex
 */
export function luminance(hex) {
  const channels = [1, 3, 5].map((at) => parseInt(hex.slice(at, at + 2), 16) / 255);
  const [r, g, b] = channels.map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/**
 * Contrast ratio of two `#RRGGBB` colours, 1 to 21.
 * @param {string} a
 * @param {string} b
 */
export function contrast(a, b) {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (light + 0.05) / (dark + 0.05);
}
