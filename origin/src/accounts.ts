/**
 * The account directory: the account file, validated at boot (a bad file refuses to start) and
 * reloaded when it changes (a bad edit keeps the last good version and logs every problem).
 */
import fs from 'node:fs';
import { AccountIndex, type Account } from '../../shared/accounts.js';
import type { RegionId } from '../../shared/regions.js';
import { log } from './log.js';

export class AccountDirectory {
  private index: AccountIndex;
  private text: string;
  private timer: NodeJS.Timeout | undefined;
  /** The file's identity when it was last read (the baseline for change detection). */
  private seen: string;

  /** The account file as read (the seed); `text` is it with the overlays applied. */
  private fileText: string;
  /**
   * Per account, fields of the account file replaced by configuration stored as data
   * (origin/src/account-config.ts: named transformations set through the API). Validated like the file.
   */
  private readonly overlays = new Map<string, Record<string, unknown>>();

  constructor(readonly file: string) {
    this.seen = this.identity();
    this.fileText = fs.readFileSync(file, 'utf8');
    this.text = this.fileText;
    this.index = AccountIndex.fromJson(this.text);
  }

  /** The file's text with these overlays applied (throws AccountFileError when the result is invalid). */
  private compose(fileText: string, overlays: Map<string, Record<string, unknown>>): { text: string; index: AccountIndex } {
    if (overlays.size === 0) return { text: fileText, index: AccountIndex.fromJson(fileText) };
    const data = JSON.parse(fileText) as { accounts?: Record<string, unknown>[] };
    for (const a of data.accounts ?? []) {
      // Webhook endpoints made through the API are delivered to as well as the file's (origin/src/account-webhooks.ts).
      const { webhooks, ...rest } = overlays.get(a.id as string) ?? {};
      Object.assign(a, rest);
      if (Array.isArray(webhooks)) a.webhooks = [...(Array.isArray(a.webhooks) ? a.webhooks : []), ...webhooks];
    }
    const text = JSON.stringify(data);
    return { text, index: AccountIndex.fromJson(text) };
  }

  /** Checks an overlay without applying it: the account as it would be (throws AccountFileError). */
  preview(id: string, overlay: Record<string, unknown>): Account | undefined {
    const next = new Map(this.overlays).set(id, overlay);
    return this.compose(this.fileText, next).index.get(id);
  }

  /** Applies (or, with undefined, drops) an account's overlay; an invalid one is refused and logged. */
  setOverlay(id: string, overlay: Record<string, unknown> | undefined): boolean {
    const next = new Map(this.overlays);
    if (overlay) next.set(id, overlay);
    else next.delete(id);
    try {
      const built = this.compose(this.fileText, next);
      this.overlays.clear();
      for (const [k, v] of next) this.overlays.set(k, v);
      this.index = built.index;
      this.text = built.text;
      return true;
    } catch (e) {
      log.error('stored account configuration invalid; keeping the last good version', { account: id, err: (e as Error).message });
      return false;
    }
  }

  private identity(): string {
    try {
      const st = fs.statSync(this.file);
      return `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      return 'missing';
    }
  }

  get(id: string): Account | undefined {
    return this.index.get(id);
  }
  byHost(host: string): Account | undefined {
    return this.index.byHost(host);
  }
  /** The region that stores and transforms this account's originals (undefined for unknown accounts). */
  homeRegion(id: string): RegionId | undefined {
    return this.index.get(id)?.homeRegion;
  }
  all(): Account[] {
    return this.index.accounts;
  }
  /** The validated file's text, served to the edge over the internal API. */
  raw(): string {
    return this.text;
  }

  reload(): boolean {
    this.seen = this.identity();
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (e) {
      log.warn('account file unreadable; keeping the last good version', { file: this.file, err: String(e) });
      return false;
    }
    if (text === this.fileText) return false;
    try {
      const built = this.compose(text, this.overlays);
      this.index = built.index;
      this.text = built.text;
      this.fileText = text;
      log.info('account file reloaded', { file: this.file, accounts: this.index.accounts.length });
      return true;
    } catch (e) {
      log.error('account file invalid; keeping the last good version', { file: this.file, err: (e as Error).message });
      return false;
    }
  }

  /**
   * Poll for changes (works on every filesystem, including bind mounts and files replaced by
   * rename). The baseline is the file as it was read, so an edit made before the first poll is
   * not missed (fs.watchFile takes its own baseline later).
   */
  watch(intervalMs = 1000): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.identity() !== this.seen) this.reload();
    }, intervalMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
