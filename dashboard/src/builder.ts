/**
 * URL builder: pick a file, add transformations, see the resulting URL (signed when required),
 * a live preview and the response headers that say which region served it. The transformation
 * is checked as you type with the edge's own parser (shared/transform), so errors read the same.
 */
import { parseTransformation } from '../../shared/transform/index.js';
import { call, type Credentials, type Session } from './api.js';
import { fmtBytes, h, replace } from './dom.js';
import type { FileItem } from './media.js';
import { imageUrl } from './urls.js';

/** The response headers worth showing, in this order (docs/architecture.md "Public response headers"). */
const SHOWN_HEADERS = ['x-pixmesh-region', 'x-pixmesh-cache', 'x-pixmesh-region-cache', 'x-pixmesh-processed-by', 'x-pixmesh-failover', 'content-type', 'content-length', 'cache-control', 'vary', 'server-timing', 'ik-error'];

interface Control {
  key: string;
  label: string;
  input: HTMLInputElement | HTMLSelectElement;
  /** The tr parameter for the current value, or null when unset. */
  param(): string | null;
}

function numberControl(key: string, label: string, attrs: Record<string, string | number>): Control {
  const input = h('input', { type: 'number', id: `b-${key}`, inputmode: 'numeric', ...attrs }) as HTMLInputElement;
  return { key, label, input, param: () => (input.value === '' ? null : `${key}-${input.value.replace(/^-/, 'N')}`) };
}
function selectControl(key: string, label: string, options: [string, string][]): Control {
  const input = h('select', { id: `b-${key}` }, options.map(([v, t]) => h('option', { value: v }, t))) as HTMLSelectElement;
  return { key, label, input, param: () => (input.value === '' ? null : `${key}-${input.value}`) };
}
function checkControl(key: string, label: string, param: string): Control {
  const input = h('input', { type: 'checkbox', id: `b-${key}` }) as HTMLInputElement;
  return { key, label, input, param: () => (input.checked ? param : null) };
}

export function builderView(creds: Credentials, session: Session): { el: HTMLElement; show(): void; pick(file: FileItem): void } {
  const path = h('input', { id: 'b-path', list: 'b-files', value: '', placeholder: '/sample.jpg', required: true, autocomplete: 'off' }) as HTMLInputElement;
  const files = h('datalist', { id: 'b-files' });
  const controls: Control[] = [
    numberControl('w', 'Width (px)', { min: 1, max: 4000 }),
    numberControl('h', 'Height (px)', { min: 1, max: 4000 }),
    selectControl('c', 'Crop', [['', 'default (maintain ratio)'], ['maintain_ratio', 'maintain_ratio'], ['force', 'force'], ['at_max', 'at_max'], ['at_least', 'at_least']]),
    selectControl('cm', 'Crop mode', [['', 'default'], ['pad_resize', 'pad_resize'], ['extract', 'extract'], ['pad_extract', 'pad_extract']]),
    selectControl('fo', 'Focus', [['', 'centre'], ['auto', 'auto (saliency)'], ['face', 'face'], ['top', 'top'], ['bottom', 'bottom'], ['left', 'left'], ['right', 'right']]),
    selectControl('f', 'Format', [['', 'automatic'], ['webp', 'webp'], ['avif', 'avif'], ['jpg', 'jpg'], ['png', 'png'], ['gif', 'gif']]),
    numberControl('q', 'Quality (1–100)', { min: 1, max: 100 }),
    numberControl('bl', 'Blur (1–100)', { min: 1, max: 100 }),
    numberControl('rt', 'Rotate (degrees)', { min: -359, max: 359 }),
    numberControl('r', 'Corner radius (px)', { min: 1, max: 2000 }),
    checkControl('grayscale', 'Grayscale', 'e-grayscale'),
    checkControl('sharpen', 'Sharpen', 'e-sharpen'),
  ];
  const extra = h('input', { id: 'b-extra', placeholder: 'e.g. bg-F3F3F3,b-5_FF0000 or :rt-90 for a chained step', autocomplete: 'off', spellcheck: false }) as HTMLInputElement;
  const sign = h('input', { type: 'checkbox', id: 'b-sign' }) as HTMLInputElement;
  const expires = h('input', { type: 'number', id: 'b-expires', min: 0, value: 0 }) as HTMLInputElement;
  if (session.signedUrls === 'required') {
    sign.checked = true;
    sign.disabled = true;
  }
  const trOut = h('code', { id: 'b-tr' });
  const urlOut = h('output', { id: 'b-url', for: 'b-path', class: 'url' });
  const copy = h('button', { type: 'button', class: 'secondary' }, 'Copy URL');
  const problem = h('p', { class: 'status', role: 'status', 'aria-live': 'polite', id: 'b-status' });
  const preview = h('img', { id: 'b-preview', alt: 'Preview of the transformed image' }) as HTMLImageElement;
  const previewInfo = h('p', { class: 'help', id: 'b-preview-info' });
  const headersBox = h('div', { class: 'table-wrap', id: 'b-headers' });
  copy.addEventListener('click', () => void navigator.clipboard?.writeText(urlOut.textContent ?? '').catch(() => undefined));

  const form = h(
    'form',
    { class: 'panel builder-form', 'aria-labelledby': 'builder-h' },
    h('label', { for: 'b-path' }, 'File (path in the library or the account’s origins)'),
    path,
    files,
    h(
      'fieldset',
      {},
      h('legend', {}, 'Transformations'),
      h(
        'div',
        { class: 'controls' },
        controls.map((c) => h('div', { class: c.input.type === 'checkbox' ? 'check' : 'field' }, c.input.type === 'checkbox' ? [c.input, h('label', { for: c.input.id }, c.label)] : [h('label', { for: c.input.id }, c.label), c.input])),
      ),
      h('label', { for: 'b-extra' }, 'More parameters (ImageKit syntax; overlays and the rest of docs/transformations.md)'),
      extra,
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Signature'),
      h('div', { class: 'check' }, sign, h('label', { for: 'b-sign' }, session.signedUrls === 'required' ? 'Signed (this account requires signed URLs)' : 'Sign the URL (ik-s)')),
      h('label', { for: 'b-expires' }, 'Expires in (seconds; 0 = never)'),
      expires,
    ),
  );
  const el = h(
    'section',
    { id: 'builder', 'aria-labelledby': 'builder-h' },
    h('div', { class: 'section-head' }, h('h2', { id: 'builder-h' }, 'URL builder')),
    h(
      'div',
      { class: 'builder-grid' },
      form,
      h(
        'div',
        { class: 'panel' },
        h('h3', {}, 'Result'),
        h('p', {}, 'Transformation: ', trOut),
        h('div', { class: 'url-row' }, urlOut, copy),
        problem,
        h('figure', { class: 'preview' }, preview, h('figcaption', {}, previewInfo)),
        h('h3', {}, 'Response headers'),
        headersBox,
      ),
    ),
  );

  let timer: ReturnType<typeof setTimeout> | undefined;
  let generation = 0;
  let objectUrl: string | null = null;
  form.addEventListener('input', () => schedule());
  form.addEventListener('change', () => schedule());
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void update();
  });
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void update(), 350);
  };

  function transformation(): string {
    const main = controls.map((c) => c.param()).filter((p): p is string => p !== null);
    const more = extra.value.trim().replace(/^tr:/, '');
    if (!more) return main.join(',');
    if (more.startsWith(':')) return `${main.join(',')}${more}`;
    return [...main, more].filter(Boolean).join(',');
  }

  async function update() {
    const gen = ++generation;
    const tr = transformation();
    trOut.textContent = tr || '(none: the original)';
    problem.classList.remove('error');
    try {
      parseTransformation(tr, { namedTransforms: session.namedTransforms });
    } catch (e) {
      problem.textContent = `Transformation: ${(e as Error).message}`;
      problem.classList.add('error');
      return;
    }
    const p = path.value.trim();
    if (!p) {
      problem.textContent = 'Choose a file to see its URL.';
      return;
    }
    const url = await imageUrl(creds, session, p, tr, sign.checked, Number(expires.value) || 0);
    if (gen !== generation) return;
    urlOut.textContent = url;
    problem.textContent = 'Loading the preview…';
    const t0 = performance.now();
    try {
      const res = await fetch(url, { headers: { accept: 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8' }, cache: 'no-store' });
      const blob = await res.blob();
      if (gen !== generation) return;
      const ms = Math.round(performance.now() - t0);
      renderHeaders(res);
      if (!res.ok) {
        const err = res.headers.get('ik-error') ?? `HTTP ${res.status}`;
        problem.textContent = `The edge answered ${res.status}: ${err}`;
        problem.classList.add('error');
        preview.removeAttribute('src');
        previewInfo.textContent = '';
        return;
      }
      if (objectUrl) URL.revokeObjectURL(objectUrl);
      objectUrl = URL.createObjectURL(blob);
      preview.src = objectUrl;
      await preview.decode().catch(() => undefined);
      const region = res.headers.get('x-pixmesh-region');
      problem.textContent = region
        ? `Served by ${region} (edge cache ${res.headers.get('x-pixmesh-cache') ?? '?'}, region cache ${res.headers.get('x-pixmesh-region-cache') ?? '?'}) in ${ms} ms.`
        : `Served from the edge cache (${res.headers.get('x-pixmesh-cache') ?? '?'}) in ${ms} ms.`;
      previewInfo.textContent = `${preview.naturalWidth} × ${preview.naturalHeight} px · ${blob.type || res.headers.get('content-type')} · ${fmtBytes(blob.size)}`;
    } catch (e) {
      if (gen !== generation) return;
      problem.textContent = `The preview did not load: ${(e as Error).message}`;
      problem.classList.add('error');
    }
  }

  function renderHeaders(res: Response) {
    const rows = SHOWN_HEADERS.filter((n) => res.headers.has(n)).map((n) => h('tr', { 'data-header': n }, h('th', { scope: 'row' }, n), h('td', {}, h('code', {}, res.headers.get(n) ?? ''))));
    replace(headersBox, h('table', { class: 'headers-table' }, h('caption', {}, `HTTP ${res.status}`), h('tbody', {}, rows)));
  }

  async function loadFiles() {
    try {
      const list = await call<FileItem[]>(creds, 'GET', '/v1/files?sort=ASC_NAME&limit=500&fileType=image');
      replace(files, list.map((f) => h('option', { value: f.filePath })));
      if (!path.value && list[0]) {
        path.value = list[0].filePath;
        void update();
      }
    } catch {
      /* the path can still be typed */
    }
  }

  return {
    el,
    show() {
      void loadFiles();
      if (path.value) void update();
    },
    pick(file: FileItem) {
      path.value = file.filePath;
      void update();
    },
  };
}
