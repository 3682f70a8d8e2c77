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

  constructor(readonly file: string) {
    this.seen = this.identity();
    this.text = fs.readFileSync(file, 'utf8');
    this.index = AccountIndex.fromJson(this.text);
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
    if (text === this.text) return false;
    try {
      this.index = AccountIndex.fromJson(text);
      this.text = text;
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
