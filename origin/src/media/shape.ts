/** ImageKit's public shapes of files and folders (details, list, upload answers). */
import crypto from 'node:crypto';
import type { FileRecord, FolderRecord } from './store.js';

/** The public shape of a record (internal checksums stay inside). */
export function publicFile(r: FileRecord, endpoint: string) {
  const { md5: _m, sha256: _s, versions: _v, ...rest } = r;
  const rel = r.filePath.replace(/^\/+/, '').split('/').map(encodeURIComponent).join('/');
  return {
    ...rest,
    AITags: null,
    url: endpoint ? `${endpoint}/${rel}` : `/${rel}`,
    thumbnail: endpoint ? `${endpoint}/tr:w-200,h-200,c-at_max/${rel}` : undefined,
  };
}

export function uploadResponse(r: FileRecord, endpoint: string) {
  const { thumbnail, type: _t, createdAt: _c, updatedAt: _u, ...f } = publicFile(r, endpoint);
  return { ...f, thumbnailUrl: thumbnail };
}

export interface Sortable {
  name: string;
  createdAt: string;
  updatedAt: string;
  size: number;
  width?: number;
  height?: number;
}
export const SORTS: Record<string, (a: Sortable, b: Sortable) => number> = {
  ASC_NAME: (a, b) => a.name.localeCompare(b.name),
  ASC_CREATED: (a, b) => a.createdAt.localeCompare(b.createdAt),
  ASC_UPDATED: (a, b) => a.updatedAt.localeCompare(b.updatedAt),
  ASC_HEIGHT: (a, b) => (a.height ?? 0) - (b.height ?? 0),
  ASC_WIDTH: (a, b) => (a.width ?? 0) - (b.width ?? 0),
  ASC_SIZE: (a, b) => a.size - b.size,
};

export const folderIdFor = (accountId: string, folderPath: string) => crypto.createHash('sha1').update(`${accountId}\n${folderPath}`).digest('hex').slice(0, 24);

export interface PublicFolder {
  type: 'folder';
  name: string;
  folderPath: string;
  folderId: string;
  customMetadata: Record<string, never>;
  createdAt: string;
  updatedAt: string;
}

/**
 * Every folder: the explicitly created ones (folderPath "/a/b") and every ancestor folder of every
 * file (folders are also implied by file paths). ImageKit's folder shape.
 */
export function deriveFolders(accountId: string, records: FileRecord[], explicit: FolderRecord[] = []): PublicFolder[] {
  const byPath = new Map<string, PublicFolder>();
  const add = (folderPath: string, createdAt: string, updatedAt: string) => {
    const known = byPath.get(folderPath);
    if (known) {
      if (createdAt < known.createdAt) known.createdAt = createdAt;
      if (updatedAt > known.updatedAt) known.updatedAt = updatedAt;
      return;
    }
    const name = folderPath.slice(folderPath.lastIndexOf('/') + 1);
    byPath.set(folderPath, { type: 'folder', name, folderPath, folderId: folderIdFor(accountId, folderPath), customMetadata: {}, createdAt, updatedAt });
  };
  const ancestors = (path: string, leaf: boolean) => {
    const segs = path.split('/').filter(Boolean);
    const upTo = leaf ? segs.length : segs.length - 1;
    return Array.from({ length: upTo }, (_, i) => `/${segs.slice(0, i + 1).join('/')}`);
  };
  for (const f of explicit) for (const p of ancestors(f.folderPath, true)) add(p, f.createdAt, f.createdAt);
  for (const r of records) for (const p of ancestors(r.filePath, false)) add(p, r.createdAt, r.updatedAt);
  return [...byPath.values()];
}
