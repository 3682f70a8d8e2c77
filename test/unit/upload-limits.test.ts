/**
 * Upload limits (#12 points 6 and 9): a body is bounded in total time, not only idle time (a
 * client trickling a byte before each idle timeout used to hold an upload slot forever), and
 * paths the store cannot hold are refused at the API with the limit named.
 */
import { describe, expect, it } from 'vitest';
import { isPixmeshError } from '../../shared/errors.js';
import { checkStorePath, MAX_KEY_BYTES, MAX_NAME_BYTES, readBodyLimited } from '../../origin/src/media/upload.js';

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

describe('upload body deadline', () => {
  it('a body trickling a byte every 50 ms (never idle for the 1 s idle timeout) is cut off at the 400 ms total deadline with 408', async () => {
    let timer: NodeJS.Timeout | undefined;
    const trickle = new ReadableStream<Uint8Array>({
      start(ctl) {
        timer = setInterval(() => ctl.enqueue(new Uint8Array([65])), 50);
      },
      cancel() {
        clearInterval(timer);
      },
    });
    const t0 = Date.now();
    const res = await readBodyLimited(trickle, 1024 * 1024, 1000, 400).then(
      () => 'read',
      (e: unknown) => (isPixmeshError(e) ? `${e.status} ${e.message}` : String(e)),
    );
    clearInterval(timer);
    expect(res).toMatch(/^408 the upload body did not arrive within/);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('a body that arrives in time is read whole', async () => {
    const body = new Response('hello world').body!;
    expect((await readBodyLimited(body, 1024, 1000, 1000)).toString()).toBe('hello world');
  });
});
