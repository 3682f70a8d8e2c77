/**
 * Renders that can be stopped: a pool of child processes running the same pipeline, each job
 * killed (SIGKILL) when it outlives its deadline. libvips' own timeout stops pixel passes, but
 * not what happens inside a loader — librsvg rasterising an SVG with a heavy filter runs to the
 * end, holding a transform slot for minutes. In a child process the deadline is absolute: the
 * process dies, its memory is returned, the slot is freed, and the caller gets 503 EBUSY (which
 * render.ts marks request-scoped, so the edge does not fail over to burn another region).
 *
 * Which renders go here: the pipeline config's renderIsolation (PIXMESH_RENDER_ISOLATION = `svg`,
 * the default: SVG originals; `all`; or `off`), and — unless it is `off` — every heavy render
 * (its cost estimate says so: origin/src/queue.ts). Heavy renders have a pool of their own whose
 * children run at a lower OS priority (PIXMESH_HEAVY_RENDER_NICE, default 10): a cheap render of
 * another tenant, in the region process or a normal child, gets the CPU as soon as it is runnable
 * (#12 point 7). Children are started lazily and kept warm; a killed child is replaced on next use.
 * Importing this module starts nothing and reads no environment.
 */
import { accessSync, constants } from 'node:fs';
import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { busy, PixmeshError, type ErrorCode } from '../../../shared/errors.js';
import type { TransformPlan } from '../../../shared/transform/index.js';
import { newDefaultConfig, type IsolationMode, type PipelineConfig } from './config.js';
import { renderImage, type RenderOptions, type RenderResult } from './index.js';
import { looksLikeSvg } from './svg-guard.js';

export type { IsolationMode } from './config.js';

/** Grace after the pipeline's own deadline before the child is killed (it usually stops itself). */
const KILL_GRACE_MS = 500;
const SPAWN_TIMEOUT_MS = 15_000;
/** The child is this module's sibling: compiled JS in a region process (origin/start.mjs), TypeScript through tsx in tests. */
const COMPILED = import.meta.url.endsWith('.js');
const CHILD = fileURLToPath(new URL(COMPILED ? './isolate-child.js' : './isolate-child.ts', import.meta.url));

interface Job {
  input: Buffer;
  plan: TransformPlan;
  opts: Omit<RenderOptions, 'signal'>;
}

/** The child asks the parent for a layer image / font (the region's fetcher stays in the parent). */
export interface LayerRequest {
  type: 'fetchLayer';
  id: number;
  req: number;
  path: string;
  kind: 'image' | 'font';
}
export interface LayerReply {
  type: 'layer';
  req: number;
  data?: Uint8Array;
  error?: { status: number; code: ErrorCode; message: string };
}

export interface ChildReply {
  type?: undefined;
  id: number;
  ok: boolean;
  result?: Omit<RenderResult, 'data'> & { data: Uint8Array };
  error?: { status: number; code: ErrorCode; message: string; retryAfter?: number };
}

/** The child reads its niceness from here and applies it to all its threads (./isolate-child.ts). */
export const NICE_ENV = 'PIXMESH_RENDER_CHILD_NICE';

let chrtPath: string | null | undefined;
/** util-linux's chrt on PATH (Linux), found once; null when there is none. */
function chrt(): string | null {
  if (chrtPath === undefined) {
    chrtPath = null;
    if (process.platform === 'linux')
      for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
        const candidate = path.join(dir || '.', 'chrt');
        try {
          accessSync(candidate, constants.X_OK);
          chrtPath = candidate;
          break;
        } catch {
          // not here
        }
      }
  }
  return chrtPath;
}

/**
 * How a render child is started: `idle` (the heavy pool under the `idle` policy) runs it under
 * SCHED_IDLE — `chrt --idle 0 node …`, so every thread it ever has (libvips' workers too) is in
 * that class from the first instruction. The kernel then preempts it at once for any other
 * runnable task, across process groups and sessions (a niceness only weighs against tasks of the
 * same group: on a desktop kernel with autogroups, against nothing outside the region process
 * itself), and the scheduler places a waking task on a CPU that runs only SCHED_IDLE work as if
 * it were idle. Work-conserving: with nothing else runnable the heavy renders use every core.
 */
function forkChild(nice: number, idle: boolean): ChildProcess {
  const execArgv = COMPILED ? [] : ['--import', 'tsx'];
  const launcher = idle ? chrt() : null;
  return fork(CHILD, [], {
    ...(launcher ? { execPath: launcher, execArgv: ['--idle', '0', process.execPath, ...execArgv] } : { execArgv }),
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, [NICE_ENV]: String(nice) },
  });
}

class Child {
  readonly proc: ChildProcess;
  readonly ready: Promise<void>;
  busy = false;
  dead = false;
  constructor(nice: number, idle: boolean) {
    this.proc = forkChild(nice, idle);
    // The main thread at once (threads it starts inherit it: the child's start-up runs niced too);
    // the child sets every thread that was there before (./isolate-child.ts).
    if (nice > 0 && this.proc.pid !== undefined)
      try {
        os.setPriority(this.proc.pid, nice);
      } catch {
        // exited already
      }
    this.proc.once('exit', () => {
      this.dead = true;
    });
    this.ready = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('render child did not start')), SPAWN_TIMEOUT_MS);
      this.proc.once('message', () => {
        clearTimeout(t);
        resolve();
      });
      this.proc.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`render child exited (${code})`));
      });
    });
    this.ready.catch(() => undefined);
  }
  kill(): void {
    this.dead = true;
    this.proc.kill('SIGKILL');
  }
}

export class RenderIsolates {
  private readonly idle: Child[] = [];
  private nextId = 1;
  /** Children killed at the deadline (for tests and metrics). */
  killed = 0;
  private exitHook?: () => void;

  /** `lowPriority`: children run at the config's heavyRenderNice, under SCHED_IDLE with heavyRenderPolicy `idle` (the heavy-render pool). */
  constructor(readonly lowPriority = false) {}

  /** Run one render in a child; killed at the render deadline + grace. */
  async render(input: Buffer, plan: TransformPlan, opts: RenderOptions): Promise<RenderResult> {
    const config: PipelineConfig = opts.config ?? newDefaultConfig();
    let child = this.idle.pop();
    while (child?.dead) child = this.idle.pop();
    if (!child) {
      // The first child registers the pool's clean-up on exit (nothing is registered at import).
      if (!this.exitHook) process.once('exit', (this.exitHook = () => this.close()));
      child = new Child(this.lowPriority ? config.heavyRenderNice : 0, this.lowPriority && config.heavyRenderPolicy === 'idle');
    }
    await child.ready;
    const id = this.nextId++;
    const limitMs = config.renderTimeoutSeconds * 1000 + KILL_GRACE_MS;
    child.busy = true;
    const c = child;
    const job: Job & { id: number; layers: boolean } = {
      id,
      input,
      plan,
      opts: { format: opts.format, dpr: opts.dpr, widthHint: opts.widthHint, defaults: opts.defaults, config: { ...config, decodedCacheMb: 0 }, focusArea: opts.focusArea, source: opts.source },
      layers: opts.fetchLayer !== undefined,
    };
    try {
      const reply = await new Promise<ChildReply>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          c.proc.off('message', onMessage);
          c.proc.off('exit', onExit);
          opts.signal?.removeEventListener('abort', onAbort);
        };
        const onMessage = (m: ChildReply | LayerRequest) => {
          if (m.id !== id) return;
          if (m.type === 'fetchLayer') {
            const answer = (r: LayerReply) => {
              if (!c.dead) c.proc.send(r);
            };
            (opts.fetchLayer ? opts.fetchLayer(m.path, m.kind) : Promise.reject(new Error('no layer fetcher'))).then(
              (buf) => answer({ type: 'layer', req: m.req, data: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) }),
              (e: unknown) => {
                const pe = e as PixmeshError;
                answer({ type: 'layer', req: m.req, error: { status: pe.status ?? 502, code: pe.code ?? 'EUPSTREAM', message: pe.message ?? String(e) } });
              },
            );
            return;
          }
          done();
          resolve(m);
        };
        const onExit = () => {
          done();
          reject(busy('the render process died (out of memory?)', 1, 503));
        };
        const onAbort = () => {
          done();
          c.kill();
          reject(busy('the render was abandoned', 1, 503));
        };
        const timer = setTimeout(() => {
          done();
          c.kill();
          this.killed++;
          reject(busy(`the render took longer than ${config.renderTimeoutSeconds} s and was stopped`, 1, 503));
        }, limitMs);
        c.proc.on('message', onMessage);
        c.proc.once('exit', onExit);
        // The caller gave up while the child started (the event has fired already): nothing was
        // sent, so the child stays warm for the next job.
        if (opts.signal?.aborted) {
          done();
          return reject(busy('the render was abandoned', 1, 503));
        }
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        c.proc.send(job);
      });
      if (!reply.ok || !reply.result) {
        const e = reply.error ?? { status: 500, code: 'EUPSTREAM' as const, message: 'render failed' };
        throw new PixmeshError(e.status, e.code, e.message, { retryAfter: e.retryAfter });
      }
      return { ...reply.result, data: Buffer.from(reply.result.data.buffer, reply.result.data.byteOffset, reply.result.data.byteLength) };
    } finally {
      c.busy = false;
      if (!c.dead) this.idle.push(c);
    }
  }

  /** Process ids of the warm children (tests and metrics). */
  childPids(): number[] {
    return this.idle.filter((c) => !c.dead && c.proc.pid !== undefined).map((c) => c.proc.pid!);
  }

  close(): void {
    for (const c of this.idle.splice(0)) c.kill();
  }
}

/** The process-wide pools (children start on first use): normal priority, and heavy renders'. */
export const isolates = new RenderIsolates();
export const heavyIsolates = new RenderIsolates(true);

/**
 * renderImage, in a killable child when the isolation mode says so for this input; a heavy render
 * (unless isolation is `off`) in the low-priority pool.
 */
export function renderBounded(
  input: Buffer,
  plan: TransformPlan,
  opts: RenderOptions,
  mode: IsolationMode = (opts.config ?? newDefaultConfig()).renderIsolation,
  heavy = false,
): Promise<RenderResult> {
  if (heavy && mode !== 'off') return heavyIsolates.render(input, plan, opts);
  const isolate = mode === 'all' || (mode === 'svg' && looksLikeSvg(input));
  return isolate ? isolates.render(input, plan, opts) : renderImage(input, plan, opts);
}
