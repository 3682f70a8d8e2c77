/**
 * The media library's write-ahead intent journal (#12 point 5). Every change that touches more
 * than one S3 object (upload, overwrite, delete, copy, move, rename, version restore/delete) is
 * first written as one intent record — the complete list of idempotent steps that takes the
 * library from its old state to its new one — under `_journal/<account>/<seq>.json` in the home
 * bucket. Then the steps run, the stale paths are purged, and the record is removed.
 *
 * The intent record is the commit point: before it exists nothing visible changed (an upload's
 * bytes sit under `_tmp/`, swept later); once it exists the change is completed, by this process
 * or — after a crash — by whoever loads the account's index next (every replica replays an
 * account's intents before it reads its records, and the region replays all of them at boot).
 *
 * Each step can run again: a copy is skipped when its target already holds the expected object
 * (its sha256 / fileid / isprivatefile metadata), and it copies only from a source that still
 * holds the expected bytes; record writes and deletes are plain overwrites and idempotent
 * deletes. So a replay after a crash at any point ends in the same state as an uninterrupted run.
 */
import fs from 'node:fs';
import type { FileRecord } from './records.js';

export const JOURNAL_PREFIX = '_journal';
/** Intents that could not be completed (a source gone from the bucket) are kept here for an operator. */
export const JOURNAL_FAILED_PREFIX = '_journal-failed';

export type CommitOp = 'upload' | 'overwrite' | 'delete' | 'copy' | 'move' | 'restore' | 'delete-version';

/** One idempotent step. `bucket` is the home bucket unless set (backup copies); backup steps are best effort. */
export type Step =
  | {
      do: 'copy';
      /** Source key, always in the home bucket. */
      from: string;
      to: string;
      bucket?: string;
      /** The target's metadata (sha256, fileid, isprivatefile; always set, REPLACE): also what tells a copy already done. */
      meta: Record<string, string>;
      contentType?: string;
      size: number;
      md5: string;
      bestEffort?: boolean;
    }
  | { do: 'put-record'; key: string; record: FileRecord; bucket?: string; bestEffort?: boolean }
  | { do: 'delete-record'; key: string; fileId: string; bucket?: string; bestEffort?: boolean }
  | { do: 'delete-object'; key: string; bucket?: string; bestEffort?: boolean };

export interface Intent {
  /** Sortable: replayed in the order they were written. */
  id: string;
  op: CommitOp;
  accountId: string;
  createdAt: string;
  steps: Step[];
  /** File paths ("/a/b.jpg") whose cached variants are stale once the steps ran (purged before the record goes). */
  stalePaths: string[];
}

export const journalKey = (accountId: string, id: string) => `${JOURNAL_PREFIX}/${accountId}/${id}.json`;

let seq = 0;
/** Time-ordered id (base-36 ms, a per-process counter, randomness): keys sort in write order. */
export function intentId(random: string): string {
  return `${Date.now().toString(36).padStart(9, '0')}-${(seq++ % 1296).toString(36).padStart(2, '0')}-${random}`;
}

/**
 * Test hook for the crash-point tests (test/origin/media-commit.test.ts): when PIXMESH_CRASH_FILE
 * names a file whose content is this point's name, the file is removed and the process SIGKILLs
 * itself — a real crash at exactly that point. Points: `<op>:before-journal`, `<op>:step-<n>`
 * (after n steps), `<op>:purged`, `<op>:committed`. Without the variable this is a no-op.
 */
export function crashPoint(name: string): void {
  const file = process.env.PIXMESH_CRASH_FILE;
  if (!file) return;
  let wanted: string;
  try {
    wanted = fs.readFileSync(file, 'utf8').trim();
  } catch {
    return;
  }
  if (wanted !== name) return;
  fs.rmSync(file, { force: true });
  process.stderr.write(`crash point ${name}: SIGKILL\n`);
  process.kill(process.pid, 'SIGKILL');
}

