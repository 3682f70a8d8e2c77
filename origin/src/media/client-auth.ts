/**
 * Client-side uploads (ImageKit): the browser sends `publicKey`, `token`, `expire` and
 * `signature = hex HMAC-SHA1(privateKey, token + expire)` instead of the private key. The
 * signature is compared in constant time, `expire` must lie in the future and less than one hour
 * ahead, and a token is accepted once: the home region remembers tokens until they expire (the
 * home region is the only one that accepts an account's uploads, so one memory suffices; it does
 * not survive a restart, which re-opens at most the remaining hour of already-signed tokens).
 */
import crypto from 'node:crypto';
import type { Account } from '../../../shared/accounts.js';
import { badRequest, unauthorized } from '../../../shared/errors.js';

export const MAX_EXPIRE_AHEAD_S = 3600;
/** Allowance for clocks between the signer and us. */
const SKEW_S = 30;

export class TokenMemory {
  private readonly seen = new Map<string, number>();
  constructor(private readonly cap = 100_000) {}

  /** true when new (and remembers it until expireS). */
  claim(accountId: string, token: string, expireS: number, nowS = Date.now() / 1000): boolean {
    const key = `${accountId}\n${token}`;
    const known = this.seen.get(key);
    if (known !== undefined && known >= nowS) return false;
    if (this.seen.size >= this.cap) for (const [k, exp] of this.seen) if (exp < nowS) this.seen.delete(k);
    if (this.seen.size >= this.cap) return false; // full of live tokens: refuse rather than forget one
    this.seen.set(key, expireS);
    return true;
  }
}

export function verifyClientUpload(
  account: Account,
  fields: { token?: string; expire?: string; signature?: string; publicKey?: string },
  tokens: TokenMemory,
  nowS = Math.floor(Date.now() / 1000),
): void {
  const { token, expire, signature, publicKey } = fields;
  if (!token || !expire || !signature) throw badRequest('client-side upload needs token, expire and signature');
  if (publicKey !== undefined && publicKey !== account.publicKey) throw unauthorized('Your account cannot be authenticated.');
  if (!/^\d{1,12}$/.test(expire)) throw badRequest('expire must be a Unix time in seconds');
  const exp = Number(expire);
  if (exp < nowS) throw badRequest('The signature has expired (expire is in the past).');
  if (exp > nowS + MAX_EXPIRE_AHEAD_S + SKEW_S) throw badRequest('expire must be less than 1 hour into the future');
  const expected = crypto.createHmac('sha1', account.privateKey).update(token + expire).digest('hex');
  const given = Buffer.from(signature.toLowerCase());
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, Buffer.from(expected))) throw unauthorized('Invalid signature.');
  if (!tokens.claim(account.id, token, exp, nowS)) throw badRequest('The token has already been used; send a new token with every upload.');
}
