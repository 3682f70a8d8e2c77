/**
 * The dashboard's calls: the management API and /_dashboard/api/*, with the signed-in account's
 * private key as HTTP Basic (the key lives in sessionStorage only: gone when the tab closes).
 */
const STORE_KEY = 'pixmesh.dashboard.session';

export interface Credentials {
  accountId: string;
  privateKey: string;
}

export interface Session {
  accountId: string;
  operator: boolean;
  homeRegion: string;
  residency: string;
  signedUrls: 'optional' | 'required';
  publicKey: string;
  urlEndpoint: string;
  namedTransforms: Record<string, string>;
  customDomains: string[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function savedCredentials(): Credentials | null {
  try {
    const raw = sessionStorage.getItem(STORE_KEY);
    const v = raw ? (JSON.parse(raw) as Credentials) : null;
    return v && typeof v.accountId === 'string' && typeof v.privateKey === 'string' ? v : null;
  } catch {
    return null;
  }
}

export const saveCredentials = (c: Credentials) => sessionStorage.setItem(STORE_KEY, JSON.stringify(c));
export const forgetCredentials = () => sessionStorage.removeItem(STORE_KEY);

export const basicAuth = (c: Credentials) => `Basic ${btoa(`${c.privateKey}:`)}`;

/** A JSON call; errors become ApiError with the server's message (ImageKit's {message}). */
export async function call<T>(creds: Credentials, method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { authorization: basicAuth(creds) };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'The edge did not answer (is pixmesh running?).');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const msg = json && typeof (json as { message?: unknown }).message === 'string' ? (json as { message: string }).message : `HTTP ${res.status}`;
    throw new ApiError(res.status, msg);
  }
  return json as T;
}

export function signIn(creds: Credentials): Promise<Session> {
  return call<Session>(creds, 'GET', `/_dashboard/api/session?account=${encodeURIComponent(creds.accountId)}`);
}

/** A multipart upload with progress (fetch has no upload progress: XMLHttpRequest does). */
export function upload(
  creds: Credentials,
  file: File,
  folder: string,
  onProgress: (fraction: number) => void,
): Promise<{ fileId: string; name: string; filePath: string; url: string }> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append('file', file);
    form.append('fileName', file.name);
    form.append('folder', folder || '/');
    form.append('useUniqueFileName', 'false');
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/v1/files/upload');
    xhr.setRequestHeader('authorization', basicAuth(creds));
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      let json: { message?: string } & Record<string, unknown> = {};
      try {
        json = JSON.parse(xhr.responseText);
      } catch {
        /* not JSON */
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(json as never);
      else reject(new ApiError(xhr.status, json.message ?? `HTTP ${xhr.status}`));
    };
    xhr.onerror = () => reject(new ApiError(0, 'The upload was interrupted.'));
    xhr.send(form);
  });
}
