/**
 * The demo's sample images, drawn here (SVG → sharp) so the repo ships no binary photos and no
 * licence questions: a landscape, a portrait, a transparent logo and a nested path.
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

export async function makeSamples(): Promise<Sample[]> {
  const jpeg = async (svg: string) => sharp(Buffer.from(svg)).jpeg({ quality: 90 }).toBuffer();
  return [
    { key: 'sample.jpg', contentType: 'image/jpeg', body: await jpeg(landscape(1600, 1067, 200)) },
    { key: 'portrait.jpg', contentType: 'image/jpeg', body: await jpeg(landscape(800, 1200, 20)) },
    { key: 'photos/harbour.jpg', contentType: 'image/jpeg', body: await jpeg(landscape(2400, 1600, 180)) },
    { key: 'logo.png', contentType: 'image/png', body: await sharp(Buffer.from(logo(512))).png().toBuffer() },
  ];
}
