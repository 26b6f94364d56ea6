//! The DC-09 frame parser, stream reassembly and the receiver's decision:
//! no input panics; reassembly does not depend on how the bytes were split
//! across reads and keeps its buffer bounded; every reply the receiver
//! makes is itself a well-formed frame.
#![no_main]

use std::time::Duration;

use alarmgate::dc09::accounts::{AccountMatch, AccountRule, Directory, UnknownAccount};
use alarmgate::dc09::crypto::{Key, KeyFormat};
use alarmgate::dc09::stream::{Item, Reassembler};
use alarmgate::dc09::timestamp::Window;
use alarmgate::dc09::{frame, Dc09Receiver, Decision, Now, ReceiverConfig};
use alarmgate::labels::TenantId;
use libfuzzer_sys::fuzz_target;

fn frames(items: Vec<Item>) -> Vec<Vec<u8>> {
    items
        .into_iter()
        .filter_map(|i| match i {
            Item::Frame(f) => Some(f),
            Item::Garbage(_) => None,
        })
        .collect()
}

fn receiver() -> Dc09Receiver {
    let key = Key::parse("000102030405060708090A0B0C0D0E0F", KeyFormat::Hex).ok();
    Dc09Receiver::new(ReceiverConfig {
        directory: Directory {
            rules: vec![AccountRule {
                account: AccountMatch::Prefix("1".into()),
                receiver: None,
                line: None,
                tenant: TenantId::from("t"),
                key,
                require_encryption: false,
            }],
            unknown: UnknownAccount::Accept(TenantId::from("d")),
        },
        window: Window::default(),
        repeat_window_s: 600,
        max_remembered: 16,
    })
}

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let mut whole = Reassembler::new(Duration::from_secs(10));
    let all = frames(whole.push(data, Duration::ZERO));
    let mut parts = Reassembler::new(Duration::from_secs(10));
    let mut pieces = frames(parts.push(&data[..split], Duration::ZERO));
    pieces.extend(frames(parts.push(&data[split..], Duration::ZERO)));
    assert_eq!(all, pieces, "reassembly depends on the read boundaries");
    assert!(whole.buffered() <= 4106 + 1, "buffer {}", whole.buffered());
    let rx = receiver();
    let now = Now { unix: 1_727_273_530, random: [7; 16] };
    for f in all.iter().chain(std::iter::once(&data.to_vec())) {
        let _ = frame::parse(f);
        let reply = match rx.decide(f, now) {
            Decision::Silent(_) => continue,
            Decision::Refuse { bytes, .. } => bytes,
            Decision::Repeat { ack } | Decision::Store { ack, .. } => ack,
        };
        assert!(frame::parse(&reply).is_ok(), "our reply does not parse: {reply:?}");
    }
});
