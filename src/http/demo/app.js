// The demo chat page: one user in one room over the public API only.
// Content from the server is only ever inserted with textContent, never as HTML.
'use strict';

const ID_RE = /^[A-Za-z0-9._:@-]{1,128}$/;
const TYPING_EVERY_MS = 2000; // send "typing" at most this often
const TYPING_IDLE_MS = 3000; // send "stopped" after this long without input
const TYPING_SHOW_MS = 5000; // hide someone's indicator after this long without news
const PRESENCE_EVERY_MS = 10000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 5000;

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);

const state = {
  user: null,
  room: null,
  ws: null,
  backoff: BACKOFF_MIN_MS,
  retryTimer: null,
  seen: new Set(), // message ids already shown
  typingSentAt: 0, // when we last sent "typing" (0: not typing)
  idleTimer: null,
  typers: new Map(), // user id -> timer that hides them
  presenceTimer: null,
  presenceRun: 0, // newest refresh wins
};

// ---- small helpers ---------------------------------------------------------------------------

function validId(id, what) {
  if (!ID_RE.test(id)) return `${what} must be 1 to 128 characters of A-Z a-z 0-9 . _ - : @`;
  if (what === 'User id' && id === 'system') return 'User id "system" is reserved';
  return null;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function setStatus(text, kind) {
  const status = $('status');
  status.textContent = text;
  status.dataset.state = kind;
  const open = kind === 'connected';
  $('message-input').disabled = !open;
  $('send-button').disabled = !open;
}

function showError(text) {
  $('error-text').textContent = text;
  $('error-banner').hidden = false;
}

async function getJson(path) {
  const resp = await fetch(path, { headers: { accept: 'application/json' } });
  if (resp.status === 404) return null;
  if (!resp.ok) {
    const body = await resp.json().catch(() => ({}));
    throw new Error(body.detail || `${path}: HTTP ${resp.status}`);
  }
  return resp.json();
}

function send(frame) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) {
    state.ws.send(JSON.stringify({ ...frame, chat_id: state.room }));
  }
}

const enc = encodeURIComponent;

// ---- messages ----------------------------------------------------------------------------------

function formatTime(ts) {
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? ts : d.toLocaleTimeString([], { hour12: false });
}

// Adds a message in timestamp order (RFC 3339 UTC with fixed precision sorts as text), once.
function addMessage(m) {
  if (state.seen.has(m.id)) return;
  state.seen.add(m.id);
  const li = el('li', `message ${m.type === 'system' ? 'system' : 'text'}`);
  if (m.user_id === state.user) li.classList.add('own');
  li.dataset.testid = 'message';
  li.dataset.id = m.id;
  li.dataset.ts = m.timestamp;
  const meta = el('div', 'meta');
  if (m.type !== 'system') meta.append(el('span', 'author', m.user_id), ' ');
  const time = el('time', 'time', formatTime(m.timestamp));
  time.dateTime = m.timestamp;
  meta.append(time);
  li.append(meta, el('div', 'content', m.content));

  const list = $('messages');
  let after = list.lastElementChild;
  while (after && after.dataset.ts > m.timestamp) after = after.previousElementSibling;
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  if (after) after.after(li);
  else list.prepend(li);
  if (atBottom || m.user_id === state.user) list.scrollTop = list.scrollHeight;
}

async function loadHistory() {
  try {
    const page = await getJson(`/chat/${enc(state.room)}/messages?limit=50`);
    (page || []).forEach(addMessage); // 404: the room is new, nothing to show
  } catch (e) {
    showError(`Could not load history: ${e.message}`);
  }
}

// ---- typing ------------------------------------------------------------------------------------

function renderTypers() {
  const names = [...state.typers.keys()];
  const text =
    names.length === 0 ? '' :
    names.length === 1 ? `${names[0]} is typing…` :
    `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]} are typing…`;
  $('typing-indicator').textContent = text;
}

function setTyper(user, typing) {
  clearTimeout(state.typers.get(user));
  if (typing) state.typers.set(user, setTimeout(() => setTyper(user, false), TYPING_SHOW_MS));
  else state.typers.delete(user);
  renderTypers();
}

function stopTyping() {
  clearTimeout(state.idleTimer);
  if (state.typingSentAt) send({ type: 'typing', content: 'stopped' });
  state.typingSentAt = 0;
}

function onInput() {
  const now = Date.now();
  if (now - state.typingSentAt >= TYPING_EVERY_MS) {
    send({ type: 'typing', content: 'typing' });
    state.typingSentAt = now;
  }
  clearTimeout(state.idleTimer);
  state.idleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
}

// ---- presence ----------------------------------------------------------------------------------

async function refreshPresence() {
  const run = ++state.presenceRun;
  try {
    const chat = await getJson(`/chat/${enc(state.room)}`);
    const ids = chat ? chat.participants : [];
    const users = await Promise.all(ids.map((id) => getJson(`/user/${enc(id)}`)));
    if (run !== state.presenceRun) return; // a newer refresh is under way
    const list = $('online-list');
    list.replaceChildren(...ids.map((id, i) => {
      const active = Boolean(users[i] && users[i].is_active);
      const li = el('li', active ? 'online' : 'offline');
      li.dataset.testid = 'presence';
      li.dataset.user = id;
      li.append(el('span', 'dot'), el('span', 'name', id), el('span', 'state', active ? 'online' : 'offline'));
      return li;
    }));
  } catch (e) {
    console.warn('presence refresh failed', e);
  }
}

// ---- connection --------------------------------------------------------------------------------

function onFrame(event) {
  let m;
  try {
    m = JSON.parse(event.data);
  } catch {
    return;
  }
  if (m.type === 'error') return showError(m.detail);
  if (m.chat_id !== state.room) return; // the user's other rooms
  if (m.type === 'typing') return setTyper(m.user_id, m.content === 'typing');
  if (m.type === 'text') setTyper(m.user_id, false);
  addMessage(m);
  if (m.type === 'system') refreshPresence();
}

function connect() {
  clearTimeout(state.retryTimer);
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${scheme}://${location.host}/ws/${enc(state.user)}`);
  state.ws = ws;
  ws.onopen = () => {
    state.backoff = BACKOFF_MIN_MS;
    setStatus(`connected as ${state.user}`, 'connected');
    send({ type: 'join' }); // joining a room you are in changes nothing
    loadHistory();
    refreshPresence();
  };
  ws.onmessage = onFrame;
  ws.onclose = () => {
    if (state.ws !== ws) return; // replaced by a newer connection
    state.typingSentAt = 0;
    state.typers.forEach((timer) => clearTimeout(timer));
    state.typers.clear();
    renderTypers();
    setStatus('reconnecting…', 'reconnecting');
    state.retryTimer = setTimeout(connect, state.backoff);
    state.backoff = Math.min(state.backoff * 2, BACKOFF_MAX_MS);
  };
}

function start(user, room) {
  if (state.ws) {
    const old = state.ws;
    state.ws = null;
    old.close(1000);
  }
  stopTyping();
  Object.assign(state, { user, room, backoff: BACKOFF_MIN_MS, seen: new Set() });
  $('messages').replaceChildren();
  $('online-list').replaceChildren();
  $('room-title').textContent = `Room ${room}`;
  history.replaceState(null, '', `?user=${enc(user)}&room=${enc(room)}`);
  setStatus('connecting…', 'connecting');
  connect();
  clearInterval(state.presenceTimer);
  state.presenceTimer = setInterval(refreshPresence, PRESENCE_EVERY_MS);
}

// ---- wiring ------------------------------------------------------------------------------------

function init() {
  const params = new URLSearchParams(location.search);
  $('user-input').value = params.get('user') || '';
  $('room-input').value = params.get('room') || '';

  $('connect-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const user = $('user-input').value.trim();
    const room = $('room-input').value.trim();
    const problem = validId(user, 'User id') || validId(room, 'Room id');
    $('connect-error').textContent = problem || '';
    if (!problem) start(user, room);
  });

  const input = $('message-input');
  input.addEventListener('input', onInput);
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $('composer').requestSubmit();
    }
  });
  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    const content = input.value.trim();
    if (!content || !state.ws || state.ws.readyState !== WebSocket.OPEN) return;
    stopTyping();
    send({ type: 'text', content });
    input.value = '';
    input.focus();
  });

  $('error-dismiss').addEventListener('click', () => {
    $('error-banner').hidden = true;
  });
}

init();
