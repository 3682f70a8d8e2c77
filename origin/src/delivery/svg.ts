/**
 * SVG served as SVG is sanitised with svgo (a real XML parser and AST, not text matching):
 * its `removeScripts` plugin (script elements, event-handler attributes, javascript: links) and
 * `removeDoctype` (entity declarations), then pixmesh's own pass over the same AST, which removes
 * what can run or fetch: `foreignObject` and embedded-document elements, every `on*` attribute,
 * animations that rewrite links or handlers, links that are not local (`#id`) or inline raster
 * `data:` images, and external `url(…)` / `@import` in style sheets and style attributes (parsed
 * with css-tree). The result is served with a sandboxing Content-Security-Policy as well.
 */
import { createRequire } from 'node:module';
import type { CssNode } from 'css-tree';
import type { CustomPlugin, XastElement, XastParent } from 'svgo';
import { limitExceeded, PixmeshError } from '../../../shared/errors.js';
import { int, type ConfigSpec } from '../config-spec.js';

/** Sanitising is CPU on the event loop: larger SVGs are refused (413 ELIMIT); PIXMESH_SVG_SANITISE_MAX_BYTES overrides it. */
export const SVG_SANITISE_MAX_BYTES = 8 * 1024 * 1024;

export interface DeliveryConfig {
  svgSanitiseMaxBytes: number;
}

/** This module's config spec (composed at boot in origin/src/config.ts). */
export const DELIVERY_CONFIG_SPEC: ConfigSpec<DeliveryConfig> = {
  svgSanitiseMaxBytes: int('PIXMESH_SVG_SANITISE_MAX_BYTES', SVG_SANITISE_MAX_BYTES, 'largest SVG sanitised to be served as SVG, bytes', 1),
};

/** Elements that embed documents, run code or pull in other resources. */
const DROP_ELEMENTS = new Set(['script', 'foreignobject', 'iframe', 'embed', 'object', 'handler', 'listener', 'audio', 'video', 'canvas', 'frame', 'frameset', 'applet', 'base', 'meta', 'link']);
const ANIMATIONS = new Set(['animate', 'set', 'animatemotion', 'animatetransform', 'animatecolor', 'discard']);
/** Attributes holding a URL that the SVG would follow or load. */
const LINK_ATTRS = new Set(['href', 'src', 'action', 'formaction', 'data', 'poster', 'background', 'lowsrc', 'dynsrc', 'srcset']);
/** Inline images that cannot carry script. */
const SAFE_DATA_URL = /^data:image\/(?:png|jpe?g|gif|webp|avif);base64,[a-z0-9+/=\s]*$/i;

const local = (name: string) => name.slice(name.lastIndexOf(':') + 1).toLowerCase();

/** A reference the SVG may keep: a fragment of itself, or an inline raster image. */
function safeReference(value: string): boolean {
  const v = value.replace(/[\t\n\r\0]/g, '').trim();
  return v.startsWith('#') || SAFE_DATA_URL.test(v);
}

// svgo and css-tree weigh ~35 MB of code and heap once loaded: they are loaded on the first SVG
// served as SVG, not at boot (a region that never serves one never pays it; docs/benchmarks.md "RSS").
const requireLib = createRequire(import.meta.url);
let libs: { cssTree: typeof import('css-tree'); svgo: typeof import('svgo') } | undefined;
const lib = () => (libs ??= { cssTree: requireLib('css-tree') as typeof import('css-tree'), svgo: requireLib('svgo') as typeof import('svgo') });

/** CSS with external url(…) replaced by `none` and @import rules removed; null when it does not parse. */
function cleanCss(css: string, context: 'stylesheet' | 'declarationList' | 'value'): string | null {
  let ast: CssNode;
  let broken = false;
  try {
    ast = lib().cssTree.parse(css, { context, onParseError: () => (broken = true) });
  } catch {
    return null;
  }
  if (broken) return null;
  let changed = false;
  lib().cssTree.walk(ast, {
    enter(node, item, list) {
      if (!list) return;
      if (node.type === 'Atrule' && typeof node.name === 'string' && ['import', 'font-face', 'namespace'].includes(node.name.toLowerCase())) {
        list.remove(item);
        changed = true;
      } else if (node.type === 'Url' && !safeReference(String(node.value))) {
        list.replace(item, list.createItem({ type: 'Identifier', name: 'none' }));
        changed = true;
      }
    },
  });
  return changed ? lib().cssTree.generate(ast) : css;
}

const detach = (node: XastElement, parent: XastParent) => {
  parent.children = parent.children.filter((c) => c !== node);
};

const pixmeshSanitise = (found: { svgRoot: boolean }): CustomPlugin => ({
  name: 'pixmeshSanitise',
  fn: () => ({
    root: {
      enter: (root) => {
        const first = root.children.find((c) => c.type === 'element');
        found.svgRoot = first?.type === 'element' && local(first.name) === 'svg';
      },
    },
    element: {
      enter: (node, parent) => {
        const name = local(node.name);
        if (DROP_ELEMENTS.has(name)) {
          detach(node, parent);
          return;
        }
        if (ANIMATIONS.has(name)) {
          const target = local(node.attributes.attributeName ?? '');
          if (LINK_ATTRS.has(target) || target.startsWith('on') || target === 'style') {
            detach(node, parent);
            return;
          }
        }
        for (const [attr, value] of Object.entries(node.attributes)) {
          const a = local(attr);
          if (a.startsWith('on') || (LINK_ATTRS.has(a) && !safeReference(value))) {
            delete node.attributes[attr];
          } else if (a === 'style' || /url\s*\(/i.test(value)) {
            const cleaned = cleanCss(value, a === 'style' ? 'declarationList' : 'value');
            if (cleaned === null) delete node.attributes[attr];
            else node.attributes[attr] = cleaned;
          }
        }
        if (name === 'style') {
          for (const child of node.children) {
            if (child.type === 'text' || child.type === 'cdata') {
              const cleaned = cleanCss(child.value, 'stylesheet');
              child.value = cleaned ?? '';
            }
          }
        }
      },
    },
    // Processing instructions other than the XML declaration (xml-stylesheet pulls in CSS/XSLT).
    instruction: {
      enter: (node, parent) => {
        if (node.name.toLowerCase() !== 'xml') parent.children = parent.children.filter((c) => c !== node);
      },
    },
  }),
});

/**
 * The sanitised SVG. Not well-formed XML, or no `<svg>` root → 422 EDECODE; over the size
 * limit → 413 ELIMIT.
 */
export function sanitiseSvg(input: Buffer, maxBytes = SVG_SANITISE_MAX_BYTES): Buffer {
  if (input.length > maxBytes) throw limitExceeded(`the SVG is over the ${maxBytes}-byte limit for serving it as SVG`, 413);
  let data: string;
  const found = { svgRoot: false };
  try {
    data = lib().svgo.optimize(input.toString('utf8'), {
      multipass: false,
      plugins: ['removeDoctype', 'removeScripts', pixmeshSanitise(found)],
      js2svg: { pretty: false },
    }).data;
  } catch (e) {
    throw new PixmeshError(422, 'EDECODE', 'the SVG is not well-formed XML', { cause: e });
  }
  if (!found.svgRoot) throw new PixmeshError(422, 'EDECODE', 'the file has no <svg> root element');
  return Buffer.from(data, 'utf8');
}
