//! The browser operator's signalling, minimal: SIP over UDP from a socket of
//! its own, registering a Contact with `;transport=ws` (what JsSIP and
//! SIP.js register) so that the daemon treats it as a browser. A thread
//! answers OPTIONS keep-alives and hands every other message over.

use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use alarmgate::sip::digest;

/// A SIP message as text, with its source.
pub(crate) struct Msg {
    pub text: String,
    pub from: SocketAddr,
}

impl Msg {
    /// The first line.
    pub(crate) fn start(&self) -> &str {
        self.text.lines().next().unwrap_or_default()
    }

    /// A header's value (full names only: the daemon sends those).
    pub(crate) fn header<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.headers(name).next()
    }

    /// Every value of a header, in order.
    pub(crate) fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.text
            .split("\r\n\r\n")
            .next()
            .unwrap_or_default()
            .lines()
            .skip(1)
            .filter_map(move |l| {
                let (n, v) = l.split_once(':')?;
                n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
            })
    }

    /// The body.
    pub(crate) fn body(&self) -> &str {
        self.text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .unwrap_or_default()
    }
}

/// The operator's SIP side.
pub(crate) struct SipUa {
    socket: UdpSocket,
    pub local: SocketAddr,
    daemon: SocketAddr,
    inbox: Receiver<Msg>,
    user: String,
    cseq: u32,
}

impl SipUa {
    /// A UA for `user` talking to the daemon at `daemon`.
    pub(crate) fn new(user: &str, daemon: SocketAddr) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("sip socket");
        let local = socket.local_addr().expect("bound");
        let reader = socket.try_clone().expect("clone");
        let (tx, inbox) = channel();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while let Ok((n, from)) = reader.recv_from(&mut buf) {
                let msg = Msg {
                    text: String::from_utf8_lossy(&buf[..n]).into_owned(),
                    from,
                };
                if msg.start().starts_with("OPTIONS ") {
                    let _ = reader.send_to(reply(&msg, 200, "", None).as_bytes(), from);
                } else if tx.send(msg).is_err() {
                    break;
                }
            }
        });
        Self {
            socket,
            local,
            daemon,
            inbox,
            user: user.to_owned(),
            cseq: 1,
        }
    }

    fn send(&self, text: &str, to: SocketAddr) {
        self.socket.send_to(text.as_bytes(), to).expect("send");
    }

    /// The next message that is not an OPTIONS.
    pub(crate) fn recv(&self, timeout: Duration) -> Option<Msg> {
        self.inbox.recv_timeout(timeout).ok()
    }

    fn register_request(&mut self, auth: Option<&str>) -> String {
        self.cseq += 1;
        let (u, l, d) = (&self.user, self.local, self.daemon);
        let auth = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        format!(
            "REGISTER sip:{d} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bKreg{c};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:{u}@{d}>;tag=reg{u}\r\nTo: <sip:{u}@{d}>\r\n\
             Call-ID: reg-{u}-{l}\r\nCSeq: {c} REGISTER\r\n\
             Contact: <sip:{u}@{l};transport=ws>;expires=300\r\n{auth}Content-Length: 0\r\n\r\n",
            c = self.cseq
        )
    }

    /// REGISTERs with digest (`password`); the final status.
    pub(crate) fn register(&mut self, password: &str) -> u16 {
        let first = self.register_request(None);
        self.send(&first, self.daemon);
        let Some(challenge) = self.recv(Duration::from_secs(5)) else {
            return 0;
        };
        let Some(www) = challenge.header("WWW-Authenticate") else {
            return status(&challenge);
        };
        let uri = format!("sip:{}", self.daemon);
        let auth = digest::respond(www, "REGISTER", &uri, &self.user, password, "c0ffee", 1)
            .expect("digest");
        let second = self.register_request(Some(&auth));
        self.send(&second, self.daemon);
        self.recv(Duration::from_secs(5)).map_or(0, |m| status(&m))
    }

    /// Waits for an INVITE.
    pub(crate) fn wait_invite(&self, timeout: Duration) -> Option<Msg> {
        let end = std::time::Instant::now() + timeout;
        while let Some(left) = end.checked_duration_since(std::time::Instant::now()) {
            let msg = self.recv(left)?;
            if msg.start().starts_with("INVITE ") {
                return Some(msg);
            }
        }
        None
    }

    /// Answers `request` with `code`, our To tag and an optional SDP body.
    pub(crate) fn respond(&self, request: &Msg, code: u16, sdp: Option<&str>) {
        let contact = format!("<sip:{}@{};transport=ws>", self.user, self.local);
        self.send(&reply(request, code, &contact, sdp), request.from);
    }

    /// BYE in the dialog `invite` set up (we are its UAS).
    pub(crate) fn bye(&mut self, invite: &Msg) {
        let text = self.in_dialog(invite, "BYE", None);
        self.send(&text, invite.from);
    }

    /// A re-INVITE carrying `sdp` in the dialog `invite` set up (JsSIP's
    /// hold and unhold): its final response, a 2xx ACKed.
    pub(crate) fn reinvite(&mut self, invite: &Msg, sdp: &str) -> Option<Msg> {
        let text = self.in_dialog(invite, "INVITE", Some(sdp));
        let cseq = self.cseq;
        self.send(&text, invite.from);
        let end = std::time::Instant::now() + Duration::from_secs(10);
        while let Some(left) = end.checked_duration_since(std::time::Instant::now()) {
            let msg = self.recv(left)?;
            let ours = msg.header("CSeq") == Some(format!("{cseq} INVITE").as_str());
            if !ours || status(&msg) < 200 {
                continue;
            }
            if status(&msg) < 300 {
                let ack = self.in_dialog(invite, "ACK", None);
                self.send(&ack, invite.from);
            }
            return Some(msg);
        }
        None
    }

    /// A request in the dialog `invite` set up (we are its UAS); an ACK
    /// reuses the current CSeq number.
    fn in_dialog(&mut self, invite: &Msg, method: &str, sdp: Option<&str>) -> String {
        if method != "ACK" {
            self.cseq += 1;
        }
        let target = invite
            .header("Contact")
            .map(|c| c.trim_matches(|ch| ch == '<' || ch == '>').to_owned())
            .unwrap_or_default();
        let body = sdp.unwrap_or_default();
        let content_type = match sdp {
            Some(_) => "Content-Type: application/sdp\r\n",
            None => "",
        };
        format!(
            "{method} {target} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bK{m}{c}{n};rport\r\n\
             Max-Forwards: 70\r\nFrom: {to};tag=op\r\nTo: {from}\r\nCall-ID: {id}\r\n\
             CSeq: {c} {method}\r\nContact: <sip:{u}@{l};transport=ws>\r\n{content_type}\
             Content-Length: {len}\r\n\r\n{body}",
            l = self.local,
            m = method.to_ascii_lowercase(),
            n = if method == "ACK" { "a" } else { "" },
            c = self.cseq,
            u = self.user,
            to = invite.header("To").unwrap_or_default(),
            from = invite.header("From").unwrap_or_default(),
            id = invite.header("Call-ID").unwrap_or_default(),
            len = body.len(),
        )
    }
}

/// The status code of a response (0 for a request).
pub(crate) fn status(msg: &Msg) -> u16 {
    let mut parts = msg.start().split_whitespace();
    match parts.next() {
        Some("SIP/2.0") => parts.next().and_then(|c| c.parse().ok()).unwrap_or(0),
        _ => 0,
    }
}

/// A response to `request`: its Vias, From, To (with our tag), Call-ID, CSeq.
pub(crate) fn reply(request: &Msg, code: u16, contact: &str, sdp: Option<&str>) -> String {
    let mut out = format!("SIP/2.0 {code} {}\r\n", reason(code));
    for via in request.headers("Via") {
        out.push_str(&format!("Via: {via}\r\n"));
    }
    let to = request.header("To").unwrap_or_default();
    let to = if to.contains(";tag=") || code == 100 {
        to.to_owned()
    } else {
        format!("{to};tag=op")
    };
    for (name, value) in [
        ("From", request.header("From").unwrap_or_default()),
        ("To", to.as_str()),
        ("Call-ID", request.header("Call-ID").unwrap_or_default()),
        ("CSeq", request.header("CSeq").unwrap_or_default()),
    ] {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if !contact.is_empty() {
        out.push_str(&format!("Contact: {contact}\r\n"));
    }
    let body = sdp.unwrap_or_default();
    if sdp.is_some() {
        out.push_str("Content-Type: application/sdp\r\n");
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    out
}

fn reason(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        200 => "OK",
        488 => "Not Acceptable Here",
        _ => "Whatever",
    }
}
