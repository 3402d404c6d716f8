// Relata's web app: sign-in, the layout and the routes. Screens live in their own modules.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { pb, me, isManager, loadModel, allObjects, objectLabel, errorMessage } from './api.js';
import { html, useRoute, navigate, Spinner, ErrorBox, Toasts } from './ui.js';
import { Board } from './board.js';
import { List } from './list.js';
import { RecordPage } from './record.js';
import { Tasks } from './tasks.js';
import { Dashboard } from './dashboard.js';
import { Workflows, WorkflowEditor } from './builder.js';
import { Runs } from './runs.js';
import { Search } from './search.js';
import { PrivacyPage } from './privacy.js';
import { AuditPage } from './history.js';
import { TrashPage } from './trash.js';
import { DuplicatesPage, MergePage } from './duplicates.js';
import { TokensPage } from './tokens.js';
import { WebhooksPage } from './webhooks.js';
import { ReassignPage } from './reassign.js';
import { Bell, PreferencesPage } from './notifications.js';
import { Segments, SegmentEditor } from './segments.js';
import { Campaigns, CampaignPage, NewCampaign } from './campaigns.js';

function Login({ onSignedIn }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  // The second step of a multi-factor sign-in: PocketBase answered the password with an MFA
  // id, and a one-time code went to the user's email.
  const [mfa, setMfa] = useState(null); // { mfaId, otpId }
  const [code, setCode] = useState('');
  const [providers, setProviders] = useState([]);
  useEffect(() => {
    pb.collection('users').listAuthMethods()
      .then((m) => setProviders(m.oauth2?.enabled ? m.oauth2.providers || [] : []))
      .catch(() => setProviders([]));
  }, []);
  const run = async (step) => {
    setBusy(true);
    setError('');
    try {
      await step();
    } finally {
      setBusy(false);
    }
  };
  const submit = (e) => {
    e.preventDefault();
    run(async () => {
      try {
        await pb.collection('users').authWithPassword(email, password);
        onSignedIn();
      } catch (err) {
        const mfaId = err.response?.mfaId;
        if (err.status === 401 && mfaId) {
          try {
            const { otpId } = await pb.collection('users').requestOTP(email);
            setMfa({ mfaId, otpId });
          } catch (err2) {
            setError('Your account needs a sign-in code, and it could not be sent: ' + errorMessage(err2));
          }
          return;
        }
        setError(err.status === 400 ? 'Wrong email or password.' : errorMessage(err));
      }
    });
  };
  const submitCode = (e) => {
    e.preventDefault();
    run(async () => {
      try {
        await pb.collection('users').authWithOTP(mfa.otpId, code.trim(), { mfaId: mfa.mfaId });
        onSignedIn();
      } catch (err) {
        setError(err.status === 400 ? 'That code is wrong or has expired.' : errorMessage(err));
      }
    });
  };
  const oauth = (name) => run(async () => {
    try {
      await pb.collection('users').authWithOAuth2({ provider: name });
      onSignedIn();
    } catch (err) {
      setError(errorMessage(err));
    }
  });
  if (mfa) {
    return html`<main class="login">
      <form onSubmit=${submitCode} class="card" data-testid="mfa">
        <h1><span class="logo">◆</span> Relata</h1>
        <p>We emailed a sign-in code to <strong>${email}</strong>. Enter it to finish signing in.</p>
        <label>Code <input id="login-code" inputmode="numeric" autocomplete="one-time-code" required value=${code} onInput=${(e) => setCode(e.target.value)} /></label>
        <${ErrorBox} error=${error} />
        <button class="primary" type="submit" disabled=${busy}>${busy ? 'Checking…' : 'Sign in'}</button>
        <button type="button" class="link" onClick=${() => { setMfa(null); setCode(''); setError(''); }}>Start again</button>
      </form>
    </main>`;
  }
  return html`<main class="login">
    <form onSubmit=${submit} class="card">
      <h1><span class="logo">◆</span> Relata</h1>
      <label>Email <input id="login-email" type="email" autocomplete="username" required value=${email} onInput=${(e) => setEmail(e.target.value)} /></label>
      <label>Password <input id="login-password" type="password" autocomplete="current-password" required value=${password} onInput=${(e) => setPassword(e.target.value)} /></label>
      <${ErrorBox} error=${error} />
      <button class="primary" type="submit" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
      ${providers.length ? html`<div class="oauth" data-testid="oauth">
        ${providers.map((p) => html`<button key=${p.name} type="button" disabled=${busy} onClick=${() => oauth(p.name)}>Sign in with ${p.displayName || p.name}</button>`)}
      </div>` : null}
      <p class="muted small">Administrators manage objects and users in the <a href="/_/">admin dashboard</a>.</p>
    </form>
  </main>`;
}

function Nav({ route, onClose }) {
  const path = route.path;
  const here = (p) => (path === p || path.startsWith(p + '/') ? 'active' : '');
  const boards = allObjects().flatMap((o) => (o.pipelines || []).filter((p) => o.fields.some((f) => f.type === 'stage' && f.pipeline === p.name))
    .map((p) => ({ o, p })));
  // On phones and tablets the sidebar is a drawer: a tap on a link (or beside it) closes it.
  return html`<nav class="sidebar" id="sidebar" data-testid="sidebar" onClick=${(e) => e.target.closest('a') && onClose()}>
    <a class="brand" href="#/"><span class="logo">◆</span> Relata</a>
    <div class="group">Pipelines</div>
    ${boards.map(({ o, p }) => html`<a key=${o.name + p.name} class=${here(`/board/${o.name}/${p.name}`)} href=${`#/board/${o.name}/${p.name}`}>
      ${boards.length > 1 || (o.pipelines || []).length > 1 ? `${objectLabel(o)}: ${p.label || p.name}` : `${p.label || p.name} pipeline`}</a>`)}
    <a class=${here('/tasks')} href="#/tasks">My tasks</a>
    <a class=${here('/dashboard')} href="#/dashboard">Dashboard</a>
    <div class="group">Records</div>
    ${allObjects().map((o) => html`<a key=${o.name} class=${here('/list/' + o.name)} href=${'#/list/' + o.name}>${objectLabel(o)}</a>`)}
    <a class=${here('/trash')} href="#/trash">Trash</a>
    ${isManager() ? html`<a class=${here('/reassign')} href="#/reassign">Reassign a rep</a>` : null}
    <a class=${here('/duplicates') || here('/merge')} href="#/duplicates/contacts">Duplicates</a>
    ${isManager() ? html`
      <div class="group">Automation</div>
      <a class=${here('/workflows')} href="#/workflows">Workflows</a>
      <a class=${here('/runs')} href="#/runs">Run history</a>
      <div class="group">Marketing</div>
      <a class=${here('/segments')} href="#/segments">Segments</a>
      <a class=${here('/campaigns')} href="#/campaigns">Campaigns</a>` : null}
    ${me()?.role === 'admin' ? html`
      <div class="group">Administration</div>
      <a class=${here('/privacy')} href="#/privacy">Privacy</a>
      <a class=${here('/audit')} href="#/audit">Audit trail</a>
      <a class=${here('/webhooks')} href="#/webhooks">Incoming webhooks</a>` : null}
  </nav>`;
}

function TopBar({ onSignOut, navOpen, onMenu }) {
  const [q, setQ] = useState('');
  const u = me();
  return html`<header class="topbar">
    <button class="menu-button" type="button" data-testid="menu-button" aria-label="Menu" aria-controls="sidebar"
      aria-expanded=${navOpen ? 'true' : 'false'} onClick=${onMenu}>☰</button>
    <form class="search" onSubmit=${(e) => { e.preventDefault(); if (q.trim()) navigate('/search/' + encodeURIComponent(q.trim())); }}>
      <input id="global-search" type="search" placeholder="Search everything…" value=${q} onInput=${(e) => setQ(e.target.value)} />
    </form>
    <div class="who">
      <${Bell} />
      <a class="user-name" href="#/preferences" title="Preferences">${u?.name || u?.email}</a> <span class="pill">${u?.role}</span>
      <button class="link" onClick=${onSignOut}>Sign out</button>
    </div>
  </header>`;
}

function Screen({ route }) {
  const [a, b, c] = route.parts;
  switch (a) {
    case 'board': return html`<${Board} key=${b + c} object=${b} pipeline=${c} />`;
    case 'list': return html`<${List} key=${b} object=${b} viewId=${route.params.get('view')} />`;
    case 'record': return html`<${RecordPage} key=${b + c} object=${b} id=${c} />`;
    case 'tasks': return html`<${Tasks} />`;
    case 'dashboard': return html`<${Dashboard} object=${b} pipeline=${c} />`;
    case 'workflows': return b ? html`<${WorkflowEditor} key=${b} id=${b === 'new' || b === 'new-sequence' ? '' : b} template=${b === 'new-sequence' ? 'sequence' : ''} />` : html`<${Workflows} />`;
    case 'runs': return html`<${Runs} workflow=${route.params.get('workflow') || ''} />`;
    case 'search': return html`<${Search} key=${b} q=${b || ''} />`;
    case 'privacy': return html`<${PrivacyPage} />`;
    case 'audit': return html`<${AuditPage} />`;
    case 'trash': return html`<${TrashPage} />`;
    case 'duplicates': return html`<${DuplicatesPage} key=${b} object=${b || 'contacts'} />`;
    case 'merge': return html`<${MergePage} key=${route.path} object=${b} a=${c} b=${route.parts[3]} />`;
    case 'tokens': return html`<${TokensPage} />`;
    case 'webhooks': return html`<${WebhooksPage} />`;
    case 'reassign': return html`<${ReassignPage} />`;
    case 'preferences': return html`<${PreferencesPage} />`;
    case 'segments': return b ? html`<${SegmentEditor} key=${b} id=${b === 'new' ? '' : b} />` : html`<${Segments} />`;
    case 'campaigns': return b === 'new' ? html`<${NewCampaign} />` : b ? html`<${CampaignPage} key=${b} id=${b} />` : html`<${Campaigns} />`;
    default: {
      const o = allObjects().find((x) => (x.pipelines || []).length && x.fields.some((f) => f.type === 'stage'));
      if (o) {
        navigate(`/board/${o.name}/${o.fields.find((f) => f.type === 'stage').pipeline}`);
        return null;
      }
      navigate('/tasks');
      return null;
    }
  }
}

function App() {
  const route = useRoute();
  const [state, setState] = useState(me() ? 'loading' : 'signed-out');
  const [error, setError] = useState('');
  const [navOpen, setNavOpen] = useState(false);
  useEffect(() => setNavOpen(false), [route.path]);
  const start = async () => {
    setState('loading');
    try {
      await pb.collection('users').authRefresh();
      await loadModel();
      setState('ready');
    } catch (err) {
      if (err.status === 401 || err.status === 403 || err.status === 404) {
        pb.authStore.clear();
        setState('signed-out');
      } else {
        setError(errorMessage(err));
        setState('failed');
      }
    }
  };
  useEffect(() => { if (me()) start(); }, []);
  const signOut = () => {
    pb.realtime.unsubscribe();
    pb.authStore.clear();
    setState('signed-out');
  };
  if (state === 'signed-out') return html`<${Login} onSignedIn=${start} />`;
  if (state === 'loading') return html`<${Spinner} />`;
  if (state === 'failed') return html`<main class="content"><${ErrorBox} error=${error} /></main>`;
  return html`<div class="shell ${navOpen ? 'nav-open' : ''}">
    <${Nav} route=${route} onClose=${() => setNavOpen(false)} />
    ${navOpen ? html`<div class="nav-backdrop" data-testid="nav-backdrop" onClick=${() => setNavOpen(false)}></div>` : null}
    <div class="main">
      <${TopBar} onSignOut=${signOut} navOpen=${navOpen} onMenu=${() => setNavOpen((v) => !v)} />
      <main class="content"><${Screen} route=${route} /></main>
    </div>
    <${Toasts} />
  </div>`;
}

render(html`<${App} />`, document.getElementById('app'));
