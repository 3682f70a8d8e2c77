/** The dashboard's files, built by scripts/build-dashboard.ts into assets.generated.js (git-ignored) before every Worker build. */
export declare const ASSETS: Readonly<Record<string, { type: string; etag: string; body: string }>>;
