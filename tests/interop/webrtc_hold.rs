//! JsSIP's hold and unhold on a WebRTC operator leg, against the webrtc-rs
//! `rtc` browser stand-in: the browser's re-INVITE repeats its ICE
//! credentials and fingerprint with `a=sendonly`, then `a=sendrecv`. The
//! daemon answers both on the running transport (our credentials,
//! fingerprint and DTLS role unchanged, direction mirrored) and stops, then
//! resumes, the audio it sends to the browser; the DTLS association is
//! never restarted. An ICE-restart re-offer gets 488 with a Warning and the
//! call goes on with its audio.

use std::time::Duration;

use crate::operators::{
    centre, device_uri, spawn_unit, wait_operator_state, Plan, HEARD_DBM0, NOWHERE, OPERATOR_HZ,
    RING_WAIT, SHORT, UNIT_A, UNIT_HZ,
};
use crate::webrtc::browser::Browser;
use crate::webrtc::daemon_addr;
use crate::webrtc::sip_ua::{status, Msg, SipUa};

/// The browser's own description as a re-offer: `actpass`, `direction`,
/// the `o=` version raised to `version`.
fn reoffer(answer: &str, direction: &str, version: u32) -> String {
    answer
        .lines()
        .map(|l| match l {
            l if l.starts_with("o=") => {
                let mut f: Vec<String> = l.split(' ').map(str::to_owned).collect();
                if let Some(v) = f.get_mut(2) {
                    *v = version.to_string();
                }
                f.join(" ")
            }
            l if l.starts_with("a=setup:") => "a=setup:actpass".to_owned(),
            "a=sendrecv" | "a=sendonly" | "a=recvonly" | "a=inactive" => format!("a={direction}"),
            l => l.to_owned(),
        })
        .map(|l| format!("{l}\r\n"))
        .collect()
}

fn attribute<'a>(sdp: &'a str, name: &str) -> Option<&'a str> {
    sdp.lines().find(|l| l.starts_with(name))
}

/// The packets the browser receives in `window` of running.
fn packets_in(browser: &mut Browser, window: Duration) -> u64 {
    let before = browser.packets_in;
    browser.run_until(window, |_| false);
    browser.packets_in - before
}

fn assert_same_transport(answer: &Msg, offer: &str, direction: &str) {
    assert_eq!(status(answer), 200, "{}", answer.start());
    let sdp = answer.body();
    for name in ["a=ice-ufrag:", "a=ice-pwd:", "a=fingerprint:"] {
        assert_eq!(
            attribute(sdp, name),
            attribute(offer, name),
            "{name}\n{sdp}"
        );
    }
    assert_eq!(attribute(sdp, "a=setup:"), Some("a=setup:passive"), "{sdp}");
    assert!(sdp.contains(&format!("a={direction}\r\n")), "{sdp}");
}

#[test]
fn webrtc_browser_hold_and_unhold_keep_the_transport() {
    let test = "webrtc_browser_hold_and_unhold_keep_the_transport";
    let Some(d) = centre(test, &Plan::new(&["op1"], NOWHERE)) else {
        return;
    };
    let mut ua = SipUa::new("op1", daemon_addr(d.sip_port));
    assert_eq!(ua.register("secret-op1"), 200, "REGISTER as a browser");
    wait_operator_state(&d, "op1", "available", SHORT);
    let _unit = spawn_unit(&d.dir.path, &device_uri(&d), UNIT_A, &["--wait-bye"]);
    let invite = ua.wait_invite(RING_WAIT).expect("op1's browser never rang");
    let offer = invite.body().to_owned();
    let (mut browser, answer) = Browser::answer(&offer, OPERATOR_HZ as f32, UNIT_HZ as f32, false);
    ua.respond(&invite, 200, Some(&answer));
    let heard = browser.run_until(SHORT, |b| b.windows_above(HEARD_DBM0 as f32) >= 2);
    assert!(
        heard && !browser.failed,
        "no audio before the hold: {:?}",
        browser.levels
    );

    let held = ua.reinvite(&invite, &reoffer(&answer, "sendonly", 3));
    assert_same_transport(&held.expect("an answer to the hold"), &offer, "recvonly");
    // Bounded polling: packets already in flight (a loaded machine delays
    // them) may still arrive; within SHORT there must be a quiet second.
    let end = std::time::Instant::now() + SHORT;
    let mut windows = Vec::new();
    while std::time::Instant::now() < end && windows.last().is_none_or(|n| *n > 5) {
        windows.push(packets_in(&mut browser, Duration::from_secs(1)));
    }
    assert!(
        windows.last().is_some_and(|n| *n <= 5),
        "the daemon kept sending on hold: packets per second {windows:?}"
    );

    let resumed = ua.reinvite(&invite, &reoffer(&answer, "sendrecv", 4));
    assert_same_transport(
        &resumed.expect("an answer to the unhold"),
        &offer,
        "sendrecv",
    );
    let windows = browser.levels.len();
    let heard_again = browser.run_until(SHORT, |b| {
        b.levels
            .iter()
            .skip(windows)
            .filter(|l| **l >= HEARD_DBM0 as f32)
            .count()
            >= 2
    });
    assert!(
        heard_again && !browser.failed,
        "no audio after the unhold: {:?}",
        browser.levels
    );

    let restart = reoffer(&answer, "sendrecv", 5).replace("a=ice-ufrag:", "a=ice-ufrag:x");
    let refused = ua
        .reinvite(&invite, &restart)
        .expect("an answer to the ICE restart");
    assert_eq!(status(&refused), 488, "{}", refused.start());
    let warning = refused.header("Warning").unwrap_or_default();
    assert!(warning.contains("ICE restart"), "{warning}");
    let before = browser.packets_in;
    let flowing = browser.run_until(SHORT, |b| b.packets_in >= before + 25);
    assert!(flowing, "the call lost its audio after a refused re-offer");
    ua.bye(&invite);
    browser.run_until(Duration::from_millis(300), |_| false);
    browser.close();
}
