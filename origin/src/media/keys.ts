/**
 * Where the media library keeps things in the home region's bucket (docs/management-api.md
 * "Storage"): read by the store (origin/src/media/store.ts) and by the `media` origin
 * (origin/src/sources/index.ts), which serves the bytes and previous versions. No imports, so
 * neither side depends on the other.
 */
export const INDEX_PREFIX = '_index';
export const VERSIONS_PREFIX = '_versions';

/** The bytes of a file at its path: `<account>/<path>` (what image URLs serve). */
export const mediaKey = (accountId: string, path: string) => `${accountId}/${path}`;
/** A file's record (JSON). */
export const indexKey = (accountId: string, fileId: string) => `${INDEX_PREFIX}/${accountId}/${fileId}.json`;
/** The bytes of a previous version. */
export const versionKey = (accountId: string, fileId: string, versionId: string) => `${VERSIONS_PREFIX}/${accountId}/${fileId}/${versionId}`;
