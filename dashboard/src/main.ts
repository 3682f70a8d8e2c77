/**
 * The pixmesh dashboard (served by the edge at /_dashboard; docs/dashboard.md): sign-in, then
 * Network (operators), Media library and URL builder as tabs, one per URL hash.
 */
import { ApiError, forgetCredentials, saveCredentials, savedCredentials, signIn, type Credentials, type Session } from './api.js';
import { builderView } from './builder.js';
import { h, replace } from './dom.js';
import { mediaView } from './media.js';
import { networkView } from './network.js';

const root = document.getElementById('app')!;

function signInView(message = ''): void {
  document.title = 'Sign in · pixmesh';
  const account = h('input', { id: 'signin-account', name: 'account', autocomplete: 'username', required: true, spellcheck: false }) as HTMLInputElement;
  const key = h('input', { id: 'signin-key', name: 'key', type: 'password', autocomplete: 'current-password', required: true }) as HTMLInputElement;
  const error = h('p', { class: 'status error', id: 'signin-error', role: 'alert' }, message);
  const button = h('button', { type: 'submit' }, 'Sign in');
  const form = h(
    'form',
    { class: 'signin panel', 'aria-labelledby': 'signin-h', 'aria-describedby': 'signin-help' },
    h('h1', { id: 'signin-h' }, 'pixmesh dashboard'),
    h('p', { id: 'signin-help', class: 'help' }, 'Sign in with an account id and its private key. The key stays in this tab (sessionStorage) and is sent only to this edge, as the management API’s HTTP Basic.'),
    h('label', { for: 'signin-account' }, 'Account id'),
    account,
    h('label', { for: 'signin-key' }, 'Private key'),
    key,
    button,
    error,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const creds = { accountId: account.value.trim(), privateKey: key.value };
    button.disabled = true;
    error.textContent = '';
    signIn(creds).then(
      (session) => {
        saveCredentials(creds);
        shell(creds, session);
      },
      (err: unknown) => {
        button.disabled = false;
        error.textContent =
          err instanceof ApiError && err.status === 401
            ? 'Wrong account id or private key: nothing is shown until both match.'
            : `Could not sign in: ${(err as Error).message}`;
        key.select();
      },
    );
  });
  replace(root, h('main', { class: 'center' }, form));
  account.focus();
}

type Tab = 'network' | 'media' | 'builder';

function shell(creds: Credentials, session: Session): void {
  const network = session.operator ? networkView(creds, session) : null;
  const builder = builderView(creds, session);
  const media = mediaView(creds, session, (file) => {
    builder.pick(file);
    location.hash = '#builder';
  });
  const tabs: { id: Tab; label: string; el: HTMLElement; show(): void; hide?(): void }[] = [
    ...(network ? [{ id: 'network' as const, label: 'Network', el: network.el, show: network.start, hide: network.stop }] : []),
    { id: 'media', label: 'Media library', el: media.el, show: media.show },
    { id: 'builder', label: 'URL builder', el: builder.el, show: builder.show },
  ];
  const links = tabs.map((t) => h('a', { href: `#${t.id}`, 'data-tab': t.id }, t.label));
  const signOut = h('button', { type: 'button', class: 'secondary' }, 'Sign out');
  signOut.addEventListener('click', () => {
    forgetCredentials();
    location.hash = '';
    location.reload();
  });
  const main = h('main', { id: 'main', tabindex: -1 });
  replace(
    root,
    h('a', { class: 'skip', href: '#main' }, 'Skip to content'),
    h(
      'header',
      { class: 'top' },
      h('span', { class: 'brand' }, 'pixmesh'),
      h('nav', { 'aria-label': 'Views' }, links),
      h('span', { class: 'who' }, `${session.accountId} · home ${session.homeRegion}${session.operator ? ' · operator' : ''}`),
      signOut,
    ),
    main,
  );
  let current: (typeof tabs)[number] | undefined;
  const route = () => {
    const want = location.hash.slice(1);
    const tab = tabs.find((t) => t.id === want) ?? tabs[0]!;
    if (current === tab) return;
    current?.hide?.();
    current = tab;
    for (const l of links) {
      if (l.dataset.tab === tab.id) l.setAttribute('aria-current', 'page');
      else l.removeAttribute('aria-current');
    }
    replace(main, tab.el);
    document.title = `${tab.label} · pixmesh`;
    tab.show();
  };
  window.addEventListener('hashchange', route);
  route();
}

const saved = savedCredentials();
if (!saved) signInView();
else
  signIn(saved).then(
    (session) => shell(saved, session),
    (err: unknown) => {
      forgetCredentials();
      signInView(err instanceof ApiError && err.status === 401 ? 'The saved key no longer works: sign in again.' : '');
    },
  );
