// The demo chat page: one user, the rooms they take part in, one room open, over the public API
// only. It survives reconnects: it keeps per room the `seq` and `epoch` of the last message it
// saw (in memory and localStorage), always connects with `?resume=true` and sends `resume`
// first, so a reconnect brings exactly the missed messages. Texts carry a `client_msg_id` and
// are retried once over a new connection if no echo comes.
// Content from the server is only ever inserted with textContent, never as HTML.
'use strict';

const ID_RE = /^[A-Za-z0-9._:@-]{1,128}$/;
const TYPING_EVERY_MS = 2000; // send "typing" at most this often
const TYPING_IDLE_MS = 3000; // send "stopped" after this long without input
const TYPING_SHOW_MS = 5000; // hide someone's indicator after this long without news
const PRESENCE_EVERY_MS = 10000; // also refreshes the rooms list
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 5000;
const ECHO_WAIT_MS = 4000; // no echo of a text by then: retry once over a new connection
const ROOMS_DEBOUNCE_MS = 300;
const HISTORY_PAGE = 50;

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const enc = encodeURIComponent;

const state = {
  session: null, // a fresh object per start(): async work of an older session stops
  user: null,
  room: null, // the open room
  ws: null,
  backoff: BACKOFF_MIN_MS,
  retryTimer: null,
  positions: {}, // room -> {seq, epoch} of the last message seen (saved per user)
  rooms: new Map(), // room -> its entry in GET /user/{id}/chats
  roomsTimer: null,
  roomsRun: 0, // newest refresh wins
  seen: new Set(), // ids of the messages shown
  readSent: new Map(), // room -> seq of the last `read` sent
  readers: new Map(), // open room: user -> seq read up to (receipts)
  pending: new Map(), // client_msg_id -> {frame, tries, timer}
  typingSentAt: 0, // when we last sent "typing" (0: not typing)
  idleTimer: null,
  typers: new Map(), // user id -> timer that hides them
  presenceTimer: null,
  presenceRun: 0,
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

function isOpen() {
  return Boolean(state.ws && state.ws.readyState === WebSocket.OPEN);
}

function sendFrame(frame) {
  if (isOpen()) state.ws.send(JSON.stringify(frame));
}

// A frame about the open room.
function send(frame) {
  sendFrame({ ...frame, chat_id: state.room });
}

function newClientMsgId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `web-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

// ---- positions: the last message seen per room ----------------------------------------------

const positionsKey = (user) => `chat-demo.positions.${user}`;

function loadPositions(user) {
  try {
    const saved = JSON.parse(localStorage.getItem(positionsKey(user)) || '{}');
    return saved && typeof saved === 'object' ? saved : {};
  } catch {
    return {}; // storage off or unreadable: start afresh
  }
}

let saveTimer = null;
function savePositions() {
  clearTimeout(saveTimer);
  const { user, positions } = state;
  saveTimer = setTimeout(() => {
    try {
      localStorage.setItem(positionsKey(user), JSON.stringify(positions));
    } catch {
      // storage full or off: memory is enough for this page
    }
  }, 200);
}

// Moves a room's position to a stored message (forward only; a new epoch replaces it).
function advance(m) {
  if (typeof m.seq !== 'number' || !m.epoch) return;
  const p = state.positions[m.chat_id];
  if (!p || p.epoch !== m.epoch || m.seq > p.seq) {
    state.positions[m.chat_id] = { seq: m.seq, epoch: m.epoch };
    savePositions();
  }
}

// What the `resume` frame names: every room the user is in (a room never seen: seq 0).
function resumePositions() {
  const positions = {};
  for (const room of state.rooms.keys()) {
    const p = state.positions[room];
    positions[room] = p ? { seq: p.seq, epoch: p.epoch } : { seq: 0, epoch: '' };
  }
  return positions;
}

// ---- rooms and unread counts --------------------------------------------------------------

function renderRooms() {
  const list = $('room-list');
  const focused = list.contains(document.activeElement) ? document.activeElement.closest('li').dataset.room : null;
  let total = 0;
  const rooms = [...state.rooms.values()];
  list.replaceChildren(...rooms.map((r) => {
    const current = r.id === state.room;
    const unread = current ? 0 : r.unread; // the open room is read as it comes
    total += unread;
    const li = el('li', unread ? 'unread' : '');
    li.dataset.testid = 'room';
    li.dataset.room = r.id;
    const button = el('button');
    button.type = 'button';
    if (current) button.setAttribute('aria-current', 'true');
    const name = el('span', 'name', r.name || r.id);
    button.append(name);
    if (unread) {
      const badge = el('span', 'badge', String(unread));
      badge.dataset.testid = 'unread-badge';
      badge.setAttribute('aria-hidden', 'true');
      button.append(badge, el('span', 'visually-hidden', `, ${unread} unread`));
    }
    const last = r.last_message;
    if (last) {
      const who = last.type === 'system' ? '' : `${last.user_id}: `;
      button.append(el('span', 'preview', `${who}${last.content}`));
    }
    button.addEventListener('click', () => openRoom(r.id));
    li.append(button);
    return li;
  }));
  const again = [...list.children].find((li) => li.dataset.room === focused);
  if (again) again.querySelector('button').focus(); // keyboard users keep their place
  $('rooms-empty').hidden = rooms.length > 0;
  document.title = total ? `(${total}) Chat demo` : 'Chat demo';
}

let renderRoomsTimer = null;
function scheduleRenderRooms() {
  clearTimeout(renderRoomsTimer);
  renderRoomsTimer = setTimeout(renderRooms, 50);
}

// GET /user/{id}/chats: the rooms list, their unread counts, and positions for rooms not seen
// yet (their newest message: what came before it is history, not something missed).
async function refreshRooms() {
  const run = ++state.roomsRun;
  const session = state.session;
  const list = await getJson(`/user/${enc(state.user)}/chats`); // 404: a user not created yet
  if (run !== state.roomsRun || session !== state.session) return;
  state.rooms = new Map((list || []).map((r) => [r.id, r]));
  for (const r of state.rooms.values()) {
    if (!state.positions[r.id] && r.last_message) advance(r.last_message);
  }
  renderRooms();
}

function scheduleRooms() {
  clearTimeout(state.roomsTimer);
  state.roomsTimer = setTimeout(() => {
    refreshRooms().catch((e) => console.warn('rooms refresh failed', e));
  }, ROOMS_DEBOUNCE_MS);
}

// ---- messages ----------------------------------------------------------------------------------

function formatTime(ts) {
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? ts : d.toLocaleTimeString([], { hour12: false });
}

// Adds a message of the open room in timestamp order (RFC 3339 UTC with fixed precision sorts
// as text), once.
function addMessage(m) {
  if (state.seen.has(m.id)) return;
  state.seen.add(m.id);
  const li = el('li', `message ${m.type === 'system' ? 'system' : 'text'}`);
  if (m.user_id === state.user) li.classList.add('own');
  li.dataset.testid = 'message';
  li.dataset.id = m.id;
  li.dataset.ts = m.timestamp;
  li.dataset.user = m.user_id;
  if (typeof m.seq === 'number') li.dataset.seq = m.seq;
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
  scheduleRead();
  scheduleReceipts();
}

// Replaces what the open room shows (a history page, or a resume that could not recover).
function showMessages(messages) {
  state.seen = new Set();
  $('messages').replaceChildren();
  messages.forEach(addMessage);
}

async function loadHistory(room) {
  const session = state.session;
  try {
    const page = await getJson(`/chat/${enc(room)}/messages?limit=${HISTORY_PAGE}`);
    if (session !== state.session || room !== state.room) return;
    (page || []).forEach((m) => { // 404: the room is new, nothing to show
      advance(m);
      addMessage(m);
    });
  } catch (e) {
    showError(`Could not load history: ${e.message}`);
  }
}

// ---- read state and receipts -------------------------------------------------------------------

let readTimer = null;
function scheduleRead() {
  clearTimeout(readTimer);
  readTimer = setTimeout(sendRead, 100);
}

// `read` up to the open room's newest message, once per new message, while the page is seen.
function sendRead() {
  if (!isOpen() || document.visibilityState === 'hidden') return;
  const last = [...$('messages').querySelectorAll('li[data-seq]')].pop();
  const seq = Number(last ? last.dataset.seq : 0);
  if (!seq || seq <= (state.readSent.get(state.room) || 0)) return;
  state.readSent.set(state.room, seq);
  sendFrame({ type: 'read', chat_id: state.room, seq });
}

let receiptsTimer = null;
function scheduleReceipts() {
  clearTimeout(receiptsTimer);
  receiptsTimer = setTimeout(renderReceipts, 50);
}

// "seen by bob" under the newest message each other participant has read (not their own).
function renderReceipts() {
  const list = $('messages');
  list.querySelectorAll('.seen').forEach((n) => n.remove());
  const items = [...list.querySelectorAll('li.text[data-seq]')];
  const byItem = new Map();
  for (const [user, seq] of state.readers) {
    if (user === state.user) continue;
    let i = items.length - 1;
    while (i >= 0 && (Number(items[i].dataset.seq) > seq || items[i].dataset.user === user)) i--;
    if (i < 0) continue;
    byItem.set(items[i], [...(byItem.get(items[i]) || []), user]);
  }
  for (const [li, users] of byItem) {
    const seen = el('span', 'seen', `seen by ${users.sort().join(', ')}`);
    seen.dataset.testid = 'seen';
    li.querySelector('.meta').append(seen);
  }
}

function setReader(user, seq) {
  if (seq > (state.readers.get(user) || 0)) state.readers.set(user, seq);
  scheduleReceipts();
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

function clearTypers() {
  state.typers.forEach((timer) => clearTimeout(timer));
  state.typers.clear();
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
  const room = state.room;
  try {
    const chat = await getJson(`/chat/${enc(room)}`);
    const ids = chat ? chat.participants : [];
    const users = await Promise.all(ids.map((id) => getJson(`/user/${enc(id)}`)));
    if (run !== state.presenceRun || room !== state.room) return; // a newer refresh is under way
    Object.entries((chat && chat.read_positions) || {}).forEach(([user, seq]) => setReader(user, seq));
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

// ---- sending texts -----------------------------------------------------------------------------

function sendText(content) {
  const frame = { type: 'text', chat_id: state.room, content, client_msg_id: newClientMsgId() };
  const entry = { frame, tries: 0, timer: null };
  state.pending.set(frame.client_msg_id, entry);
  transmit(entry);
}

// Sends (or resends) a pending text; no echo within ECHO_WAIT_MS: the connection is deemed
// broken and the text goes again, once, over the next one.
function transmit(entry) {
  if (!isOpen()) return; // the next connection sends it
  entry.tries += 1;
  sendFrame(entry.frame);
  clearTimeout(entry.timer);
  entry.timer = setTimeout(() => {
    if (!state.pending.has(entry.frame.client_msg_id)) return;
    if (entry.tries < 2) dropConnection();
    else giveUp(entry);
  }, ECHO_WAIT_MS);
}

function giveUp(entry) {
  clearTimeout(entry.timer);
  state.pending.delete(entry.frame.client_msg_id);
  showError(`Not sent (no answer from the server): "${entry.frame.content}"`);
  const input = $('message-input');
  if (!input.value) input.value = entry.frame.content;
}

// After a resume: what still waits for its echo goes again (a retry of a text that was stored
// only brings back the original). One already retried is not sent a third time: the replay
// may still bring it, else it is given up.
function resendPending() {
  for (const entry of state.pending.values()) {
    if (entry.tries < 2) {
      transmit(entry);
    } else {
      clearTimeout(entry.timer);
      entry.timer = setTimeout(() => state.pending.has(entry.frame.client_msg_id) && giveUp(entry), ECHO_WAIT_MS);
    }
  }
}

function settle(m) {
  const entry = m.client_msg_id && m.user_id === state.user && state.pending.get(m.client_msg_id);
  if (!entry) return;
  clearTimeout(entry.timer);
  state.pending.delete(m.client_msg_id);
}

// ---- connection --------------------------------------------------------------------------------

function onResumed(f) {
  // Recovered: the replayed messages came just before and moved the position.
  if (!f.recovered) {
    // The history no longer reaches our position (or was lost): start again from its page.
    const messages = f.messages || [];
    const newest = messages[messages.length - 1];
    state.positions[f.chat_id] = newest ? { seq: newest.seq, epoch: newest.epoch } : { seq: 0, epoch: f.epoch };
    savePositions();
    if (f.chat_id === state.room) showMessages(messages);
  }
  if (f.chat_id !== state.room && (!f.recovered || f.replayed)) scheduleRooms();
}

function onFrame(event) {
  let m;
  try {
    m = JSON.parse(event.data);
  } catch {
    return;
  }
  if (m.type === 'error') return showError(m.detail);
  if (m.type === 'resumed') return onResumed(m);
  if (m.type === 'receipt') {
    if (m.chat_id === state.room) setReader(m.user_id, m.seq);
    return;
  }
  if (m.type === 'typing') {
    if (m.chat_id === state.room) setTyper(m.user_id, m.content === 'typing');
    return;
  }
  advance(m);
  settle(m);
  const entry = state.rooms.get(m.chat_id);
  if (entry) {
    entry.last_message = m;
    scheduleRenderRooms();
  }
  if (m.type === 'system') scheduleRooms(); // membership changed
  if (m.chat_id !== state.room) return scheduleRooms(); // its unread count moved
  if (m.type === 'text') setTyper(m.user_id, false);
  addMessage(m);
  if (m.type === 'system') refreshPresence();
}

async function connect() {
  clearTimeout(state.retryTimer);
  state.retryTimer = null;
  const session = state.session;
  // The rooms to resume (best effort: if this fails, so will the connection, and we retry).
  await refreshRooms().catch((e) => console.warn('rooms refresh failed', e));
  if (session !== state.session) return;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${scheme}://${location.host}/ws/${enc(state.user)}?resume=true`);
  state.ws = ws;
  ws.onopen = () => {
    // First frame: where we stand in every room; the server replays what we missed.
    ws.send(JSON.stringify({ type: 'resume', positions: resumePositions() }));
    state.backoff = BACKOFF_MIN_MS;
    setStatus(`connected as ${state.user}`, 'connected');
    if (!state.rooms.has(state.room)) send({ type: 'join' });
    resendPending();
    scheduleRead();
    refreshPresence();
  };
  ws.onmessage = onFrame;
  ws.onclose = () => {
    if (state.ws !== ws) return; // replaced by a newer connection
    state.ws = null;
    state.typingSentAt = 0;
    clearTypers();
    setStatus('reconnecting…', 'reconnecting');
    const delay = state.backoff * (0.75 + Math.random() / 2);
    state.retryTimer = setTimeout(connect, delay);
    state.backoff = Math.min(state.backoff * 2, BACKOFF_MAX_MS);
  };
}

// Drops the connection as a network failure would; the page reconnects on its own.
function dropConnection() {
  if (state.ws) state.ws.close(4000, 'dropped');
}

// Opens one of the user's rooms on the same connection.
function openRoom(room) {
  if (room === state.room) return;
  const left = state.rooms.get(state.room);
  if (left) left.unread = 0; // it was read as it came
  stopTyping();
  clearTypers();
  state.room = room;
  state.readers = new Map();
  $('room-input').value = room;
  $('messages').replaceChildren();
  state.seen = new Set();
  $('online-list').replaceChildren();
  $('room-title').textContent = `Room ${room}`;
  history.replaceState(null, '', `?user=${enc(state.user)}&room=${enc(room)}`);
  renderRooms();
  if (!state.rooms.has(room)) send({ type: 'join' });
  loadHistory(room);
  refreshPresence();
}

async function start(user, room) {
  if (user === state.user && state.session) return openRoom(room);
  if (state.ws) {
    const old = state.ws;
    state.ws = null;
    old.close(1000);
  }
  stopTyping();
  clearTypers();
  state.pending.forEach((entry) => clearTimeout(entry.timer));
  clearTimeout(state.retryTimer);
  const session = {};
  Object.assign(state, {
    session, user, room, backoff: BACKOFF_MIN_MS, seen: new Set(), positions: loadPositions(user),
    rooms: new Map(), readSent: new Map(), readers: new Map(), pending: new Map(),
  });
  $('messages').replaceChildren();
  $('online-list').replaceChildren();
  $('room-title').textContent = `Room ${room}`;
  renderRooms();
  history.replaceState(null, '', `?user=${enc(user)}&room=${enc(room)}`);
  setStatus('connecting…', 'connecting');
  await loadHistory(room); // the open room resumes from its newest message shown
  if (session !== state.session) return;
  connect();
  clearInterval(state.presenceTimer);
  state.presenceTimer = setInterval(() => {
    refreshPresence();
    scheduleRooms();
  }, PRESENCE_EVERY_MS);
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
    if (!content || !isOpen()) return;
    stopTyping();
    sendText(content);
    input.value = '';
    input.focus();
  });

  $('error-dismiss').addEventListener('click', () => {
    $('error-banner').hidden = true;
  });
  document.addEventListener('visibilitychange', scheduleRead);
  window.addEventListener('online', () => {
    if (state.retryTimer) connect(); // the network is back: no need to wait for the backoff
  });
  // For tests and curious developers: drop the connection, look at the positions.
  window.__demo = { dropConnection, get positions() { return state.positions; } };
}

init();
