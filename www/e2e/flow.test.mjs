// Every path of connect() in each browser engine (engines.mjs: headless Chromium and Firefox),
// on the e2e flow page (e2e/flow.html), through the real proxy binary and its Terra sandbox.
// One body of cases: each runs once per engine, in a describe() named after the engine.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startProxy, startFaultProxy, ENGINES, userIdsVisiting, sleep } from './harness.mjs';

let proxy; // the default: sandbox without COOP

before(async () => {
  proxy = await startProxy();
});

after(async () => {
  await proxy?.stop();
});

/** The data-* of the first log entry of `kind` (waits for it). */
async function entry(page, kind, extra = '') {
  const selector = `#log li[data-kind="${kind}"]${extra}`;
  await page.waitFor(selector);
  return page.dataset(selector);
}

async function logKinds(page) {
  return (await page.datasets('#log li')).map((d) => d.kind);
}

for (const engine of ENGINES) describe(engine.name, () => {
  let browser;

  before(async () => {
    browser = await engine.launch();
  });

  after(async () => {
    await browser?.close();
  });

  /** A fresh context on the flow page of `server` with `query`. `waitReady: false` skips the
   *  wait for the page's module, which (like evaluate and click) gives the page a user activation. */
  async function flowPage(server, query = '', b = browser, { waitReady = true } = {}) {
    const context = await b.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/e2e/flow.html${query}`);
    if (waitReady) await page.waitFor('body[data-ready="true"]');
    return { context, page };
  }

  /** Clicks Connect and returns the new tab once it shows `page` of the sandbox (its consent page). */
  async function clickConnect(page, landing = /\/consent\//) {
    const tab = await page.clickForPopup('#connect');
    await tab.waitForURL(landing);
    return tab;
  }

  test('success: connect() resolves with the result the success page delivered', async () => {
    const { context, page } = await flowPage(proxy, '?resource=GARMIN');
    const issued = userIdsVisiting(context, '/done.html');
    const tab = await clickConnect(page);
    const closed = tab.closed();
    await tab.click('#allow');
    const result = await entry(page, 'result');
    assert.deepEqual(
      { outcome: result.outcome, resource: result.resource, referenceId: result.referenceId },
      { outcome: 'success', resource: 'GARMIN', referenceId: 'flow-0' },
    );
    assert.deepEqual(issued, [result.userId]);
    await closed; // completeRedirect() closed the tab connect() opened
    await context.close();
  });

  test('the result reaches the app by both paths, a BroadcastChannel message and a storage event', async () => {
    // The order differs by engine (seen here: Chromium delivers the BroadcastChannel message
    // first, Firefox the storage events first); connect() listens to both, so each must carry
    // the result in each engine.
    const { context, page } = await flowPage(proxy, '?resource=FITBIT');
    await page.evaluate(() => {
      window.paths = [];
      const channel = new BroadcastChannel('terra-connect'); // state::CHANNEL, src/state.rs
      channel.onmessage = () => window.paths.push('channel');
      addEventListener('storage', (e) => {
        if (e.key?.startsWith('terra-connect:result:') && e.newValue) window.paths.push('storage');
      });
    });
    const tab = await clickConnect(page);
    await tab.click('#allow');
    assert.equal((await entry(page, 'result')).outcome, 'success');
    await page.waitForFunction(() => window.paths.length === 2);
    assert.deepEqual((await page.evaluate(() => window.paths)).sort(), ['channel', 'storage']);
    await context.close();
  });

  test('deny: the failure URL rejects with auth_failed and what came back', async () => {
    const { context, page } = await flowPage(proxy, '?resource=POLAR');
    const tab = await clickConnect(page);
    await tab.click('#deny');
    const error = await entry(page, 'error');
    assert.deepEqual(
      { code: error.code, name: error.name, isError: error.isError, resource: error.resource },
      { code: 'auth_failed', name: 'TerraConnectError', isError: 'true', resource: 'POLAR' },
    );
    await context.close();
  });

  test('the person closes the tab on our own "Connecting…" page: popup_closed at once', async () => {
    const faults = await startFaultProxy();
    try {
      const { context, page } = await flowPage(proxy, `?proxy=${encodeURIComponent(`${faults.url}/slow`)}`);
      const tab = await page.clickForPopup('#connect');
      assert.match(await tab.text('body'), /Connecting to Terra/);
      const t0 = Date.now();
      await tab.close();
      const error = await entry(page, 'error');
      assert.equal(error.code, 'popup_closed');
      assert.ok(Date.now() - t0 < 2000, 'rejected within the poll interval, not after the slow session');
      await context.close();
    } finally {
      faults.stop();
    }
  });

  test('closing the tab on the provider page: reported, not fatal by default; rejectOnTabClose rejects', async () => {
    // Default: onTabClosed is reported and connect() keeps waiting (until aborted here).
    let { context, page } = await flowPage(proxy);
    let tab = await clickConnect(page);
    await tab.close();
    await entry(page, 'tab-closed');
    await sleep(700);
    assert.deepEqual(await logKinds(page), ['tab-closed'], 'no rejection');
    await page.click('#abort');
    assert.equal((await entry(page, 'error')).code, 'aborted');
    await context.close();

    // With rejectOnTabClose (providers without COOP): popup_closed.
    ({ context, page } = await flowPage(proxy, '?reject=1'));
    tab = await clickConnect(page);
    await tab.close();
    assert.equal((await entry(page, 'error')).code, 'popup_closed');
    await context.close();
  });

  test('a consent page with COOP: no false popup_closed, the result still arrives', async () => {
    const coopProxy = await startProxy({ TERRA_SANDBOX_COOP: '1' });
    try {
      const { context, page } = await flowPage(coopProxy, '?resource=WITHINGS');
      const tab = await clickConnect(page);
      // The opener reads closed = true while the tab is open, in Chromium and Firefox alike.
      await entry(page, 'tab-closed');
      assert.equal(tab.isClosed(), false);
      await tab.click('#allow');
      const result = await entry(page, 'result');
      assert.equal(result.outcome, 'success');
      assert.equal(result.resource, 'WITHINGS');
      assert.ok(!(await logKinds(page)).includes('error'));
      await context.close();
    } finally {
      await coopProxy.stop();
    }
  });

  test('abort while the tab shows a COOP page: aborted at once; the tab stays open (the opener lost it)', async () => {
    // What both engines do: the COOP page moved the tab out of the app's reach, so the app's
    // tab.close() cannot reach it. connect() must still settle at once.
    const coopProxy = await startProxy({ TERRA_SANDBOX_COOP: '1' });
    try {
      const { context, page } = await flowPage(coopProxy);
      const tab = await clickConnect(page);
      await entry(page, 'tab-closed');
      // Timed in the page: puppeteer's click into Firefox takes about 2 s itself while a tab
      // behind COOP is open (seen here; the page handles the click within milliseconds).
      await page.evaluate(() => {
        document.getElementById('abort').addEventListener('click', () => { window.abortedAt = performance.now(); }, { capture: true });
        new MutationObserver(() => { window.loggedAt ??= performance.now(); }).observe(document.getElementById('log'), { childList: true });
      });
      await page.click('#abort');
      assert.equal((await entry(page, 'error')).code, 'aborted');
      const ms = await page.evaluate(() => window.loggedAt - window.abortedAt);
      assert.ok(ms >= 0 && ms < 500, `settled at once, not after a wait for the tab (${ms} ms)`);
      await sleep(700);
      assert.equal(tab.isClosed(), false, 'the tab outlived the abort');
      assert.match(tab.url(), /\/consent\//);
      await context.close();
    } finally {
      await coopProxy.stop();
    }
  });

  test('an app served with COOP (the success page too): delivery needs no window.opener', async () => {
    const isolated = await startProxy({ TERRA_CONNECT_WWW_COOP: '1' });
    try {
      const { context, page } = await flowPage(isolated);
      const response = await page.goto(`${isolated.url}/done.html`);
      assert.equal(response.headers['cross-origin-opener-policy'], 'same-origin');
      await page.goto(`${isolated.url}/e2e/flow.html`);
      await page.waitFor('body[data-ready="true"]');
      const issued = userIdsVisiting(context, '/done.html');
      const tab = await clickConnect(page);
      await tab.click('#allow');
      const result = await entry(page, 'result');
      assert.equal(result.outcome, 'success');
      assert.deepEqual(issued, [result.userId]);
      await context.close();
    } finally {
      await isolated.stop();
    }
  });

  test('popup blocked: connect() from a timer, or a second one in the same click, rejects with popup_blocked; fallback goes to redirect mode', async () => {
    const strict = await engine.launch({ popupBlocking: true });
    try {
      // No page.click/evaluate before the page's own timer fires: no user activation.
      let { context, page } = await flowPage(proxy, '?auto=200', strict, { waitReady: false });
      await sleep(1200);
      assert.equal((await entry(page, 'error')).code, 'popup_blocked');
      assert.equal(await context.pageCount(), 1, 'no tab was opened');
      await context.close();

      // One click is one user activation: the first connect() of the click opens its tab, the
      // second one in the same click handler is blocked.
      ({ context, page } = await flowPage(proxy, '?double=1', strict));
      const tab = await page.clickForPopup('#connect');
      await tab.waitForURL(/\/consent\//);
      assert.equal((await entry(page, 'error', '[data-flow="1"]')).code, 'popup_blocked');
      assert.equal(await context.pageCount(), 2, 'one tab for the two calls');
      await tab.click('#allow');
      assert.equal((await entry(page, 'result', '[data-flow="0"]')).outcome, 'success');
      await context.close();

      ({ context, page } = await flowPage(proxy, '?auto=200&fallback=redirect&resource=COROS', strict, { waitReady: false }));
      await page.waitForURL(/\/consent\//, { timeout: 5000 });
      await page.click('#allow');
      await page.waitForURL(/\/done\.html/);
      await page.waitFor('#result[data-outcome="success"]');
      assert.match(await page.text('#result'), /^Connected COROS: user [0-9a-f-]{36}/);
      await context.close();
    } finally {
      await strict.close();
    }
  });

  test('timeout: a short timeoutMs rejects with timeout and closes the tab', async () => {
    const { context, page } = await flowPage(proxy, '?timeoutMs=1500');
    const tab = await clickConnect(page);
    const closed = tab.closed();
    assert.equal((await entry(page, 'error')).code, 'timeout');
    await closed;
    await context.close();
  });

  test('abort: the signal rejects with aborted and closes the tab', async () => {
    const { context, page } = await flowPage(proxy);
    const tab = await clickConnect(page);
    const closed = tab.closed();
    await page.click('#abort');
    assert.equal((await entry(page, 'error')).code, 'aborted');
    await closed;
    await context.close();
  });

  test('forged success URLs (no state, unknown state, replayed state) get state_mismatch and deliver nothing', async () => {
    const { context, page } = await flowPage(proxy, '?resource=SUUNTO');
    const tab = await clickConnect(page);
    const forger = await context.newPage();
    const unknown = '0123456789abcdef0123456789abcdef';
    for (const query of [
      'tc_outcome=success&user_id=evil&resource=SUUNTO',
      `tc_outcome=success&tc_state=${unknown}&user_id=evil&resource=SUUNTO`,
    ]) {
      await forger.goto(`${proxy.url}/done.html?${query}`);
      await forger.waitFor('#result[data-outcome="error"]');
      assert.equal(await forger.attr('#result', 'data-code'), 'state_mismatch');
    }
    await sleep(700);
    assert.deepEqual(await logKinds(page), [], 'the pending connect() received nothing');

    // The real redirect completes; the same URL replayed later is refused.
    const visited = [];
    context.onRequest((url) => { if (url.includes('/done.html?') && url.includes('tc_state=')) visited.push(url); });
    await tab.click('#allow');
    assert.equal((await entry(page, 'result')).outcome, 'success');
    assert.equal(visited.length, 1);
    await forger.goto(visited[0]);
    await forger.waitFor('#result[data-outcome="error"]');
    assert.equal(await forger.attr('#result', 'data-code'), 'state_mismatch');
    assert.equal((await logKinds(page)).length, 1);
    await context.close();
  });

  test('redirect mode: the page goes to Terra and back; completeRedirect() returns the result and cleans the URL', async () => {
    const { context, page } = await flowPage(proxy, '?mode=redirect&resource=WAHOO');
    await page.click('#connect');
    await page.waitForURL(/\/consent\//);
    assert.equal(await context.pageCount(), 1, 'no new tab in redirect mode');
    await page.click('#allow');
    await page.waitForURL(/\/done\.html/);
    await page.waitFor('#result[data-outcome="success"]');
    assert.match(await page.text('#result'), /^Connected WAHOO: user [0-9a-f-]{36} \(reference flow-0\)/);
    await page.waitForFunction(() => !location.search.includes('user_id'));
    assert.equal(new URL(page.url()).search, '', 'Terra and state parameters removed from the address bar');
    await context.close();
  });

  test('two concurrent connects never receive each other\'s results', async () => {
    const { context, page } = await flowPage(proxy);
    const first = await clickConnect(page);
    const second = await clickConnect(page);
    const ids = [];
    context.onRequest((href) => {
      const url = new URL(href);
      if (url.pathname === '/done.html' && url.searchParams.has('user_id')) {
        ids.push([url.searchParams.get('reference_id'), url.searchParams.get('user_id')]);
      }
    });
    await second.click('#allow');
    const secondResult = await entry(page, 'result', '[data-flow="1"]');
    await first.click('#allow');
    const firstResult = await entry(page, 'result', '[data-flow="0"]');
    assert.deepEqual(Object.fromEntries(ids), {
      'flow-1': secondResult.userId,
      'flow-0': firstResult.userId,
    });
    assert.notEqual(firstResult.userId, secondResult.userId);
    assert.equal(firstResult.referenceId, 'flow-0');
    assert.equal(secondResult.referenceId, 'flow-1');
    await context.close();
  });

  test('the proxy goes down while the tab is open: the tab closes and connect() rejects with network', async () => {
    const doomed = await startProxy();
    const { context, page } = await flowPage(doomed);
    await doomed.stop();
    const tab = await page.clickForPopup('#connect');
    const closed = tab.closed();
    assert.equal((await entry(page, 'error')).code, 'network');
    await closed;
    await context.close();
  });

  test('verify: the proxy confirms the user id; a forged user id with a valid state is not_verified', async () => {
    // Verified: a real Allow.
    let { context, page } = await flowPage(proxy, '?verify=1&resource=OURA');
    let tab = await clickConnect(page);
    await tab.click('#allow');
    const result = await entry(page, 'result');
    assert.deepEqual({ outcome: result.outcome, verified: result.verified }, { outcome: 'success', verified: 'true' });
    await context.close();

    // Not verified: the tab comes back with the right state but a user id Terra never issued.
    ({ context, page } = await flowPage(proxy, '?verify=1&resource=OURA'));
    tab = await clickConnect(page);
    const state = (await page.evaluate(() => Object.keys(localStorage)))
      .find((k) => k.startsWith('terra-connect:pending:'))
      .slice('terra-connect:pending:'.length);
    await tab.goto(`${proxy.url}/done.html?tc_outcome=success&tc_state=${state}&user_id=00000000-0000-4000-8000-000000000000&resource=OURA&reference_id=flow-0`);
    assert.equal((await entry(page, 'error')).code, 'not_verified');
    await context.close();
  });

  test('widget: connect({ providers }) opens Terra\'s picker; the result names the provider picked', async () => {
    const { context, page } = await flowPage(proxy, '?providers=GARMIN,OURA,POLAR');
    const issued = userIdsVisiting(context, '/done.html');
    const tab = await clickConnect(page, /\/widget\//);
    assert.equal(await tab.title(), 'Choose your wearable (sandbox)');
    assert.deepEqual((await tab.datasets('button[data-provider]')).map((d) => d.provider), ['GARMIN', 'OURA', 'POLAR']);
    await tab.click('button[data-provider="POLAR"]');
    await tab.waitForURL(/\/consent\//);
    await tab.click('#allow');
    const result = await entry(page, 'result');
    assert.deepEqual({ outcome: result.outcome, resource: result.resource }, { outcome: 'success', resource: 'POLAR' });
    assert.deepEqual(issued, [result.userId]);
    await context.close();
  });

  test('widget: connect({ providers: [] }) lets Terra offer the dashboard\'s providers (none sent)', async () => {
    const { context, page } = await flowPage(proxy, '?providers=');
    const tab = await clickConnect(page, /\/widget\//);
    const offered = (await tab.datasets('button[data-provider]')).map((d) => d.provider);
    assert.ok(offered.length > 3 && offered.includes('GARMIN') && offered.includes('OURA'), `${offered}`);
    await tab.click('button[data-provider="OURA"]');
    await tab.waitForURL(/\/consent\//);
    await tab.click('#allow');
    const result = await entry(page, 'result');
    assert.deepEqual({ outcome: result.outcome, resource: result.resource }, { outcome: 'success', resource: 'OURA' });
    await context.close();
  });

  test('verify: "webhook": connect() resolves once the proxy received the sandbox\'s signed auth event', async () => {
    const { context, page } = await flowPage(proxy, '?verify=webhook&resource=WAHOO');
    const tab = await clickConnect(page);
    await tab.click('#allow');
    const result = await entry(page, 'result');
    assert.deepEqual({ resource: result.resource, verified: result.verified }, { resource: 'WAHOO', verified: 'true' });
    assert.match(proxy.logs(), new RegExp(`webhook: auth success.*${result.userId}`));
    await context.close();
  });

  test('two tabs of the app connecting at once each get their own result', async () => {
    const context = await browser.newContext();
    const pages = [];
    for (const resource of ['GARMIN', 'OURA']) {
      const page = await context.newPage();
      await page.goto(`${proxy.url}/e2e/flow.html?resource=${resource}`);
      await page.waitFor('body[data-ready="true"]');
      pages.push(page);
    }
    const tabs = [];
    for (const page of pages) tabs.push(await clickConnect(page));
    await tabs[1].click('#allow');
    await tabs[0].click('#allow');
    const [garmin, oura] = [await entry(pages[0], 'result'), await entry(pages[1], 'result')];
    assert.equal(garmin.resource, 'GARMIN');
    assert.equal(oura.resource, 'OURA');
    assert.notEqual(garmin.userId, oura.userId);
    for (const page of pages) assert.equal((await logKinds(page)).length, 1, 'exactly one result per tab');
    await context.close();
  });
});
