/**
 * Home-region resolution for the routes about one account whose writes happen only in its home
 * region (the media library, the account configuration, webhooks): the account is resolved once
 * per request by `requireHome` and read by the handlers as `c.var.account`.
 */
import type { MiddlewareHandler } from 'hono';
import type { Account } from '../../shared/accounts.js';
import { notFound, PixmeshError } from '../../shared/errors.js';
import type { AccountDirectory } from './accounts.js';

/** The Hono variables of a route under `requireHome`. */
export type HomeVars = { Variables: { account: Account } };

/** The account, if `region` is its home: 404 ENOENT when unknown, 421 EUPSTREAM when another region is home. */
export function homeAccount(accounts: AccountDirectory, region: string, id: string): Account {
  const account = accounts.get(id);
  if (!account) throw notFound(`unknown account "${id}"`);
  if (account.homeRegion !== region) throw new PixmeshError(421, 'EUPSTREAM', `${region} is not ${id}'s home region`);
  return account;
}

/** Middleware for routes with an `:account` parameter: sets `account` (or throws as homeAccount does). */
export function requireHome(accounts: AccountDirectory, region: string): MiddlewareHandler<HomeVars> {
  return async (c, next) => {
    c.set('account', homeAccount(accounts, region, c.req.param('account') ?? ''));
    await next();
  };
}
