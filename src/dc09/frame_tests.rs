//! Frame vectors: the worked frames of alarm-protocols.md §5.2, pysiaalarm's
//! E5D5 vector, binary CRCs and every integrity failure.

use super::*;
use crate::dc09::types::MessageKind;

const ADM: &[u8] = b"\n8344003D\"ADM-CID\"0001R1L1#1234[#1234|1101 01 001]_14:12:04,09-25-2024\r";
const SIA: &[u8] = b"\n7998003C\"SIA-DCS\"0002R1L1#1234[#1234|Nri1/MA001]_14:12:05,09-25-2024\r";
const NULL: &[u8] = b"\n25A70015\"NULL\"0003R1L1#1234[]\r";
const ENC: &[u8] = b"\n0DEF0078\"*ADM-CID\"0004R1L1#1234[41E45D9FA4AADACC855FB345A31A001D4C1BE3AF019933F4D112158C4310590F43EFEEAC8E6B57B15AD6B0D7AA5A102D\r";

fn body(frame: &Frame) -> &Body {
    match &frame.content {
        Content::Plain(b) => b,
        Content::Encrypted(_) => panic!("encrypted"),
    }
}

#[test]
fn worked_adm_cid_frame() {
    let f = parse(ADM).unwrap();
    assert_eq!(f.header.id.kind, MessageKind::AdmCid);
    assert!(!f.header.id.encrypted);
    assert_eq!(f.header.seq.value(), 1);
    assert_eq!(f.header.receiver.as_ref().map(|r| r.as_str()), Some("1"));
    assert_eq!(f.header.line.as_ref().map(|r| r.as_str()), Some("1"));
    assert_eq!(f.header.account.as_ref().map(|r| r.as_str()), Some("1234"));
    let b = body(&f);
    assert_eq!(b.data, "#1234|1101 01 001");
    assert_eq!(
        b.timestamp.map(|t| t.to_string()).as_deref(),
        Some("14:12:04,09-25-2024")
    );
    assert!(f.raw.starts_with("8344003D\"ADM-CID\""));
}

#[test]
fn worked_sia_null_and_encrypted_frames() {
    assert_eq!(body(&parse(SIA).unwrap()).data, "#1234|Nri1/MA001");
    let null = parse(NULL).unwrap();
    assert_eq!(null.header.id.kind, MessageKind::Null);
    assert_eq!(body(&null).data, "");
    assert_eq!(body(&null).timestamp, None);
    let enc = parse(ENC).unwrap();
    assert!(enc.header.id.encrypted);
    assert!(matches!(&enc.content, Content::Encrypted(c) if c.len() == 48));
}

#[test]
fn pysiaalarm_vector_with_true_length() {
    let region = br#""SIA-DCS"6002L0#AAA[|Nri1/CL501]_14:12:04,09-25-2019"#;
    let mut frame = b"\nE5D50034".to_vec();
    frame.extend_from_slice(region);
    frame.push(b'\r');
    let f = parse(&frame).unwrap();
    assert_eq!(f.header.receiver, None);
    assert_eq!(body(&f).data, "|Nri1/CL501");
    // Its published length field 0078 is wrong: refused as an integrity error.
    frame[5..9].copy_from_slice(b"0078");
    let err = parse(&frame).unwrap_err();
    assert_eq!(
        err,
        FrameError::LengthMismatch {
            declared: 0x78,
            actual: 0x34
        }
    );
    assert!(err.is_integrity());
}

#[test]
fn extended_data_and_binary_crc() {
    let region =
        br#""SIA-DCS"0005L1#77[#77|NQA1][X012E34.5][Y056N12.1][M00AB]_01:02:03,12-07-2026"#;
    let f = parse(&seal(region, CrcForm::Binary)).unwrap();
    assert_eq!(f.header.crc_form, CrcForm::Binary);
    assert_eq!(body(&f).extended, ["X012E34.5", "Y056N12.1", "M00AB"]);
    // A binary CRC may contain the framing bytes themselves.
    let with_lf = seal(br#""NULL"0001L1#0[]"#, CrcForm::Binary);
    assert!(parse(&with_lf).is_ok());
}

#[test]
fn integrity_failures_are_marked() {
    let mut bad_crc = ADM.to_vec();
    bad_crc[1] = b'9';
    assert!(matches!(parse(&bad_crc), Err(e @ FrameError::CrcMismatch { .. }) if e.is_integrity()));
    let mut bad_len = ADM.to_vec();
    bad_len[5..9].copy_from_slice(b"1XYZ");
    assert!(parse(&bad_len).unwrap_err().is_integrity());
    for short in [&b""[..], b"\n\r", b"\n8344003D\r", &ADM[..ADM.len() - 1]] {
        assert!(parse(short).unwrap_err().is_integrity());
    }
}

#[test]
fn content_errors_are_not_integrity_errors() {
    for region in [
        &br#""ADM-CID"01R1L1#1234[]"#[..],
        br#""ADM-CID"0001R1L1#1234"#,
        br#""ADM-CID"0001R1X1#1234[]"#,
        br#""ADM-CID"0001R1234567L1#1[]"#,
        br#""ADM-CID"0001R1R2L1#1[]"#,
        br#""ADM-CID"0001L1#1[data"#,
        br#""ADM-CID"0001L1#1[data]junk"#,
        br#""ADM-CID"0001L1#1[data]_99:99:99,01-01-2024"#,
        br#""*ADM-CID"0001L1#1[ABC"#,
        br#""*ADM-CID"0001L1#1[XY"#,
        br#""NULL0001L1#1[]"#,
    ] {
        let err = parse(&seal(region, CrcForm::Hex)).unwrap_err();
        assert!(!err.is_integrity(), "{err}");
    }
    let mut non_ascii = seal(b"\"NULL\"0001L1#1[\xC3\xA9]", CrcForm::Hex);
    non_ascii.truncate(non_ascii.len());
    assert_eq!(parse(&non_ascii), Err(FrameError::NotAscii));
}
