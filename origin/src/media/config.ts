/**
 * The media library's configuration spec (composed with every other module's at boot in
 * origin/src/config.ts; nothing here reads process.env).
 */
import { int, text, type ConfigSpec } from '../config-spec.js';

/** Previous versions kept per file unless PIXMESH_MEDIA_MAX_VERSIONS says otherwise. */
export const DEFAULT_MAX_VERSIONS = 10;
/** Files a folder job relocates before it saves its progress, unless PIXMESH_MEDIA_JOB_STEP says otherwise. */
export const DEFAULT_JOB_STEP = 20;
/** Purge requests per account per minute at its home region, unless PIXMESH_PURGES_PER_MINUTE says otherwise. */
export const DEFAULT_PURGES_PER_MIN = 60;

export interface MediaLimits {
  /** Largest file accepted (decoded bytes): images and files other than SVG and video. ImageKit's free plan: 25 MB. */
  maxUploadBytes: number;
  /** Largest SVG (it is sanitised on delivery: origin/src/delivery/svg.ts). */
  maxSvgBytes: number;
  /** Largest video or audio file (served as it is, with Range). */
  maxVideoBytes: number;
  /** Largest image accepted, width × height × frames. */
  maxPixels: number;
  /** A request body that stalls this long is abandoned (nothing is written). */
  idleMs: number;
  /** Upload from URL: the URL must answer within this (ImageKit: 8 s). */
  urlTimeoutMs: number;
  /** Uploads processed at once in this region (a slot is taken once the body is in); waiting longer than slotWaitMs: 503 EBUSY with Retry-After. */
  maxConcurrentUploads: number;
  /** How long an upload whose body is in may wait for a slot. */
  slotWaitMs: number;
  /** The whole body must arrive within this (a client trickling bytes is cut off): 408. */
  deadlineMs: number;
  /** Uploads of one account in flight at once (arriving or processed); beyond it: 429 EBUSY with Retry-After. */
  perAccountUploads: number;
  /** Upload bodies arriving at once in this region (all accounts); beyond it: 503 EBUSY. */
  maxUploadReaders: number;
  /** Previous versions kept per file (overwrites, copies onto a file, restores); older ones are deleted. */
  maxVersions: number;
  /** Files a folder job relocates before it saves its progress. */
  jobStep: number;
}

export interface MediaConfig extends MediaLimits {
  /** Purge requests per account per minute at its home region (a token bucket). */
  purgesPerMinute: number;
  /** How often counted delivery bytes are written to the region's usage records. */
  usageFlushMs: number;
  /** The edge's base URL: every purge this home region takes is told to it (media/purge.ts); '' = none. */
  edgeUrl: string;
}

export const MEDIA_CONFIG_SPEC: ConfigSpec<MediaConfig> = {
  maxUploadBytes: int('PIXMESH_UPLOAD_MAX_BYTES', 25 * 1024 * 1024, 'largest uploaded file other than SVG and video, bytes', 1),
  maxSvgBytes: int('PIXMESH_UPLOAD_MAX_SVG_BYTES', 5 * 1024 * 1024, 'largest uploaded SVG, bytes', 1),
  maxVideoBytes: int('PIXMESH_UPLOAD_MAX_VIDEO_BYTES', 40 * 1024 * 1024, 'largest uploaded video or audio file, bytes', 1),
  maxPixels: int('PIXMESH_UPLOAD_MAX_PIXELS', 100_000_000, 'largest uploaded image, width × height × frames', 1),
  idleMs: int('PIXMESH_UPLOAD_IDLE_MS', 30_000, 'an upload body that stalls this long is abandoned', 1),
  urlTimeoutMs: int('PIXMESH_UPLOAD_URL_TIMEOUT_MS', 8000, 'upload from URL: the URL must answer within this', 1),
  maxConcurrentUploads: int('PIXMESH_UPLOAD_CONCURRENCY', 8, 'uploads processed at once in this region', 1),
  slotWaitMs: int('PIXMESH_UPLOAD_SLOT_WAIT_MS', 10_000, 'how long an upload whose body is in may wait for a slot', 1),
  deadlineMs: int('PIXMESH_UPLOAD_DEADLINE_MS', 120_000, 'the whole upload body must arrive within this (408)', 1),
  perAccountUploads: int('PIXMESH_UPLOAD_PER_ACCOUNT', 4, 'uploads of one account in flight at once (429 beyond)', 1),
  maxUploadReaders: int('PIXMESH_UPLOAD_READERS', 64, 'upload bodies arriving at once in this region (503 beyond)', 1),
  maxVersions: int('PIXMESH_MEDIA_MAX_VERSIONS', DEFAULT_MAX_VERSIONS, 'previous versions kept per file', 1),
  jobStep: int('PIXMESH_MEDIA_JOB_STEP', DEFAULT_JOB_STEP, 'files a folder job relocates before it saves its progress', 1),
  purgesPerMinute: int('PIXMESH_PURGES_PER_MINUTE', DEFAULT_PURGES_PER_MIN, 'purge requests per account per minute', 1),
  usageFlushMs: int('PIXMESH_USAGE_FLUSH_MS', 10_000, 'how often delivery-usage counts are written to the bucket', 1),
  edgeUrl: text('PIXMESH_EDGE_URL', '', "the edge's base URL: every purge the home region takes (crash replays of the media journal included) is told to it; empty = only through the API answers"),
};
