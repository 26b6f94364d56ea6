//! The receiver's decisions in the order of §5.3, with the worked frames.

use super::*;
use crate::dc09::accounts::{AccountMatch, AccountRule, UnknownAccount};
use crate::dc09::crc::CrcForm;
use crate::dc09::crypto::{self, Key, KeyFormat};
use crate::dc09::frame::seal;

const ADM: &[u8] = b"\n8344003D\"ADM-CID\"0001R1L1#1234[#1234|1101 01 001]_14:12:04,09-25-2024\r";
const SIA: &[u8] = b"\n7998003C\"SIA-DCS\"0002R1L1#1234[#1234|Nri1/MA001]_14:12:05,09-25-2024\r";
const NULL: &[u8] = b"\n25A70015\"NULL\"0003R1L1#1234[]\r";
const ENC: &[u8] = b"\n0DEF0078\"*ADM-CID\"0004R1L1#1234[41E45D9FA4AADACC855FB345A31A001D4C1BE3AF019933F4D112158C4310590F43EFEEAC8E6B57B15AD6B0D7AA5A102D\r";
/// 14:12:10 on 09-25-2024, a few seconds after the worked frames.
const NOW: i64 = 1_727_273_530;

fn key() -> Key {
    Key::parse("000102030405060708090A0B0C0D0E0F", KeyFormat::Hex).unwrap()
}

fn config(unknown: UnknownAccount) -> ReceiverConfig {
    let rule = |account: AccountMatch, tenant: &str, key: Option<Key>| AccountRule {
        account,
        receiver: None,
        line: None,
        tenant: TenantId::from(tenant),
        key,
        require_encryption: false,
    };
    ReceiverConfig {
        directory: Directory {
            rules: vec![
                rule(AccountMatch::Exact("1234".into()), "north", Some(key())),
                rule(AccountMatch::Exact("5678".into()), "south", None),
            ],
            unknown,
        },
        window: Window::default(),
        repeat_window_s: 600,
        max_remembered: 2,
    }
}

fn receiver() -> Dc09Receiver {
    Dc09Receiver::new(config(UnknownAccount::Nak))
}

fn at(unix: i64) -> Now {
    Now {
        unix,
        random: [1; 16],
    }
}

fn store(d: Decision) -> (Box<Message>, Vec<u8>, Seen) {
    match d {
        Decision::Store { message, ack, seen } => (message, ack, seen),
        other => panic!("not stored: {other:?}"),
    }
}

fn refusal(d: Decision) -> (String, Refusal) {
    match d {
        Decision::Refuse { bytes, why } => (String::from_utf8_lossy(&bytes).into_owned(), why),
        other => panic!("not refused: {other:?}"),
    }
}

#[test]
fn worked_adm_cid_is_stored_with_the_worked_ack() {
    let (message, ack, _) = store(receiver().decide(ADM, at(NOW)));
    assert_eq!(ack, b"\nD2770014\"ACK\"0001R1L1#1234[]\r");
    assert_eq!(message.tenant.as_str(), "north");
    let Payload::Event(event) = &message.payload else {
        panic!("not an event");
    };
    assert_eq!(
        event.contact_id.as_ref().map(|(_, c)| c.as_str()),
        Some("101")
    );
}

#[test]
fn sia_and_null_are_stored() {
    let (m, _, _) = store(receiver().decide(SIA, at(NOW)));
    assert!(matches!(&m.payload, Payload::Event(e) if e.sia_code.as_deref() == Some("MA")));
    let (m, ack, _) = store(receiver().decide(NULL, at(NOW)));
    assert_eq!(m.payload, Payload::LinkTest);
    assert!(ack.ends_with(b"\"ACK\"0003R1L1#1234[]\r"));
}

#[test]
fn encrypted_frame_opens_and_gets_an_encrypted_ack() {
    let (m, ack, _) = store(receiver().decide(ENC, at(NOW)));
    assert_eq!(m.body.data, "#1234|1101 01 001");
    let parsed = frame::parse(&ack).unwrap();
    assert_eq!(parsed.header.id.to_string(), "*ACK");
    let Content::Encrypted(cipher) = parsed.content else {
        panic!("plain ack");
    };
    assert_eq!(
        crypto::open(&key(), &cipher).unwrap(),
        "]_14:12:10,09-25-2024"
    );
}

#[test]
fn bad_crc_and_length_are_silent() {
    let mut bad = ADM.to_vec();
    bad[2] = b'0';
    assert!(matches!(
        receiver().decide(&bad, at(NOW)),
        Decision::Silent(_)
    ));
    let mut bad = ADM.to_vec();
    bad[8] = b'E';
    assert!(matches!(
        receiver().decide(&bad, at(NOW)),
        Decision::Silent(_)
    ));
}

#[test]
fn unreadable_content_and_reply_ids_get_duh() {
    let (text, _) = refusal(receiver().decide(
        &seal(br#""ADM-CID"0007R1L1#1234[#1234|zz]"#, CrcForm::Hex),
        at(NOW),
    ));
    assert!(text.contains("\"DUH\"0007R1L1#1234[]"), "{text}");
    let (text, why) =
        refusal(receiver().decide(&seal(br#""ACK"0001L1#1234[]"#, CrcForm::Hex), at(NOW)));
    assert!(text.contains("\"DUH\""), "{text}");
    assert_eq!(why, Refusal::Type("ACK".into()));
    let (text, _) = refusal(receiver().decide(
        &seal(br#""ADM-CID"0008L1#1234[no bracket"#, CrcForm::Hex),
        at(NOW),
    ));
    assert!(text.contains("\"DUH\"0008L1#1234[]"), "{text}");
}

#[test]
fn unknown_account_is_nak_or_default_tenant() {
    let frame = seal(br#""NULL"0003R1L1#9999[]"#, CrcForm::Hex);
    let (text, why) = refusal(receiver().decide(&frame, at(NOW)));
    assert_eq!(text, "\nFF1D0025\"NAK\"0000R0L0A0[]_14:12:10,09-25-2024\r");
    assert_eq!(why, Refusal::UnknownAccount("9999".into()));
    let open = Dc09Receiver::new(config(UnknownAccount::Accept(TenantId::from("demo"))));
    let (m, _, _) = store(open.decide(&frame, at(NOW)));
    assert_eq!((m.tenant.as_str(), m.known_account), ("demo", false));
}

#[test]
fn wrong_or_missing_key_gets_duh() {
    let no_key = ENC.to_vec();
    let frame = String::from_utf8_lossy(&no_key).replace("#1234[", "#5678[");
    let region = &frame.as_bytes()[9..frame.len() - 1];
    let (_, why) = refusal(receiver().decide(&seal(region, CrcForm::Hex), at(NOW)));
    assert_eq!(why, Refusal::NoKey("5678".into()));
    let mut cfg = config(UnknownAccount::Nak);
    cfg.directory.rules[0].key = Some(Key::parse("0123456789abcdef", KeyFormat::Ascii).unwrap());
    let (text, why) = refusal(Dc09Receiver::new(cfg).decide(ENC, at(NOW)));
    assert!(matches!(why, Refusal::Crypto(_)), "{why}");
    assert!(text.contains("\"DUH\"0004R1L1#1234[]"));
}

#[test]
fn plain_refused_where_encryption_is_required() {
    let mut cfg = config(UnknownAccount::Nak);
    cfg.directory.rules[0].require_encryption = true;
    let (_, why) = refusal(Dc09Receiver::new(cfg.clone()).decide(ADM, at(NOW)));
    assert_eq!(why, Refusal::PlainRefused("1234".into()));
    assert!(matches!(
        Dc09Receiver::new(cfg).decide(ENC, at(NOW)),
        Decision::Store { .. }
    ));
}

#[test]
fn stale_or_missing_timestamp_gets_nak_with_our_time() {
    let r = receiver();
    let (text, why) = refusal(r.decide(ADM, at(NOW + 60)));
    assert!(text.ends_with("_14:13:10,09-25-2024\r"), "{text}");
    assert_eq!(why, Refusal::Stale("14:12:04,09-25-2024".into()));
    assert!(matches!(
        r.decide(ADM, at(NOW - 27)),
        Decision::Refuse { .. }
    ));
    assert!(matches!(
        r.decide(ADM, at(NOW - 26)),
        Decision::Store { .. }
    ));
    let k = key();
    let sealed = crypto::seal(&k, "#1234|1602 00 000]", [0; 16]).unwrap();
    let region = format!("\"*ADM-CID\"0009L1#1234[{}", crypto::to_hex(&sealed));
    let (_, why) = refusal(r.decide(&seal(region.as_bytes(), CrcForm::Hex), at(NOW)));
    assert_eq!(why, Refusal::NoTimestamp);
}

#[test]
fn repeats_are_acked_again_only_after_the_first_was_stored() {
    let mut r = receiver();
    let (_, ack, seen) = store(r.decide(ADM, at(NOW)));
    // Not durable yet (or the store failed): the retry is stored again.
    assert!(matches!(r.decide(ADM, at(NOW)), Decision::Store { .. }));
    r.stored(seen, NOW);
    assert_eq!(r.decide(ADM, at(NOW + 5)), Decision::Repeat { ack });
    // The same sequence with other data is a new message (a unit restarted).
    let other = seal(
        br#""ADM-CID"0001R1L1#1234[#1234|1602 00 000]"#,
        CrcForm::Hex,
    );
    assert!(matches!(
        r.decide(&other, at(NOW + 5)),
        Decision::Store { .. }
    ));
    // After the repeat window it is stored again.
    let frame = seal(
        br#""ADM-CID"0001R1L1#1234[#1234|1101 01 001]"#,
        CrcForm::Hex,
    );
    assert!(matches!(
        r.decide(&frame, at(NOW + 5)),
        Decision::Repeat { .. }
    ));
    assert!(matches!(
        r.decide(&frame, at(NOW + 700)),
        Decision::Store { .. }
    ));
}

#[test]
fn remembered_units_are_bounded() {
    let mut r = receiver();
    for n in 0..5 {
        let frame = seal(format!("\"NULL\"0001L1#{n}[]").as_bytes(), CrcForm::Hex);
        let open = Dc09Receiver::new(config(UnknownAccount::Accept(TenantId::from("d"))));
        let (_, _, seen) = store(open.decide(&frame, at(NOW)));
        r.stored(seen, NOW + n);
        assert!(r.remembered() <= 2);
    }
}
