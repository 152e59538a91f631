// The demo page in headless Chromium: two browser contexts are two users in one room; they
// exchange messages and typing, a screenshot is saved, and the page reconnects on its own.
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
const ROOM = `e2e-${Date.now()}`;

assert.ok(BASE, 'CHAT_URL must name the server, e.g. http://127.0.0.1:8000');

// Test-side instrumentation only (the page exposes nothing): record the page's sockets, and
// when `block` is set, make new connections fail (an invalid user id is refused with a 400).
function instrument() {
  const Native = window.WebSocket;
  window.__e2e = { sockets: [], block: false };
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(window.__e2e.block ? String(url).replace(/\/ws\/.*$/, '/ws/!') : url, protocols);
      window.__e2e.sockets.push(this);
    }
  };
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
    // Expected: the refused connections while blocked, and history 404s of a brand-new room.
    const [text, where] = [m.text(), m.location().url];
    if (m.type() === 'error' && !text.includes('/ws/!') && !where.endsWith('/messages?limit=50')) {
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

  step('alice and bob connect to one room', async () => {
    await connect(pages.alice, 'alice');
    await connect(await openAs('bob'), 'bob');
    await shows(pages.alice, 'message', 'bob joined the chat');
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
  });

  step('bob replies (with markup, shown as text): alice sees it', async () => {
    const { alice, bob } = pages;
    await send(bob, 'hi <b>alice</b>');
    await message(alice, 'hi <b>alice</b>').waitFor({ timeout: WAIT });
    assert.equal(await alice.locator('[data-testid="messages"] b').count(), 0);
    const texts = await alice.getByTestId('message').locator('.content').allTextContents();
    assert.deepEqual(texts.filter((t) => !t.endsWith('joined the chat')), ['hello bob', 'hi <b>alice</b>']);
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

  step('bob types: alice sees it; a screenshot of alice\'s page is saved', async () => {
    await pages.bob.getByTestId('message-input').pressSequentially('see you');
    await shows(pages.alice, 'typing-indicator', 'bob is typing…');
    const file = path.join(ARTIFACTS, 'demo.png');
    await pages.alice.screenshot({ path: file, fullPage: true });
    assert.ok(statSync(file).size > 10_000, `${file} is too small`);
  });

  step('a lost connection shows "reconnecting…", retries, then catches up without duplicates', async () => {
    const { alice, bob } = pages;
    // Close alice's socket while new connections fail: the page says so and keeps retrying.
    const status = await alice.evaluate(async () => {
      window.__e2e.block = true;
      const ws = window.__e2e.sockets.at(-1);
      const closed = new Promise((resolve) => ws.addEventListener('close', resolve));
      ws.close();
      await closed; // the page's own close handler has run by now
      return document.querySelector('[data-testid="status"]').textContent;
    });
    assert.equal(status, 'reconnecting…');
    assert.equal(await alice.getByTestId('send-button').isDisabled(), true);
    const before = await alice.evaluate(() => window.__e2e.sockets.length);
    await alice.waitForFunction((n) => window.__e2e.sockets.length >= n + 2, before, { timeout: WAIT });
    assert.equal(await alice.getByTestId('status').textContent(), 'reconnecting…');

    // Bob writes meanwhile; when connections work again alice gets it from the history.
    await send(bob, 'while you were away');
    await message(bob, 'while you were away').waitFor({ timeout: WAIT });
    await alice.evaluate(() => { window.__e2e.block = false; });
    await shows(alice, 'status', 'connected as alice');
    await message(alice, 'while you were away').waitFor({ timeout: WAIT });
    assert.equal(await message(alice, 'hello bob').count(), 1, 'history reload duplicated a message');

    await send(alice, 'back again');
    await message(bob, 'back again').waitFor({ timeout: WAIT });
  });
});
