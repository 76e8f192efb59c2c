// End to end on the demo page, in each browser engine (engines.mjs): a trusted click, the
// sandbox consent page in a new tab, and the app's own page showing the finished connection.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startProxy, ENGINES, userIdsVisiting } from './harness.mjs';

let proxy;

before(async () => {
  proxy = await startProxy();
});

after(async () => {
  await proxy?.stop();
});

for (const engine of ENGINES) describe(engine.name, () => {
  let browser;

  before(async () => {
    browser = await engine.launch();
  });

  after(async () => {
    await browser?.close();
  });

  /** Opens the demo, picks `provider`, clicks Connect; returns the page, the tab and the context. */
  async function startConnect(provider) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(proxy.url);
    await page.waitFor('#connect:not([disabled])');
    await page.click(`#providers input[value="${provider}"]`);
    const tab = await page.clickForPopup('#connect');
    await tab.waitForURL(/\/consent\//);
    assert.equal(await tab.title(), `Connect ${provider} (sandbox)`);
    return { page, tab, context };
  }

  test('Allow: the app shows the user_id the sandbox issued, and the tab closes', async () => {
    const { page, tab, context } = await startConnect('FITBIT');
    const issued = userIdsVisiting(context, '/done.html');
    const closed = tab.closed();
    await tab.click('#allow');
    await page.waitFor('#status[data-state="connected"]');
    const userId = await page.attr('#status', 'data-user-id');
    assert.match(userId, /^[0-9a-f-]{36}$/);
    assert.deepEqual(issued, [userId], 'the id shown is the one Terra (the sandbox) put in the redirect');
    assert.equal(await page.text('#status'), `Connected FITBIT: user ${userId} (confirmed by Terra's signed webhook).`);
    await closed;
    await context.close();
  });

  test('Deny: the app reports auth_failed', async () => {
    const { page, tab, context } = await startConnect('OURA');
    await tab.click('#deny');
    await page.waitFor('#status[data-state="error"]');
    assert.match(await page.text('#status'), /^Not connected \(auth_failed\)/);
    await context.close();
  });
});
