// sigbridge demo page: a WebRTC client for the gateway's browser dialect
// (MDN "webrtc-from-chat" plus the sigbridge extensions: callId, ringing,
// end-of-candidates, error, iceServers). No framework, no build step.
//
// Page parameters: ?name= fills in the name, ?token= is passed on to the
// WebSocket (/ws?token=), ?media=synthetic skips the camera and microphone.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const FEATURES = ['callId', 'ringing', 'end-of-candidates', 'error'];

  // What tests and curious people can look at: window.sigbridgeDemo.
  const demo = {
    state: 'offline', // offline, signing-in, idle, calling, ringing, incoming, connecting, in-call
    name: '',
    users: [],
    lastError: null, // the last `error` from the gateway: {code, reason, text, ref, callId}
    lastHangup: null, // {by: 'local'|'remote', reason, code, text}
    media: null, // 'devices' or 'synthetic': where the local stream came from
    pc: null,
    login, logout, call, answer, decline, hangup,
  };
  window.sigbridgeDemo = demo;

  let socket = null;
  let clientId = null;
  let iceServers = [];
  // The one call: {callId, peer, incoming, pc, dc, stream, sdpSent,
  // outbox: our candidates held until our SDP is sent,
  // pending: remote candidates held until the remote SDP is set}.
  let current = null;
  const ended = new Set(); // callIds of calls that are over (late errors about them are noise)

  // ---- UI ---------------------------------------------------------------

  const LABELS = {
    'offline': 'Offline',
    'signing-in': 'Signing in…',
    'idle': 'Ready',
    'calling': 'Calling',
    'ringing': 'Ringing',
    'incoming': 'Incoming call from',
    'connecting': 'Connecting media with',
    'in-call': 'In a call with',
  };

  function setState(state, detail, isError = false) {
    demo.state = state;
    const peer = current ? ' ' + current.peer : '';
    const text = LABELS[state] + (['offline', 'signing-in', 'idle'].includes(state) ? '' : peer);
    show(detail ? `${text}. ${detail}` : text, isError);
    render();
  }

  function show(text, isError = false) {
    const el = $('status');
    el.textContent = text;
    el.dataset.state = demo.state;
    el.classList.toggle('error', isError);
  }

  function render() {
    const s = demo.state;
    const online = !['offline', 'signing-in'].includes(s);
    $('call').disabled = s !== 'idle';
    $('hangup').disabled = !['calling', 'ringing', 'connecting', 'in-call'].includes(s);
    $('incoming').hidden = !(s === 'incoming' && current);
    if (current) $('incoming-text').textContent = `${current.peer} is calling you.`;
    $('login').textContent = online || s === 'signing-in' ? 'Log out' : 'Log in';
    $('name').disabled = s !== 'offline';
    $('me').textContent = online ? `Logged in as ${demo.name}.` : 'Not logged in.';
    $('remote-label').textContent = current ? current.peer : 'Remote';
    const chatOpen = current && current.dc && current.dc.readyState === 'open';
    $('chat-text').disabled = $('chat-send').disabled = !chatOpen;
    renderUsers();
  }

  function renderUsers() {
    const list = $('users');
    const others = demo.users.filter((u) => u !== demo.name);
    list.replaceChildren(...others.map((u) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = u;
      b.dataset.user = u;
      b.title = `Call ${u}`;
      b.disabled = demo.state !== 'idle';
      b.addEventListener('click', () => call(u));
      const li = document.createElement('li');
      li.append(b);
      return li;
    }));
    $('no-users').hidden = others.length > 0;
  }

  function chatLine(who, text) {
    const li = document.createElement('li');
    const b = document.createElement('b');
    b.textContent = who + ': ';
    li.append(b, text);
    $('chat-log').append(li);
  }

  function fail(text, err) {
    if (err) console.error(text, err);
    show(err ? `${text}: ${err.message || err}` : text, true);
  }

  // ---- signaling --------------------------------------------------------

  function login(name) {
    name = String(name || '').trim();
    if (!name) return fail('Enter a name first');
    if (socket) logout();
    demo.name = name;
    $('name').value = name;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const token = params.get('token');
    const url = `${scheme}//${location.host}/ws` + (token ? '?token=' + encodeURIComponent(token) : '');
    const ws = new WebSocket(url, 'json');
    socket = ws;
    clientId = null;
    setState('signing-in');
    ws.onmessage = (e) => {
      if (socket !== ws) return;
      let msg;
      try {
        msg = JSON.parse(e.data);
        if (msg && typeof msg === 'object') handle(msg);
      } catch (err) {
        fail(`Could not handle a message from the gateway (${msg && msg.type})`, err);
      }
    };
    ws.onclose = (e) => {
      if (socket !== ws) return;
      socket = null;
      endCall('remote', { reason: 'connectivity-error', text: 'connection to the gateway closed' });
      demo.users = [];
      if (e.code === 1000) setState('offline', 'Disconnected.');
      else setState('offline', `Connection closed (${e.code}${e.reason ? ' ' + e.reason : ''}). Check the address and the token.`, true);
    };
  }

  function logout() {
    if (current) hangupWith({});
    if (socket) socket.close(1000);
  }

  function send(msg) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return fail('Not connected');
    socket.send(JSON.stringify(msg));
  }

  function sendUsername() {
    send({ type: 'username', name: demo.name, date: Date.now(), id: clientId, features: FEATURES });
  }

  // Messages about the current call: matched by callId, else by the peer's
  // name (which the gateway sets on everything it relays).
  function isCurrent(msg) {
    if (!current) return false;
    if (msg.callId) return msg.callId === current.callId;
    return msg.name === current.peer;
  }

  function handle(msg) {
    switch (msg.type) {
      case 'id':
        clientId = msg.id;
        if (Array.isArray(msg.iceServers)) iceServers = msg.iceServers;
        sendUsername();
        setState('idle');
        return;
      case 'rejectusername':
        demo.name = msg.name;
        $('name').value = msg.name;
        setState(demo.state, `The gateway named you ${msg.name}.`);
        return;
      case 'userlist':
        demo.users = Array.isArray(msg.users) ? msg.users : [];
        renderUsers();
        return;
      case 'ice-servers':
        if (Array.isArray(msg.iceServers)) iceServers = msg.iceServers;
        return;
      case 'video-offer': return onOffer(msg);
      case 'video-answer': return inCall(msg, onAnswer);
      case 'new-ice-candidate': return inCall(msg, onCandidate);
      case 'end-of-candidates': return inCall(msg, onEndOfCandidates);
      case 'ringing':
        if (isCurrent(msg) && demo.state === 'calling') setState('ringing', 'The other side is alerted.');
        return;
      case 'hang-up': case 'decline': case 'busy':
        if (isCurrent(msg)) onHangup(msg);
        return;
      case 'error': return onError(msg);
      case 'message':
        return chatLine(msg.name || '?', msg.text || '');
      default:
        console.debug('ignored message', msg);
    }
  }

  // Call messages run in arrival order on the call's own queue. Each call has
  // its own: WebRTC operations pending when a peer connection closes never
  // settle, so a shared queue could stall for good after a hang-up.
  function inCall(msg, fn) {
    if (isCurrent(msg)) enqueue(current, (c) => fn(c, msg));
  }

  function enqueue(c, fn) {
    c.queue = c.queue.then(() => current === c && fn(c))
      .catch((err) => { if (current === c) fail('WebRTC error', err); });
  }

  function onError(msg) {
    if (msg.callId && ended.has(msg.callId) && !(current && current.callId === msg.callId)) {
      console.debug('error about a call that is over', msg); // e.g. 481 for candidates in flight
      return;
    }
    demo.lastError = { code: msg.code, reason: msg.reason, text: msg.text, ref: msg.ref, callId: msg.callId };
    const what = `Error ${msg.code || ''} ${msg.reason || ''}${msg.text ? ': ' + msg.text : ''}`.replace(/\s+/g, ' ');
    // An error while our offer is unanswered means the call could not be placed.
    const unanswered = current && !current.incoming && ['calling', 'ringing'].includes(demo.state);
    const aboutCall = !msg.callId || (current && msg.callId === current.callId);
    const aboutOffer = !msg.ref || /offer/.test(msg.ref);
    if (unanswered && aboutCall && aboutOffer) {
      endCall('remote', { reason: msg.reason, code: msg.code, text: msg.text });
      setState('idle', what, true);
      return;
    }
    show(`${LABELS[demo.state]}${current ? ' ' + current.peer : ''}. ${what}`, true);
  }

  function onHangup(msg) {
    const aliases = { decline: ['decline', 603], busy: ['busy', 486] };
    const [reason, code] = aliases[msg.type] || [msg.reason, msg.code];
    const peer = current.peer;
    endCall('remote', { reason, code, text: msg.text });
    const why = [reason, code, msg.text].filter((x) => x !== undefined && x !== null && x !== '').join(' ');
    setState('idle', `${peer} hung up${why ? ' (' + why + ')' : ''}.`, !!reason && !['success', 'cancel'].includes(reason));
  }

  // ---- calls ------------------------------------------------------------

  function newCallId() {
    const bytes = crypto.getRandomValues(new Uint8Array(12));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  async function call(target) {
    target = String(target || '').trim();
    if (!target) return fail('Enter whom to call');
    if (demo.state !== 'idle') return fail(`Cannot call now (${demo.state})`);
    current = newCall(newCallId(), target, false);
    setState('calling', 'Getting camera and microphone…');
    const c = current;
    try {
      const pc = createPeer(c);
      await addMedia(c);
      if (current !== c) return;
      setupChat(c, pc.createDataChannel('chat'));
      await pc.setLocalDescription(await pc.createOffer());
      if (current !== c) return;
      sendSDP(c, 'video-offer');
      setState('calling');
    } catch (err) {
      if (current !== c) return; // hung up meanwhile
      endCall('local', { reason: 'general-error', text: String(err) });
      setState('idle');
      fail('Could not start the call', err);
    }
  }

  function newCall(callId, peer, incoming) {
    // outbox: our candidates, held until our SDP is sent;
    // pending: the peer's candidates, held until its SDP is set.
    return { callId, peer, incoming, sdpSent: false, outbox: [], pending: [], queue: Promise.resolve() };
  }

  function onOffer(msg) {
    const offer = description('offer', msg.sdp);
    if (isCurrent(msg)) return enqueue(current, (c) => onReoffer(c, offer));
    if (current) { // busy with another call
      send({ type: 'hang-up', name: demo.name, target: msg.name, callId: msg.callId, reason: 'busy', code: 486 });
      return;
    }
    current = newCall(msg.callId || newCallId(), msg.name, true);
    createPeer(current);
    enqueue(current, (c) => onIncoming(c, offer));
  }

  async function onIncoming(c, offer) {
    try {
      await c.pc.setRemoteDescription(offer);
    } catch (err) {
      hangupWith({ reason: 'incompatible-parameters', code: 488, text: 'unusable offer' });
      return fail(`Refused a call from ${c.peer}`, err);
    }
    if (current !== c) return; // the caller gave up meanwhile
    await flushRemoteCandidates(c);
    send({ type: 'ringing', callId: c.callId, target: c.peer });
    setState('incoming');
  }

  // A re-offer in a live call (or a crossing offer): answer it at once.
  async function onReoffer(c, offer) {
    await c.pc.setRemoteDescription(offer);
    if (current !== c || demo.state === 'incoming') return; // unanswered: still up to the user
    await flushRemoteCandidates(c);
    await c.pc.setLocalDescription(await c.pc.createAnswer());
    if (current === c) sendSDP(c, 'video-answer');
  }

  async function answer() {
    const c = current;
    if (!c || demo.state !== 'incoming') return fail('No call to answer');
    setState('connecting', 'Getting camera and microphone…');
    try {
      await addMedia(c);
      if (current !== c) return;
      await c.pc.setLocalDescription(await c.pc.createAnswer());
      if (current !== c) return;
      sendSDP(c, 'video-answer');
      setState(c.pc.connectionState === 'connected' ? 'in-call' : 'connecting');
    } catch (err) {
      if (current !== c) return; // hung up meanwhile
      hangupWith({ reason: 'general-error', code: 500, text: 'could not answer' });
      fail('Could not answer', err);
    }
  }

  function decline() {
    if (!current || demo.state !== 'incoming') return fail('No call to decline');
    hangupWith({ reason: 'decline', code: 603 });
  }

  function hangup() {
    if (!current) return fail('No call to hang up');
    hangupWith({});
  }

  function hangupWith(r) {
    const c = current;
    send({ type: 'hang-up', name: demo.name, target: c.peer, callId: c.callId, ...r });
    endCall('local', r);
    setState('idle', `Call with ${c.peer} ended${r.reason ? ' (' + r.reason + ')' : ''}.`);
  }

  async function onAnswer(c, msg) {
    await c.pc.setRemoteDescription(description('answer', msg.sdp));
    await flushRemoteCandidates(c);
    if (current === c && ['calling', 'ringing'].includes(demo.state)) {
      setState(c.pc.connectionState === 'connected' ? 'in-call' : 'connecting');
    }
  }

  function endCall(by, r) {
    const c = current;
    if (!c) return;
    current = null;
    ended.add(c.callId);
    if (ended.size > 32) ended.delete(ended.values().next().value);
    demo.lastHangup = { by, reason: r.reason, code: r.code, text: r.text };
    if (c.dc) c.dc.close();
    if (c.pc) c.pc.close();
    if (c.stream) c.stream.getTracks().forEach((t) => t.stop());
    if (c.stopSynthetic) c.stopSynthetic();
    demo.pc = null;
    $('localVideo').srcObject = null;
    $('remoteVideo').srcObject = null;
    $('remoteVideo').muted = false;
    render();
  }

  // ---- WebRTC -----------------------------------------------------------

  function createPeer(c) {
    const pc = new RTCPeerConnection({ iceServers });
    c.pc = pc;
    demo.pc = pc;
    pc.onicecandidate = (e) => {
      if (e.candidate && !e.candidate.candidate) return; // "" marker: the null event follows
      const msg = e.candidate
        ? { type: 'new-ice-candidate', target: c.peer, callId: c.callId, candidate: candidateJSON(e.candidate) }
        : { type: 'end-of-candidates', callId: c.callId };
      if (c.sdpSent) send(msg); else c.outbox.push(msg);
    };
    pc.ontrack = (e) => {
      const video = $('remoteVideo');
      if (!video.srcObject) video.srcObject = e.streams[0] || new MediaStream();
      if (!e.streams[0]) video.srcObject.addTrack(e.track);
      play(video);
    };
    pc.ondatachannel = (e) => setupChat(c, e.channel);
    pc.onconnectionstatechange = () => {
      if (current !== c) return;
      const s = pc.connectionState;
      if (s === 'connected' && demo.state === 'connecting') setState('in-call');
      else if (s === 'disconnected') show(`${LABELS[demo.state]} ${c.peer}. Media interrupted…`, true);
      else if (s === 'failed') {
        hangupWith({ reason: 'failed-transport', text: 'ICE failed' });
        show(`Call with ${c.peer} failed: no media path (ICE failed).`, true);
      }
    };
    return pc;
  }

  function candidateJSON(cand) {
    const j = cand.toJSON();
    return { candidate: j.candidate, sdpMid: j.sdpMid ?? null, sdpMLineIndex: j.sdpMLineIndex ?? null,
      usernameFragment: j.usernameFragment ?? null };
  }

  // Both forms of the dialect: the localDescription object or a bare SDP string.
  function description(type, sdp) {
    return typeof sdp === 'string' ? { type, sdp } : sdp;
  }

  function sendSDP(c, type) {
    send({ type, name: demo.name, target: c.peer, callId: c.callId, sdp: c.pc.localDescription });
    c.sdpSent = true;
    c.outbox.splice(0).forEach(send);
  }

  async function onCandidate(c, msg) {
    let cand = msg.candidate;
    if (cand === null || cand === undefined) return onEndOfCandidates(c, msg);
    if (typeof cand === 'string') {
      cand = { candidate: cand.replace(/^a=/, ''), sdpMid: msg.sdpMid ?? null, sdpMLineIndex: msg.sdpMLineIndex ?? null };
      if (cand.sdpMid === null && cand.sdpMLineIndex === null) cand.sdpMLineIndex = 0;
    }
    await addRemoteCandidate(c, cand);
  }

  async function onEndOfCandidates(c, msg) {
    const mids = msg.sdpMid != null ? [msg.sdpMid]
      : c.pc.getTransceivers().map((t) => t.mid).filter((m) => m !== null);
    for (const sdpMid of mids.length ? mids : ['0']) await addRemoteCandidate(c, { candidate: '', sdpMid });
  }

  async function addRemoteCandidate(c, cand) {
    if (!c.pc.remoteDescription) { c.pending.push(cand); return; }
    try {
      await c.pc.addIceCandidate(cand);
    } catch (err) {
      if (cand.candidate) fail('Bad ICE candidate from the peer', err);
      else console.debug('end-of-candidates not applied', err);
    }
  }

  async function flushRemoteCandidates(c) {
    for (const cand of c.pending.splice(0)) await addRemoteCandidate(c, cand);
  }

  async function addMedia(c) {
    c.stream = await localMedia(c);
    c.stream.getTracks().forEach((t) => c.pc.addTrack(t, c.stream));
    $('localVideo').srcObject = c.stream;
    play($('localVideo'));
  }

  async function localMedia(c) {
    if (params.get('media') !== 'synthetic' && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
      try {
        const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
        demo.media = 'devices';
        return stream;
      } catch (err) {
        console.warn('getUserMedia failed; using a synthetic stream', err);
      }
    }
    return syntheticMedia(c);
  }

  // A moving canvas and a quiet tone: lets the demo run without devices.
  function syntheticMedia(c) {
    demo.media = 'synthetic';
    const canvas = document.createElement('canvas');
    canvas.width = 320;
    canvas.height = 240;
    const g = canvas.getContext('2d');
    let x = 0;
    const timer = setInterval(() => {
      x = (x + 4) % canvas.width;
      g.fillStyle = '#1d3557';
      g.fillRect(0, 0, canvas.width, canvas.height);
      g.fillStyle = '#e63946';
      g.fillRect(x, 0, 24, canvas.height);
      g.fillStyle = '#f1faee';
      g.font = '24px sans-serif';
      g.fillText(demo.name || 'sigbridge', 16, 40);
      g.fillText(new Date().toLocaleTimeString(), 16, 220);
    }, 66);
    const stream = canvas.captureStream(15);
    let audio = null;
    try {
      audio = new AudioContext();
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      const dest = audio.createMediaStreamDestination();
      osc.frequency.value = 440;
      gain.gain.value = 0.05;
      osc.connect(gain).connect(dest);
      osc.start();
      audio.resume().catch(() => {});
      dest.stream.getAudioTracks().forEach((t) => stream.addTrack(t));
    } catch (err) {
      console.warn('no WebAudio; video only', err);
    }
    c.stopSynthetic = () => { clearInterval(timer); if (audio) audio.close(); };
    return stream;
  }

  function play(video) {
    video.play().catch((err) => {
      if (err.name !== 'NotAllowedError') return; // e.g. interrupted by a new stream
      video.muted = true; // autoplay with sound refused: play muted
      video.play().catch(() => {});
    });
  }

  function setupChat(c, dc) {
    c.dc = dc;
    dc.onopen = dc.onclose = () => { if (current === c) render(); };
    dc.onmessage = (e) => chatLine(c.peer, String(e.data));
  }

  // ---- wiring -----------------------------------------------------------

  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    if (demo.state === 'offline') login($('name').value); else logout();
  });
  $('call-form').addEventListener('submit', (e) => { e.preventDefault(); call($('target').value); });
  $('answer').addEventListener('click', () => answer());
  $('decline').addEventListener('click', () => decline());
  $('hangup').addEventListener('click', () => hangup());
  $('chat-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = $('chat-text').value.trim();
    if (!text || !current || !current.dc || current.dc.readyState !== 'open') return;
    current.dc.send(text);
    chatLine('me', text);
    $('chat-text').value = '';
  });
  if (params.get('name')) $('name').value = params.get('name');
  render();
})();
