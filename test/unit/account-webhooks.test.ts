/** origin/src/account-webhooks.ts: webhook endpoint bodies → stored endpoints, and what the API answers (never the secret). */
import { describe, expect, it } from 'vitest';
import { parseWebhook, publicWebhook } from '../../origin/src/account-webhooks.js';

const SECRET = 'a-secret-of-sixteen-plus';
const open = { managedOrigins: { allowPrivateNetwork: true } };
const closed = {};

describe('webhook endpoints through the API', () => {
  it.each<[string, unknown, object, RegExp]>([
    ['not an object', [1], closed, /must be a JSON object/],
    ['no url', { secret: SECRET }, closed, /url is required/],
    ['relative url', { url: '/x', secret: SECRET }, closed, /url must be an absolute http\(s\) URL/],
    ['credentials in url', { url: 'https://u:p@example.com/', secret: SECRET }, closed, /url may not carry credentials/],
    ['loopback without opt-in', { url: 'http://127.0.0.1:9/x', secret: SECRET }, closed, /url names a private or reserved address: 127\.0\.0\.1/],
    ['private without opt-in', { url: 'http://10.1.2.3/x', secret: SECRET }, closed, /private or reserved address: 10\.1\.2\.3/],
    ['localhost without opt-in', { url: 'http://localhost/x', secret: SECRET }, closed, /private or reserved address: localhost/],
    ['short secret', { url: 'https://example.com/', secret: 'short' }, closed, /secret is required: a string of 16–256/],
    ['unknown event', { url: 'https://example.com/', secret: SECRET, events: ['upload.pre-transform.success'] }, closed, /events must be a non-empty array/],
    ['empty events', { url: 'https://example.com/', secret: SECRET, events: [] }, closed, /events must be a non-empty array/],
    ['unknown field', { url: 'https://example.com/', secret: SECRET, enabled: true }, closed, /enabled is not a field of a webhook endpoint/],
  ])('%s → 400 naming the field', (_t, body, account, message) => {
    expect(() => parseWebhook(body, account)).toThrow(message);
  });

  it('the operator opt-in lets an endpoint name loopback, and carries it to delivery', () => {
    expect(parseWebhook({ url: 'http://127.0.0.1:9/x', secret: SECRET }, open)).toMatchObject({ url: 'http://127.0.0.1:9/x', allowPrivateNetwork: true });
    expect(parseWebhook({ url: 'https://example.com/x', secret: SECRET }, closed)).toMatchObject({ allowPrivateNetwork: false });
  });

  it('an update keeps what it omits and null events means all; the answer never holds the secret', () => {
    const made = parseWebhook({ url: 'https://example.com/x', secret: SECRET, events: ['file.created'] }, closed, undefined, 'id1');
    const renamed = parseWebhook({ description: 'renamed' }, closed, made);
    expect(renamed).toEqual({ ...made, description: 'renamed' });
    const all = parseWebhook({ events: null }, closed, made);
    expect(all.events).toBeUndefined();
    const answer = publicWebhook(all);
    expect(answer).toEqual({ id: 'id1', url: 'https://example.com/x', description: '', events: ['file.created', 'file.updated', 'file.deleted', 'file-version.created', 'file-version.deleted'], secretHint: '…plus', createdAt: made.createdAt });
    expect(JSON.stringify(answer)).not.toContain(SECRET);
  });
});
