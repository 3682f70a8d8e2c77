/**
 * Media library: browse folders, search, thumbnails served through pixmesh URLs, upload (drag and
 * drop or a file input, with progress), details (metadata, tags, custom metadata), delete, and
 * purge a URL or prefix — all through the management API (docs/management-api.md).
 */
import { call, upload, type Credentials, type Session } from './api.js';
import { fmtBytes, h, replace } from './dom.js';
import { imageUrl } from './urls.js';

export interface FileItem {
  type: 'file';
  fileId: string;
  name: string;
  filePath: string;
  url: string;
  fileType: string;
  mime?: string;
  size: number;
  width?: number;
  height?: number;
  tags: string[] | null;
  customMetadata?: Record<string, unknown>;
  description?: string;
  isPrivateFile?: boolean;
  createdAt: string;
  updatedAt: string;
  [k: string]: unknown;
}
interface FolderItem {
  type: 'folder';
  name: string;
  folderPath: string;
}
type Item = FileItem | FolderItem;

const THUMB_TR = 'w-240,h-240,c-at_max';

export function mediaView(creds: Credentials, session: Session, openInBuilder: (file: FileItem) => void): { el: HTMLElement; show(): void } {
  let folder = '/';
  let query = '';
  let selected: FileItem | null = null;

  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const crumbs = h('nav', { class: 'crumbs', 'aria-label': 'Folder' });
  const search = h('input', { type: 'search', id: 'media-search', placeholder: 'name begins with…', autocomplete: 'off' }) as HTMLInputElement;
  const fileInput = h('input', { type: 'file', id: 'media-file', multiple: true, accept: 'image/*,.svg,.pdf,.txt,.json' }) as HTMLInputElement;
  const progress = h('ul', { class: 'uploads', 'aria-label': 'Uploads' });
  const grid = h('ul', { class: 'grid', 'aria-label': 'Files and folders' });
  const details = h('aside', { class: 'details panel', 'aria-labelledby': 'details-h', hidden: true });
  const drop = h(
    'div',
    { class: 'dropzone', tabindex: 0, role: 'button', 'aria-describedby': 'drop-help' },
    h('span', { id: 'drop-help' }, 'Drop files here to upload them into the current folder, or press Enter to choose files.'),
  );
  drop.addEventListener('click', () => fileInput.click());
  drop.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      fileInput.click();
    }
  });
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    if (e.dataTransfer?.files.length) void uploadAll([...e.dataTransfer.files]);
  });
  fileInput.addEventListener('change', () => {
    if (fileInput.files?.length) void uploadAll([...fileInput.files]);
    fileInput.value = '';
  });
  let searchTimer: ReturnType<typeof setTimeout> | undefined;
  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      query = search.value.trim();
      void load();
    }, 250);
  });

  // Purge a URL or a prefix.
  const purgeUrl = h('input', { type: 'url', id: 'purge-url', required: true, placeholder: `${session.urlEndpoint}/photos/` }) as HTMLInputElement;
  const purgePrefix = h('input', { type: 'checkbox', id: 'purge-prefix' }) as HTMLInputElement;
  const purgeStatus = h('p', { class: 'status', role: 'status', 'aria-live': 'polite', id: 'purge-status' });
  const purgeForm = h(
    'form',
    { class: 'purge panel', 'aria-labelledby': 'purge-h' },
    h('h3', { id: 'purge-h' }, 'Purge the cache'),
    h('label', { for: 'purge-url' }, 'URL of a file (or of a folder, with “every URL under it”)'),
    purgeUrl,
    h('div', { class: 'check' }, purgePrefix, h('label', { for: 'purge-prefix' }, 'every URL under it (prefix purge)')),
    h('button', { type: 'submit' }, 'Purge'),
    purgeStatus,
  );
  purgeForm.addEventListener('submit', (e) => {
    e.preventDefault();
    void purge(purgeUrl.value.trim(), purgePrefix.checked);
  });

  const el = h(
    'section',
    { id: 'media', 'aria-labelledby': 'media-h' },
    h('div', { class: 'section-head' }, h('h2', { id: 'media-h' }, 'Media library')),
    h(
      'div',
      { class: 'toolbar' },
      crumbs,
      h('div', { class: 'field' }, h('label', { for: 'media-search' }, 'Search'), search),
      h('div', { class: 'field' }, h('label', { for: 'media-file' }, 'Upload files'), fileInput),
    ),
    drop,
    progress,
    status,
    h('div', { class: 'media-grid' }, grid, details),
    purgeForm,
  );

  async function load() {
    status.textContent = 'Loading…';
    status.classList.remove('error');
    try {
      const params = new URLSearchParams(query ? { searchQuery: `name : ${JSON.stringify(query)}`, sort: 'ASC_NAME' } : { path: folder, type: 'all', sort: 'ASC_NAME' });
      const items = await call<Item[]>(creds, 'GET', `/v1/files?${params}`);
      renderCrumbs();
      await renderGrid(items);
      status.textContent = query ? `${items.length} file${items.length === 1 ? '' : 's'} whose name begins with “${query}”` : `${items.length} item${items.length === 1 ? '' : 's'} in ${folder}`;
    } catch (e) {
      status.textContent = `Could not list the files: ${(e as Error).message}`;
      status.classList.add('error');
    }
  }

  function renderCrumbs() {
    const parts = folder.split('/').filter(Boolean);
    const link = (label: string, to: string, current: boolean) =>
      h(
        'button',
        {
          type: 'button',
          class: 'link',
          'aria-current': current ? 'location' : null,
          onclick: () => {
            folder = to;
            query = '';
            search.value = '';
            void load();
          },
        },
        label,
      );
    replace(crumbs, link('All files', '/', parts.length === 0), parts.map((p, i) => [' / ', link(p, `/${parts.slice(0, i + 1).join('/')}/`, i === parts.length - 1)]));
  }

  async function renderGrid(items: Item[]) {
    const folders = items.filter((i): i is FolderItem => i.type === 'folder');
    const files = items.filter((i): i is FileItem => i.type !== 'folder');
    const cards = await Promise.all(
      files.map(async (f) => {
        const thumb =
          f.fileType === 'image'
            ? h('img', { src: await imageUrl(creds, session, f.filePath, THUMB_TR), alt: '', loading: 'lazy', width: 120, height: 120 })
            : h('span', { class: 'file-icon', 'aria-hidden': 'true' }, (f.name.split('.').pop() ?? 'file').toUpperCase());
        return h(
          'li',
          {},
          h(
            'button',
            { type: 'button', class: `tile${selected?.fileId === f.fileId ? ' selected' : ''}`, 'data-file-id': f.fileId, 'data-name': f.name, onclick: () => void showDetails(f) },
            thumb,
            h('span', { class: 'tile-name' }, f.name),
            h('span', { class: 'tile-meta' }, f.width ? `${f.width}×${f.height} · ${fmtBytes(f.size)}` : fmtBytes(f.size)),
          ),
        );
      }),
    );
    replace(
      grid,
      folders.map((d) =>
        h(
          'li',
          {},
          h(
            'button',
            {
              type: 'button',
              class: 'tile folder',
              'data-folder': d.folderPath,
              onclick: () => {
                folder = `${d.folderPath.replace(/\/$/, '')}/`;
                void load();
              },
            },
            h('span', { class: 'folder-icon', 'aria-hidden': 'true' }, '▰'),
            h('span', { class: 'tile-name' }, d.name),
            h('span', { class: 'tile-meta' }, 'folder'),
          ),
        ),
      ),
      cards,
      items.length === 0 ? h('li', { class: 'empty' }, query ? 'Nothing matches.' : 'This folder is empty: drop a file above.') : null,
    );
  }

  async function showDetails(f: FileItem) {
    selected = f;
    details.hidden = false;
    replace(details, h('p', {}, 'Loading…'));
    let file: FileItem;
    try {
      file = await call<FileItem>(creds, 'GET', `/v1/files/${f.fileId}/details`);
    } catch (e) {
      replace(details, h('p', { class: 'error' }, `Could not load the details: ${(e as Error).message}`));
      return;
    }
    const tags = h('input', { id: 'detail-tags', value: (file.tags ?? []).join(', ') }) as HTMLInputElement;
    const meta = h('textarea', { id: 'detail-meta', rows: 4, spellcheck: false }, JSON.stringify(file.customMetadata ?? {}, null, 2)) as HTMLTextAreaElement;
    const desc = h('input', { id: 'detail-desc', value: file.description ?? '' }) as HTMLInputElement;
    const msg = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
    const dl = h(
      'dl',
      {},
      ([
        ['Path', file.filePath],
        ['File id', file.fileId],
        ['Type', `${file.fileType}${file.mime ? ` (${file.mime})` : ''}`],
        ['Size', fmtBytes(file.size)],
        ['Dimensions', file.width ? `${file.width} × ${file.height}` : '—'],
        ['Private', file.isPrivateFile ? 'yes (signed URLs only)' : 'no'],
        ['Created', new Date(file.createdAt).toLocaleString()],
        ['Updated', new Date(file.updatedAt).toLocaleString()],
      ] as [string, string][]).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
    );
    const form = h(
      'form',
      {},
      h('label', { for: 'detail-tags' }, 'Tags (comma-separated)'),
      tags,
      h('label', { for: 'detail-desc' }, 'Description'),
      desc,
      h('label', { for: 'detail-meta' }, 'Custom metadata (JSON object; a null value removes a key)'),
      meta,
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save')),
      msg,
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void (async () => {
        let customMetadata: unknown;
        try {
          customMetadata = JSON.parse(meta.value || '{}');
        } catch {
          msg.textContent = 'Custom metadata is not valid JSON.';
          msg.classList.add('error');
          return;
        }
        try {
          const t = tags.value.split(',').map((x) => x.trim()).filter(Boolean);
          const updated = await call<FileItem>(creds, 'PATCH', `/v1/files/${file.fileId}/details`, { tags: t.length ? t : null, customMetadata, description: desc.value });
          msg.textContent = 'Saved.';
          msg.classList.remove('error');
          meta.value = JSON.stringify(updated.customMetadata ?? {}, null, 2);
        } catch (err) {
          msg.textContent = `Not saved: ${(err as Error).message}`;
          msg.classList.add('error');
        }
      })();
    });
    const preview =
      file.fileType === 'image' ? h('img', { class: 'detail-img', src: await imageUrl(creds, session, file.filePath, 'w-480,h-320,c-at_max'), alt: `Preview of ${file.name}` }) : null;
    const del = h('button', { type: 'button', class: 'danger' }, 'Delete');
    del.addEventListener('click', () => {
      if (!confirm(`Delete ${file.filePath}? Its cached variants are purged too.`)) return;
      void (async () => {
        try {
          await call(creds, 'DELETE', `/v1/files/${file.fileId}`);
          details.hidden = true;
          selected = null;
          status.textContent = `Deleted ${file.filePath}.`;
          await load();
        } catch (err) {
          msg.textContent = `Not deleted: ${(err as Error).message}`;
          msg.classList.add('error');
        }
      })();
    });
    replace(
      details,
      h('div', { class: 'section-head' }, h('h3', { id: 'details-h' }, file.name), h('button', { type: 'button', class: 'secondary', 'aria-label': 'Close the details', onclick: () => (details.hidden = true) }, '×')),
      preview,
      dl,
      h('p', {}, h('a', { href: file.url, target: '_blank', rel: 'noopener' }, 'Open the original URL')),
      form,
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', class: 'secondary', onclick: () => openInBuilder(file) }, 'Open in the URL builder'),
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            onclick: () => {
              purgeUrl.value = file.url;
              purgePrefix.checked = false;
              purgeUrl.focus();
            },
          },
          'Purge its URL…',
        ),
        del,
      ),
    );
    for (const b of grid.querySelectorAll('.tile')) b.classList.toggle('selected', (b as HTMLElement).dataset.fileId === file.fileId);
  }

  async function uploadAll(files: File[]) {
    for (const file of files) {
      const bar = h('progress', { max: 100, value: 0, 'aria-label': `Uploading ${file.name}` }) as HTMLProgressElement;
      const line = h('span', {}, `${file.name}: 0%`);
      const item = h('li', {}, line, bar);
      progress.append(item);
      try {
        const done = await upload(creds, file, folder, (f) => {
          bar.value = Math.round(f * 100);
          line.textContent = `${file.name}: ${Math.round(f * 100)}%`;
        });
        bar.value = 100;
        line.textContent = `${file.name}: uploaded as ${done.filePath}`;
        item.classList.add('done');
      } catch (e) {
        line.textContent = `${file.name}: failed — ${(e as Error).message}`;
        item.classList.add('error');
      }
    }
    await load();
  }

  async function purge(url: string, prefix: boolean) {
    if (!url) return;
    const target = prefix ? `${url.replace(/\*$/, '')}*` : url;
    purgeStatus.classList.remove('error');
    purgeStatus.textContent = `Purging ${target}…`;
    try {
      const { requestId } = await call<{ requestId: string }>(creds, 'POST', '/v1/files/purge', { url: target });
      for (let i = 0; i < 40; i++) {
        const { status: st } = await call<{ status: string }>(creds, 'GET', `/v1/files/purge/${requestId}`);
        purgeStatus.textContent = `Purge ${requestId} of ${target}: ${st}`;
        purgeStatus.dataset.state = st;
        if (st === 'Completed') return;
        await new Promise((r) => setTimeout(r, 500));
      }
    } catch (e) {
      purgeStatus.textContent = `Purge failed: ${(e as Error).message}`;
      purgeStatus.classList.add('error');
    }
  }

  return {
    el,
    show() {
      void load();
    },
  };
}
