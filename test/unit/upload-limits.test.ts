/**
 * Upload limits (#12 point 9): paths the store cannot hold are refused at the API with the limit named.
 */
import { describe, expect, it } from 'vitest';
import { isPixmeshError } from '../../shared/errors.js';
import { checkStorePath, MAX_KEY_BYTES, MAX_NAME_BYTES } from '../../origin/src/media/upload.js';

const outcome = (fn: () => unknown) => {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return isPixmeshError(e) ? `${e.status} ${e.code}` : `crash ${String(e)}`;
  }
};

describe('store path limits', () => {
  it.each([
    ['/a/b/photo.jpg', 'ok'],
    [`/${'n'.repeat(MAX_NAME_BYTES)}.jpg`, '400 EBADREQ'],
    [`/${'n'.repeat(MAX_NAME_BYTES - 4)}.jpg`, 'ok'],
    [`/${'f'.repeat(MAX_NAME_BYTES + 1)}/a.jpg`, '400 EBADREQ'],
    [`/${Array.from({ length: 8 }, () => 'd'.repeat(120)).join('/')}/a.jpg`, '400 EBADREQ'], // ~970 bytes: over the key limit with the prefix
    [`/${Array.from({ length: 7 }, () => 'd'.repeat(120)).join('/')}/a.jpg`, 'ok'],
    [`/${'é'.repeat(101)}.jpg`, '400 EBADREQ'], // bytes, not characters
  ])('%s → %s', (p, expected) => {
    expect(outcome(() => checkStorePath('acme', p))).toBe(expected);
  });

  it('names the limit in the message', () => {
    try {
      checkStorePath('acme', `/${'x'.repeat(300)}`);
    } catch (e) {
      expect((e as Error).message).toContain(`${MAX_NAME_BYTES} bytes`);
    }
    try {
      checkStorePath('acme', `/${Array.from({ length: 9 }, () => 'd'.repeat(120)).join('/')}`);
    } catch (e) {
      expect((e as Error).message).toContain(`${MAX_KEY_BYTES}-byte key limit`);
    }
  });
});
