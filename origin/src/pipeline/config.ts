/**
 * Pipeline configuration: the spec (env, default, range, meaning) this module owns. The origin's
 * main composes it with every other module's spec and validates all of them once at boot
 * (origin/src/config.ts); nothing here reads process.env. `newDefaultConfig()` is the config with
 * no environment (tests build variants of it; `configProblems` checks them against the same ranges).
 */
import { MAX_DIMENSION } from '../../../shared/transform/params.js';
import { int, oneOf, readSpec, specDefaults, specProblems, type ConfigSpec, type Env } from '../config-spec.js';

export type IsolationMode = 'svg' | 'all' | 'off';

export interface PipelineConfig {
  maxInputBytes: number;
  maxInputPixels: number;
  maxOutputDimension: number;
  maxOutputPixels: number;
  maxFrames: number;
  renderTimeoutSeconds: number;
  vipsConcurrency: number;
  vipsCacheMb: number;
  webpEffort: number;
  avifEffort: number;
  avifTune: 'ssim' | 'iq' | 'psnr' | 'auto';
  /** Bound of the decoded-original cache, MB (0 = off; ./decoded-cache.ts). */
  decodedCacheMb: number;
  /** Which renders run in a killable child process (./isolate.ts). */
  renderIsolation: IsolationMode;
  /** OS niceness of the child processes heavy renders run in (./isolate.ts). */
  heavyRenderNice: number;
  /** `idle`: heavy-render children run under SCHED_IDLE (Linux, through chrt; else the niceness alone); `nice`: the niceness alone. */
  heavyRenderPolicy: 'idle' | 'nice';
}

const PIXELS_CEILING = MAX_DIMENSION * MAX_DIMENSION * 10;

export const PIPELINE_CONFIG_SPEC: ConfigSpec<PipelineConfig> = {
  maxInputBytes: int('PIXMESH_MAX_INPUT_BYTES', 40 * 1024 * 1024, 'largest original accepted from any origin, bytes (ImageKit: 40 MB)', 1, 2 ** 31),
  maxInputPixels: int('PIXMESH_MAX_INPUT_PIXELS', 100_000_000, 'width × height (× frames read when animated) of the original', 1, PIXELS_CEILING),
  maxOutputDimension: int('PIXMESH_MAX_OUTPUT_DIMENSION', MAX_DIMENSION, "largest output width or height (WebP's limit)", 1, 65535),
  maxOutputPixels: int('PIXMESH_MAX_OUTPUT_PIXELS', 100_000_000, 'output width × height', 1, PIXELS_CEILING),
  maxFrames: int('PIXMESH_MAX_FRAMES', 100, 'frames read from an animated original', 1, 10000),
  renderTimeoutSeconds: int(
    'PIXMESH_RENDER_TIMEOUT_SECONDS',
    20,
    'deadline for a whole render: checked between steps, and each libvips pass is stopped at what is left',
    1,
    3600,
  ),
  vipsConcurrency: int('PIXMESH_VIPS_CONCURRENCY', 1, 'libvips threads per operation (sharp.concurrency)', 1, 64),
  vipsCacheMb: int('PIXMESH_VIPS_CACHE_MB', 0, 'libvips operation cache (0 = off)', 0, 4096),
  webpEffort: int('PIXMESH_WEBP_EFFORT', 2, 'WebP effort (see docs/transformations.md for the measurements)', 0, 6),
  avifEffort: int('PIXMESH_AVIF_EFFORT', 2, 'AVIF effort', 0, 9),
  avifTune: oneOf('PIXMESH_AVIF_TUNE', ['ssim', 'iq', 'psnr', 'auto'], 'ssim', 'AVIF tune'),
  decodedCacheMb: int(
    'PIXMESH_DECODED_CACHE_MB',
    32,
    'decoded-original cache: pixels of recently rendered JPEG originals at their shrink-on-load scale, so other sizes of one original skip the decode (0 = off)',
    0,
    4096,
  ),
  renderIsolation: oneOf('PIXMESH_RENDER_ISOLATION', ['svg', 'all', 'off'], 'svg', 'renders run in a killable child process: SVG originals, all, or none'),
  heavyRenderNice: int('PIXMESH_HEAVY_RENDER_NICE', 10, 'OS niceness of the child processes heavy renders run in (0 = same priority as cheap ones)', 0, 19),
  heavyRenderPolicy: oneOf(
    'PIXMESH_HEAVY_RENDER_POLICY',
    ['idle', 'nice'],
    'idle',
    'heavy-render children: idle = Linux SCHED_IDLE (they run only on CPU time nothing else wants; needs chrt, else the niceness alone), nice = the niceness alone',
  ),
};

export const newDefaultConfig = (): PipelineConfig => specDefaults(PIPELINE_CONFIG_SPEC);

export class PipelineConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid pipeline configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'PipelineConfigError';
  }
}

/** The pipeline's config alone from `env` (the origin reads it with every other spec in config.ts). */
export function loadConfigFromEnv(env: Env): PipelineConfig {
  const problems: string[] = [];
  const c = readSpec(PIPELINE_CONFIG_SPEC, env, problems);
  if (problems.length) throw new PipelineConfigError(problems);
  return c;
}

export const configProblems = (c: PipelineConfig): string[] => specProblems(PIPELINE_CONFIG_SPEC, c);

export function validateConfig(c: PipelineConfig): PipelineConfig {
  const problems = configProblems(c);
  if (problems.length) throw new PipelineConfigError(problems);
  return c;
}
