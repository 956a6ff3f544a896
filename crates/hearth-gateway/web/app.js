// The page's wiring: sign-in, the pages (chat, memory, status), the sessions sidebar,
// the message box (Enter sends, Shift+Enter adds a line, Esc or Stop cancels) and the
// event WebSocket that shows turns started elsewhere.

import {
  adoptTokenFromFragment, call, sendMessage, token, watchEvents, Unauthorized,
} from './api.js';
import { renderTranscript, TurnView, userBubble } from './chat.js';
import { Sidebar, titleOf } from './sessions.js';
import { MemoryPage, renderStatus } from './pages.js';

const $ = (id) => document.getElementById(id);

const ui = {
  transcript: $('transcript'),
  message: $('message'),
  send: $('send'),
  stop: $('stop'),
  composer: $('composer'),
  title: $('session-title'),
  rename: $('rename-session'),
  remove: $('delete-session'),
  renameForm: $('rename-form'),
  renameInput: $('rename-input'),
  connection: $('connection'),
  signin: $('signin'),
  signinReason: $('signin-reason'),
  signinToken: $('signin-token'),
  sidebar: $('sidebar'),
  sessionsToggle: $('sessions-toggle'),
};

const state = {
  session: null, // the open session's id; null: a new one is made on first send
  running: false, // a turn this page started in the open session is running
  // Sessions whose own turn this page streams: their WebSocket events are skipped
  // until that turn's last event, so nothing is drawn twice.
  ownTurns: new Set(),
  foreign: null, // the TurnView of a turn started elsewhere in the open session
  own: null, // {view, session} of the turn this page streams
  signedIn: false,
  page: 'chat',
};

const sidebar = new Sidebar($('session-list'), (id) => openSession(id));

function showError(err) {
  if (err instanceof Unauthorized) {
    askToSignIn('The gateway did not accept the token.');
    return;
  }
  const note = document.createElement('div');
  note.className = 'note error';
  note.setAttribute('role', 'alert');
  note.textContent = err?.message ?? String(err);
  const page = document.querySelector('.page:not([hidden])');
  (page === $('page-chat') ? ui.transcript : page).append(note);
}

const memoryPage = new MemoryPage($('page-memory'), showError);

function askToSignIn(reason) {
  state.signedIn = false;
  ui.signinReason.textContent = reason;
  ui.signin.hidden = false;
  setUsable(false);
  ui.signinToken.focus();
}

$('signin-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const value = ui.signinToken.value.trim();
  if (!value) return;
  token.set(value);
  ui.signinToken.value = '';
  start();
});

function setUsable(usable) {
  ui.message.disabled = !usable;
  ui.send.disabled = !usable || state.running;
  if (usable && !performance.getEntriesByName('hearth:usable').length) {
    performance.mark('hearth:usable');
  }
}

function setRunning(running) {
  state.running = running;
  ui.stop.hidden = !running;
  ui.send.disabled = running || !state.signedIn;
}

function showSessionHead() {
  const session = state.session && sidebar.get(state.session);
  ui.title.textContent = state.session ? titleOf(session) : 'New session';
  ui.rename.hidden = !state.session;
  ui.remove.hidden = !state.session;
  ui.renameForm.hidden = true;
  ui.remove.textContent = 'Delete';
  delete ui.remove.dataset.confirm;
}

async function openSession(id) {
  if (state.own) {
    // The turn this page streams keeps running; its events now reach the page through
    // the WebSocket, like any turn started elsewhere.
    state.own.view.detached = true;
    state.ownTurns.delete(state.own.session);
    state.own = null;
  }
  state.session = id;
  state.foreign = null;
  setRunning(false);
  sidebar.setActive(id);
  showSessionHead();
  closeSidebarOnPhone();
  showPage('chat');
  ui.transcript.replaceChildren();
  if (!id) {
    ui.message.focus();
    return;
  }
  try {
    const { session, messages } = await call('GET', `/api/sessions/${encodeURIComponent(id)}`);
    if (state.session !== id) return;
    ui.title.textContent = titleOf(session);
    ui.transcript.replaceChildren(renderTranscript(messages));
    ui.transcript.scrollTop = ui.transcript.scrollHeight;
  } catch (err) {
    showError(err);
  }
}

async function send() {
  const text = ui.message.value;
  if (!text.trim() || state.running || !state.signedIn) return;
  setRunning(true);
  let id = state.session;
  try {
    if (!id) {
      const session = await call('POST', '/api/sessions');
      id = session.id;
      state.session = id;
      sidebar.sessions.unshift(session);
      sidebar.draw();
      sidebar.setActive(id);
      showSessionHead();
    }
  } catch (err) {
    setRunning(false);
    showError(err);
    return;
  }
  ui.message.value = '';
  ui.transcript.append(userBubble(text));
  ui.transcript.scrollTop = ui.transcript.scrollHeight;
  const view = new TurnView(ui.transcript);
  state.ownTurns.add(id);
  state.own = { view, session: id };
  try {
    await sendMessage(id, text, (event) => view.handle(event));
  } catch (err) {
    state.ownTurns.delete(id);
    showError(err);
  } finally {
    if (state.own?.view === view) state.own = null;
    view.closeBubble();
    if (state.session === id) setRunning(false);
    sidebar.refresh().then(showSessionHead).catch(() => {});
  }
}

async function cancelTurn() {
  const id = state.session;
  if (!id) return;
  try {
    await call('POST', `/api/sessions/${encodeURIComponent(id)}/cancel`);
  } catch (err) {
    showError(err);
  }
}

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  send();
});
ui.message.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    send();
  }
});
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && ui.sidebar.classList.contains('open')) {
    closeSidebarOnPhone();
    ui.sessionsToggle.focus();
    return;
  }
  if (event.key === 'Escape' && (state.running || state.foreign)) {
    event.preventDefault();
    cancelTurn();
  }
});
ui.stop.addEventListener('click', cancelTurn);
$('new-session').addEventListener('click', () => openSession(null));

ui.rename.addEventListener('click', () => {
  ui.renameForm.hidden = false;
  ui.renameInput.value = ui.title.textContent;
  ui.renameInput.focus();
  ui.renameInput.select();
});
$('rename-cancel').addEventListener('click', () => {
  ui.renameForm.hidden = true;
  ui.rename.focus();
});
ui.renameForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const title = ui.renameInput.value.trim();
  if (!title || !state.session) return;
  try {
    await call('PATCH', `/api/sessions/${encodeURIComponent(state.session)}`, { title });
    await sidebar.refresh();
    showSessionHead();
    ui.rename.focus();
  } catch (err) {
    showError(err);
  }
});
ui.remove.addEventListener('click', async () => {
  if (!state.session) return;
  if (!ui.remove.dataset.confirm) {
    ui.remove.dataset.confirm = '1';
    ui.remove.textContent = 'Confirm delete';
    return;
  }
  try {
    await call('DELETE', `/api/sessions/${encodeURIComponent(state.session)}`);
    await sidebar.refresh();
    openSession(null);
  } catch (err) {
    showError(err);
  }
});

function showPage(page) {
  state.page = page;
  closeSidebarOnPhone();
  for (const button of document.querySelectorAll('nav [data-page]')) {
    if (button.dataset.page === page) button.setAttribute('aria-current', 'page');
    else button.removeAttribute('aria-current');
  }
  for (const name of ['chat', 'memory', 'status']) $(`page-${name}`).hidden = name !== page;
  if (page === 'status') renderStatus($('status-body')).catch(showError);
  if (page === 'memory') memoryPage.search();
}
for (const button of document.querySelectorAll('nav [data-page]')) {
  button.addEventListener('click', () => showPage(button.dataset.page));
}

function closeSidebarOnPhone() {
  ui.sidebar.classList.remove('open');
  ui.sessionsToggle.setAttribute('aria-expanded', 'false');
}
ui.sessionsToggle.addEventListener('click', () => {
  const open = ui.sidebar.classList.toggle('open');
  ui.sessionsToggle.setAttribute('aria-expanded', String(open));
  if (open) ui.sidebar.querySelector('button')?.focus();
});

// An event of any session's turn, from the WebSocket.
function onBusEvent({ session_id: id, event, type }) {
  if (type === 'lagged') {
    sidebar.refresh().catch(() => {});
    return;
  }
  if (!event) return;
  const last = event.type === 'final' || event.type === 'error';
  if (state.ownTurns.has(id)) {
    if (last) state.ownTurns.delete(id);
    return;
  }
  if (event.type === 'session_started' || last || !sidebar.has(id)) {
    sidebar.refresh().then(showSessionHead).catch(() => {});
  }
  if (id !== state.session) return;
  if (!state.foreign) {
    // A turn started elsewhere: its live events go below the stored transcript, which
    // is read again (its user message is stored before the turn's first event).
    const live = document.createElement('div');
    live.className = 'live';
    ui.transcript.append(live);
    state.foreign = new TurnView(live, { scroller: ui.transcript });
    reloadTranscript(id, live);
  }
  state.foreign.handle(event);
  if (last) {
    state.foreign = null;
    reloadTranscript(id);
  }
}

// Draws the stored transcript of `id` again, keeping `live` (a running turn) below it.
async function reloadTranscript(id, live) {
  try {
    const { messages } = await call('GET', `/api/sessions/${encodeURIComponent(id)}`);
    if (state.session !== id) return;
    if (live && !live.isConnected) return;
    const stored = renderTranscript(messages);
    ui.transcript.replaceChildren(stored, ...(live ? [live] : []));
    ui.transcript.scrollTop = ui.transcript.scrollHeight;
  } catch (err) {
    showError(err);
  }
}

function onSocketState(socketState) {
  if (socketState === 'open') {
    state.ownTurns.clear();
    ui.connection.textContent = 'live';
    ui.connection.dataset.state = 'open';
  } else {
    ui.connection.textContent = 'offline';
    ui.connection.dataset.state = 'closed';
  }
}

let stopWatching = null;

async function start() {
  ui.signin.hidden = true;
  if (!token.get()) {
    askToSignIn('No token yet.');
    return;
  }
  try {
    await sidebar.refresh();
  } catch (err) {
    if (err instanceof Unauthorized) askToSignIn('The gateway did not accept the token.');
    else showError(err);
    return;
  }
  state.signedIn = true;
  setUsable(true);
  ui.message.focus();
  stopWatching?.();
  stopWatching = watchEvents(onBusEvent, onSocketState);
}

adoptTokenFromFragment();
start();
