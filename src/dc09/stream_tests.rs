//! Reassembly: partial frames, several per read, garbage, binary CRCs
//! holding framing bytes, mis-framed starts and the partial-frame deadline
//! in simulated time.

use super::*;
use crate::dc09::crc::CrcForm;
use crate::dc09::frame::seal;

const ADM: &[u8] = b"\n8344003D\"ADM-CID\"0001R1L1#1234[#1234|1101 01 001]_14:12:04,09-25-2024\r";
const NULL: &[u8] = b"\n25A70015\"NULL\"0003R1L1#1234[]\r";
const S: Duration = Duration::from_secs(1);

fn frames(items: &[Item]) -> Vec<&[u8]> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Frame(f) => Some(f.as_slice()),
            Item::Garbage(_) => None,
        })
        .collect()
}

#[test]
fn byte_by_byte_then_whole() {
    let mut r = Reassembler::new(10 * S);
    for (i, b) in ADM.iter().enumerate() {
        let items = r.push(&[*b], S);
        if i + 1 < ADM.len() {
            assert!(items.is_empty(), "early at {i}");
        } else {
            assert_eq!(frames(&items), [ADM]);
        }
    }
    assert_eq!(r.buffered(), 0);
    assert_eq!(r.deadline(), None);
}

#[test]
fn several_frames_in_one_read_with_garbage_between() {
    let mut r = Reassembler::new(10 * S);
    let mut bytes = b"GET / HTTP/1.1\r\n\n\r".to_vec();
    bytes.extend_from_slice(ADM);
    bytes.extend_from_slice(b"noise");
    bytes.extend_from_slice(NULL);
    bytes.extend_from_slice(&ADM[..20]);
    let items = r.push(&bytes, S);
    assert_eq!(frames(&items), [ADM, NULL]);
    assert!(matches!(items.first(), Some(Item::Garbage(n)) if *n > 10));
    assert_eq!(r.buffered(), 20);
    assert_eq!(frames(&r.push(&ADM[20..], 2 * S)), [ADM]);
}

#[test]
fn binary_crc_with_cr_and_lf_inside() {
    // Search for a region whose binary CRC contains `\r` or `\n`.
    let frame = (0..10_000u32)
        .map(|n| seal(format!("\"NULL\"0001L1#{n}[]").as_bytes(), CrcForm::Binary))
        .find(|f| f[1..3].contains(&b'\r') || f[1..3].contains(&b'\n'))
        .unwrap();
    let mut r = Reassembler::new(10 * S);
    let mut bytes = frame.clone();
    bytes.extend_from_slice(NULL);
    assert_eq!(frames(&r.push(&bytes, S)), [frame.as_slice(), NULL]);
}

#[test]
fn wrong_length_resynchronises_on_the_next_frame() {
    let mut bad = ADM.to_vec();
    bad[5..9].copy_from_slice(b"0010");
    let mut bytes = bad;
    bytes.extend_from_slice(NULL);
    let mut r = Reassembler::new(10 * S);
    assert_eq!(frames(&r.push(&bytes, S)), [NULL]);
}

#[test]
fn partial_frame_deadline_in_simulated_time() {
    let mut r = Reassembler::new(10 * S);
    r.push(&ADM[..30], 5 * S);
    assert_eq!(r.deadline(), Some(15 * S));
    // More bytes of the same frame do not extend it (slow drip).
    r.push(&ADM[30..40], 12 * S);
    assert_eq!(r.deadline(), Some(15 * S));
    // Completing it and starting another restarts the clock.
    let mut rest = ADM[40..].to_vec();
    rest.extend_from_slice(&NULL[..5]);
    assert_eq!(frames(&r.push(&rest, 14 * S)), [ADM]);
    assert_eq!(r.deadline(), Some(24 * S));
    // Garbage alone holds nothing.
    let mut g = Reassembler::new(10 * S);
    assert_eq!(g.push(b"xxxxxxxx", S), [Item::Garbage(8)]);
    assert_eq!(g.deadline(), None);
}

#[test]
fn buffer_stays_bounded_by_one_frame() {
    let mut r = Reassembler::new(10 * S);
    let mut header = b"\n00000FFF\"ADM-CID\"".to_vec();
    header.resize(3000, b'A');
    r.push(&header, S);
    for _ in 0..10 {
        r.push(&[b'B'; 3000], S);
        assert!(r.buffered() <= 4105 + 3000, "{}", r.buffered());
    }
}

#[test]
fn datagrams() {
    assert_eq!(frames(&datagram(ADM)), [ADM]);
    let mut d = NULL.to_vec();
    d.extend_from_slice(b"\n12");
    assert_eq!(datagram(&d).last(), Some(&Item::Garbage(3)));
}
