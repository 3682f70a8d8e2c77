/**
 * The media library's internal API (home region only, behind requireInternalAuth). The edge
 * authenticates the client (private key or client-side signature), then calls:
 *
 *   POST   /internal/media/<account>/files/upload?auth=key|signature&endpoint=<urlEndpoint>
 *            body: the client's multipart body, streamed through unchanged
 *   GET    /internal/media/<account>/files?<ImageKit list params>&endpoint=…
 *   GET    /internal/media/<account>/files/<fileId>?endpoint=…
 *   PATCH  /internal/media/<account>/files/<fileId>?endpoint=…   {tags, customMetadata, …}
 *   DELETE /internal/media/<account>/files/<fileId>        → {filePath, path, purge}
 *   POST   /internal/media/<account>/purge   {url, path, prefix} → PurgeRecord
 *   GET    /internal/media/<account>/purge/<requestId>    → PurgeRecord
 *
 * See docs/management-api.md for the public side.
 */
import { Hono } from 'hono';
import type { Account } from '../../../shared/accounts.js';
import { badRequest, busy, conflict, notFound, PixmeshError } from '../../../shared/errors.js';
import type { AccountDirectory } from '../accounts.js';
import { homeAccount, requireHome, type HomeVars } from '../home-region.js';
import type { ResultCache } from '../cache/result-cache.js';
import { mediaBucketFor, type ServerConfig } from '../config.js';
import { log } from '../log.js';
import { TokenMemory, verifyClientUpload, type TokenClaims } from './client-auth.js';
import { matches, mentionsField, parseSearchQuery } from './search.js';
import { edgePurgeItems, Purger, type PurgeDeps } from './purge.js';
import { edgePurgeNotifier } from '../purge.js';
import { deriveFolders, publicFile, SORTS, uploadResponse, type Sortable } from './shape.js';
import { FileExistsError, MediaStore } from './store.js';
import { configRoutes, ControlPlane } from '../account-config.js';
import { CustomFields } from './custom-fields.js';
import type { UsageMeter } from './usage.js';
import { analyse, embeddedMetadata } from './metadata.js';
import { EDGE_PURGE_HEADER, edgePurgeHeader, libraryRoutes } from './library.js';
import { WebhookOutbox, webhookSettings } from './webhooks.js';
import { s3Client } from '../sources/s3.js';
import { readBodyLimited } from '../../../shared/body.js';
import { checkStorePath, fileBytes, parseUploadForm, sniffUpload, uploadLimitFor, uniqueName } from './upload.js';
import { purgeLimiter } from '../budget.js';
import { TransformQueue } from '../queue.js';
import { fetchUploadUrl, type UrlFetcher } from './url-fetch.js';

/** Upload answer header: the (URI-encoded) path whose old variants the edge must treat as purged. */
export const REPLACED_PATH_HEADER = 'x-pixmesh-replaced-path';

export interface MediaDeps {
  config: ServerConfig;
  accounts: AccountDirectory;
  cache: ResultCache;
  /** Tests may inject a fetcher; otherwise sources/safe-fetch. */
  fetchUrl?: UrlFetcher;
  /** The origin's purge fan-out (RegionServices.purgeVariants). */
  purgeVariants: PurgeDeps['purgeVariants'];
  /** Used client-side upload tokens (default: this process's memory; the region's replicas share the bucket's). */
  tokens?: TokenClaims;
}

export type { MediaConfig, MediaLimits } from './config.js';
import type { MediaLimits } from './config.js';

/** Per-account media settings: the account file's optional `mediaLibrary` object (shared/accounts.ts). */
export function mediaSettings(accounts: AccountDirectory, id: string): NonNullable<Account['mediaLibrary']> {
  return accounts.get(id)?.mediaLibrary ?? { allowPrivateNetwork: false };
}

function intParam(v: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw badRequest(`${name} must be an integer between ${min} and ${max}`);
  return n;
}

/** The home account of the route, set by the home-region middleware (../home-region.ts). */
type MediaVars = HomeVars;

export function mediaRoutes(deps: MediaDeps, limits: MediaLimits = deps.config.media, usage?: UsageMeter): Hono<MediaVars> & { store: MediaStore } {
  const { config } = deps;
  const store = new MediaStore({ s3: config.s3, bucket: config.mediaBucket, bucketFor: (r) => mediaBucketFor(r as never), maxVersions: limits.maxVersions });
  const purger = new Purger({ purgeVariants: deps.purgeVariants, region: config.region, regionUrls: config.regionUrls, store, tellEdge: edgePurgeNotifier(config) });
  const customFields = new CustomFields(store);
  // Signed events to the accounts' webhook endpoints, stored in the home bucket until delivered.
  const events = new WebhookOutbox(s3Client(config.s3), config.mediaBucket, (id) => deps.accounts.get(id), webhookSettings());
  const tokens = deps.tokens ?? new TokenMemory();
  const fetchUrl: UrlFetcher = deps.fetchUrl ?? fetchUploadUrl;

  // A commit's stale paths are purged in every region before its intent record goes (journal.ts).
  store.onStale = (accountId, paths) => Promise.all(paths.map((p) => purger.start({ account: accountId, path: p.replace(/^\/+/, ''), prefix: false }, undefined, 5000)));
  const isHome = (id: string) => deps.accounts.get(id)?.homeRegion === config.region;

  // Boot: changes interrupted by a crash are completed (the journal replayed), then the leftovers
  // of uploads interrupted before their intent (not by a client: those never reach S3) are swept.
  setTimeout(() => {
    store
      .recoverAll(isHome)
      .then(
        (accounts) => accounts.length && log.info('media journal replayed', { accounts }),
        (e) => log.error('media journal: replay at boot failed (retried when each account is read)', { err: String(e) }),
      )
      .then(() => store.sweepTemporary())
      .then(
        (n) => n && log.info('removed stale temporary uploads', { removed: n }),
        () => undefined,
      );
  }, 200).unref();

  const app = new Hono<MediaVars>();

  /** The account, if this region is its home (404 unknown, 421 not home): for work without a request (jobs). */
  const home = (id: string): Account => homeAccount(deps.accounts, config.region, id);
  // Every media route is about one account whose home must be this region: resolved once here.
  app.use('/internal/media/:account/*', requireHome(deps.accounts, config.region));
  const endpointOf = (url: string) => new URL(url).searchParams.get('endpoint') ?? '';
  const { jobs } = libraryRoutes(app, { store, purger, home, endpointOf, usage, fields: customFields, events, jobStep: limits.jobStep, isHome });
  // Account configuration stored as data (named transformations): every region polls it.
  const controlSettings = deps.config.controlPlane;
  const control = new ControlPlane(config.s3, controlSettings.bucket, deps.accounts);
  control.start(controlSettings.pollMs);
  configRoutes(app, {
    control,
    // A changed endpoint or origin: everything cached for the account may have come from the old ones.
    purgeAll: async (accountId) => {
      await purger.start({ account: accountId, path: '', prefix: true }, undefined, 5000);
      return { [EDGE_PURGE_HEADER]: edgePurgeHeader([{ path: '', prefix: true }]) };
    },
  });
  // Webhook deliveries still pending when this region stopped go on.
  setTimeout(() => {
    events.resume().then(
      (n) => n && log.info('resumed webhook deliveries', { deliveries: n }),
      (e) => log.warn('could not resume webhook deliveries', { err: String(e) }),
    );
  }, 1000).unref();
  // The delivery log (operator, over the signed internal API).
  app.get('/internal/media/:account/webhooks/deliveries', async (c) => c.json(await events.deliveries(c.var.account.id)));
  // Folder jobs still Pending when this region stopped go on.
  setTimeout(() => {
    jobs.resume().then(
      (n) => n && log.info('resumed folder jobs', { jobs: n }),
      (e) => log.warn('could not resume folder jobs', { err: String(e) }),
    );
  }, 1000).unref();

  // Upload fairness (#12 point 6): an upload holds a processing slot only once its whole body is
  // in (a client trickling bytes holds nothing but its own reader place); the body must arrive
  // within a total deadline (408); one account has at most perAccount uploads in flight (429);
  // slots go round the accounts waiting (the transform queue's fair queue), a wait is bounded (503).
  const inFlight = new Map<string, number>();
  let readers = 0;
  const slots = new TransformQueue(limits.maxConcurrentUploads, limits.maxConcurrentUploads * 4, {}, 2);
  app.post('/internal/media/:account/files/upload', async (c) => {
    const account = c.var.account;
    const mine = inFlight.get(account.id) ?? 0;
    // Refused before its body is needed: the body is still read to the end (bounded, nothing kept) so
    // the sender — the edge, which has it buffered — finishes sending and hears the 429 / 503 with its
    // Retry-After; answering mid-body resets the connection and the client got 503 EUPSTREAM.
    const refuse = async (e: PixmeshError): Promise<never> => {
      await readUpload(c.req.raw, account, true).catch(() => undefined);
      throw e;
    };
    if (mine >= limits.perAccountUploads) return refuse(busy(`this account has ${mine} uploads in progress (at most ${limits.perAccountUploads} at once); try again shortly`, 2, 429));
    if (readers >= limits.maxUploadReaders) return refuse(busy(`too many uploads arriving (${readers})`, 2, 503));
    inFlight.set(account.id, mine + 1);
    readers++;
    let reading = true;
    try {
      const raw = await readUpload(c.req.raw, account);
      readers--;
      reading = false;
      return await slots.run(() => upload(raw, c.req.raw, account, endpointOf(c.req.url)), AbortSignal.timeout(limits.slotWaitMs), account.id);
    } finally {
      if (reading) readers--;
      const left = (inFlight.get(account.id) ?? 1) - 1;
      if (left > 0) inFlight.set(account.id, left);
      else inFlight.delete(account.id);
    }
  });

  /** The largest body an upload of this account may send (the base64 form costs 4/3; the other fields get 1 MB). */
  const uploadCaps = (account: Account) => {
    const settings = mediaSettings(deps.accounts, account.id);
    // The account's cap applies to every type; the body is read up to the largest per-type limit.
    const cap = (bytes: number) => Math.min(settings.maxUploadBytes ?? bytes, bytes * 4);
    const maxBytes = cap(Math.max(limits.maxUploadBytes, limits.maxSvgBytes, limits.maxVideoBytes));
    return { settings, cap, maxBytes, bodyLimit: Math.ceil((maxBytes * 4) / 3) + 1024 * 1024 };
  };

  /** The body, bounded in bytes, idle time and total time. */
  const readUpload = async (req: Request, account: Account, discard = false): Promise<Buffer> => {
    const auth = new URL(req.url).searchParams.get('auth');
    if (auth !== 'key' && auth !== 'signature') throw badRequest('auth must be key or signature');
    const { maxBytes, bodyLimit } = uploadCaps(account);
    const declared = Number(req.headers.get('content-length') ?? NaN);
    if (declared > bodyLimit) throw new PixmeshError(413, 'ELIMIT', `the upload is over the ${maxBytes}-byte limit`);
    return Buffer.from(await readBodyLimited(req.body, { maxBytes: bodyLimit, idleMs: limits.idleMs, deadlineMs: limits.deadlineMs, what: 'the upload', discard }));
  };

  /** One upload, its body in: authenticate (client-side) → bytes → type → atomic store (which purges a replaced file). */
  const upload = async (raw: Buffer, req: Request, account: Account, endpoint: string): Promise<Response> => {
    const auth = new URL(req.url).searchParams.get('auth');
    const { settings, cap, maxBytes } = uploadCaps(account);
    const fields = await parseUploadForm(raw, req.headers.get('content-type') ?? '');
    if (auth === 'signature') await verifyClientUpload(account, fields, tokens);

    const { body } = await fileBytes(fields.file, { maxBytes, fetchUrl, allowPrivateNetwork: settings.allowPrivateNetwork, urlTimeoutMs: limits.urlTimeoutMs });
    const sniffed = await sniffUpload(body, fields.fileName, limits.maxPixels, (mime) => cap(uploadLimitFor(mime, limits)));
    const name = fields.useUniqueFileName ? uniqueName(fields.fileName) : fields.fileName;
    checkStorePath(account.id, `${fields.folder}${name}`);
    // A replaced file that keeps its custom metadata was checked when it got it.
    const keepMetadata = !fields.overwriteCustomMetadata && fields.customMetadata === null;
    const customMetadata = keepMetadata ? {} : await customFields.validate(account.id, fields.customMetadata ?? {}, true);
    let result;
    try {
      result = await store.put({
        accountId: account.id,
        body,
        overwrite: fields.overwriteFile,
        keep: { tags: !fields.overwriteTags, customMetadata: keepMetadata },
        backupRegion: account.residency === 'flexible' ? account.backupRegion : undefined,
        record: {
          type: 'file',
          name,
          filePath: `${fields.folder}${name}`,
          fileType: sniffed.fileType,
          mime: sniffed.mime,
          width: sniffed.width,
          height: sniffed.height,
          hasAlpha: sniffed.hasAlpha,
          tags: fields.tags,
          customMetadata,
          customCoordinates: fields.customCoordinates,
          description: fields.description,
          isPrivateFile: fields.isPrivateFile,
          isPublished: fields.isPublished,
        },
      });
    } catch (e) {
      if (e instanceof FileExistsError) throw conflict(`${e.message} and overwriteFile is false`);
      throw e;
    }
    // A replaced file's old variants are stale in every region (and at the edge: the header asks the edge to record it).
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    // (the regions' copies were purged by the commit itself: store.onStale, with the files using it as a layer or font)
    if (result.replaced) {
      headers[REPLACED_PATH_HEADER] = encodeURIComponent(result.record.filePath.slice(1));
      const dependents = edgePurgeItems([], result.purges);
      if (dependents.length) headers[EDGE_PURGE_HEADER] = edgePurgeHeader(dependents);
    }
    log.info('media upload', { account: account.id, fileId: result.record.fileId, bytes: body.length, replaced: Boolean(result.replaced) });
    await events.emit(account, result.replaced ? 'file-version.created' : 'file.created', publicFile(result.record, endpoint));
    // responseFields "metadata" / "embeddedMetadata": read from the uploaded bytes (ImageKit adds them only when asked).
    const extra: Record<string, unknown> = {};
    const wanted = fields.responseFields ?? [];
    if (wanted.includes('metadata') || wanted.includes('embeddedMetadata')) {
      const meta = await analyse(body, name.split('.').pop());
      if (wanted.includes('metadata')) extra.metadata = meta;
      if (wanted.includes('embeddedMetadata')) extra.embeddedMetadata = embeddedMetadata(meta);
    }
    return new Response(JSON.stringify({ ...uploadResponse(result.record, endpoint), ...extra }), { status: 200, headers });
  };

  app.get('/internal/media/:account/files', async (c) => {
    const account = c.var.account;
    const q = c.req.query();
    const limit = intParam(q.limit, 'limit', 1000, 1, 1000);
    const skip = intParam(q.skip, 'skip', 0, 0, 1_000_000);
    // v6 SDKs send includeFolder=true for "files and folders".
    const type = q.includeFolder === 'true' ? 'all' : (q.type ?? 'file');
    if (!['file', 'folder', 'all', 'file-version'].includes(type)) throw badRequest('type must be file, file-version, folder or all');
    const sortName = q.sort ?? 'ASC_CREATED';
    const base = SORTS[sortName.replace(/^DESC_/, 'ASC_')];
    if (!base || !/^(ASC|DESC)_/.test(sortName)) throw badRequest(`sort "${sortName}" is not supported`);
    const fileType = q.fileType ?? 'all';
    if (!['all', 'image', 'non-image'].includes(fileType)) throw badRequest('fileType must be all, image or non-image');
    const search = q.searchQuery ? parseSearchQuery(q.searchQuery) : undefined;
    const folder = q.path ? `/${q.path.split('/').filter(Boolean).join('/')}/`.replace(/^\/\/$/, '/') : undefined;
    const parentOf = (p: string) => p.slice(0, p.lastIndexOf('/') + 1);
    const tags = q.tags ? q.tags.split(',').map((t) => t.trim()).filter(Boolean) : undefined;

    const records = await store.list(account.id);
    // With a searchQuery, `type`, `name` and `tags` parameters have no effect (as on ImageKit); a
    // query that mentions `type` decides between files and folders itself.
    const wantFiles = search ? true : type !== 'folder';
    const wantFolders = search ? mentionsField(search, 'type') : type === 'folder' || type === 'all';
    const endpoint = endpointOf(c.req.url);
    const items: { sort: Sortable; out: unknown }[] = [];
    if (wantFiles)
      for (const r of records) {
        if (folder && parentOf(r.filePath) !== folder) continue;
        if (fileType !== 'all' && r.fileType !== fileType) continue;
        if (search ? !matches(search, r) : (q.name && r.name !== q.name) || (tags && !(r.tags ?? []).some((t) => tags.includes(t)))) continue;
        items.push({ sort: r, out: publicFile(r, endpoint) });
      }
    if (wantFolders)
      for (const f of deriveFolders(account.id, records, await store.folders(account.id))) {
        if (folder && parentOf(f.folderPath) !== folder) continue;
        if (!folder && parentOf(f.folderPath) !== '/' && !search) continue;
        if (search ? !matches(search, { ...f, type: 'folder' }) : q.name && f.name !== q.name) continue;
        items.push({ sort: { ...f, size: 0 }, out: f });
      }
    items.sort((a, b) => (sortName.startsWith('DESC_') ? base(b.sort, a.sort) : base(a.sort, b.sort)));
    return c.json(items.slice(skip, skip + limit).map((i) => i.out));
  });

  app.get('/internal/media/:account/files/:fileId', async (c) => {
    const account = c.var.account;
    const r = await store.get(account.id, c.req.param('fileId'));
    if (!r) throw notFound('The requested file does not exist.');
    return c.json(publicFile(r, endpointOf(c.req.url)));
  });

  // ImageKit "update file details": tags, customMetadata (merged; a null value removes a key),
  // customCoordinates, description, publish.isPublished. Bytes and privacy never change here.
  app.patch('/internal/media/:account/files/:fileId', async (c) => {
    const account = c.var.account;
    const body = (await c.req.json().catch(() => null)) as Record<string, unknown> | null;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the body must be a JSON object');
    for (const f of ['extensions', 'webhookUrl']) if (f in body) throw badRequest(`${f} is not supported by this server`);
    const known = ['tags', 'customMetadata', 'customCoordinates', 'description', 'publish', 'removeAITags'];
    for (const f of Object.keys(body)) if (!known.includes(f)) throw badRequest(`${f} cannot be updated`);
    const { tags, customMetadata: cm, customCoordinates: cc, description, publish } = body;
    if (tags !== undefined && tags !== null && (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string' || t.includes('%'))))
      throw badRequest('tags must be an array of strings without "%", or null');
    if (cm !== undefined && (typeof cm !== 'object' || cm === null || Array.isArray(cm))) throw badRequest('customMetadata must be an object');
    if (cc !== undefined && cc !== null && (typeof cc !== 'string' || !/^\d+,\d+,\d+,\d+$/.test(cc))) throw badRequest('customCoordinates must be "x,y,width,height" or null');
    if (description !== undefined && typeof description !== 'string') throw badRequest('description must be a string');
    const isPublished = (publish as { isPublished?: unknown } | undefined)?.isPublished;
    if (publish !== undefined && typeof isPublished !== 'boolean') throw badRequest('publish.isPublished must be a boolean');
    // customMetadata is merged (a null value removes a key), then checked against the account's fields.
    let merged: Record<string, unknown> | undefined;
    if (cm !== undefined) {
      const current = await store.get(account.id, c.req.param('fileId'));
      if (!current) throw notFound('The requested file does not exist.');
      merged = { ...current.customMetadata };
      for (const [k, v] of Object.entries(cm as Record<string, unknown>)) {
        if (v === null) delete merged[k];
        else merged[k] = v;
      }
      merged = await customFields.validate(account.id, merged, true);
    }
    let focusChanged = false;
    const r = await store.update(
      account.id,
      c.req.param('fileId'),
      (rec) => {
        if (tags !== undefined) rec.tags = tags as string[] | null;
        if (merged) rec.customMetadata = merged;
        if (cc !== undefined && rec.customCoordinates !== cc) {
          rec.customCoordinates = cc as string | null;
          focusChanged = true;
        }
        if (description !== undefined) rec.description = description as string;
        if (typeof isPublished === 'boolean') rec.isPublished = isPublished;
        return rec;
      },
      account.residency === 'flexible' ? account.backupRegion : undefined,
    );
    if (!r) throw notFound('The requested file does not exist.');
    // fo-custom variants were cut from the old focus area (docs/transformations.md "Face focus")
    const path = r.filePath.replace(/^\/+/, '');
    const purge = focusChanged ? await purger.start({ account: account.id, path, prefix: false }, undefined, 8000) : undefined;
    const file = publicFile(r, endpointOf(c.req.url));
    await events.emit(account, 'file.updated', file);
    // the edge drops its copies too (and those of files using this one as a layer)
    return c.json(file, 200, purge ? { [EDGE_PURGE_HEADER]: edgePurgeHeader(edgePurgeItems([{ path, prefix: false }], [purge])) } : undefined);
  });

  app.delete('/internal/media/:account/files/:fileId', async (c) => {
    const account = c.var.account;
    const out = await store.delete(account.id, c.req.param('fileId'), account.residency === 'flexible' ? account.backupRegion : undefined);
    if (!out) throw notFound('The requested file does not exist.');
    const { record: r } = out;
    const path = r.filePath.replace(/^\/+/, '');
    // The commit purged the path in every region (store.onStale); its purge request is the answer's.
    const purge = out.purge ?? (await purger.start({ account: account.id, path, prefix: false }, undefined, 8000));
    log.info('media delete', { account: account.id, fileId: r.fileId, purge: purge.requestId, status: purge.status });
    await events.emit(account, 'file.deleted', { fileId: r.fileId });
    // the edge records the path and the files that used it as a layer or font (edge/src/management.ts)
    return c.json({ filePath: r.filePath, path, purge: { requestId: purge.requestId, status: purge.status } }, 200, {
      [EDGE_PURGE_HEADER]: edgePurgeHeader(edgePurgeItems([{ path, prefix: false }], [purge])),
    });
  });

  // A purge flood (each one a fan-out to every region) meets a per-account rate limit: 429 + Retry-After.
  const purges = purgeLimiter(deps.config.media.purgesPerMinute);
  app.post('/internal/media/:account/purge', async (c) => {
    const account = c.var.account;
    purges.take(account.id, 1);
    const t = (await c.req.json().catch(() => null)) as { url?: string; path?: unknown; prefix?: unknown } | null;
    if (!t || typeof t.path !== 'string' || typeof t.prefix !== 'boolean') throw badRequest('bad purge request');
    const record = await purger.start({ account: account.id, path: t.path, prefix: t.prefix }, t.url, 8000);
    // the edge records the dependents' purges too (edge/src/management.ts)
    const headers = record.dependents?.length ? { [EDGE_PURGE_HEADER]: edgePurgeHeader(edgePurgeItems([], [record])) } : undefined;
    return c.json({ requestId: record.requestId, status: record.status, ...(record.dependents ? { dependents: record.dependents.length } : {}) }, 200, headers);
  });

  app.get('/internal/media/:account/purge/:requestId', async (c) => {
    const account = c.var.account;
    const record = await purger.get(account.id, c.req.param('requestId'));
    if (!record) throw notFound('No purge request with this id.');
    return c.json({ status: record.status, requestId: record.requestId, url: record.url, createdAt: record.createdAt, completedAt: record.completedAt });
  });

  return Object.assign(app, { store });
}
