// Connection management on the demo page, in each browser engine (engines.mjs), through the
// real proxy binary and its Terra sandbox: the provider picker from listProviders(), the
// "Connected wearables" list from listConnections(), Disconnect, and a second reference id
// that sees none of it. The cases of one engine build on each other, in order.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startProxy, ENGINES, userIdsVisiting, sleep } from './harness.mjs';

let proxy;

before(async () => {
  proxy = await startProxy();
});

after(async () => {
  await proxy?.stop();
});

/** Waits (at most `timeout` ms) for the proxy's log to match `pattern`. */
async function logShows(pattern, timeout = 10000) {
  const end = Date.now() + timeout;
  while (!pattern.test(proxy.logs())) {
    if (Date.now() > end) assert.fail(`the proxy's log did not show ${pattern} within ${timeout} ms`);
    await sleep(50);
  }
}

const byProvider = (a, b) => a.provider.localeCompare(b.provider);

for (const engine of ENGINES) describe(engine.name, () => {
  // A reference id of this engine and run only, so the engines never see each other's users.
  const me = `e2e-${engine.name}-${randomBytes(6).toString('hex')}`;
  const connected = []; // { userId, provider } as the redirect carried them, in connect order
  let browser;

  before(async () => {
    browser = await engine.launch();
  });

  after(async () => {
    await browser?.close();
  });

  /** A fresh context (no storage, no page memory) on the demo page as reference id `user`. */
  async function demo(user) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${proxy.url}/?user=${encodeURIComponent(user)}`);
    return { context, page };
  }

  /** The "Connected wearables" list once its refresh finished: [{ userId, provider }], by provider. */
  async function listed(page) {
    await page.waitForFunction(() => document.getElementById('connection-list').dataset.state !== 'loading');
    assert.equal((await page.dataset('#connection-list')).state, 'ready', await page.text('#connections-error'));
    const items = (await page.datasets('#connection-list li')).map(({ userId, provider }) => ({ userId, provider }));
    const empty = await page.evaluate(() => document.getElementById('no-connections').hidden);
    assert.equal(empty, items.length > 0, '#no-connections is shown exactly when the list is empty');
    return items.sort(byProvider);
  }

  test('the picker shows the proxy\'s providers, with names and icons that load', async () => {
    const expected = (await (await fetch(`${proxy.url}/api/terra/providers`)).json()).providers;
    assert.ok(expected.length >= 2 && expected.every((p) => p.icon), 'the sandbox lists providers with icons');
    const { context, page } = await demo(me);
    await page.waitFor('#providers[data-state="ready"]');
    const options = await page.evaluate(() => [...document.querySelectorAll('#providers label')].map((label) => {
      const input = label.querySelector('input[type=radio][name=provider]');
      return { resource: input.value, name: label.textContent.trim(), icon: label.querySelector('img')?.src ?? null };
    }));
    assert.deepEqual(options, expected);
    assert.equal(await page.evaluate(() => new FormData(document.getElementById('connect-form')).get('provider')),
      expected[0].resource, 'the first provider is picked');
    // The icons are real images the sandbox serves.
    await page.waitForFunction(() => [...document.querySelectorAll('#providers img')].every((img) => img.complete));
    const widths = await page.evaluate(() => [...document.querySelectorAll('#providers img')].map((img) => img.naturalWidth));
    assert.equal(widths.length, expected.length);
    assert.ok(widths.every((w) => w > 0), `every icon loaded: ${widths}`);
    assert.deepEqual(await listed(page), [], 'nobody is connected under a new reference id');
    await context.close();
  });

  test('connect FITBIT and GARMIN: both are listed, with the user ids the redirect carried', async () => {
    const { context, page } = await demo(me);
    const issued = userIdsVisiting(context, '/done.html');
    await page.waitFor('#connect:not([disabled])');
    assert.deepEqual(await listed(page), []);
    for (const provider of ['FITBIT', 'GARMIN']) {
      await page.click(`#providers input[value="${provider}"]`);
      const tab = await page.clickForPopup('#connect');
      assert.equal((await page.dataset('#status')).state, 'pending');
      await tab.waitForURL(/\/consent\//);
      assert.equal(await tab.title(), `Connect ${provider} (sandbox)`);
      const closed = tab.closed();
      await tab.click('#allow');
      await page.waitFor('#status[data-state="connected"]');
      const userId = await page.attr('#status', 'data-user-id');
      assert.match(userId, /^[0-9a-f-]{36}$/);
      connected.push({ userId, provider });
      await closed;
      // Refreshed after the connect: everything connected so far.
      assert.deepEqual(await listed(page), [...connected].sort(byProvider));
    }
    assert.deepEqual(issued, connected.map((c) => c.userId), 'the ids listed are the ones the sandbox redirected with');
    const names = await page.evaluate(() => [...document.querySelectorAll('#connection-list li strong')].map((s) => s.textContent));
    assert.deepEqual(names.sort(), ['Fitbit', 'Garmin'], 'each connection shows its provider\'s name');
    await context.close();
  });

  test('disconnect one: the list shows the other only, and the proxy receives the deauth webhook', async () => {
    assert.equal(connected.length, 2, 'the connect case ran');
    const [gone, kept] = connected;
    const { context, page } = await demo(me);
    assert.deepEqual(await listed(page), [...connected].sort(byProvider));
    await page.click(`#connection-list li[data-user-id="${gone.userId}"] button.disconnect`);
    await page.waitFor('#status[data-state="disconnected"]');
    assert.equal(await page.text('#status'), `Disconnected ${gone.provider}: user ${gone.userId}.`);
    assert.deepEqual(await listed(page), [kept]);
    // Terra (the sandbox) told the proxy, with a signed webhook, and for that user only.
    await logShows(new RegExp(`webhook: deauth.*${gone.userId}`));
    assert.doesNotMatch(proxy.logs(), new RegExp(`webhook: deauth.*${kept.userId}`));
    await context.close();
  });

  test('a reload shows the same list: it comes from Terra, not from the page', async () => {
    const { context, page } = await demo(me);
    assert.deepEqual(await listed(page), [connected[1]]);
    await page.goto(page.url());
    assert.deepEqual(await listed(page), [connected[1]]);
    await context.close();
  });

  test('a second reference id sees neither connection and cannot disconnect them', async () => {
    const kept = connected[1];
    assert.ok(kept, 'the connect case ran');
    const { context, page } = await demo('stranger');
    assert.equal(await page.text('#reference-id'), 'stranger');
    assert.deepEqual(await listed(page), []);
    await page.waitFor('#no-connections');
    const outcome = await page.evaluate(async (userId) => {
      const { disconnect, TerraConnectError } = await import('/pkg/index.js');
      try {
        await disconnect({ proxyUrl: '/api/terra', userId, referenceId: 'stranger' });
        return { resolved: true };
      } catch (e) {
        return { typed: e instanceof TerraConnectError, code: e.code, status: e.status, message: e.message };
      }
    }, kept.userId);
    assert.equal(outcome.resolved, undefined, 'another owner\'s user is not disconnected');
    assert.equal(outcome.typed, true, outcome.message);
    assert.equal(outcome.code, 'proxy_error', outcome.message);
    assert.equal(outcome.status, 404, outcome.message);
    await context.close();

    const owner = await demo(me);
    assert.deepEqual(await listed(owner.page), [kept], 'the owner still has the connection');
    await owner.context.close();
    assert.doesNotMatch(proxy.logs(), new RegExp(`webhook: deauth.*${kept.userId}`));
  });
});
