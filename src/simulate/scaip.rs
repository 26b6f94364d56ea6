//! `alarmgate simulate scaip`: a SCAIP unit for commissioning a line. It
//! sends `<mrq>` MESSAGEs (an alarm, a heartbeat, a burst of N alarms, or
//! deliberately bad XML) to a centre over UDP or TCP, answers the centre's
//! `<mrs>` MESSAGEs with 200 (and accepts an `<mrs>` in the 200 body, as
//! some centres send it), and prints per message the SIP status and `snu`.
//!
//! The pure part ([`ScaipUnit`]) builds the MESSAGEs and reads what comes
//! back, taking `now`; the driver ([`run_scaip`]) owns one socket.

use crate::scaip::response::read_mrs;
use crate::sip::message::{self, SipMessage};
use clap::{Args, ValueEnum};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScaipMode {
    /// One alarm (`mty=ME`, `stc=10`), asking for voice by default.
    Alarm,
    /// One heartbeat (`mty=PI`).
    Heartbeat,
    /// `--count` alarms, one after the other as fast as answered.
    Burst,
    /// A body that is not well-formed (the centre should answer 400).
    BadXml,
}

/// The SIP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScaipTransport {
    /// UDP (retransmitted every 500 ms until answered).
    Udp,
    /// TCP.
    Tcp,
}

/// `alarmgate simulate scaip` options.
#[derive(Debug, Clone, Args)]
pub struct ScaipArgs {
    /// The centre: `sip:112@127.0.0.1:5060`.
    pub target: String,
    /// What to send.
    #[arg(long, value_enum, default_value = "alarm")]
    pub mode: ScaipMode,
    /// Messages in a burst (1 to 100000).
    #[arg(long, default_value_t = 10)]
    pub count: u32,
    /// The unit's `cid`.
    #[arg(long, default_value = "26317")]
    pub cid: String,
    /// The From user (the unit's number).
    #[arg(long, default_value = "4512345678")]
    pub caller: String,
    /// The transport.
    #[arg(long, value_enum, default_value = "udp")]
    pub transport: ScaipTransport,
    /// Seconds to wait for each message's 200 and `<mrs>`.
    #[arg(long, default_value_t = 10)]
    pub timeout_s: u64,
    /// One JSON line per message instead of text.
    #[arg(long)]
    pub json: bool,
}

/// What became of one MESSAGE.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Outcome {
    /// Its `ref`.
    pub reference: String,
    /// The final SIP status to our MESSAGE.
    pub status: Option<u16>,
    /// The `<mrs>` received (in a MESSAGE or in the 200 body).
    pub mrs: Option<String>,
    /// Its `snu`.
    pub snu: Option<u32>,
    /// Milliseconds from sending to the `<mrs>`.
    pub mrs_ms: Option<u64>,
}

impl Outcome {
    /// Done: a final status and, after a 2xx, an `<mrs>`.
    pub fn done(&self) -> bool {
        match self.status {
            Some(200..=299) => self.mrs.is_some(),
            Some(_) => true,
            None => false,
        }
    }
}

/// The unit's side of the exchange, without I/O.
#[derive(Debug)]
pub struct ScaipUnit {
    args: ScaipArgs,
    local: String,
    sent: HashMap<String, (Instant, Outcome)>,
    by_ref: HashMap<String, String>,
    run: u32,
    n: u32,
}

impl ScaipUnit {
    /// A unit whose Via/Contact say `local` (`127.0.0.1:5070`); `run`
    /// (random) starts its `ref`s, so a second run is not taken for a
    /// retransmission of the first (a centre answers a repeated `ref` from
    /// the same unit once).
    pub fn new(args: ScaipArgs, local: String, run: u32) -> Self {
        Self {
            args,
            local,
            run,
            sent: HashMap::new(),
            by_ref: HashMap::new(),
            n: 0,
        }
    }

    /// The next `<mrq>` body and its `ref`.
    pub fn next_body(&mut self) -> (String, String) {
        self.n += 1;
        let reference = format!("sim{:08x}{:05}", self.run, self.n);
        let cid = &self.args.cid;
        let body = match self.args.mode {
            ScaipMode::Alarm | ScaipMode::Burst => format!(
                "<mrq><ref>{reference}</ref><cha>0</cha><mty>ME</mty><cid>{cid}</cid><dty>0003</dty><stc>0010</stc><crd>gsm:+{}</crd></mrq>",
                self.args.caller.trim_start_matches('+')
            ),
            ScaipMode::Heartbeat => format!(
                "<mrq><ref>{reference}</ref><mty>PI</mty><cid>{cid}</cid><dty>0002</dty><stc>0102</stc></mrq>"
            ),
            ScaipMode::BadXml => format!("<mrq><ref>{reference}</ref><cid>{cid}</mrq>"),
        };
        (reference, body)
    }

    /// A MESSAGE carrying `body` (a new Call-ID per message).
    pub fn message(&mut self, now: Instant, reference: &str, body: &str) -> String {
        let (local, caller) = (&self.local, &self.args.caller);
        let call_id = format!("scaip-sim-{reference}@{local}");
        let tp = match self.args.transport {
            ScaipTransport::Udp => "UDP",
            ScaipTransport::Tcp => "TCP",
        };
        let target = &self.args.target;
        let text = format!(
            "MESSAGE {target} SIP/2.0\r\nVia: SIP/2.0/{tp} {local};branch=z9hG4bK{reference};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:{caller}@{local}>;tag={reference}\r\nTo: <{target}>\r\n\
Call-ID: {call_id}\r\nCSeq: 1 MESSAGE\r\nContact: <sip:{caller}@{local}>\r\n\
User-Agent: alarmgate-simulate-scaip\r\nContent-Type: application/scaip+xml\r\n\
Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let outcome = Outcome {
            reference: reference.to_owned(),
            ..Outcome::default()
        };
        self.sent.insert(call_id.clone(), (now, outcome));
        self.by_ref.insert(reference.to_owned(), call_id);
        text
    }

    /// Reads one datagram or frame; returns what to send back (200 to a MESSAGE).
    pub fn receive(&mut self, now: Instant, bytes: &[u8]) -> Option<String> {
        match message::parse(bytes).ok()? {
            SipMessage::Response(resp) => {
                let call_id = message::header_value(&resp, "Call-ID")?.to_owned();
                let code = resp.status_code.code();
                let (sent_at, outcome) = self.sent.get_mut(&call_id)?;
                if code >= 200 && outcome.status.is_none() {
                    outcome.status = Some(code);
                    if !resp.body.is_empty() {
                        // Some centres put the <mrs> in the 200: accept it.
                        record_mrs(outcome, *sent_at, now, &resp.body);
                    }
                }
                None
            }
            SipMessage::Request(req) => {
                let mrs = read_mrs(&req.body).ok();
                let call_id = mrs.as_ref().and_then(|m| self.by_ref.get(&m.reference));
                if let Some((sent_at, outcome)) = call_id.and_then(|c| self.sent.get_mut(c)) {
                    record_mrs(outcome, *sent_at, now, &req.body);
                }
                let resp = message::response_to(&req, 200, None);
                let bytes = message::serialize(&SipMessage::Response(resp));
                Some(String::from_utf8_lossy(&bytes).into_owned())
            }
        }
    }

    /// The outcome of the message with `reference`.
    pub fn outcome(&self, reference: &str) -> Option<&Outcome> {
        let call_id = self.by_ref.get(reference)?;
        self.sent.get(call_id).map(|(_, o)| o)
    }
}

fn record_mrs(outcome: &mut Outcome, sent_at: Instant, now: Instant, body: &[u8]) {
    if outcome.mrs.is_some() {
        return;
    }
    let text = String::from_utf8_lossy(body).into_owned();
    outcome.snu = read_mrs(body).ok().and_then(|m| m.snu);
    outcome.mrs = Some(text);
    outcome.mrs_ms = Some(now.saturating_duration_since(sent_at).as_millis() as u64);
}

/// How the driver paces retransmissions over UDP.
pub const UDP_RETRANSMIT: Duration = Duration::from_millis(500);

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ScaipArgs,
    }

    fn unit(mode: &str) -> ScaipUnit {
        let cli = Cli::parse_from(["x", "sip:112@127.0.0.1:5060", "--mode", mode]);
        ScaipUnit::new(cli.args, "127.0.0.1:5070".into(), 0xabc)
    }

    #[test]
    fn an_alarm_is_done_with_its_200_and_the_mrs_message() {
        let t0 = crate::clock::epoch();
        let mut u = unit("alarm");
        let (reference, body) = u.next_body();
        assert!(crate::scaip::Mrq::parse(body.as_bytes()).is_ok());
        let text = u.message(t0, &reference, &body);
        let Ok(SipMessage::Request(req)) = message::parse(text.as_bytes()) else {
            panic!("{text}")
        };
        let ok = message::serialize(&SipMessage::Response(message::response_to(&req, 200, None)));
        assert!(u.receive(t0, &ok).is_none());
        assert!(!u.outcome(&reference).is_some_and(Outcome::done));
        let mrs = format!("<mrs><ref>{reference}</ref><snu>0</snu></mrs>");
        let back = format!(
            "MESSAGE sip:4512345678@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKc\r\n\
From: <sip:alarmgate@127.0.0.1>;tag=c\r\nTo: <sip:4512345678@127.0.0.1:5070>\r\nCall-ID: c1\r\n\
CSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nContent-Type: application/scaip+xml\r\nContent-Length: {}\r\n\r\n{mrs}",
            mrs.len()
        );
        let answer = u.receive(t0 + Duration::from_millis(40), back.as_bytes());
        assert!(answer.is_some_and(|a| a.starts_with("SIP/2.0 200 OK")));
        let o = u.outcome(&reference).expect("sent");
        assert_eq!((o.status, o.snu, o.mrs_ms), (Some(200), Some(0), Some(40)));
        assert!(o.done());
    }

    #[test]
    fn an_mrs_in_the_200_body_is_accepted_and_bad_xml_is_built_bad() {
        let t0 = crate::clock::epoch();
        let mut u = unit("heartbeat");
        let (reference, body) = u.next_body();
        let text = u.message(t0, &reference, &body);
        let Ok(SipMessage::Request(req)) = message::parse(text.as_bytes()) else {
            panic!()
        };
        let mut ok = message::response_to(&req, 200, None);
        let mrs = format!("<mrs><ref>{reference}</ref><snu>0</snu><hbi>60</hbi></mrs>");
        message::set_body(&mut ok, "application/scaip+xml", mrs.into_bytes());
        u.receive(t0, &message::serialize(&SipMessage::Response(ok)));
        assert_eq!(u.outcome(&reference).and_then(|o| o.snu), Some(0));
        let (_, bad) = unit("bad-xml").next_body();
        assert!(crate::scaip::Mrq::parse(bad.as_bytes()).is_err());
    }
}
