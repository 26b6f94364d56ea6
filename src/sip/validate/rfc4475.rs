//! Every RFC 4475 torture message through parse, best_effort_400 and
//! validate_request, against `tests/vectors/sip/rfc4475/expect.toml`.

use crate::sip::message::{parse, salvage_response, SipMessage};
use crate::sip::validate::validate_request;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/sip/rfc4475/");

/// What we do with a message.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Accept,
    Drop,
    Code(u16),
}

/// Reads `expect.toml`: `name = 400`, `name = "accept"`, `name = "drop"`.
fn expectations() -> Vec<(String, Outcome)> {
    let text = std::fs::read_to_string(format!("{DIR}expect.toml")).unwrap();
    text.lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (name, value) = l.split_once('=').unwrap();
            let outcome = match value.trim().trim_matches('"') {
                "accept" => Outcome::Accept,
                "drop" => Outcome::Drop,
                code => Outcome::Code(code.parse().unwrap()),
            };
            (name.trim().to_string(), outcome)
        })
        .collect()
}

/// The file's bytes with LF turned into CRLF unless it already has CRLF CRLF.
fn load(name: &str) -> Vec<u8> {
    let raw = std::fs::read(format!("{DIR}{name}.dat")).unwrap();
    if raw.windows(4).any(|w| w == b"\r\n\r\n") {
        return raw;
    }
    raw.iter()
        .flat_map(|&b| {
            if b == b'\n' {
                vec![b'\r', b'\n']
            } else {
                vec![b]
            }
        })
        .collect()
}

fn outcome(bytes: &[u8]) -> Outcome {
    match parse(bytes) {
        Err(e) => match salvage_response(bytes, &e) {
            None => Outcome::Drop,
            // rsip, not our strict parse: the 400 echoes a CSeq we would refuse.
            Some(out) => match SipMessage::try_from(&out[..]).expect("our 400 parses") {
                SipMessage::Response(r) => Outcome::Code(r.status_code.code()),
                SipMessage::Request(_) => panic!("salvage built a request"),
            },
        },
        Ok(SipMessage::Response(_)) => Outcome::Accept,
        Ok(SipMessage::Request(req)) => match validate_request(&req) {
            Ok(()) => Outcome::Accept,
            Err(rejection) => {
                let resp = rejection.to_response(&req);
                let bytes = crate::sip::message::serialize_response(&resp);
                assert!(parse(&bytes).is_ok(), "our rejection parses");
                Outcome::Code(rejection.code)
            }
        },
    }
}

#[test]
fn every_vector_has_an_expectation_and_meets_it() {
    let expected = expectations();
    let mut files: Vec<String> = std::fs::read_dir(DIR)
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".dat").map(str::to_string))
        .collect();
    files.sort();
    assert_eq!(files.len(), 50);
    let mut failures = Vec::new();
    for name in &files {
        let want = expected.iter().find(|(n, _)| n == name).map(|(_, o)| o);
        let got = outcome(&load(name));
        if want != Some(&got) {
            failures.push(format!("{name}: expected {want:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn baddn_with_its_empty_line_is_still_400() {
    let mut bytes = load("baddn");
    bytes.extend_from_slice(b"\r\n");
    assert_eq!(outcome(&bytes), Outcome::Code(400));
}

#[test]
fn bext01_lists_the_unsupported_options() {
    let Ok(SipMessage::Request(req)) = parse(&load("bext01")) else {
        panic!()
    };
    let rejection = validate_request(&req).unwrap_err();
    let unsupported = &rejection.extra_headers[0];
    assert_eq!(unsupported.0, "Unsupported");
    assert!(
        unsupported.1.contains("nothingSupportsThis"),
        "{unsupported:?}"
    );
}

#[test]
fn invut_gets_accept_application_sdp() {
    let Ok(SipMessage::Request(req)) = parse(&load("invut")) else {
        panic!()
    };
    let rejection = validate_request(&req).unwrap_err();
    assert_eq!(
        rejection.extra_headers,
        vec![("Accept".into(), "application/sdp".into())]
    );
}

#[test]
fn dblreq_is_one_request_with_an_empty_body() {
    let Ok(SipMessage::Request(req)) = parse(&load("dblreq")) else {
        panic!()
    };
    assert!(req.body.is_empty());
}

#[test]
fn inv2543_keeps_its_body_without_content_length() {
    let Ok(SipMessage::Request(req)) = parse(&load("inv2543")) else {
        panic!()
    };
    assert!(req.body.starts_with(b"v=0\r\n"));
}
