/**
 * Bulk folder jobs (folders.copy / move / rename → jobId; folders.job.get → Pending | Completed),
 * run in the account's home region. A job is a record under `_jobs/<account>/<jobId>.json` in the
 * home bucket holding the files still to do; it advances in bounded steps (STEP files, then the
 * record is saved), so a restart resumes it where it stopped (jobs still Pending are picked up
 * when the region starts). Each step is idempotent: a moved file is no longer under the source
 * folder, and a copied file is recognised at its destination by its checksum.
 */
import { log } from '../log.js';
import { newId, type MediaStore } from './store.js';

export const JOBS_PREFIX = '_jobs';
/** Files relocated per step before the job's progress is saved (PIXMESH_MEDIA_JOB_STEP). */
import { DEFAULT_JOB_STEP } from './config.js';
export { DEFAULT_JOB_STEP };

export type JobType = 'COPY_FOLDER' | 'MOVE_FOLDER' | 'RENAME_FOLDER';

export interface FolderJob {
  jobId: string;
  accountId: string;
  type: JobType;
  status: 'Pending' | 'Completed';
  /** "/a/b/" → "/c/b/" (both with a trailing slash). */
  source: string;
  destination: string;
  includeVersions: boolean;
  purgeCache: boolean;
  /** fileIds still to relocate. */
  pending: string[];
  /** Explicit folders (folderPath) under the source still to carry over. */
  folders: string[];
  done: number;
  purgeRequestId?: string;
  createdAt: string;
  completedAt?: string;
}

export interface JobHooks {
  /** Moves or copies one file to its new path; false when the file is gone (skipped). */
  relocate(job: FolderJob, fileId: string, filePath: string): Promise<void>;
  /** After the last file: carries explicit folders over, purges; returns the purge request id if any. */
  finish(job: FolderJob): Promise<string | undefined>;
  /** Still this account's home region? (jobs are only run there.) */
  isHome(accountId: string): boolean;
}

const jobKey = (accountId: string, jobId: string) => `${JOBS_PREFIX}/${accountId}/${jobId}.json`;

export class FolderJobs {
  private readonly live = new Map<string, FolderJob>();
  private readonly running = new Set<string>();

  constructor(
    private readonly store: MediaStore,
    private readonly hooks: JobHooks,
    private readonly step = DEFAULT_JOB_STEP,
  ) {}

  async create(job: Omit<FolderJob, 'jobId' | 'status' | 'done' | 'createdAt'>): Promise<FolderJob> {
    const full: FolderJob = { ...job, jobId: newId(), status: 'Pending', done: 0, createdAt: new Date().toISOString() };
    await this.save(full);
    this.live.set(full.jobId, full);
    this.kick(full);
    return full;
  }

  async get(accountId: string, jobId: string): Promise<FolderJob | undefined> {
    const live = this.live.get(jobId);
    if (live) return live.accountId === accountId ? live : undefined;
    if (!/^[0-9a-f]{24}$/.test(jobId)) return undefined;
    return this.store.getJson<FolderJob>(jobKey(accountId, jobId));
  }

  /** Picks up every Pending job in this region's bucket (after a restart). */
  async resume(): Promise<number> {
    let n = 0;
    for (const key of await this.store.keys(`${JOBS_PREFIX}/`)) {
      const job = await this.store.getJson<FolderJob>(key);
      if (!job || job.status !== 'Pending' || !this.hooks.isHome(job.accountId) || this.running.has(job.jobId)) continue;
      this.live.set(job.jobId, job);
      this.kick(job);
      n++;
    }
    return n;
  }

  private save(job: FolderJob): Promise<void> {
    return this.store.putJson(this.store.bucket, jobKey(job.accountId, job.jobId), job);
  }

  private kick(job: FolderJob): void {
    if (this.running.has(job.jobId)) return;
    this.running.add(job.jobId);
    void this.run(job)
      .catch((e) => {
        log.error('folder job failed; retrying in 5 s', { jobId: job.jobId, err: String(e) });
        setTimeout(() => this.kick(job), 5000).unref();
      })
      .finally(() => this.running.delete(job.jobId));
  }

  private async run(job: FolderJob): Promise<void> {
    while (job.pending.length) {
      const step = job.pending.slice(0, this.step);
      for (const fileId of step) {
        const record = await this.store.get(job.accountId, fileId);
        if (record?.filePath.startsWith(job.source))
          await this.hooks.relocate(job, fileId, job.destination + record.filePath.slice(job.source.length));
      }
      job.pending = job.pending.slice(step.length);
      job.done += step.length;
      await this.save(job);
    }
    job.purgeRequestId = await this.hooks.finish(job);
    job.status = 'Completed';
    job.completedAt = new Date().toISOString();
    await this.save(job);
    log.info('folder job completed', { jobId: job.jobId, type: job.type, files: job.done });
  }
}
