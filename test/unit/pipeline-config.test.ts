import { describe, expect, it } from 'vitest';
import { configProblems, loadConfigFromEnv, newDefaultConfig, PipelineConfigError } from '../../origin/src/pipeline/config.js';

describe('pipeline config', () => {
  it('has ImageKit-like defaults', () => {
    expect(newDefaultConfig()).toMatchObject({
      maxInputBytes: 40 * 1024 * 1024,
      maxInputPixels: 100_000_000,
      maxOutputDimension: 16383,
      vipsConcurrency: 1,
      vipsCacheMb: 0,
      webpEffort: 2,
      avifEffort: 2,
      avifTune: 'ssim',
    });
    expect(configProblems(newDefaultConfig())).toEqual([]);
  });

  it('checks a config built in code against the same ranges, naming the variable', () => {
    expect(configProblems({ ...newDefaultConfig(), webpEffort: 7, vipsConcurrency: 0 })).toEqual([
      'PIXMESH_VIPS_CONCURRENCY must be an integer 1–64 (got 0)',
      'PIXMESH_WEBP_EFFORT must be an integer 0–6 (got 7)',
    ]);
  });

  it('applies env overrides', () => {
    const c = loadConfigFromEnv({ PIXMESH_MAX_INPUT_BYTES: '1000', PIXMESH_AVIF_EFFORT: '4', PIXMESH_AVIF_TUNE: 'iq', PIXMESH_MAX_FRAMES: '' });
    expect(c).toMatchObject({ maxInputBytes: 1000, avifEffort: 4, avifTune: 'iq', maxFrames: 100 });
  });

  it('reports every bad value at once', () => {
    const load = () =>
      loadConfigFromEnv({ PIXMESH_MAX_INPUT_BYTES: '40MB', PIXMESH_WEBP_EFFORT: '9', PIXMESH_AVIF_TUNE: 'fast', PIXMESH_VIPS_CONCURRENCY: '0' });
    expect(load).toThrow(PipelineConfigError);
    expect(load).toThrow(
      expect.objectContaining({
        problems: [
          'PIXMESH_MAX_INPUT_BYTES must be an integer 1–2147483648 (got "40MB")',
          'PIXMESH_VIPS_CONCURRENCY must be an integer 1–64 (got "0")',
          'PIXMESH_WEBP_EFFORT must be an integer 0–6 (got "9")',
          'PIXMESH_AVIF_TUNE must be ssim, iq, psnr or auto (got "fast")',
        ],
      }),
    );
  });
});
