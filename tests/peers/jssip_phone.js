// The plain JsSIP phone of jssip_phone.html: register, auto-answer with an
// oscillator microphone, report through window.peer.
'use strict';
(() => {
  const q = new URLSearchParams(location.search);
  const log = (line) => { document.getElementById('log').textContent += `${line}\n`; };
  const peer = { registered: false, calls: 0, state: 'idle', session: null };
  window.peer = peer;

  function oscillator(hz) {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = hz;
    gain.gain.value = 0.3;
    const out = ctx.createMediaStreamDestination();
    osc.connect(gain).connect(out);
    osc.start();
    return out.stream;
  }

  peer.receivedAudio = async () => {
    const out = { packetsReceived: 0, audioLevel: 0 };
    const pc = peer.session && peer.session.connection;
    if (!pc) return out;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        out.packetsReceived = s.packetsReceived || 0;
        out.audioLevel = s.audioLevel || 0;
      }
    });
    return out;
  };
  peer.hangup = () => { if (peer.session) peer.session.terminate(); };

  document.addEventListener('DOMContentLoaded', () => {
    const ua = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(q.get('ws'))],
      uri: `sip:${q.get('user')}@${q.get('domain')}`,
      password: q.get('password'),
      register: true,
      session_timers: false,
    });
    ua.on('registered', () => { peer.registered = true; log('registered'); });
    ua.on('registrationFailed', (e) => log(`registration failed: ${e.cause}`));
    ua.on('newRTCSession', (e) => {
      if (e.originator !== 'remote') return;
      peer.calls += 1;
      peer.session = e.session;
      peer.state = 'ringing';
      log(`incoming from ${e.request.from.uri}`);
      e.session.on('confirmed', () => { peer.state = 'connected'; log('connected'); });
      e.session.on('ended', () => { peer.state = 'ended'; log('ended'); });
      e.session.on('failed', (f) => { peer.state = 'failed'; log(`failed: ${f.cause}`); });
      e.session.on('peerconnection', (p) => {
        p.peerconnection.addEventListener('track', (t) => {
          const audio = new Audio();
          audio.srcObject = t.streams[0];
          audio.play().catch(() => {});
        });
      });
      e.session.answer({ mediaStream: oscillator(Number(q.get('hz') || 700)), pcConfig: { iceServers: [] } });
    });
    ua.start();
    log('started');
  });
})();
