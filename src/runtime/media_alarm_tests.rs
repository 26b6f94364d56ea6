//! The device leg's alarm pipeline while bridged: it keeps listening, its
//! tones win over the operator's voice, and the call is queued once.

use super::*;
use crate::alarm::contact_id::check_digit;
use crate::alarm::{PipelineConfig, ReceiverState};
use crate::dsp::goertzel::Goertzel;
use crate::journal::{Journal, JournalConfig};
use crate::media::tone::{ToneGenerator, ToneSpec};
use crate::routing::CallClass;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// A journal directory, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(test: &str) -> Self {
        let name = format!("alarmgate-media-{test}-{}", std::process::id());
        let dir = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn shared(dir: &Dir, settle_technical: bool) -> AlarmContextShared {
    AlarmContextShared {
        journal: Journal::open(JournalConfig::new(&dir.0)).expect("journal"),
        classifiers: Arc::new(HashMap::new()),
        config: PipelineConfig::default(),
        settle_technical,
        node: Arc::from("test"),
    }
}

/// One letter per packet the unit heard: `p` the phone's 1000 Hz, `k`
/// 1400 Hz (handshake, kissoff), `h` 2300 Hz, `.` quiet.
fn timeline(payloads: &[(u8, Vec<u8>)]) -> String {
    let power = |pcm: &[i16], f: f32| {
        let mut g = Goertzel::new(f, 8000.0);
        g.push_pcm(pcm);
        g.power()
    };
    let letter = |payload: &Vec<u8>| {
        let pcm: Vec<i16> = payload
            .iter()
            .map(|&c| Codec::Pcma.decode_sample(c))
            .collect();
        let bins = [
            (power(&pcm, 1000.0), 'p'),
            (power(&pcm, 1400.0), 'k'),
            (power(&pcm, 2300.0), 'h'),
        ];
        let (p, c) = bins
            .into_iter()
            .fold((0.0, '.'), |a, b| if b.0 > a.0 { b } else { a });
        if p > 1e9 {
            c
        } else {
            '.'
        }
    };
    payloads
        .iter()
        .filter(|(pt, _)| *pt == 8)
        .map(|(_, p)| letter(p))
        .collect()
}

/// A new-event message of account 1234 with `event`, as 16 DTMF characters.
fn message(event: &str) -> String {
    let first15 = format!("1234181{event}01001");
    let check = check_digit(&first15).expect("digits");
    format!("{first15}{check}")
}

fn state(rig: &Rig) -> Option<ReceiverState> {
    let leg = rig.worker.legs.get(&DEVICE)?;
    leg.alarm.as_ref().map(AlarmLeg::state)
}

/// Sends `event` as RFC 4733 from tick `from` (after the handshake), waits
/// (in real time, simulated time standing still) for the journal, and
/// returns the tick after the one the message was stored at.
fn exchange(rig: &mut Rig, event: &str, from: u32) -> u32 {
    assert_eq!(state(rig), Some(ReceiverState::AwaitingFirstDigit));
    let digits = message(event);
    rig.unit
        .session()
        .send_digits(&digits, 60)
        .expect("negotiated");
    let mut k = from;
    while state(rig) != Some(ReceiverState::AwaitingStorage) {
        assert!(k < from + 150, "the message is decoded");
        rig.run(k, k + 1);
        k += 1;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let wait = async { tokio::time::timeout(Duration::from_secs(10), rig.inbox.recv()).await };
    let stored = runtime
        .block_on(wait)
        .ok()
        .flatten()
        .expect("journal answered");
    rig.worker.input(epoch() + 20 * MS * (k - 1), stored);
    k
}

fn bridge(rig: &mut Rig) {
    let (group, a, b) = (DEVICE, DEVICE, OPERATOR);
    rig.worker
        .input(epoch(), WorkerInput::Bridge { group, a, b });
}

fn queued(rig: &mut Rig) -> QueueRequest {
    let Ok(Control::Queue(request)) = rig.control.try_recv() else {
        panic!("the call waits for a person")
    };
    assert!(rig.control.try_recv().is_err(), "once");
    request
}

#[test]
fn while_bridged_the_pipeline_decodes_and_its_tones_win() {
    let dir = Dir::new("bridged");
    let mut rig = Rig::with(Some(shared(&dir, true)));
    let phone_voice = ToneSpec::continuous(1000.0, -10.0);
    rig.phone
        .session()
        .set_source(Box::new(ToneGenerator::new(phone_voice)));
    bridge(&mut rig);
    let unit_voice = ToneSpec::continuous(600.0, -20.0);
    rig.unit
        .session()
        .set_source(Box::new(ToneGenerator::new(unit_voice)));
    rig.run(0, 55);
    let to_phone = rig.phone.take_audio();
    let loud = |c: &u8| Codec::Pcmu.decode_sample(*c).abs() > 500;
    assert!(
        to_phone.iter().filter(|c| loud(c)).count() > 1000,
        "the unit is heard"
    );
    let k = exchange(&mut rig, "100", 55);
    rig.run(k, k + 40);
    let early = rig.control.try_recv();
    assert!(
        early.is_err(),
        "queued only once the kissoff ended: {early:?}"
    );
    rig.run(k + 40, k + 80);
    let request = queued(&mut rig);
    assert_eq!(request.class, CallClass::Emergency);
    let code = request.event_code.map(|e| e.as_str().to_owned());
    assert_eq!(code.as_deref(), Some("100"));

    let heard = timeline(&rig.unit.got);
    let (before, after) = heard.split_at(heard.find("kkkkkkkkkk").expect("a kissoff"));
    assert!(
        before.starts_with("ppppp") && before.contains("kkkkk") && before.contains("hhhhh"),
        "{heard}"
    );
    let kissoff = after.find('p').expect("the phone again after the kissoff");
    assert!(
        (40..=45).contains(&kissoff),
        "850 ms of kissoff, no phone in it: {heard}"
    );
    assert!(after[kissoff..].trim_end_matches('p').len() <= 1, "{heard}");
}

#[test]
fn no_digits_is_a_voice_call_and_the_unit_hears_the_hold_tone() {
    let dir = Dir::new("voice");
    let mut rig = Rig::with(Some(shared(&dir, true)));
    // Three handshakes, each with 2 s for a first digit: 7.4 s.
    rig.run(0, 360);
    assert!(
        rig.control.try_recv().is_err(),
        "still listening after 7.2 s"
    );
    rig.run(360, 450);
    assert_eq!(queued(&mut rig), QueueRequest::voice(DEVICE));
    rig.unit.take_audio();
    rig.run(450, 460);
    assert!(toned(&rig.unit.take_audio()), "the hold tone");
}

#[test]
fn a_technical_call_is_queued_only_when_settling_is_disabled() {
    for settle in [true, false] {
        let dir = Dir::new(if settle { "settle" } else { "keep" });
        let mut rig = Rig::with(Some(shared(&dir, settle)));
        rig.run(0, 55);
        let k = exchange(&mut rig, "602", 55);
        rig.run(k, k + 320);
        match rig.control.try_recv() {
            Ok(Control::Settle(call)) if settle => assert_eq!(call, DEVICE),
            Ok(Control::Queue(request)) if !settle => {
                assert_eq!(request.class, CallClass::Technical);
                assert!(rig.control.try_recv().is_err(), "once");
            }
            other => panic!("settle {settle}: {other:?}"),
        }
    }
}

#[path = "media_unconfirmed_tests.rs"]
mod unconfirmed;
