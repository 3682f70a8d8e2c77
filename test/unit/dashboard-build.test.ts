/** The dashboard bundle the Worker serves (scripts/build-dashboard.ts): complete, self-contained, reproducible. */
import { describe, expect, it } from 'vitest';
import { buildDashboard } from '../../scripts/build-dashboard.js';

describe('dashboard bundle', () => {
  it('ships the page, the script and the stylesheet; the script loads nothing from another host; two builds are identical', async () => {
    const out = await buildDashboard();
    const mod = (await import(`data:text/javascript;base64,${Buffer.from(out).toString('base64')}`)) as { ASSETS: Record<string, { type: string; body: string; etag: string }> };
    expect(Object.keys(mod.ASSETS).sort()).toEqual(['app.css', 'app.js', 'index.html']);
    expect(mod.ASSETS['index.html']!.body).toContain('<script type="module" src="/_dashboard/app.js">');
    expect(mod.ASSETS['app.js']!.type).toMatch(/^text\/javascript/);
    // The only absolute URL in the bundle is the SVG namespace.
    expect(mod.ASSETS['app.js']!.body.match(/https?:\/\/[^\s"'`)]+/g)?.filter((u) => u !== 'http://www.w3.org/2000/svg') ?? []).toEqual([]);
    expect(await buildDashboard()).toBe(out);
  });
});
