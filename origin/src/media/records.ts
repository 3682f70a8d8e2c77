/**
 * The media library's record types, in their own module so the store (store.ts) and the commit
 * journal (journal.ts, whose put-record steps carry a record) both name them without importing
 * each other.
 */

/** One file of the library, in ImageKit's field names (what details/list return). */
export interface FileRecord {
  type: 'file';
  fileId: string;
  name: string;
  /** "/folder/name.jpg" */
  filePath: string;
  fileType: 'image' | 'non-image';
  mime: string;
  size: number;
  width?: number;
  height?: number;
  hasAlpha?: boolean;
  tags: string[] | null;
  customMetadata: Record<string, unknown>;
  customCoordinates: string | null;
  description?: string;
  isPrivateFile: boolean;
  isPublished: boolean;
  versionInfo: { id: string; name: string };
  createdAt: string;
  updatedAt: string;
  /** Content checksums (hex). */
  md5: string;
  sha256: string;
  /** Previous versions, oldest first (bounded: StoreOptions.maxVersions); bytes under _versions/. */
  versions?: StoredVersion[];
}

/** A previous version of a file: the record as it was (its bytes at versionKey(account, fileId, versionInfo.id)). */
export type StoredVersion = Omit<FileRecord, 'versions'>;
