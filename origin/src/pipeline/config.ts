/**
 * Pipeline configuration: defaults, environment overrides, validation (imgproxy's
 * NewDefaultConfig / LoadConfigFromEnv / Validate trio). Every problem is reported at once.
 *
 * | env | default | meaning |
 * |---|---|---|
 * | PIXMESH_MAX_INPUT_BYTES | 41943040 (40 MB) | largest original accepted (ImageKit: 40 MB) |
 * | PIXMESH_MAX_INPUT_PIXELS | 100000000 | width × height (× frames when animated) of the original |
 * | PIXMESH_MAX_OUTPUT_DIMENSION | 16383 | largest output width or height (WebP's limit) |
 * | PIXMESH_MAX_OUTPUT_PIXELS | 100000000 | output width × height |
 * | PIXMESH_MAX_FRAMES | 100 | frames read from an animated original |
 * | PIXMESH_RENDER_TIMEOUT_SECONDS | 20 | deadline for a whole render: checked between steps, and each libvips pass is stopped at what is left (whole seconds) |
 * | PIXMESH_VIPS_CONCURRENCY | 1 | libvips threads per operation (sharp.concurrency) |
 * | PIXMESH_VIPS_CACHE_MB | 0 | libvips operation cache (0 = off) |
 * | PIXMESH_WEBP_EFFORT | 2 | WebP effort 0–6 (see docs/transformations.md for the measurements) |
 * | PIXMESH_AVIF_EFFORT | 2 | AVIF effort 0–9 |
 * | PIXMESH_AVIF_TUNE | ssim | AVIF tune: ssim, iq, psnr or auto |
 */
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
}

export function newDefaultConfig(): PipelineConfig {
  return {
    maxInputBytes: 40 * 1024 * 1024,
    maxInputPixels: 100_000_000,
    maxOutputDimension: 16383,
    maxOutputPixels: 100_000_000,
    maxFrames: 100,
    renderTimeoutSeconds: 20,
    vipsConcurrency: 1,
    vipsCacheMb: 0,
    webpEffort: 2,
    avifEffort: 2,
    avifTune: 'ssim',
  };
}

export class PipelineConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid pipeline configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'PipelineConfigError';
  }
}

const INT_ENV: [keyof PipelineConfig, string][] = [
  ['maxInputBytes', 'PIXMESH_MAX_INPUT_BYTES'],
  ['maxInputPixels', 'PIXMESH_MAX_INPUT_PIXELS'],
  ['maxOutputDimension', 'PIXMESH_MAX_OUTPUT_DIMENSION'],
  ['maxOutputPixels', 'PIXMESH_MAX_OUTPUT_PIXELS'],
  ['maxFrames', 'PIXMESH_MAX_FRAMES'],
  ['renderTimeoutSeconds', 'PIXMESH_RENDER_TIMEOUT_SECONDS'],
  ['vipsConcurrency', 'PIXMESH_VIPS_CONCURRENCY'],
  ['vipsCacheMb', 'PIXMESH_VIPS_CACHE_MB'],
  ['webpEffort', 'PIXMESH_WEBP_EFFORT'],
  ['avifEffort', 'PIXMESH_AVIF_EFFORT'],
];

/** Apply env overrides onto `base`; throws PipelineConfigError listing every bad value. */
export function loadConfigFromEnv(env: Record<string, string | undefined>, base: PipelineConfig = newDefaultConfig()): PipelineConfig {
  const c: PipelineConfig = { ...base };
  const problems: string[] = [];
  for (const [field, name] of INT_ENV) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n)) problems.push(`${name} must be a non-negative integer (got "${raw}")`);
    else (c as unknown as Record<string, number>)[field] = n;
  }
  const tune = env.PIXMESH_AVIF_TUNE;
  if (tune !== undefined && tune !== '') {
    if (tune === 'ssim' || tune === 'iq' || tune === 'psnr' || tune === 'auto') c.avifTune = tune;
    else problems.push(`PIXMESH_AVIF_TUNE must be ssim, iq, psnr or auto (got "${tune}")`);
  }
  problems.push(...configProblems(c));
  if (problems.length) throw new PipelineConfigError(problems);
  return c;
}

export function configProblems(c: PipelineConfig): string[] {
  const p: string[] = [];
  const range = (name: string, v: number, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max) p.push(`${name} must be an integer ${min}–${max} (got ${v})`);
  };
  range('maxInputBytes', c.maxInputBytes, 1, 2 ** 31);
  range('maxInputPixels', c.maxInputPixels, 1, 0x3fff * 0x3fff * 10);
  range('maxOutputDimension', c.maxOutputDimension, 1, 65535);
  range('maxOutputPixels', c.maxOutputPixels, 1, 0x3fff * 0x3fff * 10);
  range('maxFrames', c.maxFrames, 1, 10000);
  range('renderTimeoutSeconds', c.renderTimeoutSeconds, 1, 3600);
  range('vipsConcurrency', c.vipsConcurrency, 1, 64);
  range('vipsCacheMb', c.vipsCacheMb, 0, 4096);
  range('webpEffort', c.webpEffort, 0, 6);
  range('avifEffort', c.avifEffort, 0, 9);
  return p;
}

export function validateConfig(c: PipelineConfig): PipelineConfig {
  const problems = configProblems(c);
  if (problems.length) throw new PipelineConfigError(problems);
  return c;
}
