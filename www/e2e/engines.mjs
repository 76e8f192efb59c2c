// The browser engines the end-to-end cases run in, behind one small interface, so that one
// body of cases runs in both: Debian's Chromium through playwright-core, and Debian's Firefox
// ESR through puppeteer-core over WebDriver BiDi (Playwright cannot drive Debian's Firefox).
// Neither library downloads a browser here: both get the Debian binary's path.
//
// The interface (everything the cases use):
//   engine   { name, launch({ popupBlocking }) -> Browser }
//   Browser  { newContext() -> Context, close() }
//   Context  { newPage() -> Page, pageCount(), onRequest(fn(url)), close() }
//   Page     { goto(url) -> { headers }, waitFor(selector, { timeout }), click(selector),
//              clickForPopup(selector) -> Page, text(selector),
//              attr(selector, name), dataset(selector), datasets(selector), title(), url(),
//              waitForURL(regexp, { timeout }), waitForFunction(fn), evaluate(fn, arg),
//              isClosed(), closed() (resolves once the page is gone), close(),
//              onPageError(fn(message)) }
// A `waitFor` and a `click` give the page a user activation in both engines (and so does
// `evaluate`), as a person's click would; the popup-blocked case avoids all three.
import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';

const TIMEOUT = 30000;

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Polls `test` every 50 ms until it is true; rejects with `what` after `timeout` ms. */
async function until(test, what, timeout = TIMEOUT) {
  const end = Date.now() + timeout;
  while (!(await test())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The part of Page that reads the DOM the same way in both libraries ($eval, $$eval). */
class DomPage {
  constructor(raw) {
    this.raw = raw;
  }
  text(selector) { return this.raw.$eval(selector, (el) => el.textContent); }
  attr(selector, name) { return this.raw.$eval(selector, (el, n) => el.getAttribute(n), name); }
  dataset(selector) { return this.raw.$eval(selector, (el) => ({ ...el.dataset })); }
  datasets(selector) { return this.raw.$$eval(selector, (els) => els.map((el) => ({ ...el.dataset }))); }
  title() { return this.raw.title(); }
  url() { return this.raw.url(); }
  evaluate(fn, arg) { return this.raw.evaluate(fn, arg); }
  click(selector) { return this.raw.click(selector); }
  isClosed() { return this.raw.isClosed(); }
  close() { return this.raw.close(); }
  async waitForURL(pattern, { timeout = TIMEOUT } = {}) {
    await until(() => pattern.test(this.raw.url()), `a URL matching ${pattern} (at ${this.raw.url()})`, timeout);
  }
}

// ---- Chromium: playwright-core ----

class PlaywrightPage extends DomPage {
  async goto(url) {
    const response = await this.raw.goto(url);
    return { headers: response.headers() };
  }
  async waitFor(selector, { timeout = TIMEOUT } = {}) { await this.raw.waitForSelector(selector, { timeout }); }
  async clickForPopup(selector) {
    const popup = this.raw.waitForEvent('popup');
    await this.raw.click(selector);
    return new PlaywrightPage(await popup);
  }
  async waitForFunction(fn) { await this.raw.waitForFunction(fn); }
  closed() { return this.raw.isClosed() ? Promise.resolve() : this.raw.waitForEvent('close'); }
  onPageError(fn) { this.raw.on('pageerror', (e) => fn(e.message)); }
}

class PlaywrightContext {
  constructor(raw) { this.raw = raw; }
  async newPage() { return new PlaywrightPage(await this.raw.newPage()); }
  async pageCount() { return this.raw.pages().length; }
  onRequest(fn) { this.raw.on('request', (request) => fn(request.url())); }
  close() { return this.raw.close(); }
}

const chromiumEngine = {
  name: 'chromium',
  /** `popupBlocking: true` keeps Chromium's popup blocker on (Playwright turns it off). */
  async launch({ popupBlocking = false } = {}) {
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
      ignoreDefaultArgs: popupBlocking ? ['--disable-popup-blocking'] : [],
    });
    return {
      async newContext() { return new PlaywrightContext(await browser.newContext()); },
      close: () => browser.close(),
    };
  },
};

// ---- Firefox: puppeteer-core over WebDriver BiDi ----

class PuppeteerPage extends DomPage {
  constructor(raw) {
    super(raw);
    this.gone = new Promise((resolve) => raw.once('close', resolve));
  }
  async goto(url) {
    const response = await this.raw.goto(url);
    return { headers: response.headers() };
  }
  async waitFor(selector, { timeout = TIMEOUT } = {}) {
    await this.raw.waitForSelector(selector, { timeout, visible: true });
  }
  async clickForPopup(selector) {
    const popup = new Promise((resolve) => this.raw.once('popup', resolve));
    await this.raw.click(selector);
    return new PuppeteerPage(await popup);
  }
  async waitForFunction(fn) { await this.raw.waitForFunction(fn, { timeout: TIMEOUT }); }
  closed() { return this.raw.isClosed() ? Promise.resolve() : this.gone; }
  onPageError(fn) { this.raw.on('pageerror', (e) => fn(e.message)); }
}

class PuppeteerContext {
  constructor(raw) {
    this.raw = raw;
    this.listeners = [];
    // Every page of the context, the tabs the app opens included, reports its requests (from
    // a moment after the page appears: enough for the redirects the cases look for, which
    // follow a click in the tab).
    raw.on('targetcreated', async (target) => {
      const page = await target.page();
      page?.on('request', (request) => { for (const fn of this.listeners) fn(request.url()); });
    });
  }
  async newPage() { return new PuppeteerPage(await this.raw.newPage()); }
  async pageCount() { return (await this.raw.pages()).length; }
  onRequest(fn) { this.listeners.push(fn); }
  close() { return this.raw.close(); }
}

const firefoxEngine = {
  name: 'firefox',
  /**
   * `popupBlocking: true` turns Firefox's popup blocker back on: puppeteer's profile sets
   * `dom.disable_open_during_load` to false.
   */
  async launch({ popupBlocking = false } = {}) {
    const browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: process.env.FIREFOX ?? '/usr/bin/firefox-esr',
      headless: true,
      extraPrefsFirefox: {
        'dom.disable_open_during_load': popupBlocking,
        // No update checks, telemetry or first-run pages: nothing but the test talks to the network.
        'app.update.enabled': false,
        'datareporting.policy.dataSubmissionEnabled': false,
        'network.captive-portal-service.enabled': false,
      },
    });
    return {
      async newContext() { return new PuppeteerContext(await browser.createBrowserContext()); },
      close: () => browser.close(),
    };
  },
};

const ALL = [chromiumEngine, firefoxEngine];

/**
 * The engines to run in: all of them, or those named in TERRA_CONNECT_E2E_ENGINES
 * (comma-separated, e.g. `firefox` while working on a Firefox case). An unknown name throws.
 */
export const ENGINES = (process.env.TERRA_CONNECT_E2E_ENGINES ?? 'chromium,firefox').split(',').map((name) => {
  const engine = ALL.find((e) => e.name === name.trim());
  if (!engine) throw new Error(`TERRA_CONNECT_E2E_ENGINES: unknown engine ${name} (known: ${ALL.map((e) => e.name)})`);
  return engine;
});
