/**
 * The demo's sample images, drawn here (SVG → sharp) so the repo ships no binary photos and no
 * licence questions: a landscape, a portrait, a transparent logo and a nested path; plus static
 * files served as they are (a script, a style sheet, an SVG logo: docs/transformations.md).
 */
import sharp from 'sharp';

export interface Sample {
  key: string;
  contentType: string;
  body: Buffer;
}

const landscape = (w: number, h: number, hue: number) => `
<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">
  <defs>
    <linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="hsl(${hue},70%,65%)"/><stop offset="1" stop-color="hsl(${hue + 30},80%,85%)"/>
    </linearGradient>
  </defs>
  <rect width="100%" height="100%" fill="url(#sky)"/>
  <circle cx="${w * 0.75}" cy="${h * 0.28}" r="${h * 0.12}" fill="#ffd35a"/>
  <path d="M0 ${h * 0.7} L${w * 0.25} ${h * 0.38} L${w * 0.45} ${h * 0.62} L${w * 0.65} ${h * 0.33} L${w} ${h * 0.72} L${w} ${h} L0 ${h} Z" fill="hsl(${hue + 160},30%,35%)"/>
  <path d="M0 ${h * 0.82} Q${w * 0.5} ${h * 0.7} ${w} ${h * 0.85} L${w} ${h} L0 ${h} Z" fill="hsl(${hue + 120},45%,30%)"/>
</svg>`;

const logo = (size: number) => `
<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}">
  <circle cx="${size / 2}" cy="${size / 2}" r="${size * 0.42}" fill="#3b82f6"/>
  <rect x="${size * 0.3}" y="${size * 0.3}" width="${size * 0.4}" height="${size * 0.4}" rx="${size * 0.06}" fill="#ffffff" fill-opacity="0.85"/>
</svg>`;

/** A small site's script and style sheet (repetitive enough that br / gzip visibly pay). */
export const SAMPLE_JS = `// pixmesh demo script: served byte for byte, compressed (br / gzip) at the edge
export function greet(name) {
  const el = document.querySelector('#greeting');
  if (el) el.textContent = \`Hello, \${name}!\`;
  return el;
}
${Array.from({ length: 40 }, (_, i) => `export const size${i} = { w: ${(i + 1) * 40}, h: ${(i + 1) * 30}, url: '/demo/tr:w-${(i + 1) * 40}/sample.jpg' };`).join('\n')}
`;
export const SAMPLE_CSS = `/* pixmesh demo style sheet */
:root { --accent: #3b82f6; --text: #1f2937; }
body { font-family: system-ui, sans-serif; color: var(--text); margin: 0; }
${Array.from({ length: 40 }, (_, i) => `.thumb-${i} { width: ${(i + 1) * 40}px; height: ${(i + 1) * 30}px; background-image: url(/demo/tr:w-${(i + 1) * 40}/sample.jpg); }`).join('\n')}
`;

export async function makeSamples(): Promise<Sample[]> {
  const jpeg = async (svg: string) => sharp(Buffer.from(svg)).jpeg({ quality: 90 }).toBuffer();
  return [
    { key: 'sample.jpg', contentType: 'image/jpeg', body: await jpeg(landscape(1600, 1067, 200)) },
    { key: 'portrait.jpg', contentType: 'image/jpeg', body: await jpeg(landscape(800, 1200, 20)) },
    { key: 'photos/harbour.jpg', contentType: 'image/jpeg', body: await jpeg(landscape(2400, 1600, 180)) },
    { key: 'logo.png', contentType: 'image/png', body: await sharp(Buffer.from(logo(512))).png().toBuffer() },
    { key: 'site/app.js', contentType: 'text/javascript', body: Buffer.from(SAMPLE_JS) },
    { key: 'site/style.css', contentType: 'text/css', body: Buffer.from(SAMPLE_CSS) },
    { key: 'logo.svg', contentType: 'image/svg+xml', body: Buffer.from(logo(512).trim()) },
  ];
}
