/** The dashboard bundled into the Worker is built from the committed sources (scripts/build-dashboard.ts). */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildDashboard, GENERATED } from '../../scripts/build-dashboard.js';

describe('dashboard bundle', () => {
  it('edge/src/dashboard/assets.generated.ts matches a fresh build of dashboard/ (run npx tsx scripts/build-dashboard.ts)', async () => {
    const fresh = await buildDashboard();
    expect(fs.readFileSync(GENERATED, 'utf8') === fresh).toBe(true);
  });
  it('ships the page, the script and the stylesheet, and the script loads nothing from another host', async () => {
    const { ASSETS } = await import('../../edge/src/dashboard/assets.generated.js');
    expect(Object.keys(ASSETS).sort()).toEqual(['app.css', 'app.js', 'index.html']);
    expect(ASSETS['index.html']!.body).toContain('<script type="module" src="/_dashboard/app.js">');
    expect(ASSETS['app.js']!.body).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });
});
