/**
 * The render deadline, in process (no cluster): PIXMESH_RENDER_TIMEOUT_SECONDS must bound a
 * whole render, not each libvips materialisation. A tiny original with a long chain of steps is
 * the cheapest way to ask for a lot of work (MAX_STEPS = 20, each step up to the output limit).
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ACCOUNT_DEFAULTS } from '../../shared/accounts.js';
import { isPixmeshError } from '../../shared/errors.js';
import { parseTransformation } from '../../shared/transform/index.js';
import { newDefaultConfig, renderImage } from '../../origin/src/pipeline/index.js';
import { recordFigures } from './harness.js';

describe('render deadline', () => {
  it('a 20-step chain (upscale + rotate each step) on a 64×48 original ends within the 1 s deadline + 1 s: an image or 503 EBUSY', async () => {
    const tiny = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#808080' } }).jpeg().toBuffer();
    const tr = Array.from({ length: 20 }, (_, i) => `w-${1500 + i},rt-90`).join(':');
    const t0 = performance.now();
    const outcome = await renderImage(tiny, parseTransformation(tr, {}), {
      format: 'jpeg',
      defaults: DEFAULT_ACCOUNT_DEFAULTS,
      config: { ...newDefaultConfig(), renderTimeoutSeconds: 1 },
    }).then(
      (r) => `200 ${r.width}x${r.height}`,
      (e: unknown) => (isPixmeshError(e) ? `${e.status} ${e.code}` : `crash ${String(e)}`),
    );
    const ms = Math.round(performance.now() - t0);
    recordFigures('renderDeadline', { deadlineMs: 1000, tookMs: ms, outcome });
    expect(outcome.startsWith('200') || outcome === '503 EBUSY', outcome).toBe(true);
    expect(ms).toBeLessThan(2000);
  });
});
