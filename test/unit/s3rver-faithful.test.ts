/**
 * faithfulS3rver (scripts/cluster.ts): the embedded s3rver answers a PUT only when the object's bytes
 * are on disk (S3's read-after-write), and a put whose body fails (a cut-off request) rejects
 * instead of hanging.
 * Exercised on s3rver's own store, no network.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import S3rver from 's3rver';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { faithfulS3rver } from '../../scripts/cluster.js';

type Store = {
  putObject(o: { bucket: string; key: string; content: NodeJS.ReadableStream | Buffer; metadata: Record<string, string> }): Promise<{ size: number; md5: string }>;
  getResourcePath(bucket: string, key: string, resource: string): string;
};

let dir: string;
let store: Store;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixmesh-s3rver-'));
  fs.mkdirSync(path.join(dir, 'b'));
  const s3 = new S3rver({ directory: dir, silent: true } as ConstructorParameters<typeof S3rver>[0]);
  faithfulS3rver(s3);
  store = (s3 as unknown as { store: Store }).store;
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('faithfulS3rver', () => {
  it.each([
    ['a Buffer body of 32 MB', () => Buffer.alloc(32 << 20, 7)],
    ['a streamed body of 128 × 256 kB', () => Readable.from(Array.from({ length: 128 }, (_, i) => Buffer.alloc(256 << 10, i)))],
  ])('a put of %s resolves with every byte already in the object file', async (_what, body) => {
    const r = await store.putObject({ bucket: 'b', key: 'deep/key.bin', content: body(), metadata: { 'content-type': 'application/octet-stream' } });
    expect(r.size).toBe(32 << 20);
    expect(fs.statSync(store.getResourcePath('b', 'deep/key.bin', 'object')).size).toBe(32 << 20);
    expect(fs.readFileSync(store.getResourcePath('b', 'deep/key.bin', 'object.md5'), 'utf8')).toBe(r.md5);
  });

  it('a put whose body stream fails rejects with that error (no hang, nothing uncaught)', async () => {
    const broken = new Readable({
      read() {
        this.destroy(new Error('client went away'));
      },
    });
    await expect(store.putObject({ bucket: 'b', key: 'k', content: broken, metadata: {} })).rejects.toThrow('client went away');
  });

});
