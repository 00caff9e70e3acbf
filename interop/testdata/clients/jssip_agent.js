// A SIP party played by JsSIP (RFC 7118 SIP over WebSocket) in headless
// Chromium. Bundled by the harness with esbuild, evaluated in a page, driven
// by the Go side through window.interopAgent (see agent_common.js).
import JsSIP from 'jssip';
import { newAgent, media, conditionForSIP, escapeSIPUser } from './agent_common.js';

(() => {
  if (window.interopAgent) return;
  const A = newAgent();
  window.interopAgent = A;
  let ua = null;
  let session = null;
  let stream = null;

  // summary is a SIP message's start line and CSeq, for the transcript.
  const summary = (m) => {
    const text = String(m);
    const first = text.split('\r\n', 1)[0];
    const cseq = /\r\nCSeq:\s*([^\r\n]+)/i.exec(text);
    return cseq ? `${first} (CSeq ${cseq[1]})` : first;
  };

  function socket(url) {
    const s = new JsSIP.WebSocketInterface(url);
    const send = s.send.bind(s);
    s.send = (m) => { A.record('sent', summary(m)); return send(m); };
    let ondata = null;
    Object.defineProperty(s, 'ondata', {
      configurable: true,
      get: () => (d) => { A.record('recv', summary(d)); if (ondata) ondata(d); },
      set: (f) => { ondata = f; },
    });
    return s;
  }

  // reasonHeader reads "SIP;cause=408" from a BYE.
  function byeCode(msg) {
    const h = msg && typeof msg.getHeader === 'function' ? msg.getHeader('Reason') : '';
    const m = /^\s*SIP\s*;.*cause=(\d+)/i.exec(h || '');
    return m ? Number(m[1]) : 200;
  }

  function ended(e) {
    if (A.done) return;
    A.done = true;
    const m = e.message;
    let code = 0;
    if (m && m.status_code) code = m.status_code;
    else if (m && m.method === 'BYE') code = byeCode(m);
    else if (m && m.method === 'CANCEL') code = 487;
    else if (e.cause === JsSIP.C.causes.BYE) code = 200;
    const reason = code ? conditionForSIP(code) : (e.cause === JsSIP.C.causes.CANCELED ? 'cancel' : 'general-error');
    A.emit('ended', { reason, code, detail: `${e.originator}: ${e.cause}` });
  }

  function wire(s) {
    session = s;
    A.done = false;
    if (s.connection) A.pc = s.connection;
    s.on('peerconnection', (e) => { A.pc = e.peerconnection; });
    s.on('progress', (e) => {
      if (e.originator === 'remote') A.emit('ringing', { code: e.response ? e.response.status_code : 180 });
    });
    s.on('accepted', (e) => { if (e.originator === 'remote') A.emit('answered'); });
    s.on('ended', ended);
    s.on('failed', ended);
  }

  A.start = async (opts) => {
    A.opts = opts;
    stream = await media(opts.media);
    ua = new JsSIP.UA({
      sockets: [socket(opts.ws)],
      uri: opts.uri,
      password: opts.password,
      authorization_user: opts.user,
      register: !!opts.register,
      register_expires: 300,
      session_timers: false,
      user_agent: `JsSIP ${JsSIP.version} (sigbridge interop)`,
    });
    ua.on('newRTCSession', (e) => {
      if (e.originator !== 'remote') return;
      if (session && !A.done) { e.session.terminate({ status_code: 486 }); return; }
      wire(e.session);
      A.emit('incoming', { detail: e.request.from.uri.toString() });
    });
    const ready = new Promise((resolve, reject) => {
      if (!opts.register) { ua.once('connected', resolve); ua.once('disconnected', () => reject(new Error('JsSIP: WebSocket closed'))); return; }
      ua.once('registered', resolve);
      ua.once('registrationFailed', (e) => reject(new Error(`JsSIP: registration failed: ${e.cause}${e.response ? ' ' + e.response.status_code : ''}`)));
    });
    ua.start();
    await ready;
    return opts.address;
  };

  const callOptions = () => ({
    mediaStream: stream,
    pcConfig: { iceServers: [] },
    rtcOfferConstraints: { offerToReceiveAudio: true, offerToReceiveVideo: !!A.opts.media.video },
  });

  A.call = (target) => {
    const uri = /^sips?:/.test(target) ? target : `sip:${escapeSIPUser(target)}@${A.opts.gateway}`;
    wire(ua.call(uri, callOptions()));
  };

  A.ring = () => {}; // JsSIP sends 180 Ringing itself on an incoming INVITE
  A.answer = () => session.answer(callOptions());
  A.reject = (why) => session.terminate(why === 'busy' ? { status_code: 486 } : { status_code: 603 });
  A.hangup = () => session.terminate();
  A.reoffer = () => { throw new Error('the JsSIP agent plays no re-offers in the matrix'); };

  A.close = () => {
    if (session && !session.isEnded()) { try { session.terminate(); } catch (e) { /* ended meanwhile */ } }
    if (ua) ua.stop();
  };
})();
