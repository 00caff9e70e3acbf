// Drives two headless Chromium pages of the sigbridge demo page through a call
// and prints one JSON result on stdout (logs go to stderr). Run by
// cmd/sigbridge/chromium_test.go inside a network namespace that holds only
// `lo`, so that signaling and media stay on loopback.
//
// Environment:
//   SIGBRIDGE_BIN   the sigbridge binary; the driver starts `serve --http 127.0.0.1:<free port>`
//   SIGBRIDGE_URL   instead of SIGBRIDGE_BIN: a gateway already running (e.g. http://127.0.0.1:8080)
//   CHROMIUM        the browser (default /usr/bin/chromium); never downloaded
//   SCREENSHOT_DIR  if set, screenshots of both pages in the call are saved there
//   STEP_TIMEOUT_MS bound on each waiting step (default 30000)
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
  '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  '--disable-features=WebRtcHideLocalIpsWithMdns', '--allow-loopback-in-peer-connection',
  // --user-data-dir: Playwright's launch() always makes a fresh one (mkdtemp under
  // $TMPDIR) and refuses the flag; the Go test points TMPDIR at its temp dir.
];
const STEP = Number(process.env.STEP_TIMEOUT_MS || 30000);
const log = (...a) => console.error('[driver]', ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const result = { ok: false, error: '', url: '', steps: [], caller: null, callee: null };
let gateway = null;
let browser = null;

function step(name) {
  result.steps.push(name);
  log('step:', name);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startGateway() {
  if (process.env.SIGBRIDGE_URL) return process.env.SIGBRIDGE_URL.replace(/\/$/, '');
  const bin = process.env.SIGBRIDGE_BIN;
  if (!bin) throw new Error('set SIGBRIDGE_BIN or SIGBRIDGE_URL');
  const addr = `127.0.0.1:${await freePort()}`;
  gateway = spawn(bin, ['serve', '--http', addr], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => gateway.once('exit', (code, sig) => resolve(`${code ?? sig}`)));
  gateway.stdout.on('data', (d) => process.stderr.write(`[sigbridge] ${d}`));
  gateway.stderr.on('data', (d) => process.stderr.write(`[sigbridge] ${d}`));
  const url = `http://${addr}`;
  const deadline = Date.now() + STEP;
  while (Date.now() < deadline) {
    const code = await Promise.race([exited, sleep(100).then(() => null)]);
    if (code !== null) throw new Error(`sigbridge exited early (${code}); see its log above`);
    try {
      const res = await fetch(url + '/');
      if (res.ok) return url;
    } catch { /* not listening yet */ }
  }
  throw new Error(`sigbridge did not serve ${url}/ within ${STEP} ms`);
}

async function openPage(name, query) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 860 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP);
  page.on('console', (m) => log(`[${name} console.${m.type()}]`, m.text()));
  page.on('pageerror', (e) => log(`[${name} pageerror]`, e.message));
  await page.goto(`${result.url}/${query}`);
  await page.fill('#name', name);
  await page.click('#login');
  await page.waitForFunction(() => window.sigbridgeDemo && window.sigbridgeDemo.state === 'idle');
  return page;
}

const demoState = (page) => page.evaluate(() => {
  const d = window.sigbridgeDemo;
  return { state: d.state, name: d.name, media: d.media, lastError: d.lastError, lastHangup: d.lastHangup,
    status: document.getElementById('status').textContent };
});

// What getStats() says about the page's peer connection.
const mediaStats = (page) => page.evaluate(async () => {
  const d = window.sigbridgeDemo;
  const out = { state: d.state, media: d.media, pc: !!d.pc };
  if (!d.pc) return out;
  out.connectionState = d.pc.connectionState;
  out.iceConnectionState = d.pc.iceConnectionState;
  out.pairSucceeded = false;
  out.inboundBytes = {};
  const stats = await d.pc.getStats();
  let selected = null;
  stats.forEach((s) => {
    if (s.type === 'candidate-pair' && s.state === 'succeeded') out.pairSucceeded = true;
    if (s.type === 'transport' && s.selectedCandidatePairId) selected = stats.get(s.selectedCandidatePairId);
    if (s.type === 'inbound-rtp') out.inboundBytes[s.kind] = (out.inboundBytes[s.kind] || 0) + (s.bytesReceived || 0);
  });
  if (selected) {
    const addr = (id) => { const c = stats.get(id); return c ? `${c.address}:${c.port}/${c.protocol}/${c.candidateType}` : ''; };
    out.selectedPair = { state: selected.state, local: addr(selected.localCandidateId), remote: addr(selected.remoteCandidateId) };
  }
  return out;
});

const flowing = (s) => s.connectionState === 'connected' && s.pairSucceeded &&
  Object.values(s.inboundBytes || {}).some((b) => b > 0);

async function main() {
  result.url = await startGateway();
  step(`gateway at ${result.url}`);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true, chromiumSandbox: false, args: CHROMIUM_ARGS, timeout: STEP,
  });
  step(`chromium ${browser.version()}`);

  const a = await openPage('alice', '');
  const b = await openPage('bob', '?media=synthetic'); // the callee exercises the no-device fallback
  step('both logged in');

  // An unknown target: the gateway answers `error`, the page goes back to idle.
  await a.fill('#target', 'nobody-is-called-this');
  await a.click('#call');
  await a.waitForFunction(() => window.sigbridgeDemo.lastError !== null && window.sigbridgeDemo.state === 'idle')
    .catch(() => {});
  result.unknownTarget = await demoState(a);
  await a.evaluate(() => { window.sigbridgeDemo.lastError = null; });
  step(`unknown target: ${result.unknownTarget.status}`);

  // A declined call: the caller sees hang-up with reason decline.
  await a.click('#users button[data-user="bob"]');
  await b.click('#decline');
  await a.waitForFunction(() => window.sigbridgeDemo.state === 'idle' && window.sigbridgeDemo.lastHangup)
    .catch(() => {});
  result.declined = { caller: await demoState(a), callee: await demoState(b) };
  step(`declined: ${result.declined.caller.status}`);

  await a.click('#users button[data-user="bob"]:not([disabled])');
  step('alice clicked bob');
  await b.waitForSelector('#answer', { state: 'visible' });
  result.calleeSawIncoming = true;
  step('bob sees the incoming call');
  result.callerSawRinging = await a.waitForFunction(() => window.sigbridgeDemo.state === 'ringing')
    .then(() => true, () => false);
  step(`alice saw ringing: ${result.callerSawRinging}`);
  if (process.env.SCREENSHOT_DIR) {
    await b.screenshot({ path: path.join(process.env.SCREENSHOT_DIR, 'demo-bob-incoming.png') });
  }
  await b.click('#answer');
  step('bob answered');

  const deadline = Date.now() + STEP;
  let sa, sb;
  do {
    await sleep(250);
    [sa, sb] = await Promise.all([mediaStats(a), mediaStats(b)]);
  } while (!(flowing(sa) && flowing(sb)) && Date.now() < deadline);
  result.caller = sa;
  result.callee = sb;
  if (!(flowing(sa) && flowing(sb))) throw new Error('media did not flow both ways in time');
  step('media flows both ways');

  await a.fill('#chat-text', 'hello from alice');
  await a.click('#chat-send');
  result.chatDelivered = await b.waitForFunction(
    () => document.getElementById('chat-log').textContent.includes('hello from alice'))
    .then(() => true, () => false);
  step(`chat over the data channel: ${result.chatDelivered}`);

  if (process.env.SCREENSHOT_DIR) {
    const ready = () => { const v = document.getElementById('remoteVideo'); return v.videoWidth > 0 && v.currentTime > 0.5; };
    await Promise.all([a.waitForFunction(ready), b.waitForFunction(ready)]);
    result.screenshots = [];
    for (const [name, page] of [['alice', a], ['bob', b]]) {
      const file = path.join(process.env.SCREENSHOT_DIR, `demo-${name}-in-call.png`);
      await page.screenshot({ path: file, fullPage: true });
      result.screenshots.push(file);
    }
    step('screenshots taken');
  }

  await a.click('#hangup');
  step('alice hung up');
  await b.waitForFunction(() => window.sigbridgeDemo.state === 'idle').catch(() => {});
  result.calleeAfterHangup = await demoState(b); // the Go test judges it
  result.callerAfterHangup = await demoState(a);
  step(`bob after the hang-up: ${result.calleeAfterHangup.status}`);
  result.ok = true;
}

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  if (gateway && gateway.exitCode === null) {
    gateway.kill('SIGTERM');
    await Promise.race([new Promise((r) => gateway.once('exit', r)), sleep(5000)]);
    if (gateway.exitCode === null) gateway.kill('SIGKILL');
  }
}

process.on('exit', () => { if (gateway && gateway.exitCode === null) gateway.kill('SIGKILL'); });

try {
  await main();
} catch (err) {
  result.error = String(err && err.stack || err);
  log('FAILED:', result.error);
} finally {
  await cleanup();
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exitCode = result.ok ? 0 : 1;
}
