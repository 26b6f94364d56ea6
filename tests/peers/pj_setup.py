"""The pjsua2 endpoint the loopback peers share (pj_operator.py, cid_peer.py):
no sound device, 8 kHz, no VAD or echo canceller, one UDP transport on
127.0.0.1, pjsua2's events handled on the caller's thread, and the codecs
of `a.codecs` (e.g. "PCMA,PCMU") first, in that order; every other codec off.

`a` carries `log_level`, `local_port` and `codecs` (the peers' argparse results),
and may carry `tls_port`, `tls_cert` and `tls_key` (a second, TLS, transport
listening on 127.0.0.1 with that certificate: a peer the daemon calls over TLS)
and `tls_client_ca` (then that listener requires a client certificate this
CA signed: mutual TLS),
and may carry `vad` (pjmedia's silence detector on: G.711 sends no RTP after
400 ms of silence) and `tx_drop_pct` (pjmedia drops that share of the RTP it
sends, as a lossy line would).
"""

import pjsua2 as pj


def loopback_endpoint(a, user_agent):
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.logConfig.level = a.log_level
    cfg.logConfig.consoleLevel = a.log_level
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.uaConfig.userAgent = user_agent
    cfg.medConfig.clockRate = 8000
    cfg.medConfig.sndClockRate = 8000
    cfg.medConfig.noVad = not getattr(a, "vad", False)
    cfg.medConfig.txDropPct = getattr(a, "tx_drop_pct", 0)
    cfg.medConfig.ecTailLen = 0
    ep.libInit(cfg)
    tc = pj.TransportConfig()
    tc.port = a.local_port
    tc.boundAddress = "127.0.0.1"
    tc.publicAddress = "127.0.0.1"
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
    if getattr(a, "tls_cert", ""):
        tls = pj.TransportConfig()
        tls.port = a.tls_port
        tls.boundAddress = "127.0.0.1"
        tls.publicAddress = "127.0.0.1"
        tls.tlsConfig.method = pj.PJSIP_TLSV1_2_METHOD
        tls.tlsConfig.certFile = a.tls_cert
        tls.tlsConfig.privKeyFile = a.tls_key
        if getattr(a, "tls_client_ca", ""):
            tls.tlsConfig.CaListFile = a.tls_client_ca
            tls.tlsConfig.verifyClient = True
            tls.tlsConfig.requireClientCert = True
        ep.transportCreate(pj.PJSIP_TRANSPORT_TLS, tls)
    ep.libStart()
    ep.audDevManager().setNullDev()
    wanted = [c.strip().upper() for c in a.codecs.split(",") if c.strip()]
    for c in ep.codecEnum2():
        name = c.codecId.split("/")[0].upper()
        ep.codecSetPriority(c.codecId, 255 - wanted.index(name) if name in wanted else 0)
    return ep
