/**
 * The rest of ImageKit's media-library API, in the account's home region. The edge forwards the
 * public call unchanged under `/internal/media/<account>` (same method, path, query and JSON body):
 *
 *   POST   /v1/files/copy                      {sourceFilePath, destinationPath, includeFileVersions} → 204
 *   POST   /v1/files/move                      {sourceFilePath, destinationPath} → 204
 *   PUT    /v1/files/rename                    {filePath, newFileName, purgeCache} → {purgeRequestId?}
 *   POST   /v1/files/batch/deleteByFileIds     {fileIds} → {successfullyDeletedFileIds}
 *   POST   /v1/files/addTags | removeTags      {fileIds, tags} → {successfullyUpdatedFileIds}
 *   POST   /v1/files/removeAITags              {fileIds, AITags} → {successfullyUpdatedFileIds}
 *   POST   /v1/folder                          {folderName, parentFolderPath} → 201 {}
 *   DELETE /v1/folder                          {folderPath} → 204
 *   POST   /v1/bulkJobs/copyFolder | moveFolder | renameFolder → {jobId}
 *   GET    /v1/bulkJobs/:jobId                 → {jobId, type, status, purgeRequestId?}
 *   GET    /v1/files/:fileId/versions          → File[] (previous versions, then the current one)
 *   GET    /v1/files/:fileId/versions/:id      → File
 *   DELETE /v1/files/:fileId/versions/:id      → 204
 *   PUT    /v1/files/:fileId/versions/:id/restore → File
 *   GET    /v1/files/:fileId/metadata          → Metadata
 *   POST   /internal/media/<account>/metadata  body: delivered image bytes → Metadata (getFromURL)
 *   POST   /v1/customMetadataFields            {name, label, schema, description} → 201 field
 *   GET    /v1/customMetadataFields?includeDeleted → fields
 *   PATCH  /v1/customMetadataFields/:id        {label, description, schema} → field
 *   DELETE /v1/customMetadataFields/:id        → 204
 *   GET    /v1/accounts/usage?startDate&endDate → {bandwidthBytes, mediaLibraryStorageBytes, …}
 *
 * Answers that make cached variants stale carry EDGE_PURGE_HEADER, a URI-encoded JSON list of
 * {path, prefix} that the edge records in its own purge records (edge/src/management.ts).
 */
import type { Context, Hono } from 'hono';
import type { HomeVars } from '../home-region.js';
import type { Account } from '../../../shared/accounts.js';
import { badRequest, conflict, notFound } from '../../../shared/errors.js';
import { log } from '../log.js';
import type { CustomFields } from './custom-fields.js';
import { usageRange, type UsageMeter } from './usage.js';
import { FolderJobs, type FolderJob, type JobType } from './jobs.js';
import { analyse } from './metadata.js';
import { edgePurgeItems, type Purger } from './purge.js';
import { folderIdFor, publicFile } from './shape.js';
import { FileExistsError, type FileRecord, type MediaStore, type PurgeRef } from './store.js';
import { readBodyLimited } from '../../../shared/body.js';
import { checkStorePath, normaliseFolder, sanitiseFileName } from './upload.js';
import type { WebhookOutbox } from './webhooks.js';

/** Must match edge/src/management.ts. */
export const EDGE_PURGE_HEADER = 'x-pixmesh-edge-purge';
/** ImageKit's bulk calls take at most 100 fileIds. */
export const MAX_BULK_IDS = 100;
const MAX_METADATA_BYTES = 50 * 1024 * 1024;

export interface LibraryDeps {
  store: MediaStore;
  purger: Purger;
  /** The account, if this is its home region (else 404 / 421 as mediaRoutes decides). */
  home: (id: string) => Account;
  isHome: (id: string) => boolean;
  endpointOf: (url: string) => string;
  jobStep?: number;
  fields: CustomFields;
  usage?: UsageMeter;
  /** Webhook events (origin/src/media/webhooks.ts); none when absent. */
  events?: WebhookOutbox;
}

type Body = Record<string, unknown>;

async function jsonBody(c: Context): Promise<Body> {
  const body = (await c.req.json().catch(() => null)) as unknown;
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the body must be a JSON object');
  return body as Body;
}

function str(body: Body, field: string): string {
  const v = body[field];
  if (typeof v !== 'string' || v.trim() === '') throw badRequest(`${field} is required and must be a non-empty string`);
  if (v.length > 1024) throw badRequest(`${field} must be at most 1024 characters`);
  return v;
}

function bool(body: Body, field: string): boolean {
  const v = body[field];
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw badRequest(`${field} must be a boolean`);
  return v;
}

function strings(body: Body, field: string, max = MAX_BULK_IDS): string[] {
  const v = body[field];
  if (!Array.isArray(v) || v.length === 0 || v.some((s) => typeof s !== 'string' || s === '')) throw badRequest(`${field} must be a non-empty array of strings`);
  if (v.length > max) throw badRequest(`${field} may hold at most ${max} entries`);
  return [...new Set(v as string[])];
}

/** "/a/b.jpg" (leading slash, no trailing one). */
const filePathOf = (raw: string) => `/${raw.split('/').filter(Boolean).join('/')}`;
const purgePath = (filePath: string) => filePath.replace(/^\/+/, '');
/** EDGE_PURGE_HEADER's value: the URI-encoded JSON list of {path, prefix}. */
export const edgePurgeHeader = (items: { path: string; prefix: boolean }[]) => encodeURIComponent(JSON.stringify(items));

const fileMissing = (what: string) => notFound(`No file found with filePath ${what}`);
const folderMissing = (what: string) => notFound(`No folder found with folderPath ${what}`);

export function libraryRoutes(app: Hono<HomeVars>, deps: LibraryDeps): { jobs: FolderJobs } {
  const { store, purger, home } = deps;
  const backupOf = (a: Account) => (a.residency === 'flexible' ? a.backupRegion : undefined);
  // Every route is under mediaRoutes' home middleware (/internal/media/:account/*): c.var.account is
  // the account, resolved once (404 unknown, 421 not home); `home` is for work without a request (jobs).
  const P = '/internal/media/:account';

  /** Purges the given file paths in every region (waits up to 5 s) and returns the edge-purge header. */
  const purgeEverywhere = async (accountId: string, items: { path: string; prefix: boolean }[]) => {
    const records = await Promise.all(items.map((t) => purger.start({ account: accountId, path: t.path, prefix: t.prefix }, undefined, 5000)));
    return edgeHeader(items, records);
  };
  /**
   * Paths a store commit made stale were purged in the regions by the commit (store.onStale): the
   * edge is told here, with the files whose variants use them as layers (the purges' dependents).
   */
  const edgeHeader = (items: { path: string; prefix: boolean }[], purges: readonly PurgeRef[] = []) => ({ [EDGE_PURGE_HEADER]: edgePurgeHeader(edgePurgeItems(items, purges)) });
  const filesOnly = (paths: string[]) => paths.map((p) => ({ path: purgePath(p), prefix: false }));

  const relocateOne = async (account: Account, r: FileRecord, filePath: string, mode: 'copy' | 'move', includeVersions: boolean, replaceExisting: boolean, purgeSource = true) => {
    // the same store limits as an upload's name and path (#12 point 9): 400 naming the limit, not a 502 from S3
    checkStorePath(account.id, filePath);
    try {
      return await store.relocate({ accountId: account.id, fileId: r.fileId, filePath, mode, includeVersions, replaceExisting, backupRegion: backupOf(account), purgeSource });
    } catch (e) {
      if (e instanceof FileExistsError) throw conflict(`${e.message}; rename refuses to replace it`);
      throw e;
    }
  };

  // ---- files: copy, move, rename -------------------------------------------------------------
  for (const mode of ['copy', 'move'] as const)
    app.post(`${P}/v1/files/${mode}`, async (c) => {
      const account = c.var.account;
      const body = await jsonBody(c);
      const source = filePathOf(str(body, 'sourceFilePath'));
      const folder = normaliseFolder(str(body, 'destinationPath'));
      const includeVersions = mode === 'copy' ? bool(body, 'includeFileVersions') : true;
      const r = await store.byPath(account.id, source);
      if (!r) throw fileMissing(source);
      const done = await relocateOne(account, r, folder + r.name, mode, includeVersions, true);
      if (!done) throw fileMissing(source);
      const headers = done.stalePaths.length ? edgeHeader(filesOnly(done.stalePaths), done.purges) : {};
      log.info(`media ${mode}`, { account: account.id, from: source, to: done.record.filePath });
      return c.body(null, 204, headers);
    });

  app.put(`${P}/v1/files/rename`, async (c) => {
    const account = c.var.account;
    const body = await jsonBody(c);
    const filePath = filePathOf(str(body, 'filePath'));
    const rawName = str(body, 'newFileName');
    if (rawName.includes('/')) throw badRequest('newFileName must be a file name, without "/"');
    const newFileName = sanitiseFileName(rawName);
    const purgeCache = bool(body, 'purgeCache');
    const r = await store.byPath(account.id, filePath);
    if (!r) throw fileMissing(filePath);
    const target = filePath.slice(0, filePath.lastIndexOf('/') + 1) + newFileName;
    // ImageKit: without purgeCache, cached copies of the old URL keep being served until purged.
    // The new path is purged anyway (nothing there may be served from a cache). The commit purges both in the regions.
    const done = await relocateOne(account, r, target, 'move', true, false, purgeCache);
    if (!done) throw fileMissing(filePath);
    const headers = edgeHeader(filesOnly(done.stalePaths), done.purges);
    if (!purgeCache) return c.json({}, 200, headers);
    return c.json({ purgeRequestId: done.purges[1]?.requestId }, 200, headers);
  });

  // ---- bulk ------------------------------------------------------------------------------------
  /** Every id must name a file of this account (ImageKit: 404 with the missing ids, nothing changed). */
  const allFiles = async (accountId: string, ids: string[]) => {
    const found = await Promise.all(ids.map((id) => store.get(accountId, id)));
    const missing = ids.filter((_, i) => !found[i]);
    if (missing.length) throw notFound(`The requested file(s) do not exist: ${missing.join(', ')}`);
    return found as FileRecord[];
  };

  app.post(`${P}/v1/files/batch/deleteByFileIds`, async (c) => {
    const account = c.var.account;
    const ids = strings(await jsonBody(c), 'fileIds');
    await allFiles(account.id, ids);
    // One commit for the batch: all deleted or (a crash before its intent) none.
    const { records, purges } = await store.deleteMany(account.id, ids, backupOf(account));
    for (const r of records) await deps.events?.emit(account, 'file.deleted', { fileId: r.fileId });
    return c.json({ successfullyDeletedFileIds: records.map((r) => r.fileId) }, 200, edgeHeader(filesOnly(records.map((r) => r.filePath)), purges));
  });

  const tagsCall = (route: string, field: 'tags' | 'AITags', change: (r: FileRecord, tags: string[]) => FileRecord) =>
    app.post(`${P}/v1/files/${route}`, async (c) => {
      const account = c.var.account;
      const body = await jsonBody(c);
      const ids = strings(body, 'fileIds');
      const tags = strings(body, field, 500);
      if (tags.some((t) => t.includes('%') || t.includes(','))) throw badRequest(`${field} may not contain "%" or ","`);
      await allFiles(account.id, ids);
      const updated: string[] = [];
      for (const id of ids) if (await store.update(account.id, id, (r) => change(r, tags), backupOf(account))) updated.push(id);
      return c.json({ successfullyUpdatedFileIds: updated });
    });
  tagsCall('addTags', 'tags', (r, tags) => ({ ...r, tags: [...new Set([...(r.tags ?? []), ...tags])] }));
  tagsCall('removeTags', 'tags', (r, tags) => {
    const left = (r.tags ?? []).filter((t) => !tags.includes(t));
    return { ...r, tags: left.length ? left : null };
  });
  // AI tags come from ImageKit's extensions, which are not run here: files have none, so there is
  // nothing to remove, but the ids are checked like ImageKit does.
  tagsCall('removeAITags', 'AITags', (r) => r);

  // ---- folders ---------------------------------------------------------------------------------
  /** "/a/b/" exists when a file is under it or it was created. */
  const folderExists = async (accountId: string, folder: string) =>
    (await store.list(accountId)).some((r) => r.filePath.startsWith(folder)) ||
    (await store.folders(accountId)).some((f) => `${f.folderPath}/`.startsWith(folder));

  app.post(`${P}/v1/folder`, async (c) => {
    const account = c.var.account;
    const body = await jsonBody(c);
    const name = str(body, 'folderName');
    if (name.includes('/')) throw badRequest('folderName must be one folder name, without "/"');
    const parent = normaliseFolder(typeof body.parentFolderPath === 'string' ? body.parentFolderPath : '/');
    if (body.parentFolderPath !== undefined && typeof body.parentFolderPath !== 'string') throw badRequest('parentFolderPath must be a string');
    const folderPath = normaliseFolder(parent + name).replace(/\/$/, '');
    if (folderPath === '') throw badRequest('folderName is not a valid folder name');
    checkStorePath(account.id, `${folderPath}/`);
    // Creating an existing folder is a no-op (ImageKit answers 201 as well): safe to retry.
    await store.changeFolders(account.id, (fs) =>
      fs.some((f) => f.folderPath === folderPath) ? fs : [...fs, { folderPath, folderId: folderIdFor(account.id, folderPath), createdAt: new Date().toISOString() }],
    );
    return c.json({}, 201);
  });

  app.delete(`${P}/v1/folder`, async (c) => {
    const account = c.var.account;
    const body = await jsonBody(c);
    const folder = normaliseFolder(str(body, 'folderPath'));
    if (folder === '/') throw badRequest('folderPath cannot be the root folder');
    if (!(await folderExists(account.id, folder))) throw folderMissing(folder.replace(/\/$/, ''));
    const files = (await store.list(account.id)).filter((r) => r.filePath.startsWith(folder));
    const { records: gone } = await store.deleteMany(account.id, files.map((r) => r.fileId), backupOf(account));
    for (const r of gone) await deps.events?.emit(account, 'file.deleted', { fileId: r.fileId });
    await store.changeFolders(account.id, (fs) => fs.filter((f) => !`${f.folderPath}/`.startsWith(folder)));
    const headers = await purgeEverywhere(account.id, [{ path: purgePath(folder), prefix: true }]);
    log.info('media folder delete', { account: account.id, folder, files: files.length });
    return c.body(null, 204, headers);
  });

  const jobs = new FolderJobs(store, {
    isHome: deps.isHome,
    relocate: async (job, fileId, filePath) => {
      const account = home(job.accountId);
      const r = await store.get(account.id, fileId);
      if (!r) return;
      if (job.type === 'COPY_FOLDER') {
        // Already copied (a step re-run after a restart): same bytes at the destination.
        const there = await store.byPath(account.id, filePath);
        if (there && there.sha256 === r.sha256 && there.updatedAt >= job.createdAt) return;
      }
      await store.relocate({
        accountId: account.id,
        fileId,
        filePath,
        mode: job.type === 'COPY_FOLDER' ? 'copy' : 'move',
        includeVersions: job.includeVersions,
        replaceExisting: true,
        backupRegion: backupOf(account),
        // the job's finish purges both folders as prefixes (and a job resumes after a crash)
        purge: false,
      });
    },
    finish: async (job) => {
      const now = new Date().toISOString();
      const carried = job.folders.map((f) => job.destination.replace(/\/$/, '') + f.slice(job.source.length - 1));
      await store.changeFolders(job.accountId, (fs) => {
        const kept = job.type === 'COPY_FOLDER' ? fs : fs.filter((f) => !`${f.folderPath}/`.startsWith(job.source));
        const dest = job.destination.replace(/\/$/, '');
        const add = [dest, ...carried].filter((p) => p && !kept.some((f) => f.folderPath === p));
        return [...kept, ...add.map((folderPath) => ({ folderPath, folderId: folderIdFor(job.accountId, folderPath), createdAt: now }))];
      });
      const targets = [{ account: job.accountId, path: purgePath(job.destination), prefix: true }];
      if (job.type !== 'COPY_FOLDER') targets.push({ account: job.accountId, path: purgePath(job.source), prefix: true });
      const records = await Promise.all(targets.map((t) => purger.start(t, undefined, 5000)));
      return job.type === 'RENAME_FOLDER' && job.purgeCache ? records[records.length - 1]!.requestId : undefined;
    },
  }, deps.jobStep);

  const startJob = async (c: Context, type: JobType, source: string, destination: string, includeVersions: boolean, purgeCache: boolean) => {
    const account = c.var.account;
    if (source === '/') throw badRequest('the root folder cannot be copied, moved or renamed');
    if (!(await folderExists(account.id, source))) throw folderMissing(source.replace(/\/$/, ''));
    if (destination.startsWith(source)) throw badRequest('destinationPath cannot be inside the source folder');
    const under = (await store.list(account.id)).filter((r) => r.filePath.startsWith(source));
    const folders = (await store.folders(account.id)).map((f) => f.folderPath).filter((p) => `${p}/`.startsWith(source));
    // Every file's new path must fit the store before the job starts (a job cannot half-fail on a long name).
    checkStorePath(account.id, destination);
    for (const r of under) checkStorePath(account.id, destination + r.filePath.slice(source.length));
    for (const f of folders) checkStorePath(account.id, destination + f.slice(source.length));
    const pending = under.map((r) => r.fileId);
    const job = await jobs.create({ accountId: account.id, type, source, destination, includeVersions, purgeCache, pending, folders });
    // The edge forgets what it cached under the source now; job.get tells it again when the job ends.
    return c.json({ jobId: job.jobId }, 200, { [EDGE_PURGE_HEADER]: edgePurgeHeader([{ path: purgePath(source), prefix: true }]) });
  };

  app.post(`${P}/v1/bulkJobs/copyFolder`, async (c) => {
    const body = await jsonBody(c);
    const source = normaliseFolder(str(body, 'sourceFolderPath'));
    const dest = normaliseFolder(str(body, 'destinationPath'));
    return startJob(c, 'COPY_FOLDER', source, `${dest}${source.split('/').filter(Boolean).pop()}/`, bool(body, 'includeVersions'), false);
  });
  app.post(`${P}/v1/bulkJobs/moveFolder`, async (c) => {
    const body = await jsonBody(c);
    const source = normaliseFolder(str(body, 'sourceFolderPath'));
    const dest = normaliseFolder(str(body, 'destinationPath'));
    return startJob(c, 'MOVE_FOLDER', source, `${dest}${source.split('/').filter(Boolean).pop()}/`, true, false);
  });
  app.post(`${P}/v1/bulkJobs/renameFolder`, async (c) => {
    const body = await jsonBody(c);
    const source = normaliseFolder(str(body, 'folderPath'));
    const name = str(body, 'newFolderName');
    if (name.includes('/')) throw badRequest('newFolderName must be one folder name, without "/"');
    const parent = source.replace(/[^/]+\/$/, '');
    return startJob(c, 'RENAME_FOLDER', source, normaliseFolder(parent + name), true, bool(body, 'purgeCache'));
  });

  const jobAnswer = (j: FolderJob) => ({ jobId: j.jobId, type: j.type, status: j.status, ...(j.purgeRequestId ? { purgeRequestId: j.purgeRequestId } : {}) });
  app.get(`${P}/v1/bulkJobs/:jobId`, async (c) => {
    const account = c.var.account;
    const job = await jobs.get(account.id, c.req.param('jobId')!);
    if (!job) throw notFound('No job found with this jobId.');
    const headers: Record<string, string> = {};
    if (job.status === 'Completed') {
      const stale = [{ path: purgePath(job.destination), prefix: true }];
      if (job.type !== 'COPY_FOLDER') stale.push({ path: purgePath(job.source), prefix: true });
      headers[EDGE_PURGE_HEADER] = edgePurgeHeader(stale);
    }
    return c.json(jobAnswer(job), 200, headers);
  });

  // ---- versions --------------------------------------------------------------------------------
  const fileOf = async (c: Context) => {
    const account = c.var.account;
    const r = await store.get(account.id, c.req.param('fileId')!);
    if (!r) throw notFound('The requested file does not exist.');
    return { account, r };
  };
  /** A previous version in ImageKit's File shape (type "file-version"). */
  const versionFile = (r: FileRecord, v: Omit<FileRecord, 'versions'>, endpoint: string) => {
    const f = publicFile({ ...v, filePath: r.filePath, name: r.name }, endpoint);
    return { ...f, type: 'file-version' as const, url: `${f.url}?ik-obj-version=${v.versionInfo.id}` };
  };

  app.get(`${P}/v1/files/:fileId/versions`, async (c) => {
    const { r } = await fileOf(c);
    const endpoint = deps.endpointOf(c.req.url);
    return c.json([...(r.versions ?? []).map((v) => versionFile(r, v, endpoint)), publicFile(r, endpoint)]);
  });
  app.get(`${P}/v1/files/:fileId/versions/:versionId`, async (c) => {
    const { r } = await fileOf(c);
    const id = c.req.param('versionId');
    const endpoint = deps.endpointOf(c.req.url);
    if (r.versionInfo.id === id) return c.json(publicFile(r, endpoint));
    const v = (r.versions ?? []).find((x) => x.versionInfo.id === id);
    if (!v) throw notFound('The requested file version does not exist.');
    return c.json(versionFile(r, v, endpoint));
  });
  app.delete(`${P}/v1/files/:fileId/versions/:versionId`, async (c) => {
    const { account, r } = await fileOf(c);
    const out = await store.deleteVersion(account.id, r.fileId, c.req.param('versionId')!, backupOf(account));
    if (out === 'current') throw badRequest('the current version of a file cannot be deleted; delete the file instead');
    if (!out) throw notFound('The requested file version does not exist.');
    await deps.events?.emit(account, 'file-version.deleted', { fileId: r.fileId, versionId: c.req.param('versionId')! });
    // Its URL (?ik-obj-version=…) may be cached: the path's purge covers every query of it.
    const headers = await purgeEverywhere(account.id, [{ path: purgePath(r.filePath), prefix: false }]);
    return c.body(null, 204, headers);
  });
  app.put(`${P}/v1/files/:fileId/versions/:versionId/restore`, async (c) => {
    const { account, r } = await fileOf(c);
    const restored = await store.restoreVersion(account.id, r.fileId, c.req.param('versionId')!, backupOf(account));
    if (!restored) throw notFound('The requested file version does not exist.');
    return c.json(publicFile(restored.record, deps.endpointOf(c.req.url)), 200, edgeHeader(filesOnly([restored.record.filePath]), restored.purges));
  });

  // ---- metadata --------------------------------------------------------------------------------
  app.get(`${P}/v1/files/:fileId/metadata`, async (c) => {
    const { account, r } = await fileOf(c);
    return c.json(await analyse(await store.readBytes(account.id, r), r.name.split('.').pop()));
  });
  app.post(`${P}/metadata`, async (c) => {
    const bytes = Buffer.from(await readBodyLimited(c.req.raw.body, { maxBytes: MAX_METADATA_BYTES, idleMs: 30_000, what: 'the body' }));
    return c.json(await analyse(bytes, c.req.query('ext') ?? ''));
  });

  // ---- custom metadata fields -------------------------------------------------------------------
  const publicField = ({ deleted: _d, ...f }: Awaited<ReturnType<CustomFields['list']>>[number]) => f;
  app.post(`${P}/v1/customMetadataFields`, async (c) => {
    const account = c.var.account;
    return c.json(publicField(await deps.fields.create(account.id, await jsonBody(c))), 201);
  });
  app.get(`${P}/v1/customMetadataFields`, async (c) => {
    const account = c.var.account;
    const includeDeleted = c.req.query('includeDeleted');
    if (includeDeleted !== undefined && includeDeleted !== 'true' && includeDeleted !== 'false') throw badRequest('includeDeleted must be true or false');
    return c.json((await deps.fields.list(account.id, includeDeleted === 'true')).map(publicField));
  });
  app.patch(`${P}/v1/customMetadataFields/:id`, async (c) => {
    const account = c.var.account;
    return c.json(publicField(await deps.fields.update(account.id, c.req.param('id')!, await jsonBody(c))));
  });
  app.delete(`${P}/v1/customMetadataFields/:id`, async (c) => {
    const account = c.var.account;
    await deps.fields.delete(account.id, c.req.param('id')!);
    return c.body(null, 204);
  });

  // ---- usage -----------------------------------------------------------------------------------
  app.get(`${P}/v1/accounts/usage`, async (c) => {
    const account = c.var.account;
    const { start, end } = usageRange(c.req.query('startDate'), c.req.query('endDate'));
    const records = await store.list(account.id);
    const mediaLibraryStorageBytes = records.reduce((sum, r) => sum + r.size + (r.versions ?? []).reduce((s, v) => s + v.size, 0), 0);
    return c.json({
      bandwidthBytes: deps.usage ? await deps.usage.bandwidth(account.id, start, end) : 0,
      mediaLibraryStorageBytes,
      // Not counted here (docs/management-api.md): the originals caches are per region and not metered.
      originalCacheStorageBytes: 0,
      extensionUnitsCount: 0,
      videoProcessingUnitsCount: 0,
    });
  });

  return { jobs };
}
