/** Accounts the edge tests use (inlined into the worker as PIXMESH_ACCOUNTS_JSON). */
export const EDGE_TEST_ACCOUNTS = {
  accounts: [
    {
      id: 'demo',
      homeRegion: 'eu-central-1',
      privateKey: 'private_edge_demo',
      publicKey: 'public_edge_demo',
      customDomains: ['img.demo.test'],
      namedTransforms: { thumb: 'w-200,h-200' },
      endpoints: [{ prefix: '', origins: [{ type: 'media' }] }],
    },
    {
      id: 'strict',
      homeRegion: 'us-east-1',
      privateKey: 'private_edge_strict',
      residency: 'strict',
      signedUrls: 'required',
      endpoints: [{ prefix: '', origins: [{ type: 'media' }] }],
    },
  ],
};
