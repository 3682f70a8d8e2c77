/** Types shared by the origin modules. */
export interface Original {
  body: Buffer;
  contentType?: string;
  /** Which origin answered, e.g. "s3:demo-origin". */
  source: string;
  /** Marked private by its origin (S3 metadata isprivatefile, or Is-Private-File): needs a signed URL. */
  isPrivate: boolean;
  /** When the original last changed (ms), from S3's LastModified or the web origin's Last-Modified. */
  lastModified?: number;
}

export interface FetchLimits {
  maxBytes: number;
  fetch: { connectTimeoutMs: number; headerTimeoutMs: number; bodyTimeoutMs: number; maxRedirects: number };
  signal?: AbortSignal;
}
