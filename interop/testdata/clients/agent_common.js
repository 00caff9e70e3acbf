// Shared by the third-party client agents (jssip_agent.js, stanza_agent.js):
// the same window.interopAgent contract as ../../chromium_agent.js, which the
// Go side (endpoint_chromium.go) drives over DevTools: commands are methods,
// drain() hands over events, a protocol log and media counts.

export function newAgent() {
  const A = { events: [], log: [], timers: [], pc: null, opts: null };
  A.now = () => Date.now();
  A.emit = (kind, fields = {}) => A.events.push({ kind, at: A.now(), ...fields });
  A.record = (dir, text) => A.log.push({ dir, text, at: A.now() });
  A.drain = async () => ({ events: A.events.splice(0), log: A.log.splice(0), stats: await stats(A) });
  return A;
}

// media returns Chromium's fake microphone (and camera), or an oscillator.
export async function media(want) {
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: true, video: !!want.video });
  } catch (e) {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    const dst = ctx.createMediaStreamDestination();
    osc.connect(dst); osc.start();
    return dst.stream;
  }
}

// conditionForSIP maps a final SIP status to the Jingle condition
// (protocols.md §5.6), as interop/endpoint_sip.go does.
export function conditionForSIP(code) {
  if (code === 200) return 'success';
  if ([486, 600].includes(code)) return 'busy';
  if ([603, 607, 608, 403].includes(code)) return 'decline';
  if ([404, 410, 480, 484, 604].includes(code)) return 'gone';
  if ([408, 504].includes(code)) return 'timeout';
  if (code === 487) return 'cancel';
  if ([488, 606, 415].includes(code)) return 'incompatible-parameters';
  if ([401, 407].includes(code)) return 'security-error';
  if ([502, 503].includes(code)) return 'connectivity-error';
  return 'general-error';
}

// escapeSIPUser percent-escapes a target for a Request-URI user part.
export function escapeSIPUser(s) {
  return Array.from(new TextEncoder().encode(s), (c) => {
    const ch = String.fromCharCode(c);
    return /[A-Za-z0-9\-_.~]/.test(ch) ? ch : '%' + c.toString(16).toUpperCase().padStart(2, '0');
  }).join('');
}

async function stats(A) {
  const pc = A.pc;
  const s = { ice: pc ? pc.iceConnectionState : 'new', audio: 0, video: 0, data: 0 };
  if (!pc || pc.signalingState === 'closed') return s;
  const report = await pc.getStats();
  report.forEach((r) => {
    if (r.type === 'inbound-rtp' && (r.kind === 'audio' || r.kind === 'video')) s[r.kind] += r.packetsReceived || 0;
  });
  return s;
}
