// The harness's browser-dialect agent inside headless Chromium. The Go side
// (endpoint_chromium.go) evaluates this file in a page of the gateway's own
// origin, then drives it through window.interopAgent and polls drain() for
// its events, its protocol log and its media counts. It speaks the same
// wire as browser pages do: the MDN webrtc-from-chat JSON plus the callId,
// ringing and end-of-candidates extensions.
(() => {
  if (window.interopAgent) return;
  const A = {
    ws: null, pc: null, dc: null, name: '', peer: '', callId: '', opts: null,
    sdpSent: false, outbox: [], pending: [], answered: false,
    events: [], log: [], dataIn: 0, timers: [], ended: false,
  };
  window.interopAgent = A;

  const now = () => Date.now();
  const emit = (kind, fields = {}) => A.events.push({ kind, at: now(), ...fields });
  const record = (dir, text) => A.log.push({ dir, text, at: now() });
  const token = () => Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('');
  const isLoopback = (line) => / 127\.\d+\.\d+\.\d+ /.test(line) || / ::1 /.test(line);
  const keepCandidate = (line) => !A.opts.loopbackOnly || isLoopback(line);

  function send(msg) {
    const text = JSON.stringify(msg);
    A.ws.send(text);
    record('sent', text);
  }

  function callMessage(type, fields = {}) {
    const m = { type, name: A.name, target: A.peer, ...fields };
    if (A.callId) m.callId = A.callId;
    return m;
  }

  // filterSDP keeps only the candidates the harness allows on the wire.
  function filterSDP(sdp) {
    return sdp.split('\r\n').filter((l) => !l.startsWith('a=candidate:') || keepCandidate(l)).join('\r\n');
  }

  // directions lists the direction of each audio/video section.
  function directions(sdp) {
    const out = [];
    let rtp = false;
    for (const l of sdp.split(/\r?\n/)) {
      if (l.startsWith('m=')) rtp = l.startsWith('m=audio') || l.startsWith('m=video');
      else if (rtp && /^a=(sendrecv|sendonly|recvonly|inactive)$/.test(l)) out.push(l.slice(2));
    }
    return out.join(',');
  }

  function connect(url) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, 'json');
      ws.onopen = () => resolve(ws);
      ws.onerror = () => reject(new Error('websocket error'));
      ws.onclose = (e) => { record('recv', `websocket closed: ${e.code}`); emit('closed', { code: e.code }); };
    });
  }

  function waitMessage(match) {
    return new Promise((resolve) => { A.waiters.push({ match, resolve }); });
  }

  async function onMessage(ev) {
    const m = JSON.parse(ev.data);
    if (m.type !== 'userlist') record('recv', ev.data);
    const w = A.waiters.findIndex((x) => x.match(m));
    if (w >= 0) { A.waiters.splice(w, 1)[0].resolve(m); return; }
    try { await handle(m); } catch (e) { emit('error', { reason: 'harness', detail: String(e) }); }
  }

  async function handle(m) {
    switch (m.type) {
      case 'video-offer': return onOffer(m);
      case 'video-answer': return onAnswer(m);
      case 'new-ice-candidate': return onCandidate(m);
      case 'ringing': return emit('ringing', { code: m.code || 180 });
      case 'hang-up': return emit('ended', { reason: m.reason || '', code: m.code || 0, detail: m.text || '' });
      case 'error': return emit('error', { reason: m.reason || '', code: m.code || 0, detail: m.text || '' });
      case 'dtmf': return emit('dtmf', { detail: m.digits || '' });
    }
  }

  async function media(want) {
    try {
      return await navigator.mediaDevices.getUserMedia({ audio: true, video: want.video });
    } catch (e) {
      const ctx = new AudioContext();
      const osc = ctx.createOscillator();
      const dst = ctx.createMediaStreamDestination();
      osc.connect(dst); osc.start();
      const tracks = dst.stream.getAudioTracks();
      if (want.video) {
        const c = document.createElement('canvas');
        c.width = 320; c.height = 240;
        const g = c.getContext('2d');
        A.timers.push(setInterval(() => { g.fillStyle = `hsl(${now() % 360},80%,50%)`; g.fillRect(0, 0, 320, 240); }, 40));
        tracks.push(...c.captureStream(25).getVideoTracks());
      }
      return new MediaStream(tracks);
    }
  }

  function setupChannel(dc) {
    A.dc = dc;
    dc.onmessage = (e) => { if (String(e.data).startsWith('interop:')) A.dataIn++; };
    dc.onopen = () => {
      let n = 0;
      A.timers.push(setInterval(() => { if (dc.readyState === 'open') dc.send(`interop:${A.opts.label}:${n++}`); }, 100));
    };
  }

  A.start = async (opts) => {
    A.opts = opts;
    A.waiters = [];
    A.ws = await connect(opts.ws);
    A.ws.onmessage = onMessage;
    const id = await waitMessage((m) => m.type === 'id');
    A.name = opts.name;
    send({ type: 'username', name: opts.name, date: now(), id: id.id, features: ['callId', 'ringing', 'end-of-candidates', 'reason'] });
    for (;;) {
      const m = await waitMessage((x) => x.type === 'rejectusername' || x.type === 'error' ||
        (x.type === 'userlist' && x.users.includes(A.name)));
      if (m.type === 'userlist') break;
      if (m.type === 'error') throw new Error(`login refused: ${m.code} ${m.text || ''}`);
      A.name = m.name;
    }
    A.pc = new RTCPeerConnection({ iceServers: [] });
    A.pc.onicecandidate = (e) => {
      if (!e.candidate || !e.candidate.candidate || !keepCandidate(e.candidate.candidate)) return;
      const msg = callMessage('new-ice-candidate', { candidate: e.candidate.toJSON() });
      if (A.sdpSent) send(msg); else A.outbox.push(msg);
    };
    A.pc.ondatachannel = (e) => setupChannel(e.channel);
    const stream = await media(opts.media);
    for (const t of stream.getTracks()) A.pc.addTrack(t, stream);
    if (opts.media.data && opts.role === 'caller') setupChannel(A.pc.createDataChannel('interop'));
    return A.name;
  };

  function sendSDP(type) {
    const d = A.pc.localDescription;
    send(callMessage(type, { sdp: { type: d.type, sdp: filterSDP(d.sdp) } }));
    A.sdpSent = true;
    for (const m of A.outbox.splice(0)) send(m);
  }

  A.call = async (target) => {
    A.peer = target;
    A.callId = token();
    await A.pc.setLocalDescription(await A.pc.createOffer());
    sendSDP('video-offer');
  };

  A.ring = () => send(callMessage('ringing', { code: 180 }));
  A.reject = (why) => send(callMessage(why === 'busy' ? 'busy' : 'decline'));
  A.hangup = () => send(callMessage('hang-up'));

  A.answer = async () => {
    await A.pc.setLocalDescription(await A.pc.createAnswer());
    sendSDP('video-answer');
  };

  // tones plays digits in-band with RTCRtpSender.dtmf (RFC 4733
  // telephone-event packets, 100 ms each, 70 ms apart) and resolves once
  // the last one ended.
  A.tones = (digits) => new Promise((resolve, reject) => {
    const s = A.pc.getSenders().find((x) => x.track && x.track.kind === 'audio');
    if (!s || !s.dtmf) return reject(new Error('no audio sender with dtmf'));
    if (!s.dtmf.canInsertDTMF) return reject(new Error('canInsertDTMF is false: telephone-event not negotiated'));
    s.dtmf.ontonechange = (e) => {
      record('sent', `in-band DTMF tone ${JSON.stringify(e.tone)}`);
      if (e.tone === '') resolve();
    };
    s.dtmf.insertDTMF(digits, 100, 70);
  });

  A.dtmf = (digits) => send(callMessage('dtmf', { digits, duration: 100 }));

  A.reoffer = async (dir) => {
    for (const t of A.pc.getTransceivers()) {
      if (t.receiver.track && t.receiver.track.kind !== 'application' && !t.stopped) t.direction = dir;
    }
    await A.pc.setLocalDescription(await A.pc.createOffer());
    sendSDP('video-offer');
  };

  async function onOffer(m) {
    const sdp = typeof m.sdp === 'string' ? m.sdp : m.sdp.sdp;
    if (!A.peer) {
      A.peer = m.name;
      A.callId = m.callId || '';
      await A.pc.setRemoteDescription({ type: 'offer', sdp });
      await flushCandidates();
      return emit('incoming', { detail: m.name });
    }
    await A.pc.setRemoteDescription({ type: 'offer', sdp });
    await A.pc.setLocalDescription(await A.pc.createAnswer());
    sendSDP('video-answer');
    emit('reoffer', { detail: directions(sdp) });
  }

  async function onAnswer(m) {
    const sdp = typeof m.sdp === 'string' ? m.sdp : m.sdp.sdp;
    await A.pc.setRemoteDescription({ type: 'answer', sdp });
    if (!A.answered) {
      A.answered = true;
      emit('answered');
      return flushCandidates();
    }
    emit('reanswered', { detail: directions(sdp) });
  }

  async function onCandidate(m) {
    const c = typeof m.candidate === 'string'
      ? { candidate: m.candidate, sdpMid: m.sdpMid, sdpMLineIndex: m.sdpMLineIndex } : m.candidate;
    if (!c || !c.candidate || !keepCandidate(c.candidate)) return;
    if (!A.pc.remoteDescription) { A.pending.push(c); return; }
    await A.pc.addIceCandidate(c);
  }

  async function flushCandidates() {
    for (const c of A.pending.splice(0)) await A.pc.addIceCandidate(c);
  }

  // drain hands the Go side what happened since the last call.
  A.drain = async () => {
    const out = { events: A.events.splice(0), log: A.log.splice(0), stats: await stats() };
    return out;
  };

  async function stats() {
    const s = { ice: A.pc ? A.pc.iceConnectionState : 'new', audio: 0, video: 0, data: A.dataIn };
    if (!A.pc) return s;
    const report = await A.pc.getStats();
    report.forEach((r) => {
      if (r.type === 'inbound-rtp' && (r.kind === 'audio' || r.kind === 'video')) s[r.kind] += r.packetsReceived || 0;
    });
    return s;
  }

  A.close = () => {
    for (const t of A.timers) clearInterval(t);
    if (A.pc) A.pc.close();
    if (A.ws) A.ws.close();
  };
})();
