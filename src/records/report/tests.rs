//! Extract tests: month bounds across DST and a leap day, local days and
//! hours, languages, CSV for Danish Excel, percentiles, the XLSX.

use super::*;
use crate::records::CallRecord;
use jiff::tz::TimeZone;

fn ms(rfc3339: &str) -> i64 {
    rfc3339
        .parse::<jiff::Timestamp>()
        .expect("time")
        .as_millisecond()
}

fn call(id: &str, at: &str, disposition: Option<&str>) -> CallRecord {
    CallRecord {
        call_id: id.into(),
        tenant: "t".into(),
        caller: "4512345678".into(),
        protocol: "contact_id".into(),
        received_ms: Some(ms(at)),
        queue: Some("q".into()),
        disposition: disposition.map(str::to_string),
        ..CallRecord::default()
    }
}

fn cph() -> TimeZone {
    TimeZone::get("Europe/Copenhagen").expect("tz")
}

/// The extract of `rows` for `m` in Copenhagen, in Danish.
fn da(m: &str, rows: Vec<CallRecord>) -> Extract {
    extract(
        "t",
        month(m),
        &cph(),
        "Europe/Copenhagen",
        Language::Da,
        rows,
    )
}

fn month(s: &str) -> Month {
    Month::parse(s).expect("month")
}

#[test]
fn month_bounds_are_local_midnights_across_dst_and_leap_years() {
    let tz = cph();
    let cases = [
        ("2026-10", "2026-09-30T22:00:00Z", "2026-10-31T23:00:00Z"),
        ("2027-03", "2027-02-28T23:00:00Z", "2027-03-31T22:00:00Z"),
        ("2028-02", "2028-01-31T23:00:00Z", "2028-02-29T23:00:00Z"),
        ("2026-12", "2026-11-30T23:00:00Z", "2026-12-31T23:00:00Z"),
    ];
    for (m, from, to) in cases {
        assert_eq!(month_bounds(month(m), &tz), Some((ms(from), ms(to))), "{m}");
    }
    let oslo = TimeZone::get("Europe/Oslo").expect("tz");
    assert_eq!(
        month_bounds(month("2026-07"), &oslo),
        Some((ms("2026-06-30T22:00:00Z"), ms("2026-07-31T22:00:00Z")))
    );
    for bad in ["2026-13", "2026-1", "26-11", "2026/11", ""] {
        assert_eq!(Month::parse(bad), None, "{bad}");
    }
}

#[test]
fn the_repeated_hour_of_october_counts_twice_on_its_local_day() {
    let rows = vec![
        call("a", "2026-10-25T00:30:00Z", Some("reassurance")), // 02:30 CEST
        call("b", "2026-10-25T01:30:00Z", Some("reassurance")), // 02:30 CET, the hour again
        call("c", "2026-10-31T22:59:59Z", Some("emergency")),   // 23:59:59 on the 31st
    ];
    let x = da("2026-10", rows);
    assert_eq!(x.totals.by_day.len(), 31);
    let day = |d: &str| {
        x.totals
            .by_day
            .iter()
            .find(|(k, _)| k == d)
            .map(|(_, n)| *n)
    };
    assert_eq!(day("2026-10-25"), Some(2));
    assert_eq!(day("2026-10-31"), Some(1));
    assert_eq!(x.totals.by_hour[2], 2);
    assert_eq!(x.totals.by_hour[23], 1);
    let received: Vec<&str> = x.calls.iter().map(|c| c.received.as_str()).collect();
    assert_eq!(
        received,
        [
            "2026-10-25 02:30:00",
            "2026-10-25 02:30:00",
            "2026-10-31 23:59:59"
        ]
    );
}

#[test]
fn february_2028_has_a_leap_day() {
    let rows = vec![
        call("a", "2028-02-29T12:00:00Z", None),
        call("b", "2028-02-29T22:59:00Z", Some("false_alarm")),
    ];
    let x = da("2028-02", rows);
    assert_eq!(x.totals.by_day.len(), 29);
    assert_eq!(x.totals.by_day.last(), Some(&("2028-02-29".to_string(), 2)));
    assert_eq!(x.totals.by_hour[13] + x.totals.by_hour[23], 2);
}

#[test]
fn calls_without_a_disposition_come_first_and_labels_follow_the_language() {
    let rows = vec![
        call("early", "2026-11-02T08:00:00Z", Some("emergency")),
        call("late", "2026-11-20T08:00:00Z", None),
        call("mid", "2026-11-10T08:00:00Z", Some("recall")),
    ];
    let x = da("2026-11", rows.clone());
    let order: Vec<(&str, &str)> = x
        .calls
        .iter()
        .map(|c| (c.record.call_id.as_str(), c.category))
        .collect();
    assert_eq!(
        order,
        [
            ("late", "uden disposition"),
            ("early", "nødkald"),
            ("mid", "genkald")
        ]
    );
    let nb = extract(
        "t",
        month("2026-11"),
        &TimeZone::get("Europe/Oslo").expect("tz"),
        "Europe/Oslo",
        Language::Nb,
        rows,
    );
    let labels: Vec<&str> = nb.totals.by_category.iter().map(|c| c.1).collect();
    assert_eq!(
        labels,
        [
            "nødanrop",
            "trygghetsanrop",
            "feilanrop",
            "tilbakeringing",
            "teknisk",
            "uten disposisjon"
        ]
    );
}

#[test]
fn csv_opens_in_danish_excel() {
    let mut r = call("c1", "2026-11-02T08:00:00Z", Some("reassurance"));
    r.wait_ms = Some(12_500);
    r.answered_ms = Some(ms("2026-11-02T08:00:12.500Z"));
    r.talk_ms = Some(60_000);
    r.note = Some("sagde \"hej\"; faldet".into());
    let x = da("2026-11", vec![r]);
    let bytes = csv::write(&x);
    assert!(bytes.starts_with("\u{feff}Opkalds-id;Kategori;Modtaget".as_bytes()));
    let text = String::from_utf8(bytes).expect("utf-8");
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines.len(), 3, "heading, one call, final line end");
    assert!(
        lines[1].starts_with(
            "c1;tryghedskald;2026-11-02 09:00:00;2026-11-02 09:00:12;;12,5;60;4512345678;"
        ),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].contains(";\"sagde \"\"hej\"\"; faldet\";"),
        "{}",
        lines[1]
    );
    assert_eq!(csv::decimal_comma(0.25), "0,25");
    assert_eq!(csv::decimal_comma(3.0), "3");
}

#[test]
fn percentiles_are_nearest_rank() {
    let p = extract::percentiles((1..=100).map(|s| s * 1000).collect());
    assert_eq!(
        (p.answered, p.p50_s, p.p90_s, p.p99_s, p.max_s),
        (100, Some(50.0), Some(90.0), Some(99.0), Some(100.0))
    );
    let one = extract::percentiles(vec![7000]);
    assert_eq!((one.p50_s, one.p99_s), (Some(7.0), Some(7.0)));
    assert_eq!(extract::percentiles(Vec::new()).p50_s, None);
}

#[test]
fn xlsx_and_json_render() {
    let x = extract(
        "t",
        month("2026-11"),
        &cph(),
        "Europe/Copenhagen",
        Language::Da,
        vec![call("c1", "2026-11-02T08:00:00Z", None)],
    );
    let book = render(&x, Format::Xlsx).expect("xlsx");
    assert!(book.starts_with(b"PK"), "a zip container");
    let json: serde_json::Value =
        serde_json::from_slice(&render(&x, Format::Json).expect("json")).expect("parse");
    assert_eq!(json["totals"]["calls"], 1);
    assert_eq!(json["calls"][0]["category"], "uden disposition");
    assert_eq!(json["calls"][0]["call_id"], "c1");
    assert_eq!(json["answer_time"]["answered"], 0);
}
