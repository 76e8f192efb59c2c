// End to end: the demo page, a trusted click, the sandbox consent page in a new tab, and the
// success or failure page Terra's redirect lands on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startProxy, launchBrowser } from './harness.mjs';

let proxy;
let browser;

before(async () => {
  proxy = await startProxy();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await proxy?.stop();
});

/** Opens the demo, picks `provider`, clicks Connect; returns { page, tab, userId }. */
async function startConnect(provider) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(proxy.url);
  await page.waitForSelector('#connect:not([disabled])');
  await page.selectOption('#provider', provider);
  const popup = page.waitForEvent('popup');
  await page.click('#connect');
  const tab = await popup;
  await tab.waitForURL(/\/consent\//);
  assert.equal(await tab.title(), `Connect ${provider} (sandbox)`);
  await page.waitForSelector('#status[data-state="session"]');
  const userId = await page.getAttribute('#status', 'data-user-id');
  assert.match(userId, /^[0-9a-f-]{36}$/);
  return { page, tab, userId, context };
}

test('Allow: the success page shows the user_id the sandbox issued', async () => {
  const { tab, userId, context } = await startConnect('FITBIT');
  await tab.click('#allow');
  await tab.waitForURL(/\/done\.html\?/);
  const result = tab.locator('#result');
  await result.waitFor();
  await assert.doesNotReject(tab.waitForSelector('#result[data-outcome="success"]'));
  assert.equal(await result.getAttribute('data-user-id'), userId);
  assert.match(await result.textContent(), new RegExp(`Connected FITBIT: user ${userId} \\(reference demo-user-1\\)`));
  await context.close();
});

test('Deny: the failure page reports the failed connection', async () => {
  const { tab, context } = await startConnect('OURA');
  await tab.click('#deny');
  await tab.waitForURL(/\/failed\.html\?/);
  await tab.waitForSelector('#result[data-outcome="failure"]');
  assert.match(await tab.textContent('#result'), /connection to OURA was not completed/);
  assert.equal(await tab.getAttribute('#result', 'data-user-id'), '');
  await context.close();
});
