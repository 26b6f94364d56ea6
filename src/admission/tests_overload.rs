//! Tests of the overload screen: priorities, the alarm reserve, the load
//! gates with hysteresis, and per-source INVITE limits, in simulated time.

use super::*;
use crate::clock::epoch;
use std::collections::HashSet;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Trunk "alarms" on 127.0.0.2, trunk "plain" (normal) on 127.0.0.3, tenant
/// number 4000 normal, device "kiosk" normal, 10 calls at most.
fn admission() -> Admission {
    let trunk = |name: &str, net: &str, priority| TrunkAcl {
        name: name.to_string(),
        allow: vec![net.parse().unwrap()],
        priority,
    };
    let overload = OverloadSettings {
        normal_dids: HashSet::from(["4000".to_string()]),
        normal_devices: HashSet::from(["kiosk".to_string()]),
        source_rate: 2,
        source_burst: 3,
        ..OverloadSettings::default()
    };
    Admission::new(AdmissionSettings {
        access: AccessList::new(vec![
            trunk("alarms", "127.0.0.2/32", Priority::Alarm),
            trunk("plain", "127.0.0.3/32", Priority::Normal),
        ]),
        devices_configured: true,
        max_concurrent: 10,
        overload,
        ..AdmissionSettings::default()
    })
}

fn reason(shed: Option<Shed>) -> Option<(OverloadReason, Priority)> {
    shed.map(|s| (s.reason, s.priority))
}

#[test]
fn reserve_keeps_the_last_fifth_for_alarms() {
    let mut a = admission();
    let t = epoch();
    assert_eq!(a.screen(t, ip("127.0.0.3"), Some("1000"), 7, false), None);
    assert_eq!(
        reason(a.screen(t, ip("127.0.0.3"), Some("1000"), 8, false)),
        Some((OverloadReason::Reserve, Priority::Normal))
    );
    // A normal tenant's number makes an alarm trunk's call normal.
    assert_eq!(
        reason(a.screen(t, ip("127.0.0.2"), Some("4000"), 8, false)),
        Some((OverloadReason::Reserve, Priority::Normal))
    );
    assert_eq!(a.screen(t, ip("127.0.0.2"), Some("1000"), 9, false), None);
    assert_eq!(
        reason(a.screen(t, ip("127.0.0.2"), Some("1000"), 10, false)),
        Some((OverloadReason::Concurrency, Priority::Alarm))
    );
    assert_eq!(a.refusals().reserve, 2);
    assert_eq!(a.refusals().concurrency, 1);
}

#[test]
fn measured_lag_sheds_normal_first_then_alarms_with_hysteresis() {
    let mut a = admission();
    let t0 = epoch();
    a.observe_sip_lag(t0, ms(500));
    let plain = |a: &mut Admission, t| reason(a.screen(t, ip("127.0.0.3"), None, 0, false));
    let alarm = |a: &mut Admission, t| reason(a.screen(t, ip("127.0.0.2"), None, 0, false));
    assert_eq!(
        plain(&mut a, t0),
        Some((OverloadReason::Load, Priority::Normal))
    );
    assert_eq!(
        alarm(&mut a, t0),
        None,
        "alarms pass a lag that sheds plain calls"
    );
    a.observe_media_lag(t0, ms(600));
    assert_eq!(
        alarm(&mut a, t0),
        Some((OverloadReason::Load, Priority::Alarm))
    );
    // The lag falls away at once, but the gates stay shut for `recover`.
    for step in 1..=10 {
        let t = t0 + ms(100 * step);
        a.observe_sip_lag(t, Duration::ZERO);
        a.observe_media_lag(t, Duration::ZERO);
    }
    let t = t0 + ms(1000);
    assert!(a.lags().0 < ms(20) && a.lags().1 < ms(20), "{:?}", a.lags());
    assert!(
        a.shedding(t, Priority::Normal),
        "the normal calls' rate is still limited"
    );
    assert!(alarm(&mut a, t).is_some() && plain(&mut a, t).is_some());
    // The alarm gate opens 2 s after the media average fell below half its
    // threshold; normal calls pass again at the rate that grew meanwhile.
    let t = t0 + ms(2900);
    assert_eq!(alarm(&mut a, t), None);
    assert_eq!(plain(&mut a, t), None);
    assert_eq!(a.refusals().load, (2, 2));
}

#[test]
fn normal_device_meets_normal_limits_after_authentication() {
    let mut a = admission();
    let t0 = epoch();
    a.observe_sip_lag(t0, ms(500));
    // Unauthenticated, an untrusted source is screened as alarm.
    assert_eq!(a.screen(t0, ip("198.51.100.9"), None, 0, false), None);
    assert_eq!(a.screen_device(t0, "pendant-17", 0), None);
    assert_eq!(
        reason(a.screen_device(t0, "kiosk", 0)),
        Some((OverloadReason::Load, Priority::Normal))
    );
    assert_eq!(
        reason(a.screen_device(t0 + ms(5000), "kiosk", 8)),
        Some((OverloadReason::Reserve, Priority::Normal))
    );
}

#[test]
fn untrusted_sources_are_limited_each_on_its_own() {
    let mut a = admission();
    let t0 = epoch();
    let from = |a: &mut Admission, src: &str, t| reason(a.screen(t, ip(src), None, 0, false));
    for _ in 0..3 {
        assert_eq!(from(&mut a, "198.51.100.9", t0), None);
    }
    assert_eq!(
        from(&mut a, "198.51.100.9", t0),
        Some((OverloadReason::SourceRate, Priority::Alarm))
    );
    assert_eq!(
        from(&mut a, "198.51.100.10", t0),
        None,
        "another source is not held back"
    );
    // Trunks are never limited per source.
    for _ in 0..100 {
        assert_eq!(from(&mut a, "127.0.0.2", t0), None);
    }
    assert_eq!(
        from(&mut a, "198.51.100.9", t0 + ms(500)),
        None,
        "refilled at 2/s"
    );
    assert_eq!(a.refusals().source_rate, 1);
}

#[test]
fn draining_comes_first() {
    let mut a = admission();
    assert_eq!(
        reason(a.screen(epoch(), ip("127.0.0.2"), None, 0, true)),
        Some((OverloadReason::Draining, Priority::Alarm))
    );
    assert_eq!(a.refusals().draining, 1);
}
