// A Jingle party played by StanzaJS (the XMPP library inside many web
// clients) in headless Chromium, over XMPP-over-WebSocket (RFC 7395) to the
// harness's Prosody. StanzaJS speaks Jingle without JMI (XEP-0353): it calls
// by session-initiate to a JID and is called the same way. Bundled by the
// harness with esbuild and driven through window.interopAgent.
import * as XMPP from 'stanza';
import { newAgent, media } from './agent_common.js';

(() => {
  if (window.interopAgent) return;
  const A = newAgent();
  window.interopAgent = A;
  let client = null;
  let session = null;
  let stream = null;

  // summary shortens a stanza for the transcript.
  const summary = (xml) => {
    const s = String(xml).replace(/\s+/g, ' ');
    const action = /action=['"]([a-z-]+)['"]/.exec(s);
    const head = s.slice(0, 160);
    return action ? `${head}${s.length > 160 ? '…' : ''} [${action[1]}]` : head + (s.length > 160 ? '…' : '');
  };

  function wire(s) {
    session = s;
    A.done = false;
    A.pc = s.pc;
  }

  function onTerminated(s, reason) {
    if (s !== session || A.done) return;
    A.done = true;
    const cond = reason && reason.condition ? reason.condition : 'success';
    A.emit('ended', { reason: cond, detail: (reason && reason.text) || '' });
  }

  A.start = async (opts) => {
    A.opts = opts;
    stream = await media(opts.media);
    client = XMPP.createClient({
      jid: opts.jid,
      password: opts.password,
      resource: opts.resource,
      transports: { websocket: opts.ws, bosh: false },
      jingle: { iceServers: [], trickleIce: true },
    });
    client.on('raw:incoming', (x) => A.record('recv', summary(x)));
    client.on('raw:outgoing', (x) => A.record('sent', summary(x)));
    client.on('subscribe', (p) => { client.acceptSubscription(p.from); A.record('recv', `subscription request from ${p.from} approved`); });
    client.on('jingle:incoming', (s) => {
      if (session && !A.done) { s.decline(); return; }
      wire(s);
      for (const t of stream.getTracks()) s.addTrack(t, stream);
      A.emit('incoming', { detail: s.peerID });
    });
    client.on('jingle:ringing', (s) => { if (s === session) A.emit('ringing'); });
    client.on('jingle:accepted', (s) => { if (s === session) A.emit('answered'); });
    client.on('jingle:terminated', onTerminated);
    const up = new Promise((resolve, reject) => {
      client.once('session:started', resolve);
      client.once('auth:failed', () => reject(new Error('StanzaJS: authentication failed')));
      client.once('disconnected', () => reject(new Error('StanzaJS: disconnected before the session started')));
    });
    client.connect();
    await up;
    await client.getRoster();
    client.sendPresence();
    return client.jid;
  };

  // subscribe adds a contact (a gateway JID) and waits until presence is
  // shared both ways (the contact approved ours and we approved its
  // subscription back) and the contact has asked what this device can do
  // (disco#info, answered by StanzaJS) and had a second to digest the
  // answer, or 3 s after the approvals if it never asks (it knew our caps
  // already): a user adds the contact, then calls.
  A.subscribe = (jid) => new Promise((resolve, reject) => {
    const bare = (j) => String(j).split('/')[0];
    const st = { subscribed: false, approved: false, disco: false };
    let settle = null;
    const check = () => {
      if (!st.subscribed || !st.approved) return;
      if (st.disco) { clearTimeout(timer); clearTimeout(settle); setTimeout(resolve, 1000); return; }
      if (!settle) settle = setTimeout(() => { clearTimeout(timer); resolve(); }, 3000);
    };
    const timer = setTimeout(() => reject(new Error(`StanzaJS: presence not shared with ${jid}: ${JSON.stringify(st)}`)), 10000);
    client.on('subscribed', (p) => { if (bare(p.from) === jid) { st.subscribed = true; check(); } });
    client.on('subscribe', (p) => { if (bare(p.from) === jid) { st.approved = true; check(); } });
    client.on('raw:outgoing', (x) => {
      const s = String(x);
      if (s.includes('disco#info') && s.includes('type="result"') && s.includes(`to="${jid}`)) { st.disco = true; setTimeout(check, 0); }
    });
    client.subscribe(jid);
  });

  A.call = async (target) => {
    const s = client.jingle.createMediaSession(target);
    wire(s);
    for (const t of stream.getTracks()) s.addTrack(t, stream);
    await s.start({ offerToReceiveAudio: true, offerToReceiveVideo: !!A.opts.media.video });
  };

  A.ring = () => session.ring();
  A.answer = () => session.accept();
  A.reject = (why) => session.end(why === 'busy' ? 'busy' : 'decline');
  A.hangup = () => session.end('success');
  A.reoffer = () => { throw new Error('the StanzaJS agent plays no re-offers in the matrix'); };

  A.close = () => {
    if (session && !A.done) { try { session.end('success'); } catch (e) { /* gone */ } }
    if (client) client.disconnect();
  };
})();
