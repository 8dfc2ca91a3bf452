// The dashboard in headless Chromium (Debian's) driven by playwright-core: sign in, watch the
// counts move after chat requests through ringgate, change a setting, add a key, on a desktop and
// on a phone-sized screen. Screenshots go to SCREENSHOT_DIR (meson: this suite's build directory).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startStack, PASSWORD, GEMINI_KEY } from '../clients/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || path.resolve(here, '../../build');
const WEB_PASSWORD = 'dashboard-secret';
// 39 characters, shaped like a Google key; its first 8 ("AIzaSyBr") differ from the stack's key.
const NEW_KEY = 'AIzaSyBrowserAddedKey' + '0123456789abcdefgh';

let stack;
let browser;
const consoleErrors = [];

before(async () => {
  assert.equal(NEW_KEY.length, 39);
  stack = await startStack({ env: { WEB_PASSWORD, NONSTREAM_KEEPALIVE_ENABLED: 'false', LOG_LEVEL: 'info' } });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    // Containers run tests as root, where Chromium's sandbox cannot start.
    args: ['--no-sandbox'],
  });
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

async function chat(n) {
  for (let i = 0; i < n; i++) {
    const res = await fetch(stack.baseURL + '/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${PASSWORD}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gemini-2.5-flash', messages: [{ role: 'user', content: `hello ${i}` }] }),
    });
    const body = await res.text();
    assert.equal(res.status, 200, body);
  }
}

// The number shown in element `id` (digits only: the page formats with separators).
async function shownNumber(page, id) {
  const text = (await page.textContent(`#${id}`)) ?? '';
  const digits = text.replace(/[^0-9]/g, '');
  return digits === '' ? NaN : Number(digits);
}

async function newPage(viewport) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(msg.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(String(err)));
  return { context, page };
}

test('sign in, counts move, a setting changes, a key is added', async () => {
  const { context, page } = await newPage({ width: 1280, height: 900 });
  try {
    await page.goto(stack.ringgate.url + '/');
    await page.waitForSelector('#login-view:not([hidden])', { timeout: 10_000 });

    // A wrong password is refused and said so; the dashboard stays hidden.
    await page.fill('#login-password', 'not-the-password');
    await page.click('#login-submit');
    await page.waitForFunction(() => document.querySelector('#login-error').textContent.trim() !== '');
    assert.equal(await page.isHidden('#app-view'), true);

    await page.fill('#login-password', WEB_PASSWORD);
    await page.click('#login-submit');
    await page.waitForSelector('#app-view:not([hidden])', { timeout: 10_000 });
    const cookies = await context.cookies();
    assert.ok(cookies.length >= 1, 'a session cookie is set');
    for (const c of cookies) {
      assert.equal(c.httpOnly, true, `${c.name} is HttpOnly`);
      assert.equal(c.sameSite, 'Strict', `${c.name} is SameSite=Strict`);
      assert.ok(!c.value.includes(WEB_PASSWORD), 'the cookie does not carry the password');
    }

    // Counts move after requests through ringgate.
    await page.waitForFunction(() => /\d/.test(document.querySelector('#calls-day').textContent));
    const before = await shownNumber(page, 'calls-day');
    await chat(3);
    await page.click('#refresh-btn');
    await page.waitForFunction(
      (want) => Number(document.querySelector('#calls-day').textContent.replace(/[^0-9]/g, '')) >= want,
      before + 3, { timeout: 10_000 });
    assert.equal(await shownNumber(page, 'calls-day'), before + 3);
    assert.ok((await shownNumber(page, 'tokens-day')) > 0, 'tokens are counted');
    // The log viewer shows each answered request (HAJIMI's line), with the key masked.
    await page.waitForFunction(() => document.querySelector('#log-list').textContent.includes('request answered'),
      null, { timeout: 10_000 });
    assert.ok(!(await page.textContent('#log-list')).includes(GEMINI_KEY), 'no whole key in the log viewer');

    // A setting: max_retry_num 15 -> 7, saved, and the server reports it from "runtime".
    const retry = page.locator('input[name="max_retry_num"]');
    await retry.fill('7');
    await page.click('#settings-save');
    await page.waitForFunction(() => /Saved 1 setting/.test(document.querySelector('#settings-status').textContent),
      null, { timeout: 10_000 });
    const data = await (await fetch(stack.ringgate.url + '/api/dashboard-data', {
      headers: { authorization: `Bearer ${WEB_PASSWORD}` },
    })).json();
    assert.equal(data.settings.max_retry_num.value, 7);
    assert.equal(data.settings.max_retry_num.source, 'runtime');
    // A value outside the rules (0 retries) is refused next to its field and not sent.
    await retry.fill('0');
    await page.click('#settings-save');
    await page.waitForFunction(() => document.querySelector('#err-max_retry_num').textContent.trim() !== '');
    assert.match(await page.textContent('#settings-status'), /Fix the field/);
    await page.click('#settings-revert');

    // Add a key through the dialog; it shows in the key list (masked) and in the server's data.
    await page.click('#add-keys-btn');
    await page.fill('#add-keys-input', NEW_KEY);
    await page.click('#add-keys-submit');
    await page.waitForFunction((prefix) => document.querySelector('#key-list').textContent.includes(prefix),
      NEW_KEY.slice(0, 8), { timeout: 10_000 });
    const html = await page.content();
    assert.ok(!html.includes(NEW_KEY), 'the page never holds a whole key');
    const after = await (await fetch(stack.ringgate.url + '/api/dashboard-data', {
      headers: { authorization: `Bearer ${WEB_PASSWORD}` },
    })).json();
    assert.equal(after.key_count, 2);

    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'dashboard.png'), fullPage: true });

    // Sign out: back to the sign-in form, and the cookie no longer opens the API.
    await page.click('#logout-btn');
    await page.waitForSelector('#login-view:not([hidden])', { timeout: 10_000 });
    const res = await page.request.get(stack.ringgate.url + '/api/dashboard-data');
    assert.equal(res.status(), 401);
  } finally {
    await context.close();
  }
  assert.deepEqual(consoleErrors.filter((e) => !/401|Unauthorized/.test(e)), [],
    'no script error and no Content-Security-Policy violation');
});

test('usable on a phone, in dark mode', async () => {
  const { context, page } = await newPage({ width: 360, height: 740 });
  try {
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(stack.ringgate.url + '/');
    await page.fill('#login-password', WEB_PASSWORD);
    await page.click('#login-submit');
    await page.waitForSelector('#app-view:not([hidden])', { timeout: 10_000 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `no sideways scrolling on a 360 px screen (overflow ${overflow} px)`);
    for (const id of ['add-keys-btn', 'test-keys-btn', 'reset-stats-btn', 'settings-save', 'logout-btn']) {
      const box = await page.locator(`#${id}`).boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 361, `#${id} is on screen (${JSON.stringify(box)})`);
    }
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const [r, g, b] = background.match(/\d+/g).map(Number);
    assert.ok(r + g + b < 200, `dark background in dark mode (${background})`);
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'dashboard-phone-dark.png'), fullPage: true });
  } finally {
    await context.close();
  }
});
