//! The SCAIP XML reader and the decision per MESSAGE body: never a panic,
//! and whatever is decided holds its invariants: a body over the size limit
//! is refused 413 and never read; a stored request has `ref`, `cid`, `dty`;
//! every `<mrs>` written reads back with the same `ref` and `snu`.
#![no_main]

use alarmgate::scaip::receiver::{decide, Decision};
use alarmgate::scaip::response::read_mrs;
use alarmgate::scaip::xml::MAX_BODY;
use libfuzzer_sys::fuzz_target;

const CT: Option<&str> = Some("application/scaip+xml");

fuzz_target!(|data: &[u8]| {
    match decide(CT, data) {
        Decision::Refuse(code) => {
            assert!(matches!(code, 400 | 413));
            assert_eq!(code == 413, data.len() > MAX_BODY);
        }
        Decision::Reject(mrs) => {
            let back = read_mrs(mrs.to_xml().as_bytes()).expect("our <mrs> reads back");
            assert_eq!(back.reference, mrs.reference);
            assert_eq!(back.snu, Some(u32::from(mrs.status.number())));
        }
        Decision::Heartbeat(mrq) | Decision::Store(mrq) => {
            assert!(!mrq.reference.is_empty() && !mrq.cid.is_empty());
            let mrs = alarmgate::scaip::Mrs::new(&mrq.reference, alarmgate::scaip::Status::Ok);
            let back = read_mrs(mrs.to_xml().as_bytes()).expect("our <mrs> reads back");
            assert_eq!(back.reference, mrq.reference);
        }
    }
});
