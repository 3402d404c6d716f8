// Relata's web app: sign-in, the layout and the routes. Screens live in their own modules.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { pb, me, isManager, loadModel, allObjects, objectLabel, pipelineLabel, errorMessage, stagePipelines } from './api.js';
import { html, useRoute, navigate, Spinner, ErrorBox, Toasts, toast } from './ui.js';
import { t, lang, setLanguage, onLanguage, languages } from './i18n.js';
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
import { FormsPage, FormEditor } from './formeditor.js';

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
            setError(t('login.codeNotSent', { error: errorMessage(err2) }));
          }
          return;
        }
        setError(err.status === 400 ? t('login.wrongPassword') : errorMessage(err));
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
        setError(err.status === 400 ? t('login.wrongCode') : errorMessage(err));
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
        <p>${t('login.codeSent', { email })}</p>
        <label>${t('login.code')} <input id="login-code" inputmode="numeric" autocomplete="one-time-code" required value=${code} onInput=${(e) => setCode(e.target.value)} /></label>
        <${ErrorBox} error=${error} />
        <button class="primary" type="submit" disabled=${busy}>${busy ? t('login.checking') : t('login.signIn')}</button>
        <button type="button" class="link" onClick=${() => { setMfa(null); setCode(''); setError(''); }}>${t('login.startAgain')}</button>
      </form>
    </main>`;
  }
  return html`<main class="login">
    <form onSubmit=${submit} class="card">
      <h1><span class="logo">◆</span> Relata</h1>
      <label>${t('login.email')} <input id="login-email" type="email" autocomplete="username" required value=${email} onInput=${(e) => setEmail(e.target.value)} /></label>
      <label>${t('login.password')} <input id="login-password" type="password" autocomplete="current-password" required value=${password} onInput=${(e) => setPassword(e.target.value)} /></label>
      <${ErrorBox} error=${error} />
      <button class="primary" type="submit" disabled=${busy}>${busy ? t('login.signingIn') : t('login.signIn')}</button>
      ${providers.length ? html`<div class="oauth" data-testid="oauth">
        ${providers.map((p) => html`<button key=${p.name} type="button" disabled=${busy} onClick=${() => oauth(p.name)}>${t('login.signInWith', { provider: p.displayName || p.name })}</button>`)}
      </div>` : null}
      <p class="muted small">${t('login.adminNote')} <a href="/_/">${t('login.adminDashboard')}</a>.</p>
    </form>
  </main>`;
}

function Nav({ route, onClose }) {
  const path = route.path;
  const here = (p) => (path === p || path.startsWith(p + '/') ? 'active' : '');
  const boards = allObjects().flatMap((o) => (o.pipelines || []).filter((p) => o.fields.some((f) => f.type === 'stage' && stagePipelines(o, f).includes(p)))
    .map((p) => ({ o, p })));
  // On phones and tablets the sidebar is a drawer: a tap on a link (or beside it) closes it.
  return html`<nav class="sidebar" id="sidebar" data-testid="sidebar" onClick=${(e) => e.target.closest('a') && onClose()}>
    <a class="brand" href="#/"><span class="logo">◆</span> Relata</a>
    <div class="group">${t('nav.pipelines')}</div>
    ${boards.map(({ o, p }) => html`<a key=${o.name + p.name} class=${here(`/board/${o.name}/${p.name}`)} href=${`#/board/${o.name}/${p.name}`}>
      ${boards.length > 1 || (o.pipelines || []).length > 1 ? `${objectLabel(o)}: ${pipelineLabel(o, p)}` : t('nav.pipeline', { name: pipelineLabel(o, p) })}</a>`)}
    <a class=${here('/tasks')} href="#/tasks">${t('nav.tasks')}</a>
    <a class=${here('/dashboard')} href="#/dashboard">${t('nav.dashboard')}</a>
    <div class="group">${t('nav.records')}</div>
    ${allObjects().map((o) => html`<a key=${o.name} class=${here('/list/' + o.name)} href=${'#/list/' + o.name}>${objectLabel(o)}</a>`)}
    <a class=${here('/trash')} href="#/trash">${t('nav.trash')}</a>
    ${isManager() ? html`<a class=${here('/reassign')} href="#/reassign">${t('nav.reassign')}</a>` : null}
    <a class=${here('/duplicates') || here('/merge')} href="#/duplicates/contacts">${t('nav.duplicates')}</a>
    ${isManager() ? html`
      <div class="group">${t('nav.automation')}</div>
      <a class=${here('/workflows')} href="#/workflows">${t('nav.workflows')}</a>
      <a class=${here('/runs')} href="#/runs">${t('nav.runs')}</a>
      <div class="group">${t('nav.marketing')}</div>
      <a class=${here('/segments')} href="#/segments">${t('nav.segments')}</a>
      <a class=${here('/campaigns')} href="#/campaigns">${t('nav.campaigns')}</a>
      <a class=${here('/forms')} href="#/forms">${t('nav.forms')}</a>` : null}
    ${me()?.role === 'admin' ? html`
      <div class="group">${t('nav.administration')}</div>
      <a class=${here('/privacy')} href="#/privacy">${t('nav.privacy')}</a>
      <a class=${here('/audit')} href="#/audit">${t('nav.audit')}</a>
      <a class=${here('/webhooks')} href="#/webhooks">${t('nav.webhooks')}</a>` : null}
  </nav>`;
}

// LanguageSwitch changes the interface's language at once and saves it as the user's.
function LanguageSwitch() {
  const change = async (e) => {
    const l = e.target.value;
    setLanguage(l);
    try {
      await pb.collection('users').update(me().id, { language: l });
    } catch (err) {
      toast(errorMessage(err), 'error');
    }
  };
  return html`<select class="language-switch" data-testid="language-switch" aria-label=${t('topbar.language')} value=${lang()} onChange=${change}>
    ${languages.map(([code, name]) => html`<option key=${code} value=${code}>${name}</option>`)}
  </select>`;
}

function TopBar({ onSignOut, navOpen, onMenu }) {
  const [q, setQ] = useState('');
  const u = me();
  return html`<header class="topbar">
    <button class="menu-button" type="button" data-testid="menu-button" aria-label=${t('topbar.menu')} aria-controls="sidebar"
      aria-expanded=${navOpen ? 'true' : 'false'} onClick=${onMenu}>☰</button>
    <form class="search" onSubmit=${(e) => { e.preventDefault(); if (q.trim()) navigate('/search/' + encodeURIComponent(q.trim())); }}>
      <input id="global-search" type="search" placeholder=${t('topbar.search')} value=${q} onInput=${(e) => setQ(e.target.value)} />
    </form>
    <div class="who">
      <${Bell} />
      <a class="user-name" href="#/preferences" title=${t('topbar.preferences')}>${u?.name || u?.email}</a> <span class="pill">${u?.role ? t('role.' + u.role) : ''}</span>
      <${LanguageSwitch} />
      <button class="link" onClick=${onSignOut}>${t('topbar.signOut')}</button>
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
    case 'forms': return b ? html`<${FormEditor} key=${b} id=${b === 'new' ? '' : b} />` : html`<${FormsPage} />`;
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
  // A switch of language draws every screen again, in the new language.
  const [language, setLang] = useState(lang());
  useEffect(() => onLanguage(setLang), []);
  useEffect(() => setNavOpen(false), [route.path]);
  const start = async () => {
    setState('loading');
    try {
      await pb.collection('users').authRefresh();
      setLanguage(me()?.language);
      // A user who never chose keeps the browser's language, saved so that what the server
      // writes for her (notifications, the morning digest) speaks it too.
      if (me() && !me().language) pb.collection('users').update(me().id, { language: lang() }).catch(() => {});
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
    setLanguage('');
    setState('signed-out');
  };
  if (state === 'signed-out') return html`<${Login} onSignedIn=${start} />`;
  if (state === 'loading') return html`<${Spinner} />`;
  if (state === 'failed') return html`<main class="content"><${ErrorBox} error=${error} /></main>`;
  return html`<div class="shell ${navOpen ? 'nav-open' : ''}" key=${language}>
    <${Nav} route=${route} onClose=${() => setNavOpen(false)} />
    ${navOpen ? html`<div class="nav-backdrop" data-testid="nav-backdrop" onClick=${() => setNavOpen(false)}></div>` : null}
    <div class="main">
      <${TopBar} onSignOut=${signOut} navOpen=${navOpen} onMenu=${() => setNavOpen((v) => !v)} />
      <main class="content"><${Screen} route=${route} /></main>
    </div>
    <${Toasts} />
  </div>`;
}

// The signed-in user's language from her cached record, until the server's answer confirms it.
if (me()) setLanguage(me().language);
render(html`<${App} />`, document.getElementById('app'));
