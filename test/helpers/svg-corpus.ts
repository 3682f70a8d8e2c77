/**
 * Hostile SVGs for the sanitiser (unit tests) and SVG delivery through the cluster (e2e). Each
 * names what it attacks; `keep` is benign content that must survive sanitising.
 */
export interface HostileSvg {
  name: string;
  svg: string;
  /** Benign markup that must still be there after sanitising. */
  keep: string;
}

const NS = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"';
const EVIL = 'http://evil.example';

export const HOSTILE_SVGS: HostileSvg[] = [
  { name: 'script element', svg: `<svg ${NS} width="10" height="10"><script>alert(1)</script><circle r="5" cx="5" cy="5"/></svg>`, keep: '<circle' },
  { name: 'script with CDATA and type', svg: `<svg ${NS}><script type="text/ecmascript"><![CDATA[alert(1)]]></script><rect width="4" height="4"/></svg>`, keep: '<rect' },
  { name: 'XHTML-namespaced script', svg: `<svg ${NS} xmlns:h="http://www.w3.org/1999/xhtml"><h:script>alert(1)</h:script><rect width="4" height="4"/></svg>`, keep: '<rect' },
  { name: 'event-handler attributes', svg: `<svg ${NS} onload="alert(1)"><rect onclick="alert(2)" onmouseover="alert(3)" onbegin="alert(4)" width="4" height="4"/></svg>`, keep: '<rect' },
  { name: 'upper-case and unusual handlers', svg: `<svg ${NS} ONLOAD="alert(1)"><rect onfocusin="alert(2)" onpointerdown="alert(3)" width="4" height="4"/></svg>`, keep: '<rect' },
  { name: 'javascript: links', svg: `<svg ${NS}><a xlink:href="javascript:alert(1)"><rect width="4" height="4"/></a><a href=" JaVaScRiPt:alert(2)"><circle r="2"/></a></svg>`, keep: '<circle' },
  { name: 'javascript: with tab and newline in the scheme', svg: `<svg ${NS}><a href="java&#9;script:alert(1)"><rect width="4" height="4"/></a><a href="jav&#10;ascript:alert(2)"><circle r="2"/></a></svg>`, keep: '<circle' },
  { name: 'foreignObject with HTML', svg: `<svg ${NS}><foreignObject width="10" height="10"><body xmlns="http://www.w3.org/1999/xhtml" onload="alert(1)"><iframe src="javascript:alert(2)"></iframe><img src="x" onerror="alert(3)"/></body></foreignObject><rect width="4" height="4"/></svg>`, keep: '<rect' },
  { name: 'external image and use', svg: `<svg ${NS}><image href="${EVIL}/x.png" width="4" height="4"/><use xlink:href="${EVIL}/sprite.svg#a"/><rect width="4" height="4"/></svg>`, keep: '<rect' },
  { name: 'external url() in presentation attributes', svg: `<svg ${NS}><rect fill="url(${EVIL}/p.svg#p)" filter="url('${EVIL}/f.svg#f')" width="4" height="4"/><circle r="2" fill="red"/></svg>`, keep: 'fill="red"' },
  { name: '@import and url() in a style sheet', svg: `<svg ${NS}><style>@import url(${EVIL}/a.css); rect { fill: url(${EVIL}/p.svg#p); } circle { fill: blue }</style><rect width="4" height="4"/><circle r="2"/></svg>`, keep: 'fill:blue' },
  { name: 'url() in a style attribute', svg: `<svg ${NS}><rect style="fill:url(${EVIL}/x#p);stroke:green" width="4" height="4"/></svg>`, keep: 'stroke:green' },
  { name: 'animations that rewrite links and handlers', svg: `<svg ${NS}><a><animate attributeName="href" to="javascript:alert(1)" begin="0s"/><set attributeName="onmouseover" to="alert(2)"/><text>x</text></a><animate attributeName="opacity" from="0" to="1" dur="1s"/></svg>`, keep: 'attributeName="opacity"' },
  { name: 'entity that expands to markup', svg: `<!DOCTYPE svg [<!ENTITY x "<script>alert(1)</script>">]><svg ${NS}><text>&x;</text><rect width="4" height="4"/></svg>`, keep: '<rect' },
  { name: 'xml-stylesheet processing instruction', svg: `<?xml version="1.0"?><?xml-stylesheet href="${EVIL}/x.xsl" type="text/xsl"?><svg ${NS}><rect width="4" height="4"/></svg>`, keep: '<rect' },
  { name: 'data: URLs that are documents', svg: `<svg ${NS}><a href="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;"><rect width="4" height="4"/></a><image href="data:image/svg+xml;base64,PHN2Zy8+" width="2" height="2"/><image href="data:image/png;base64,iVBORw0KGgo=" width="2" height="2"/></svg>`, keep: 'data:image/png;base64' },
  { name: 'SVG Tiny handler and embedding elements', svg: `<svg ${NS}><handler type="application/ecmascript">alert(1)</handler><iframe src="${EVIL}"/><embed src="${EVIL}/x.swf"/><object data="${EVIL}/x"/><rect width="4" height="4"/></svg>`, keep: '<rect' },
];

/** Markers of active or external content: none may be in a sanitised SVG (checked lower-cased). */
export const FORBIDDEN_MARKERS = ['<script', ':script', 'javascript:', 'foreignobject', '<iframe', '<embed', '<object', '<handler', 'evil.example', '@import', 'data:text/html', 'data:image/svg', 'xml-stylesheet', 'alert('];

/** The forbidden markers found in a (sanitised) SVG, plus any on* attribute. */
export function activeContent(svg: string): string[] {
  const lower = svg.toLowerCase();
  const found = FORBIDDEN_MARKERS.filter((m) => lower.includes(m));
  const handler = /\son[a-z]+\s*=/i.exec(svg);
  if (handler) found.push(handler[0].trim());
  return found;
}
