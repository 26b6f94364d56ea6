//! Tests of the access list, the concurrency and rate limits, and the drain.

use super::*;
use crate::clock::epoch;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn settings(devices: bool) -> AdmissionSettings {
    let trunk = |name: &str, nets: &[&str]| TrunkAcl {
        name: name.to_string(),
        allow: nets.iter().map(|n| n.parse().unwrap()).collect(),
        priority: Priority::Alarm,
    };
    AdmissionSettings {
        access: AccessList::new(vec![
            trunk("carrier", &["192.0.2.0/24", "2001:db8::/32"]),
            trunk("loopback", &["127.0.0.0/8", "::1/128"]),
        ]),
        devices_configured: devices,
        max_concurrent: 3,
        max_per_second: 0,
        burst: 1,
        retry_after: Duration::from_secs(7),
        overload: OverloadSettings::default(),
    }
}

const BUSY: AdmissionDecision = AdmissionDecision::Overloaded {
    reason: OverloadReason::Concurrency,
    retry_after: Duration::from_secs(7),
};

fn trusted(name: &str) -> AdmissionDecision {
    AdmissionDecision::Trusted {
        trunk: name.to_string(),
    }
}

#[test]
fn access_list_picks_trunk() {
    let s = settings(false);
    assert_eq!(s.access.trunk_for(ip("192.0.2.44")), Some("carrier"));
    assert_eq!(s.access.trunk_for(ip("2001:db8:1::9")), Some("carrier"));
    assert_eq!(s.access.trunk_for(ip("::ffff:127.0.0.1")), Some("loopback"));
    assert_eq!(s.access.trunk_for(ip("198.51.100.1")), None);
}

#[test]
fn unknown_source_forbidden_or_challenged() {
    let mut a = Admission::new(settings(false));
    assert_eq!(
        a.admit(epoch(), ip("198.51.100.1"), 0, false),
        AdmissionDecision::Forbidden
    );
    assert_eq!(a.refusals().forbidden, 1);
    let mut a = Admission::new(settings(true));
    assert_eq!(
        a.admit(epoch(), ip("198.51.100.1"), 0, false),
        AdmissionDecision::NeedsAuth
    );
    assert_eq!(
        a.admit(epoch(), ip("127.0.0.1"), 0, false),
        trusted("loopback")
    );
    assert_eq!(*a.refusals(), RefusalCounts::default());
}

#[test]
fn concurrency_limit() {
    let mut a = Admission::new(settings(false));
    assert_eq!(
        a.admit(epoch(), ip("192.0.2.1"), 2, false),
        trusted("carrier")
    );
    assert_eq!(a.admit(epoch(), ip("192.0.2.1"), 3, false), BUSY);
    assert_eq!(a.admit(epoch(), ip("192.0.2.1"), 4000, false), BUSY);
    assert_eq!(a.refusals().concurrency, 2);
}

#[test]
fn for_tests_helper() {
    let mut a = Admission::for_tests(&["127.0.0.0/8"], 1, 0);
    assert_eq!(a.admit(epoch(), ip("127.0.0.1"), 0, false), trusted("test"));
    assert_eq!(
        a.admit(epoch(), ip("127.0.0.1"), 1, false),
        AdmissionDecision::Overloaded {
            reason: OverloadReason::Concurrency,
            retry_after: Duration::from_secs(5)
        }
    );
    assert_eq!(
        a.admit(epoch(), ip("10.0.0.1"), 0, false),
        AdmissionDecision::Forbidden
    );
}

#[test]
fn zero_max_concurrent_is_unlimited() {
    let mut a = Admission::new(AdmissionSettings {
        max_concurrent: 0,
        ..settings(false)
    });
    assert_eq!(
        a.admit(epoch(), ip("127.0.0.1"), 1_000_000, false),
        trusted("loopback")
    );
}

#[test]
fn draining_refuses_everyone() {
    let mut a = Admission::new(settings(true));
    let draining = AdmissionDecision::Overloaded {
        reason: OverloadReason::Draining,
        retry_after: Duration::from_secs(7),
    };
    assert_eq!(a.admit(epoch(), ip("127.0.0.1"), 0, true), draining);
    assert_eq!(a.admit(epoch(), ip("198.51.100.1"), 0, true), draining);
    assert_eq!(a.refusals().draining, 2);
}

#[test]
fn rate_limit_and_forbidden_sources_spend_no_tokens() {
    let s = AdmissionSettings {
        max_per_second: 2,
        burst: 2,
        max_concurrent: 0,
        ..settings(false)
    };
    let mut a = Admission::new(s);
    let t0 = epoch();
    for _ in 0..10 {
        assert_eq!(
            a.admit(t0, ip("198.51.100.1"), 0, false),
            AdmissionDecision::Forbidden
        );
    }
    assert_eq!(a.admit(t0, ip("192.0.2.1"), 0, false), trusted("carrier"));
    assert_eq!(a.admit(t0, ip("192.0.2.1"), 0, false), trusted("carrier"));
    let too_fast = AdmissionDecision::Overloaded {
        reason: OverloadReason::Rate,
        retry_after: Duration::from_secs(7),
    };
    assert_eq!(a.admit(t0, ip("192.0.2.1"), 0, false), too_fast);
    assert_eq!(
        a.admit(t0 + Duration::from_millis(500), ip("::1"), 0, false),
        trusted("loopback")
    );
    assert_eq!(
        *a.refusals(),
        RefusalCounts {
            draining: 0,
            concurrency: 0,
            rate: 1,
            forbidden: 10,
            ..RefusalCounts::default()
        }
    );
}
