//! The detector in simulated time: crossings at window edges, once per crossing.

use super::*;

const H: i64 = 3_600_000;
const D: i64 = 24 * H;

fn detector(limits: [Option<u32>; 3]) -> Detector {
    let t = Thresholds {
        limits,
        classes: vec!["emergency".into(), "voice".into()],
    };
    Detector::new([("aarhus".to_string(), t)].into())
}

fn windows(found: &[Crossing]) -> Vec<Window> {
    found.iter().map(|c| c.window).collect()
}

#[test]
fn the_third_call_within_24_hours_crosses_once() {
    let mut d = detector([Some(3), None, None]);
    assert!(d.observe("aarhus", "45", "voice", 0).is_empty());
    assert!(d.observe("aarhus", "45", "voice", 10 * H).is_empty());
    let found = d.observe("aarhus", "45", "voice", 24 * H - 1);
    assert_eq!(windows(&found), [Window::Day]);
    assert_eq!((found[0].count, found[0].threshold), (3, 3));
    assert!(
        d.observe("aarhus", "45", "voice", 24 * H - 1 + 1000)
            .is_empty(),
        "still over: not again"
    );
}

#[test]
fn a_call_exactly_24_hours_later_is_outside_the_window() {
    let mut d = detector([Some(3), None, None]);
    d.observe("aarhus", "45", "voice", 0);
    d.observe("aarhus", "45", "voice", 12 * H);
    // The first call is exactly 24 h old: (at - 24h, at] excludes it.
    assert!(d.observe("aarhus", "45", "voice", 24 * H).is_empty());
    let found = d.observe("aarhus", "45", "voice", 24 * H + 1);
    assert_eq!(
        windows(&found),
        [Window::Day],
        "12h, 24h, 24h+1ms are three within 24 h"
    );
}

#[test]
fn falling_below_rearms_and_a_new_rise_crosses_again() {
    let mut d = detector([Some(2), None, None]);
    d.observe("aarhus", "45", "voice", 0);
    assert_eq!(
        windows(&d.observe("aarhus", "45", "voice", H)),
        [Window::Day]
    );
    assert!(
        d.observe("aarhus", "45", "voice", 3 * D).is_empty(),
        "alone in its window: below, re-armed"
    );
    assert_eq!(
        windows(&d.observe("aarhus", "45", "voice", 3 * D + H)),
        [Window::Day]
    );
}

#[test]
fn week_and_month_windows_and_classes_that_do_not_count() {
    let mut d = detector([None, Some(7), Some(20)]);
    let mut crossings = Vec::new();
    for day in 0..20 {
        crossings.extend(d.observe("aarhus", "45", "voice", day * D));
        assert!(d
            .observe("aarhus", "45", "technical", day * D + 1)
            .is_empty());
    }
    // One call a day: the 7th day crosses 7-in-7-days; the 20th crosses 20-in-30-days.
    let at: Vec<(Window, i64)> = crossings.iter().map(|c| (c.window, c.at_ms / D)).collect();
    assert_eq!(at, [(Window::Week, 6), (Window::Month, 19)]);
    assert!(d.observe("other-tenant", "45", "voice", 0).is_empty());
    assert!(d.observe("aarhus", "", "voice", 0).is_empty());
}

#[test]
fn calls_seen_out_of_order_count_by_their_time() {
    let mut d = detector([Some(3), None, None]);
    d.observe("aarhus", "45", "voice", 10 * H);
    d.observe("aarhus", "45", "voice", 2 * H);
    assert_eq!(
        windows(&d.observe("aarhus", "45", "voice", 5 * H)),
        [Window::Day]
    );
}

#[test]
fn the_list_shows_who_is_over_now_most_calls_first() {
    let t = Thresholds {
        limits: [Some(3), None, Some(5)],
        classes: vec!["voice".into()],
    };
    let mut calls: Vec<(&str, &str, i64)> =
        (0..6).map(|i| ("a", "voice", 40 * D - i * D)).collect();
    calls.extend((0..3).map(|i| ("b", "voice", 40 * D - i * H)));
    calls.extend((0..9).map(|i| ("c", "technical", 40 * D - i * H)));
    let list = list(calls, &t, 40 * D);
    let summary: Vec<(&str, u32, u32, Vec<Window>)> = list
        .iter()
        .map(|f| (f.caller.as_str(), f.calls_24h, f.calls_30d, f.over.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            ("a", 1, 6, vec![Window::Month]),
            ("b", 3, 3, vec![Window::Day])
        ]
    );
}
