// The demo page in headless Chromium: two browser contexts are two users in one room (and a
// second room for unread counts); they exchange messages, typing and read receipts, a
// screenshot is saved, and the page survives dropped connections: it resumes (exactly the
// missed messages, each once), starts over when told it cannot recover, and retries a text
// whose frame or echo was lost without storing it twice.
//
//   CHAT_URL=http://127.0.0.1:8000 node --test demo.test.mjs   (scripts/e2e.sh does all this)
//
// Every wait is bounded (WAIT); there are no fixed sleeps.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE = process.env.CHAT_URL;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = path.resolve(process.env.E2E_ARTIFACTS || 'artifacts/e2e');
const WAIT = 10_000;
const RETRY_WAIT = WAIT + 5_000; // the page waits 4 s for an echo before it retries
const ROOM = `e2e-${Date.now()}`;
const SIDE = `${ROOM}-side`; // alice and bob are in it from the start; alice does not open it

assert.ok(BASE, 'CHAT_URL must name the server, e.g. http://127.0.0.1:8000');

// Test-side instrumentation (the page itself only exposes window.__demo): record the page's
// sockets, the frames it sends and the `resumed` frames it gets; when `block` is set, make new
// connections fail (an invalid user id is refused with a 400); `swallowText` / `swallowEcho`
// lose that many outgoing text frames / incoming echoes of the page's own texts.
function instrument() {
  const Native = window.WebSocket;
  const e2e = { sockets: [], sent: [], resumed: [], block: false, swallowText: 0, swallowEcho: 0 };
  window.__e2e = e2e;
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(e2e.block ? String(url).replace(/\/ws\/.*$/, '/ws/!') : url, protocols);
      this.frames = []; // what the page sent on this socket
      e2e.sockets.push(this);
      this.addEventListener('message', (e) => {
        const f = JSON.parse(e.data);
        if (f.type === 'resumed') e2e.resumed.push(f);
      });
    }
    send(data) {
      const frame = JSON.parse(data);
      this.frames.push(frame);
      e2e.sent.push(frame);
      if (frame.type === 'text' && e2e.swallowText > 0) {
        e2e.swallowText -= 1;
        return;
      }
      super.send(data);
    }
    set onmessage(fn) {
      const me = new URL(this.url).pathname.split('/').pop();
      super.onmessage = (e) => {
        const f = JSON.parse(e.data);
        if (f.type === 'text' && f.user_id === decodeURIComponent(me) && e2e.swallowEcho > 0) {
          e2e.swallowEcho -= 1;
          return;
        }
        fn(e);
      };
    }
    get onmessage() {
      return super.onmessage;
    }
  };
}

// The server's HTTP API, from the test.
async function api(method, url, body) {
  const resp = await fetch(BASE + url, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await resp.json().catch(() => null);
  assert.ok(resp.ok, `${method} ${url}: HTTP ${resp.status} ${JSON.stringify(json)}`);
  return json;
}

const post = (room, user, content) => api('POST', `/chat/${room}/messages`, { content, user_id: user });

// Polls `fn` until it returns a truthy value (bounded by WAIT).
async function eventually(fn, what) {
  const end = Date.now() + WAIT;
  for (;;) {
    const v = await fn();
    if (v) return v;
    assert.ok(Date.now() < end, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let browser;
const pages = {};
let failed = false;

const message = (page, text) => page.getByTestId('message').filter({ hasText: text });
const shows = (page, testid, text) =>
  page.getByTestId(testid).filter({ hasText: text }).first().waitFor({ timeout: WAIT });

async function openAs(user) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 760 } });
  await context.addInitScript(instrument);
  const page = await context.newPage();
  page.on('pageerror', (e) => {
    failed = true;
    console.error(`[${user}] page error: ${e.message}`);
  });
  page.on('console', (m) => {
    // Expected: the refused connections while blocked, history 404s of a brand-new room, and
    // the rooms list's 404 for a user not created yet.
    const [text, where] = [m.text(), m.location().url];
    if (m.type() === 'error' && !text.includes('/ws/!') && !where.endsWith('/messages?limit=50') &&
        !where.endsWith('/chats')) {
      console.error(`[${user}] ${text} (${where})`);
    }
  });
  await page.goto(BASE, { timeout: WAIT });
  pages[user] = page;
  return page;
}

async function connect(page, user) {
  await page.getByTestId('user-input').fill(user);
  await page.getByTestId('room-input').fill(ROOM);
  await page.getByTestId('connect-button').click();
  await shows(page, 'status', `connected as ${user}`);
  await shows(page, 'message', `${user} joined the chat`);
}

// The texts the page shows (not the system notices), in order.
const texts = (page) => page.getByTestId('message').locator('.content').allTextContents()
  .then((all) => all.filter((t) => !/ (joined|left) the chat$/.test(t)));

// Waits until the page shows exactly `want` (texts, in order), each message once.
async function showsExactly(page, want) {
  await page.waitForFunction((n) => {
    const shown = [...document.querySelectorAll('[data-testid="message"].text')];
    return shown.length >= n;
  }, want.length, { timeout: WAIT });
  assert.deepEqual(await texts(page), want);
  const ids = await page.getByTestId('message').evaluateAll((lis) => lis.map((li) => li.dataset.id));
  assert.equal(new Set(ids).size, ids.length, 'a message is shown twice');
}

// Drops the page's connection (the page's own hook) and waits until it says so.
async function drop(page) {
  await page.evaluate(() => window.__demo.dropConnection());
  await shows(page, 'status', 'reconnecting…');
}

const roomEntry = (page, room) => page.locator(`[data-testid="room"][data-room="${room}"]`);

async function send(page, text) {
  await page.getByTestId('message-input').fill(text);
  await page.getByTestId('message-input').press('Enter');
}

describe('demo page', { timeout: 120_000 }, () => {
  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: 30_000,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    if (failed && pages.alice) {
      await pages.alice.screenshot({ path: path.join(ARTIFACTS, 'demo-failure-alice.png') }).catch(() => {});
      await pages.bob?.screenshot({ path: path.join(ARTIFACTS, 'demo-failure-bob.png') }).catch(() => {});
    }
    await browser?.close();
  });

  const step = (name, fn) => it(name, { timeout: 60_000 }, async () => {
    try {
      await fn();
    } catch (e) {
      failed = true;
      throw e;
    }
  });

  step('the page links to the API documentation and refuses invalid ids', async () => {
    const page = await openAs('alice');
    assert.equal(await page.getByTestId('docs-link').getAttribute('href'), '/docs');
    await page.getByTestId('user-input').fill('not valid!');
    await page.getByTestId('room-input').fill(ROOM);
    await page.getByTestId('connect-button').click();
    await shows(page, 'connect-error', 'User id must be 1 to 128 characters');
    assert.equal(await page.getByTestId('status').textContent(), 'not connected');
  });

  step('alice and bob connect to one room; alice\'s rooms list shows both of her rooms', async () => {
    // A second room with both in it, made over HTTP before either connects.
    await api('POST', '/chat', { id: SIDE, name: 'Side room', participants: ['alice', 'bob'] });
    await connect(pages.alice, 'alice');
    await connect(await openAs('bob'), 'bob');
    await shows(pages.alice, 'message', 'bob joined the chat');
    const { alice } = pages;
    await roomEntry(alice, ROOM).waitFor({ timeout: WAIT });
    await roomEntry(alice, SIDE).waitFor({ timeout: WAIT });
    assert.equal(await roomEntry(alice, ROOM).locator('button').getAttribute('aria-current'), 'true');
    assert.equal(await alice.getByTestId('unread-badge').count(), 0);
    // Every connection is opened with ?resume=true, and its first frame is the resume.
    const first = await alice.evaluate(() => {
      const ws = window.__e2e.sockets.at(-1);
      return { url: ws.url, frame: ws.frames[0] };
    });
    assert.match(first.url, /\/ws\/alice\?resume=true$/);
    assert.equal(first.frame.type, 'resume');
    assert.ok(SIDE in first.frame.positions, 'the resume names the rooms alice is in');
  });

  step('alice types: bob sees "alice is typing…"', async () => {
    const { alice, bob } = pages;
    await alice.getByTestId('message-input').pressSequentially('hel');
    await shows(bob, 'typing-indicator', 'alice is typing…');
    assert.equal(await alice.getByTestId('typing-indicator').textContent(), '');
  });

  step('alice sends "hello bob": both see it, and bob\'s typing indicator goes', async () => {
    const { alice, bob } = pages;
    await alice.getByTestId('message-input').fill('hello bob');
    await alice.getByTestId('send-button').click();
    for (const page of [alice, bob]) await message(page, 'hello bob').waitFor({ timeout: WAIT });
    assert.equal(await alice.getByTestId('message-input').inputValue(), '');
    await bob.getByTestId('typing-indicator').filter({ hasText: 'typing' }).waitFor({ state: 'detached', timeout: WAIT });
    const shown = message(bob, 'hello bob');
    assert.equal(await shown.locator('.author').textContent(), 'alice');
    assert.match(await shown.locator('time').getAttribute('datetime'), /^\d{4}-\d\d-\d\dT[\d:.]+Z$/);
    // The text frame carried a client_msg_id, and the echo came back with it.
    const sent = await alice.evaluate(() => window.__e2e.sent.filter((f) => f.type === 'text'));
    assert.equal(sent.length, 1);
    assert.match(sent[0].client_msg_id, /^[A-Za-z0-9._:@-]{1,128}$/);
  });

  step('bob replies (with markup, shown as text): alice sees it, and bob sees "seen by alice"', async () => {
    const { alice, bob } = pages;
    await send(bob, 'hi <b>alice</b>');
    await message(alice, 'hi <b>alice</b>').waitFor({ timeout: WAIT });
    assert.equal(await alice.locator('[data-testid="messages"] b').count(), 0);
    assert.deepEqual(await texts(alice), ['hello bob', 'hi <b>alice</b>']);
    // alice's page read it (a `read` frame), so bob got a receipt.
    await message(bob, 'hi <b>alice</b>').getByTestId('seen').filter({ hasText: 'seen by alice' })
      .waitFor({ timeout: WAIT });
    assert.equal(await bob.getByTestId('seen').count(), 1);
  });

  step('alice\'s online list shows bob online', async () => {
    const bobRow = pages.alice.locator('[data-testid="presence"][data-user="bob"].online');
    await bobRow.waitFor({ timeout: WAIT });
    assert.equal(await bobRow.locator('.state').textContent(), 'online');
  });

  step('an error frame shows in a dismissible banner', async () => {
    const { alice } = pages;
    await alice.evaluate(() => window.__e2e.sockets.at(-1).send('{"type": "nope"}'));
    await shows(alice, 'error-text', 'nope');
    await alice.getByTestId('error-dismiss').click();
    await alice.getByTestId('error-banner').waitFor({ state: 'hidden', timeout: WAIT });
  });

  step('bob posts twice in the other room: alice\'s list shows 2 unread there', async () => {
    const { alice } = pages;
    await post(SIDE, 'bob', 'side one');
    await post(SIDE, 'bob', 'side two');
    const badge = roomEntry(alice, SIDE).getByTestId('unread-badge');
    await badge.filter({ hasText: /^2$/ }).waitFor({ timeout: WAIT });
    assert.match(await roomEntry(alice, SIDE).textContent(), /2 unread/);
    assert.match(await roomEntry(alice, SIDE).locator('.preview').textContent(), /bob: side two/);
    assert.equal(await alice.title(), '(2) Chat demo');
    assert.equal(await roomEntry(alice, ROOM).getByTestId('unread-badge').count(), 0);
  });

  step('bob types: alice sees it; a screenshot of alice\'s page is saved', async () => {
    await pages.bob.getByTestId('message-input').pressSequentially('see you');
    await shows(pages.alice, 'typing-indicator', 'bob is typing…');
    const file = path.join(ARTIFACTS, 'demo.png');
    await pages.alice.screenshot({ path: file, fullPage: true });
    assert.ok(statSync(file).size > 10_000, `${file} is too small`);
  });

  step('alice opens the other room: its messages show, the badge goes, the server counts 0', async () => {
    const { alice } = pages;
    await roomEntry(alice, SIDE).locator('button').click();
    await showsExactly(alice, ['side one', 'side two']);
    assert.equal(await alice.getByTestId('room-title').textContent(), `Room ${SIDE}`);
    assert.equal(await alice.getByTestId('unread-badge').count(), 0);
    await eventually(async () => {
      const rooms = await api('GET', '/user/alice/chats');
      return rooms.find((r) => r.id === SIDE).unread === 0;
    }, 'the read frame to reach the server');
    // And back: the first room's messages, each once.
    await roomEntry(alice, ROOM).locator('button').click();
    await showsExactly(alice, ['hello bob', 'hi <b>alice</b>']);
    assert.equal(await alice.title(), 'Chat demo');
  });

  step('a dropped connection: "reconnecting…", retries, then resumes with every missed message once', async () => {
    const { alice, bob } = pages;
    // New connections fail until unblocked; the page says so and keeps retrying.
    await alice.evaluate(() => { window.__e2e.block = true; });
    await drop(alice);
    assert.equal(await alice.getByTestId('send-button').isDisabled(), true);
    const before = await alice.evaluate(() => window.__e2e.sockets.length);
    await alice.waitForFunction((n) => window.__e2e.sockets.length >= n + 2, before, { timeout: WAIT });
    assert.equal(await alice.getByTestId('status').textContent(), 'reconnecting…');

    // Bob posts meanwhile, over HTTP, in both rooms.
    for (const text of ['away one', 'away two', 'away three']) await post(ROOM, 'bob', text);
    await post(SIDE, 'bob', 'side three');
    const resumedBefore = await alice.evaluate(() => window.__e2e.resumed.length);
    await alice.evaluate(() => { window.__e2e.block = false; });
    await shows(alice, 'status', 'connected as alice');
    await showsExactly(alice, ['hello bob', 'hi <b>alice</b>', 'away one', 'away two', 'away three']);

    // The server replayed exactly those three, and recovered.
    const resumed = await alice.evaluate((n) => window.__e2e.resumed.slice(n), resumedBefore);
    const here = resumed.find((f) => f.chat_id === ROOM);
    assert.deepEqual([here.recovered, here.replayed], [true, 3]);
    // The other room's missed message shows as unread.
    await roomEntry(alice, SIDE).getByTestId('unread-badge').filter({ hasText: /^1$/ }).waitFor({ timeout: WAIT });

    await send(alice, 'back again');
    await message(bob, 'back again').waitFor({ timeout: WAIT });
    // alice read what bob posted while she was away.
    await message(bob, 'away three').getByTestId('seen').filter({ hasText: 'seen by alice' })
      .waitFor({ timeout: WAIT });
    assert.equal(await bob.getByTestId('seen').count(), 1);
  });

  step('a position the server cannot recover from: the page shows the newest page instead, once', async () => {
    const { alice } = pages;
    const resumedBefore = await alice.evaluate(() => window.__e2e.resumed.length);
    await alice.evaluate((room) => { window.__demo.positions[room].epoch = 'not-this-history'; }, ROOM);
    await drop(alice);
    await shows(alice, 'status', 'connected as alice');
    await alice.waitForFunction((n) => window.__e2e.resumed.length > n, resumedBefore, { timeout: WAIT });
    const resumed = await alice.evaluate((n) => window.__e2e.resumed.slice(n), resumedBefore);
    assert.equal(resumed.find((f) => f.chat_id === ROOM).recovered, false);
    await showsExactly(alice, ['hello bob', 'hi <b>alice</b>', 'away one', 'away two', 'away three', 'back again']);
  });

  step('a text whose frame is lost goes again over a new connection, and shows once', async () => {
    const { alice, bob } = pages;
    await alice.evaluate(() => { window.__e2e.swallowText = 1; });
    await send(alice, 'lost frame');
    await message(bob, 'lost frame').waitFor({ timeout: RETRY_WAIT });
    await message(alice, 'lost frame').waitFor({ timeout: RETRY_WAIT });
    const tries = await alice.evaluate(() => window.__e2e.sent.filter((f) => f.content === 'lost frame'));
    assert.equal(tries.length, 2);
    assert.equal(tries[0].client_msg_id, tries[1].client_msg_id);
    assert.equal(await message(alice, 'lost frame').count(), 1);
    assert.equal(await message(bob, 'lost frame').count(), 1);
  });

  step('a text whose echo is lost is retried: the server stores it once, the page shows it once', async () => {
    const { alice, bob } = pages;
    await alice.evaluate(() => { window.__e2e.swallowEcho = 1; });
    const sockets = await alice.evaluate(() => window.__e2e.sockets.length);
    await send(alice, 'lost echo');
    await message(bob, 'lost echo').waitFor({ timeout: RETRY_WAIT });
    await message(alice, 'lost echo').waitFor({ timeout: RETRY_WAIT });
    assert.ok(await alice.evaluate(() => window.__e2e.sockets.length) > sockets, 'no new connection');
    const tries = await alice.evaluate(() => window.__e2e.sent.filter((f) => f.content === 'lost echo'));
    assert.equal(tries.length, 2);
    assert.equal(tries[0].client_msg_id, tries[1].client_msg_id);
    const history = await api('GET', `/chat/${ROOM}/messages?limit=100`);
    assert.equal(history.filter((m) => m.content === 'lost echo').length, 1);
    await showsExactly(alice, ['hello bob', 'hi <b>alice</b>', 'away one', 'away two', 'away three',
      'back again', 'lost frame', 'lost echo']);
    await showsExactly(bob, ['hello bob', 'hi <b>alice</b>', 'away one', 'away two', 'away three',
      'back again', 'lost frame', 'lost echo']);
  });
});
