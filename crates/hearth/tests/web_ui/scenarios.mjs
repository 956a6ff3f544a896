// Every browser scenario of the web UI, in one headless Chromium launch, against a
// `hearth serve` that crates/hearth/tests/web_ui.rs started with the scripted model.
// Inputs (environment): HEARTH_OPEN_URL (the `open …/#token=…` URL serve printed),
// HEARTH_API_TOKEN, PLAYWRIGHT_DIR (where playwright-core is installed), ARTIFACTS_DIR.
// Prints one JSON line of figures on success; exits 1 naming the failed step.
// Every wait is on page state (selectors, functions), never a fixed sleep.

import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

const require = createRequire(path.join(process.env.PLAYWRIGHT_DIR, 'package.json'));
const { chromium } = require('playwright-core');

const openUrl = process.env.HEARTH_OPEN_URL;
const apiToken = process.env.HEARTH_API_TOKEN;
const artifacts = process.env.ARTIFACTS_DIR;
const base = new URL(openUrl).origin;
const TIMEOUT = 30_000;

let step = 'launch';
function expect(condition, message) {
  if (!condition) throw new Error(message);
}

async function api(method, route, body) {
  const response = await fetch(base + route, {
    method,
    headers: { Authorization: `Bearer ${apiToken}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(response.ok, `${method} ${route} answered ${response.status}`);
  return response;
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
const figures = {};
const dialogs = [];
const pageErrors = [];
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, reducedMotion: 'reduce' });
  context.setDefaultTimeout(TIMEOUT);
  page = await context.newPage();
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    dialog.dismiss().catch(() => {});
  });
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  const message = page.getByRole('textbox', { name: 'Message', exact: true });
  const send = page.getByRole('button', { name: 'Send', exact: true });
  const transcript = page.locator('#transcript');

  step = 'sign in with the token in the URL fragment';
  await page.goto(openUrl);
  await message.waitFor();
  await page.waitForFunction(() => !document.getElementById('message').disabled);
  expect(page.url() === `${base}/`, `the fragment is cleared from the URL: ${page.url()}`);
  const stored = await page.evaluate(() => localStorage.getItem('hearth.token'));
  expect(stored === apiToken, 'the token is kept in local storage');
  const timing = await page.evaluate(() => {
    const usable = performance.getEntriesByName('hearth:usable')[0];
    const nav = performance.getEntriesByType('navigation')[0];
    const resources = performance.getEntriesByType('resource')
      .filter((r) => new URL(r.name).pathname.startsWith('/assets/'));
    return {
      usable_ms: usable ? usable.startTime : null,
      dom_content_loaded_ms: nav.domContentLoadedEventEnd,
      first_load_bytes: nav.decodedBodySize + resources.reduce((sum, r) => sum + r.decodedBodySize, 0),
      first_load_files: 1 + resources.length,
    };
  });
  Object.assign(figures, timing);
  await page.waitForFunction(() => document.getElementById('connection').textContent === 'live');

  step = 'no token, then a wrong one, shows the sign-in box, which explains --print-token';
  const signin = page.getByRole('dialog', { name: 'Sign in to Hearth' });
  await page.evaluate(() => localStorage.removeItem('hearth.token'));
  await page.reload();
  await signin.waitFor();
  await page.evaluate(() => localStorage.setItem('hearth.token', 'wrong-token'));
  await page.reload();
  await signin.locator('#signin-reason', { hasText: 'did not accept' }).waitFor();
  expect((await signin.textContent()).includes('hearth serve --print-token'), 'the box names --print-token');
  await page.getByLabel('Token').fill(apiToken);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await signin.waitFor({ state: 'hidden' });
  await page.waitForFunction(() => !document.getElementById('message').disabled);
  await page.waitForFunction(() => document.getElementById('connection').textContent === 'live');

  step = 'send a message and watch the answer stream in as Markdown';
  await page.evaluate(() => {
    window.__stream = { firstTextAt: null, partials: 0 };
    const observer = new MutationObserver(() => {
      const body = document.querySelector('#transcript .msg.assistant .md');
      if (!body || !body.textContent.trim()) return;
      if (window.__stream.firstTextAt === null) window.__stream.firstTextAt = Date.now();
      if (!body.textContent.includes('Done.')) window.__stream.partials += 1;
    });
    observer.observe(document.getElementById('transcript'), { childList: true, subtree: true, characterData: true });
  });
  await message.fill('Say hello');
  await message.press('Enter');
  await transcript.locator('.msg.assistant pre code', { hasText: 'fn main() {}' }).waitFor();
  await transcript.locator('.msg.assistant strong', { hasText: 'Hearth' }).waitFor();
  await transcript.locator('.msg.assistant', { hasText: 'Done.' }).waitFor();
  const stream = await page.evaluate(() => window.__stream);
  expect(stream.partials >= 2, `the answer appeared in pieces (${stream.partials} partial states)`);
  figures.first_text_on_page_epoch_ms = stream.firstTextAt;
  await page.waitForFunction(() => !document.getElementById('send').disabled);

  step = 'a tool call shows as a row that expands';
  await message.fill('List the files');
  await send.click();
  const row = transcript.locator('details.tool', { has: page.locator('.tool-name', { hasText: 'list_dir' }) });
  await row.locator('.tool-outcome.ok').waitFor();
  await row.locator('summary').click();
  await page.waitForFunction(() => document.querySelector('details.tool')?.open === true);
  await row.locator('.tool-result', { hasText: 'notes.txt' }).waitFor({ state: 'visible' });
  await transcript.getByText('The workspace has notes.txt.').waitFor();
  await page.waitForFunction(() => !document.getElementById('send').disabled);

  step = 'an approval is approved in the page and the command runs';
  await message.fill('Make approved.txt');
  await message.press('Enter');
  const approveCard = transcript.locator('.approval', { hasText: 'touch approved.txt' });
  await approveCard.waitFor();
  await approveCard.getByRole('button', { name: 'Approve', exact: true }).click();
  await approveCard.locator('.approval-status', { hasText: 'Approved' }).waitFor();
  await transcript.getByText('Created approved.txt.').waitFor();
  await page.waitForFunction(() => !document.getElementById('send').disabled);

  step = 'another approval is denied and the command does not run';
  await message.fill('Make denied.txt');
  await message.press('Enter');
  const denyCard = transcript.locator('.approval', { hasText: 'touch denied.txt' });
  await denyCard.waitFor();
  expect(await denyCard.getByRole('button', { name: 'Always', exact: true }).isVisible(), 'an Always button');
  await denyCard.getByRole('button', { name: 'Deny', exact: true }).click();
  await denyCard.locator('.approval-status', { hasText: 'Denied' }).waitFor();
  await transcript.getByText('I did not create it.').waitFor();
  const deniedResult = await transcript.locator('details.tool').last().locator('.tool-result').textContent();
  expect(/declined/.test(deniedResult), `the denied call's result says so: ${deniedResult}`);
  await page.waitForFunction(() => !document.getElementById('send').disabled);

  step = 'HTML and script in an answer show as text and run nothing';
  await message.fill('Show me some HTML');
  await message.press('Enter');
  await transcript.locator('.msg.assistant', { hasText: 'end of html' }).waitFor();
  const injected = await page.evaluate(() => ({
    images: document.querySelectorAll('#transcript img').length,
    scripts: document.querySelectorAll('#transcript script').length,
    pwned: window.__pwned === 1,
    jsLinks: document.querySelectorAll('a[href^="javascript"]').length,
    unsafeLinks: [...document.querySelectorAll('#transcript a')]
      .filter((a) => !/noopener/.test(a.rel) || !/noreferrer/.test(a.rel)).length,
    text: [...document.querySelectorAll('#transcript .msg.assistant')].pop().textContent,
  }));
  expect(injected.images === 0, 'no <img> was created');
  expect(injected.scripts === 0, 'no <script> was created');
  expect(!injected.pwned, 'no script ran');
  expect(injected.jsLinks === 0, 'no javascript: link');
  expect(injected.unsafeLinks === 0, 'every link has rel="noopener noreferrer"');
  expect(injected.text.includes('<img src=x onerror=alert(1)>'), `the tag shows as text: ${injected.text}`);
  expect(injected.text.includes('<script>'), 'the script tag shows as text');
  await transcript.locator('a[href="https://example.com/docs"][rel="noopener noreferrer"]').waitFor();
  await page.waitForFunction(() => !document.getElementById('send').disabled);

  step = 'the Markdown renderer escapes raw HTML and keeps only safe links';
  const rendered = await page.evaluate(async () => {
    const { renderMarkdown } = await import('/assets/markdown.js');
    const cases = {
      js: '[x](javascript:alert(1))',
      data: '[x](data:text/html,<b>hi</b>)',
      quote: '[x](https://a.example/"onmouseover="alert(1))',
      code: '```html\n<script>alert(1)</script>\n```',
      inline: '`<b>bold</b>` and <b>bold</b>',
      unclosed: '```\nstill <i>streaming</i>',
    };
    const out = {};
    for (const [name, text] of Object.entries(cases)) {
      const box = document.createElement('div');
      box.innerHTML = renderMarkdown(text);
      out[name] = {
        elements: [...box.querySelectorAll('*')].map((e) => e.tagName.toLowerCase()),
        hrefs: [...box.querySelectorAll('a')].map((a) => a.getAttribute('href')),
        attributes: [...box.querySelectorAll('a')].flatMap((a) => a.getAttributeNames()),
        text: box.textContent,
      };
    }
    return out;
  });
  expect(rendered.js.hrefs.length === 0 && rendered.data.hrefs.length === 0, 'javascript: and data: links stay text');
  expect(rendered.quote.attributes.every((n) => ['href', 'target', 'rel'].includes(n)),
    `a quote in a URL adds no attribute: ${JSON.stringify(rendered.quote)}`);
  expect(JSON.stringify(rendered.code.elements) === '["pre","code"]', 'a code block holds only text');
  expect(rendered.code.text.includes('<script>'), 'the code shows the tag');
  expect(JSON.stringify(rendered.inline.elements) === '["p","code"]', `raw <b> is text: ${JSON.stringify(rendered.inline)}`);
  expect(JSON.stringify(rendered.unclosed.elements) === '["pre","code"]', 'an unclosed fence is code');

  step = 'a session started through the API appears in the sidebar, live';
  const created = await (await api('POST', '/api/sessions')).json();
  const started = await api('POST', `/api/sessions/${created.id}/messages`, { text: 'Started through the API' });
  await started.text();
  const elsewhere = page.locator(`#session-list button.session[data-id="${created.id}"]`);
  await elsewhere.waitFor();
  await elsewhere.locator('.session-title', { hasText: 'Started through the API' }).waitFor();

  step = 'a session opens with its transcript, is renamed and deleted';
  await elsewhere.click();
  await transcript.getByText('Answer from elsewhere').waitFor();
  const asked = transcript.locator('.msg.user').first();
  const words = await asked.locator('.plain').textContent();
  expect(words === 'Started through the API', `the stored message shows the person's words only: ${words}`);
  const added = await asked.locator('details.added pre').textContent();
  expect(added.startsWith('[now: '), `the time line the model was sent is folded away: ${added}`);
  await page.getByRole('button', { name: 'Rename', exact: true }).click();
  await page.getByLabel('Title').fill('Renamed in the page');
  await page.getByRole('button', { name: 'Save title', exact: true }).click();
  await elsewhere.locator('.session-title', { hasText: 'Renamed in the page' }).waitFor();
  await page.getByRole('button', { name: 'Delete', exact: true }).click();
  await page.getByRole('button', { name: 'Confirm delete', exact: true }).click();
  await elsewhere.waitFor({ state: 'detached' });

  step = 'Esc stops a running turn';
  await page.getByRole('button', { name: 'New session', exact: true }).click();
  await message.fill('Take your time');
  await message.press('Enter');
  await transcript.locator('.msg.assistant', { hasText: 'Thinking' }).waitFor();
  await page.getByRole('button', { name: 'Stop', exact: true }).waitFor();
  await page.keyboard.press('Escape');
  await transcript.getByText('turn ended: cancelled').waitFor();
  await page.waitForFunction(() => !document.getElementById('send').disabled);

  step = 'memory: add a note, search it with its source, forget it';
  await page.getByRole('button', { name: 'Memory', exact: true }).click();
  await page.getByRole('textbox', { name: 'Note', exact: true }).fill('The spare key is under the blue pot');
  await page.getByRole('button', { name: 'Add note', exact: true }).click();
  await page.locator('#memory-info', { hasText: 'Remembered as' }).waitFor();
  await page.getByRole('searchbox', { name: 'Search memory' }).fill('spare key');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.locator('#memory-info', { hasText: 'for “spare key”' }).waitFor();
  const hit = page.locator('.memory-item', { hasText: 'The spare key is under the blue pot' });
  await hit.locator('.memory-source', { hasText: 'user note' }).waitFor();
  await hit.getByRole('button', { name: /^Forget memory/ }).click();
  await hit.waitFor({ state: 'detached' });
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.locator('#memory-info', { hasText: 'for “spare key”' }).waitFor();
  expect(await page.locator('.memory-item', { hasText: 'The spare key is under the blue pot' }).count() === 0,
    'the forgotten note is not found again');

  step = 'the status page names the model, sandbox and destinations';
  await page.getByRole('button', { name: 'Status', exact: true }).click();
  await page.locator('#status-body dd', { hasText: 'openai:scripted-model' }).waitFor();
  await page.locator('#status-body dt', { hasText: 'web_fetch' }).waitFor();

  step = 'screenshots at 360 and 1280 px';
  mkdirSync(artifacts, { recursive: true });
  await page.getByRole('button', { name: 'Chat', exact: true }).click();
  const first = page.locator('#session-list button.session').last();
  await first.click();
  await transcript.locator('.msg.assistant pre code').first().waitFor();
  await page.screenshot({ path: path.join(artifacts, 'chat-1280.png') });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.waitForFunction(() => matchMedia('(prefers-color-scheme: dark)').matches);
  await page.screenshot({ path: path.join(artifacts, 'chat-1280-dark.png') });
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 360, height: 760 });
  await page.waitForFunction(() => getComputedStyle(document.getElementById('sessions-toggle')).display !== 'none');
  await page.locator('#sidebar').waitFor({ state: 'hidden' });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(overflow <= 360, `no sideways scrolling at 360 px (page is ${overflow} px wide)`);
  await page.screenshot({ path: path.join(artifacts, 'chat-360.png') });
  await page.getByRole('button', { name: 'Sessions', exact: true }).click();
  await page.locator('#sidebar.open').waitFor();
  await page.screenshot({ path: path.join(artifacts, 'sessions-360.png') });
  await page.keyboard.press('Escape');
  await page.locator('#sidebar').waitFor({ state: 'hidden' });
  await page.getByRole('button', { name: 'Memory', exact: true }).click();
  await page.locator('#memory-info', { hasText: 'for “spare key”' }).waitFor();
  await page.screenshot({ path: path.join(artifacts, 'memory-360.png') });
  await page.getByRole('button', { name: 'Status', exact: true }).click();
  await page.locator('#status-body dd', { hasText: 'openai:scripted-model' }).waitFor();
  await page.screenshot({ path: path.join(artifacts, 'status-360.png'), fullPage: true });

  step = 'nothing ran that should not have';
  expect(dialogs.length === 0, `no dialog opened: ${JSON.stringify(dialogs)}`);
  expect(pageErrors.length === 0, `no script error: ${JSON.stringify(pageErrors)}`);
  console.log(JSON.stringify(figures));
} catch (err) {
  console.error(`web UI scenario failed at step "${step}": ${err.message}`);
  if (page && artifacts) {
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, 'failure.png') }).catch(() => {});
  }
  process.exitCode = 1;
} finally {
  await browser.close();
}
