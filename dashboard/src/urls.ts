/** pixmesh image URLs as the official SDKs build them, signed (shared/signing.ts) when the account or file requires it. */
import { signImageUrl } from '../../shared/signing.js';
import type { Credentials, Session } from './api.js';

/** "/photos/a b.jpg" → "/photos/a%20b.jpg" (each segment encoded, slashes kept). */
export const encodePath = (filePath: string) =>
  filePath
    .split('/')
    .map((seg) => encodeURIComponent(seg))
    .join('/');

export function unsignedUrl(session: Session, filePath: string, tr: string): string {
  const p = encodePath(filePath.startsWith('/') ? filePath : `/${filePath}`);
  return tr ? `${session.urlEndpoint}/tr:${tr}${p}` : `${session.urlEndpoint}${p}`;
}

/** The URL to show or load: signed when the account requires signatures or `sign` asks for one. */
export async function imageUrl(creds: Credentials, session: Session, filePath: string, tr: string, sign = false, expiresInS = 0): Promise<string> {
  const url = unsignedUrl(session, filePath, tr);
  if (!sign && session.signedUrls !== 'required') return url;
  const expiresAt = expiresInS > 0 ? Math.floor(Date.now() / 1000) + expiresInS : undefined;
  return signImageUrl(creds.privateKey, session.urlEndpoint, url, expiresAt);
}
