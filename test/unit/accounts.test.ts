/** The account file: every problem is reported with the path of the field it is about. */
import { describe, expect, it } from 'vitest';
import { AccountFileError, AccountIndex, matchEndpoint, validateAccountFile } from '../../shared/accounts.js';

const good = () => ({
  id: 'demo',
  homeRegion: 'eu-central-1',
  privateKey: 'private_x',
  endpoints: [{ prefix: '', origins: [{ type: 'media' }] }],
});
const file = (...accounts: unknown[]) => ({ accounts });

function problemsOf(data: unknown): string[] {
  try {
    validateAccountFile(data);
  } catch (e) {
    if (e instanceof AccountFileError) return e.problems;
    throw e;
  }
  return [];
}

describe('validateAccountFile', () => {
  it('fills the documented defaults', () => {
    const [a] = validateAccountFile(file(good()));
    expect(a).toMatchObject({
      residency: 'flexible',
      signedUrls: 'optional',
      namedOnly: false,
      defaults: { quality: 80, autoFormat: true, avif: false, autoRotate: true },
      customDomains: [],
      mediaLibrary: { allowPrivateNetwork: false },
    });
  });

  it.each([
    ['a missing home region', { homeRegion: undefined }, /accounts\[0\] \(demo\)\.homeRegion must be one of/],
    ['an unknown region', { homeRegion: 'mars-1' }, /homeRegion must be one of/],
    ['a reserved id', { id: 'api' }, /"api" is reserved/],
    ['an id with upper case', { id: 'Demo' }, /id must match/],
    ['a bad residency', { residency: 'somewhere' }, /residency must be "flexible" or "strict"/],
    ['a quality out of range', { defaults: { quality: 101 } }, /defaults\.quality must be an integer 1–100/],
    ['an unknown default', { defaults: { sharpness: 1 } }, /defaults\.sharpness is not a known setting/],
    ['a named transform that does not parse', { namedTransforms: { thumb: 'w-abc' } }, /namedTransforms\.thumb: .*\bw\b/],
    ['a named transform naming another', { namedTransforms: { a: 'w-10', b: 'n-a' } }, /namedTransforms\.b/],
    ['an unknown origin type', { endpoints: [{ prefix: '', origins: [{ type: 'ftp' }] }] }, /origins\[0\]\.type must be one of/],
    ['an s3 origin without bucket', { endpoints: [{ prefix: '', origins: [{ type: 's3' }] }] }, /origins\[0\]\.bucket must be a non-empty string/],
    ['a web origin with a bad base URL', { endpoints: [{ prefix: '', origins: [{ type: 'web', baseUrl: 'ftp://x' }] }] }, /baseUrl must be an http\(s\) URL/],
    ['a backup region equal to home', { backupRegion: 'eu-central-1' }, /backupRegion must differ from homeRegion/],
    ['a bad media-library setting', { mediaLibrary: { maxUploadBytes: -1 } }, /mediaLibrary\.maxUploadBytes must be a positive integer/],
  ])('names the field for %s', (_label, patch, message) => {
    const problems = problemsOf(file({ ...good(), ...patch }));
    expect(problems.join('\n')).toMatch(message);
  });

  it('reports every problem at once', () => {
    expect(problemsOf(file({ ...good(), homeRegion: 'x', residency: 'y', signedUrls: 'z' }))).toHaveLength(3);
  });

  it('refuses a custom domain claimed by two accounts', () => {
    const problems = problemsOf(file({ ...good(), customDomains: ['img.test'] }, { ...good(), id: 'other', customDomains: ['img.test'] }));
    expect(problems.join('\n')).toMatch(/"img\.test" already belongs to demo/);
  });
});

describe('lookups', () => {
  const index = AccountIndex.fromJson(
    JSON.stringify(file({ ...good(), customDomains: ['img.demo.test'], endpoints: [{ prefix: '', origins: [{ type: 'media' }] }, { prefix: 'remote', origins: [{ type: 'media' }] }, { prefix: 'remote/deep', origins: [{ type: 'media' }] }] })),
  );

  it('finds accounts by id and by custom domain (with or without a port)', () => {
    expect(index.get('demo')?.id).toBe('demo');
    expect(index.byHost('IMG.demo.test:8787')?.id).toBe('demo');
    expect(index.byHost('other.test')).toBeUndefined();
  });

  it.each([
    [['a.jpg'], '', ['a.jpg']],
    [['remote', 'a.jpg'], 'remote', ['a.jpg']],
    [['remote', 'deep', 'a.jpg'], 'remote/deep', ['a.jpg']],
    [['remotely', 'a.jpg'], '', ['remotely', 'a.jpg']],
  ])('the longest endpoint prefix wins for %j', (segments, prefix, rest) => {
    const m = matchEndpoint(index.get('demo')!, segments);
    expect(m?.endpoint.prefix).toBe(prefix);
    expect(m?.rest).toEqual(rest);
  });

  it('refuses a file that is not JSON', () => {
    expect(() => AccountIndex.fromJson('{')).toThrow(/not valid JSON/);
  });
});

describe('the account file sent to the edge', () => {
  it('carries keys, domains and endpoints but no S3 credentials, S3 endpoints or credentials in web origin URLs, and still validates', async () => {
    const { AccountIndex, edgeAccountFile } = await import('../../shared/accounts.js');
    const full = AccountIndex.fromJson(
      JSON.stringify({
        accounts: [
          {
            id: 'acme',
            homeRegion: 'eu-central-1',
            privateKey: 'private_acme',
            publicKey: 'public_acme',
            customDomains: ['img.acme.test'],
            endpoints: [
              { prefix: '', origins: [{ type: 's3', bucket: 'b', endpoint: 'http://s3.internal:9000', region: 'us-east-1', accessKeyId: 'AKIA_SECRET_ID', secretAccessKey: 'S3_SECRET_KEY' }] },
              { prefix: 'web', origins: [{ type: 'web', baseUrl: 'https://user:hunter2@assets.acme.test/img?token=abc' }] },
            ],
          },
        ],
      }),
    );
    const text = edgeAccountFile(full.accounts);
    for (const secret of ['AKIA_SECRET_ID', 'S3_SECRET_KEY', 's3.internal', 'hunter2', 'token=abc']) expect(text).not.toContain(secret);
    const edge = AccountIndex.fromJson(text);
    const acme = edge.get('acme')!;
    expect([acme.privateKey, acme.publicKey, acme.customDomains[0]]).toEqual(['private_acme', 'public_acme', 'img.acme.test']);
    expect(acme.endpoints.map((e) => e.origins[0]!.type)).toEqual(['s3', 'web']);
  });
});
