// alarmgate operator console: sign-in, the operator's state, the ringing
// call with its decoded alarm, the browser phone (JsSIP over WebSocket),
// dispositions, queues and recalls. Served from the daemon's binary; talks
// only to the node (the API, the event stream, the SIP WebSocket).
//
// Live updates come from GET /api/v1/events (server-sent events read with
// fetch, which can send the session token); every event of the operator's
// tenants or about the operator triggers one refresh of the views. The
// stream reconnects by itself and says so on screen.
//
// Test hooks (documented in docs/configuration.md, "Operator console"):
// - window.alarmgateTestMic: set before answering to replace the
//   microphone. A function returning a MediaStream (or a promise of one),
//   or an object {frequency: Hz, gain: 0..1}: the page then builds an
//   OscillatorNode -> MediaStreamAudioDestinationNode stream itself.
// - window.alarmgateConsole: read-only probes (state(), receivedAudio()).
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const REPLAY_MS = 15 * 60 * 1000;
  const WATCHDOG_MS = 40 * 1000;
  const CLASS_LABEL = {
    emergency: '\u25B2 EMERGENCY', unconfirmed: '\u25C6 UNCONFIRMED ALARM',
    voice: '\u25CF Voice call', recall: '\u21BA Recall', technical: '\u25A0 Technical',
  };
  const STATE_LABEL = {
    available: 'Available', paused: 'Paused', wrap_up: 'Wrap-up', logged_out: 'Logged out',
    ringing: 'Ringing', on_call: 'On call',
  };
  const DISPOSITION_LABEL = {
    emergency: 'Emergency', reassurance: 'Reassurance', false_alarm: 'False alarm',
    recall: 'Recall', technical: 'Technical',
  };

  let cfg = null;
  let session = null; // {token, expiresAt, scope}
  let creds = null; // kept for the phone's digest and a re-sign-in after a node restart
  let ua = null;
  let rtc = null;
  let rtcState = 'none';
  let mic = null;
  let remoteStream = null;
  let analyser = null;
  let micNote = ''; // why this computer cannot take calls (no microphone), or ''
  let passNote = ''; // why the last call could not be answered here, or ''
  let me = null;
  let calls = [];
  let queues = [];
  let operators = [];
  let snapshotAt = 0;
  let lastTaken = null;
  const alarms = new Map();
  const history = [];
  let streamGen = 0;
  let lastEventId = null;
  let refreshTimer = null;
  let expiryTimer = null;
  let lastRenew = 0;
  let linkFailures = 0;

  // ---- small helpers -------------------------------------------------------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'text') el.textContent = v;
      else if (k.startsWith('data-')) el.setAttribute(k, v);
      else el[k] = v;
    }
    for (const c of children) el.append(c);
    return el;
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const fmtWait = (s) => (s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`);
  const elapsed = () => Math.floor((Date.now() - snapshotAt) / 1000);
  function message(id, text, kind) {
    const el = $(id);
    el.textContent = text || '';
    el.dataset.kind = kind || 'info';
  }
  function banner(text) {
    $('banner').hidden = !text;
    $('banner').textContent = text || '';
  }
  function setLink(state, text) {
    $('link').dataset.link = state;
    $('link').textContent = text;
  }
  function setPhone(state, text) {
    $('phone').dataset.phone = state;
    $('phone').textContent = text;
  }

  // ---- the API ---------------------------------------------------------------
  async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${session ? session.token : ''}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(path, {
      method, headers, cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 401 && session) {
      await sessionRefused();
      throw new Error('the session ended');
    }
    const json = res.status === 204 ? null : await res.json().catch(() => null);
    if (!res.ok) throw new Error((json && json.detail) || `HTTP ${res.status}`);
    return json;
  }

  // ---- sign-in, sessions -----------------------------------------------------
  async function openSession(id, password) {
    let res;
    try {
      res = await fetch('/api/v1/session', {
        method: 'POST', cache: 'no-store',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ operator: id, password }),
      });
    } catch (e) {
      return { error: 'The node cannot be reached. Check the network and try again.' };
    }
    const json = await res.json().catch(() => null);
    if (res.status === 201 && json) return { session: json };
    if (res.status === 401) return { error: 'Wrong operator id or password.' };
    if (res.status === 429) {
      const wait = res.headers.get('Retry-After') || 'a few';
      return { error: `Too many failed sign-ins from this computer. Try again in ${wait} seconds.` };
    }
    return { error: (json && json.detail) || `Sign-in failed (HTTP ${res.status}).` };
  }

  function adopt(opened) {
    session = {
      token: opened.token,
      expiresAt: Date.now() + opened.expires_in_s * 1000,
      scope: opened.scope,
    };
    clearTimeout(expiryTimer);
    expiryTimer = setTimeout(() => {
      endSession('Your session has expired. Sign in again to take calls.');
    }, Math.max(0, session.expiresAt - Date.now()));
  }

  async function signIn(event) {
    event.preventDefault();
    const id = $('signin-id').value.trim();
    const password = $('signin-password').value;
    $('signin-submit').disabled = true;
    message('signin-message', 'Signing in\u2026');
    const result = await openSession(id, password);
    $('signin-submit').disabled = false;
    if (result.error) {
      message('signin-message', result.error, 'error');
      $('signin-password').select();
      return;
    }
    creds = { id, password };
    $('signin-password').value = '';
    adopt(result.session);
    message('signin-message', '');
    $('who').textContent = `${session.scope.name} (${session.scope.operator})`;
    $('signin-view').hidden = true;
    $('console-view').hidden = false;
    $('signout').hidden = false;
    fillTenants();
    lastEventId = null;
    runStream();
    startPhone();
    checkMic();
  }

  // A 401 while the session should still live: the node lost it (restart).
  // Sign in again with the kept credentials; else back to the sign-in page.
  // Concurrent refusals (parallel requests) share one attempt.
  let refusal = null;
  function sessionRefused() {
    if (!refusal) refusal = signInAgain().finally(() => { refusal = null; });
    return refusal;
  }

  async function signInAgain() {
    if (!session) return;
    if (Date.now() >= session.expiresAt - 1000) {
      endSession('Your session has expired. Sign in again to take calls.');
      return;
    }
    const result = creds ? await openSession(creds.id, creds.password) : { error: 'no credentials' };
    if (result.session) {
      adopt(result.session);
      return;
    }
    endSession('The node ended your session. Sign in again.');
  }

  async function renewIfDue() {
    if (!session) return;
    const ttl = session.scope && cfg ? cfg.session_ttl_s * 1000 : 0;
    const left = session.expiresAt - Date.now();
    if (left > ttl / 2 || Date.now() - lastRenew < 30000) return;
    lastRenew = Date.now();
    try {
      adopt(await api('POST', '/api/v1/session/renew'));
    } catch (e) { /* the next refusal or the expiry timer says it */ }
  }

  function endSession(why) {
    streamGen += 1;
    clearTimeout(expiryTimer);
    session = null;
    stopPhone();
    me = null;
    calls = []; queues = []; operators = [];
    $('console-view').hidden = true;
    $('signout').hidden = true;
    $('signin-view').hidden = false;
    $('who').textContent = '';
    banner('');
    setLink('idle', 'Node: not connected');
    message('signin-message', why, why ? 'error' : 'info');
    $('signin-password').focus();
  }

  async function signOut() {
    try {
      await api('PUT', `/api/v1/operators/${encodeURIComponent(session.scope.operator)}/state`, { state: 'logged_out' });
    } catch (e) { /* signing out anyway */ }
    try { await api('DELETE', '/api/v1/session'); } catch (e) { /* gone already */ }
    creds = null;
    endSession('You signed out.');
  }

  // ---- the event stream ------------------------------------------------------
  // A UUIDv7-shaped id of `ms`: the stream starts at the first event after it.
  function uuidv7At(ms) {
    const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
  }

  async function runStream() {
    const gen = ++streamGen;
    let backoff = 500;
    while (session && gen === streamGen) {
      const ctl = new AbortController();
      let watchdog = null;
      const alive = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => ctl.abort(), WATCHDOG_MS);
      };
      try {
        const headers = { Authorization: `Bearer ${session.token}`, Accept: 'text/event-stream' };
        let url = '/api/v1/events';
        if (lastEventId) headers['Last-Event-ID'] = lastEventId;
        else url += `?since=${uuidv7At(Date.now() - REPLAY_MS)}`;
        alive();
        const res = await fetch(url, { headers, signal: ctl.signal, cache: 'no-store' });
        if (res.status === 401) {
          await sessionRefused();
          continue;
        }
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        linkFailures = 0;
        backoff = 500;
        banner('');
        setLink('live', 'Node: live');
        scheduleRefresh(0);
        await readEvents(res.body.getReader(), alive, gen);
        throw new Error('the stream ended');
      } catch (e) {
        if (!session || gen !== streamGen) return;
        linkFailures += 1;
        const down = linkFailures > 3;
        setLink(down ? 'down' : 'reconnecting', down ? 'Node: unreachable' : 'Node: reconnecting');
        banner(down
          ? `The node cannot be reached since ${new Date().toLocaleTimeString()}. Reconnecting\u2026`
          : 'Connection to the node lost. Reconnecting\u2026');
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 4000);
      } finally {
        clearTimeout(watchdog);
      }
    }
  }

  async function readEvents(reader, alive, gen) {
    const decoder = new TextDecoder();
    let buffer = '';
    let event = { id: null, type: 'message', data: [] };
    for (;;) {
      const { value, done } = await reader.read();
      if (done || gen !== streamGen) return;
      alive();
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, cut).replace(/\r$/, '');
        buffer = buffer.slice(cut + 1);
        if (line === '') {
          if (event.data.length) dispatch(event);
          event = { id: null, type: 'message', data: [] };
        } else if (!line.startsWith(':')) {
          const at = line.indexOf(':');
          const field = at < 0 ? line : line.slice(0, at);
          const text = at < 0 ? '' : line.slice(at + 1).replace(/^ /, '');
          if (field === 'id') event.id = text;
          else if (field === 'event') event.type = text;
          else if (field === 'data') event.data.push(text);
        }
      }
    }
  }

  function dispatch(event) {
    if (event.id) lastEventId = event.id;
    let cloud = null;
    try { cloud = JSON.parse(event.data.join('\n')); } catch (e) { return; }
    if (!cloud) return;
    if (event.type === 'alarmgate.alarm.received' || event.type === 'alarmgate.alarm.unconfirmed') {
      alarms.set(cloud.subject, cloud.data || {});
      if (alarms.size > 2000) alarms.delete(alarms.keys().next().value);
    }
    const data = cloud.data || {};
    if (event.type === 'alarmgate.call.answered' && session && data.operator === session.scope.operator) {
      takeCall(cloud.subject);
    }
    scheduleRefresh(150);
  }

  function scheduleRefresh(delay) {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, delay);
  }

  async function refresh() {
    if (!session) return;
    const id = encodeURIComponent(session.scope.operator);
    try {
      const [mine, callList, queueList, opList] = await Promise.all([
        api('GET', `/api/v1/operators/${id}`), api('GET', '/api/v1/calls'),
        api('GET', '/api/v1/queues'), api('GET', '/api/v1/operators'),
      ]);
      me = mine;
      calls = callList.calls;
      queues = queueList.queues;
      operators = opList.operators;
      snapshotAt = Date.now();
      noteTaken();
      render();
    } catch (e) { /* the stream's state says why; the next event retries */ }
  }

  // ---- the browser phone -------------------------------------------------------
  async function getMic() {
    if (mic) return mic;
    const hook = window.alarmgateTestMic;
    if (typeof hook === 'function') {
      mic = await hook();
    } else if (hook && typeof hook === 'object') {
      const ctx = new AudioContext();
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = hook.frequency || 1000;
      gain.gain.value = hook.gain === undefined ? 0.3 : hook.gain;
      const out = ctx.createMediaStreamDestination();
      osc.connect(gain).connect(out);
      osc.start();
      mic = out.stream;
    } else {
      mic = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    }
    return mic;
  }

  function startPhone() {
    if (!cfg || !cfg.ws_url) {
      setPhone('off', 'Phone: no WebSocket address on this node');
      return;
    }
    if (typeof JsSIP === 'undefined') {
      setPhone('failed', 'Phone: the SIP library did not load');
      return;
    }
    const socket = new JsSIP.WebSocketInterface(cfg.ws_url);
    ua = new JsSIP.UA({
      sockets: [socket],
      uri: `sip:${creds.id}@${cfg.sip_domain}`,
      authorization_user: creds.id,
      password: creds.password,
      register: true,
      register_expires: 120,
      session_timers: false,
      user_agent: 'alarmgate-console',
      connection_recovery_min_interval: 1,
      connection_recovery_max_interval: 8,
    });
    ua.on('connecting', () => setPhone('connecting', 'Phone: connecting'));
    ua.on('disconnected', () => setPhone('failed', 'Phone: disconnected, retrying'));
    ua.on('registered', () => setPhone('registered', 'Phone: ready'));
    ua.on('unregistered', () => setPhone('off', 'Phone: not registered'));
    ua.on('registrationFailed', (e) => setPhone('failed', `Phone: registration failed (${e.cause})`));
    ua.on('newRTCSession', (e) => {
      if (e.originator !== 'remote') return;
      if (rtc) {
        e.session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
        return;
      }
      attach(e.session);
    });
    setPhone('connecting', 'Phone: connecting');
    ua.start();
  }

  function stopPhone() {
    if (rtc) { try { rtc.terminate(); } catch (e) { /* ended */ } }
    rtc = null;
    rtcState = 'none';
    if (ua) { try { ua.stop(); } catch (e) { /* stopped */ } }
    ua = null;
    setPhone('off', 'Phone: off');
  }

  function attach(s) {
    rtc = s;
    rtcState = 'ringing';
    passNote = '';
    checkMic();
    const done = () => {
      if (rtc === s) { rtc = null; rtcState = 'none'; remoteStream = null; analyser = null; }
      render();
      scheduleRefresh(100);
    };
    s.on('accepted', () => { rtcState = 'connected'; render(); });
    s.on('confirmed', () => { rtcState = 'connected'; render(); });
    s.on('ended', done);
    s.on('failed', done);
    s.on('peerconnection', (e) => {
      e.peerconnection.addEventListener('track', (t) => playRemote(t.streams[0] || new MediaStream([t.track])));
    });
    render();
  }

  function playRemote(stream) {
    remoteStream = stream;
    $('remote-audio').srcObject = stream;
    try {
      const ctx = new AudioContext();
      analyser = ctx.createAnalyser();
      ctx.createMediaStreamSource(stream).connect(analyser);
    } catch (e) { analyser = null; }
  }

  // What a getUserMedia failure means to the operator.
  function micProblem(e) {
    const name = e && e.name;
    if (name === 'NotFoundError' || name === 'OverconstrainedError') return 'No microphone found on this computer.';
    if (name === 'NotAllowedError' || name === 'SecurityError') return 'The browser does not allow this page to use the microphone.';
    if (name === 'NotReadableError') return 'The microphone is in use by another program or not working.';
    return `The microphone cannot be opened (${(e && e.message) || e}).`;
  }

  // Warns before a call when the computer has no microphone at all.
  async function checkMic() {
    if (window.alarmgateTestMic || mic || !navigator.mediaDevices) { micNote = ''; return; }
    try {
      const devices = await navigator.mediaDevices.enumerateDevices();
      const none = !devices.some((d) => d.kind === 'audioinput');
      micNote = none ? 'No microphone found on this computer: connect a headset before taking calls.' : '';
    } catch (e) { micNote = ''; }
    renderCall();
  }

  // Answers the ringing call. Without a microphone the call cannot be
  // taken here: it is handed back at once (480) so the switchboard offers
  // it to the next operator instead of waiting for the ring timeout, and
  // the operator is paused ("no-microphone") so no other call rings here
  // until they are available again (F9) with a working microphone.
  async function answer() {
    if (!rtc || rtcState !== 'ringing') return;
    const s = rtc;
    let stream;
    try {
      stream = await getMic();
    } catch (e) {
      passNote = `${micProblem(e)} The call was passed on to a colleague; you are paused until you press Available.`;
      if (rtc === s) {
        s.once('failed', () => setState({ state: 'paused', reason: 'no-microphone' }));
        s.terminate({ status_code: 480, reason_phrase: 'No Microphone' });
      }
      renderCall();
      return;
    }
    if (rtc !== s || rtcState !== 'ringing') return;
    passNote = '';
    s.answer({ mediaStream: stream, pcConfig: { iceServers: [] } });
  }
  function decline() {
    if (rtc && rtcState === 'ringing') rtc.terminate({ status_code: 603, reason_phrase: 'Decline' });
  }
  function hangUp() {
    if (rtc) rtc.terminate();
  }
  function toggleMute() {
    if (!rtc || rtcState !== 'connected') return;
    const muted = rtc.isMuted().audio;
    if (muted) rtc.unmute({ audio: true }); else rtc.mute({ audio: true });
    $('btn-mute').setAttribute('aria-pressed', String(!muted));
  }
  function sendDigit(d) {
    if (rtc && rtcState === 'connected') rtc.sendDTMF(d, { duration: 160, interToneGap: 80 });
  }

  // ---- acting --------------------------------------------------------------------
  async function setState(body) {
    if (!session) return;
    try {
      me = await api('PUT', `/api/v1/operators/${encodeURIComponent(session.scope.operator)}/state`, body);
      snapshotAt = Date.now();
      render();
    } catch (e) {
      $('state-detail').textContent = `Not changed: ${e.message}`;
    }
  }

  async function classify(disposition) {
    if (!lastTaken) {
      message('disp-message', 'No call of yours to classify yet.', 'error');
      return;
    }
    const note = $('disp-note').value.trim();
    const body = note ? { disposition, note } : { disposition };
    try {
      await api('POST', `/api/v1/calls/${encodeURIComponent(lastTaken.id)}/disposition`, body);
      lastTaken.disposition = disposition;
      $('disp-note').value = '';
      message('disp-message', `Saved: ${DISPOSITION_LABEL[disposition]} for the call from ${lastTaken.caller}.`);
      renderHistory();
    } catch (e) {
      message('disp-message', `Not saved: ${e.message}`, 'error');
    }
  }

  async function recall(number, tenant) {
    try {
      await api('POST', '/api/v1/calls', { operator: session.scope.operator, number, tenant });
      message('recall-message', `Calling ${number}: your phone rings first.`);
    } catch (e) {
      message('recall-message', `Cannot call back: ${e.message}`, 'error');
    }
  }

  // The call the operator is on: remembered for the disposition and history.
  function noteTaken() {
    if (me && me.state === 'on_call' && me.current_call) takeCall(me.current_call);
  }

  // Remembers `id` as taken (from the operator's state or the event stream).
  function takeCall(id) {
    const alarm = alarms.get(id) || {};
    const call = calls.find((c) => c.id === id) || { caller: alarm.calling_number, tenant: alarm.tenant };
    if (lastTaken && lastTaken.id === id) {
      if (lastTaken.caller === '?' && call.caller) Object.assign(lastTaken, { caller: call.caller, tenant: call.tenant });
      return;
    }
    if (history.some((c) => c.id === id)) return;
    lastTaken = {
      id, caller: call.caller || '?', tenant: call.tenant || '',
      class: call.class || '', at: new Date(), disposition: null,
    };
    history.unshift(lastTaken);
    if (history.length > 20) history.pop();
    message('disp-message', '');
    renderHistory();
  }

  // ---- rendering -------------------------------------------------------------------
  function render() {
    renderState();
    renderCall();
    renderQueues();
    $('disp-call').textContent = lastTaken
      ? `For the call from ${lastTaken.caller} (${lastTaken.tenant}).`
      : 'The call you take gets the disposition.';
    for (const b of document.querySelectorAll('[data-disposition]')) b.disabled = !lastTaken;
  }

  function renderState() {
    const state = me ? me.state : 'logged_out';
    $('state').dataset.state = state;
    let text = STATE_LABEL[state] || state;
    let detail = '';
    if (state === 'paused' && me.reason) text += `: ${me.reason}`;
    if (state === 'wrap_up') {
      const left = Math.max(0, session.scope.wrap_up_s - me.in_state_s - elapsed());
      detail = `${left} s of wrap-up left`;
    } else if (me) {
      detail = `for ${fmtWait(me.in_state_s + elapsed())}`;
    }
    $('state-text').textContent = text;
    $('state-detail').textContent = detail;
    const busy = state === 'ringing' || state === 'on_call';
    $('btn-available').disabled = busy || state === 'available';
    $('btn-pause').disabled = busy || state === 'paused';
    $('btn-logout').disabled = busy || state === 'logged_out';
    $('btn-end-wrapup').hidden = state !== 'wrap_up';
    $('btn-available').hidden = state === 'wrap_up';
  }

  function currentCall() {
    const id = me && me.current_call;
    return (id && calls.find((c) => c.id === id)) || null;
  }

  function renderCall() {
    const call = currentCall();
    const ringing = rtcState === 'ringing' || (me && me.state === 'ringing');
    const active = call || rtc;
    $('call-idle').hidden = Boolean(active);
    const note = passNote || micNote;
    $('call-idle').textContent = note || 'No call.';
    $('call-idle').dataset.kind = note ? 'error' : 'info';
    $('call-card').hidden = !active;
    $('call-card').dataset.ringing = String(Boolean(ringing));
    if (!active) return;
    const alarm = (call && alarms.get(call.id)) || {};
    const cls = (call && call.class) || 'voice';
    $('call-class').textContent = CLASS_LABEL[cls] || cls;
    $('call-class').dataset.class = cls;
    $('call-tenant').textContent = call ? call.tenant : '\u2014';
    $('call-caller').textContent = call ? call.caller : (rtc && rtc.remote_identity ? rtc.remote_identity.uri.user : '\u2014');
    $('call-waited').textContent = call ? fmtWait(call.waited_s + elapsed()) : '\u2014';
    $('alarm-account').textContent = alarm.account || '\u2014';
    const code = alarm.event_code || (call && call.event_code);
    $('alarm-event').textContent = code ? `${code}${alarm.event_name ? ` ${alarm.event_name}` : ''}` : '\u2014';
    $('alarm-zone').textContent = alarm.zone || '\u2014';
    $('alarm-partition').textContent = alarm.group || '\u2014';
    $('alarm-qualifier').textContent = alarm.qualifier_name || alarm.qualifier || '\u2014';
    const phoneNote = !rtc && ringing ? 'Ringing on another phone of yours (the browser phone is not connected).' : (passNote || micNote);
    $('call-status').textContent = rtcState === 'connected' ? 'Connected.' : phoneNote;
    $('btn-answer').disabled = !(rtc && rtcState === 'ringing');
    $('btn-decline').disabled = !(rtc && rtcState === 'ringing');
    $('btn-hangup').disabled = !rtc;
    $('btn-mute').disabled = rtcState !== 'connected';
    for (const b of $('keypad').children) b.disabled = rtcState !== 'connected';
  }

  function classTag(cls) {
    return h('span', { className: 'tag', 'data-class': cls, text: CLASS_LABEL[cls] || cls });
  }

  // One line always on screen beside the operator's state: how many calls
  // wait in the operator's queues, and the one an operator gets next.
  function renderSummary() {
    const waiting = queues.flatMap((q) => q.calls
      .filter((c) => c.state === 'waiting')
      .map((c) => ({ ...c, queue: q.id })));
    const el = $('queue-summary');
    el.dataset.waiting = String(waiting.length);
    if (!waiting.length) {
      el.textContent = 'No call waiting.';
      return;
    }
    const next = waiting.reduce((a, c) => (c.position < a.position ? c : a));
    const code = next.event_code ? ` ${next.event_code}` : '';
    el.textContent = `${waiting.length} waiting \u00B7 next: ${CLASS_LABEL[next.class] || next.class}${code}, ${fmtWait(next.waited_s + elapsed())} in ${next.queue}`;
  }

  function renderQueues() {
    renderSummary();
    const box = $('queues');
    box.replaceChildren();
    for (const q of queues) {
      const rows = q.calls.map((c) => {
        const full = calls.find((x) => x.id === c.id) || {};
        const state = h('td', { text: c.state });
        if (c.state === 'callback' && full.recall) {
          const back = h('button', { type: 'button', text: 'Call back' });
          back.addEventListener('click', () => recall(full.recall.number, full.recall.tenant));
          state.append(' ', back);
        }
        return h('tr', {},
          h('td', { text: String(c.position) }), h('td', {}, classTag(c.class)),
          h('td', { text: c.event_code || '' }), h('td', { text: full.caller || '' }),
          state, h('td', { text: fmtWait(c.waited_s + elapsed()) }));
      });
      const head = h('tr', {}, ...['Next', 'Priority class', 'Code', 'Caller', 'State', 'Waited'].map((t) => h('th', { text: t })));
      const title = `${q.id} (${q.tenant}): ${q.waiting} waiting \u00B7 ${q.operators_available} of ${q.operators_total} operators available`;
      box.append(h('div', { className: 'queue', 'data-queue': q.id },
        h('h3', { text: title }),
        rows.length ? h('table', { className: 'grid' }, h('thead', {}, head), h('tbody', {}, ...rows))
          : h('p', { className: 'idle', text: 'No call waiting.' })));
    }
    $('operators').replaceChildren(...operators.map((o) => {
      const call = o.current_call && calls.find((c) => c.id === o.current_call);
      const state = (STATE_LABEL[o.state] || o.state) + (o.reason ? `: ${o.reason}` : '');
      return h('tr', { 'data-operator': o.id }, h('td', { text: o.name }), h('td', { text: state }),
        h('td', { text: call ? `${call.caller} (${call.tenant})` : '' }));
    }));
  }

  function renderHistory() {
    $('history').replaceChildren(...history.map((c) => {
      const back = h('button', { type: 'button', text: 'Call back' });
      back.addEventListener('click', () => recall(c.caller, c.tenant));
      const what = c.disposition ? ` \u2014 ${DISPOSITION_LABEL[c.disposition]}` : '';
      return h('li', {}, h('span', { text: `${c.at.toLocaleTimeString()} ${c.caller} (${c.tenant})${what}` }), back);
    }));
  }

  function fillTenants() {
    $('recall-tenant').replaceChildren(...session.scope.tenants.map((t) => h('option', { value: t, text: t })));
  }

  // ---- wiring ------------------------------------------------------------------------
  function keys(e) {
    if (!session) return;
    const actions = {
      F2: answer, F3: decline, F4: hangUp, F7: toggleMute,
      F9: () => setState({ state: 'available' }),
      F10: () => setState({ state: 'paused', reason: $('pause-reason').value }),
    };
    let act = actions[e.key];
    const digit = /^Digit([1-5])$/.exec(e.code);
    if (e.altKey && digit) {
      const order = ['emergency', 'reassurance', 'false_alarm', 'recall', 'technical'];
      act = () => classify(order[Number(digit[1]) - 1]);
    }
    if (act) {
      e.preventDefault();
      act();
    }
  }

  function wire() {
    $('signin-form').addEventListener('submit', signIn);
    $('signout').addEventListener('click', signOut);
    $('btn-available').addEventListener('click', () => setState({ state: 'available' }));
    $('btn-end-wrapup').addEventListener('click', () => setState({ state: 'available' }));
    $('btn-pause').addEventListener('click', () => setState({ state: 'paused', reason: $('pause-reason').value }));
    $('btn-logout').addEventListener('click', () => setState({ state: 'logged_out' }));
    $('btn-answer').addEventListener('click', answer);
    $('btn-decline').addEventListener('click', decline);
    $('btn-hangup').addEventListener('click', hangUp);
    $('btn-mute').addEventListener('click', toggleMute);
    for (const d of ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#']) {
      const b = h('button', { type: 'button', text: d, 'data-digit': d });
      b.addEventListener('click', () => sendDigit(d));
      $('keypad').append(b);
    }
    for (const b of document.querySelectorAll('[data-disposition]')) {
      b.addEventListener('click', () => classify(b.dataset.disposition));
    }
    $('recall-form').addEventListener('submit', (e) => {
      e.preventDefault();
      recall($('recall-number').value.trim(), $('recall-tenant').value);
    });
    document.addEventListener('keydown', keys);
    if (navigator.mediaDevices) navigator.mediaDevices.addEventListener('devicechange', checkMic);
    document.addEventListener('keydown', renewIfDue);
    document.addEventListener('click', renewIfDue);
    setInterval(() => { if (session && me) { renderState(); renderCall(); renderSummary(); } }, 1000);
    render();
  }

  async function loadConfig() {
    for (let delay = 500; !cfg; delay = Math.min(delay * 2, 5000)) {
      try {
        const res = await fetch('/api/v1/console/config', { cache: 'no-store' });
        if (res.ok) cfg = await res.json();
      } catch (e) { /* retried */ }
      if (!cfg) {
        message('signin-message', 'The node cannot be reached. Retrying\u2026', 'error');
        await sleep(delay);
      }
    }
    message('signin-message', '');
  }

  window.alarmgateConsole = Object.freeze({
    state: () => ({
      signedIn: Boolean(session), link: $('link').dataset.link, phone: $('phone').dataset.phone,
      call: rtcState, operator: me ? { ...me } : null, lastTaken: lastTaken ? lastTaken.id : null,
      alarmsSeen: alarms.size, micNote: passNote || micNote,
    }),
    // Audio as the browser hears it (getStats inbound level, an analyser's
    // RMS) and the packets it has sent.
    receivedAudio: async () => {
      const out = { packetsReceived: 0, audioLevel: 0, rms: 0, packetsSent: 0 };
      const pc = rtc && rtc.connection;
      if (pc) {
        out.ice = pc.iceConnectionState;
        out.connection = pc.connectionState;
        const stats = await pc.getStats();
        stats.forEach((s) => {
          if (s.type === 'inbound-rtp' && s.kind === 'audio') {
            out.packetsReceived = s.packetsReceived || 0;
            out.audioLevel = s.audioLevel || 0;
          }
          if (s.type === 'outbound-rtp' && s.kind === 'audio') out.packetsSent = s.packetsSent || 0;
        });
      }
      if (analyser) {
        const data = new Float32Array(analyser.fftSize);
        analyser.getFloatTimeDomainData(data);
        out.rms = Math.sqrt(data.reduce((a, v) => a + v * v, 0) / data.length);
      }
      return out;
    },
  });

  document.addEventListener('DOMContentLoaded', () => {
    wire();
    loadConfig();
  });
})();
