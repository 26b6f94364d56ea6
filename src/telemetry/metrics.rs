//! Metric names, in one place, with their descriptions.
//!
//! Names follow Prometheus conventions: `alarmgate_` prefix, `_total` for
//! counters, base units in the name. Labels are low-cardinality (method,
//! status code, reason): never a Call-ID or a number.

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};

/// SIP requests received, by `method`.
pub const SIP_REQUESTS_IN: &str = "alarmgate_sip_requests_received_total";
/// SIP responses sent, by `method` (of the CSeq) and `code`.
pub const SIP_RESPONSES_OUT: &str = "alarmgate_sip_responses_sent_total";
/// SIP requests sent by us (BYE, OPTIONS keep-alives), by `method`.
pub const SIP_REQUESTS_OUT: &str = "alarmgate_sip_requests_sent_total";
/// SIP responses received for our requests, by `method` and `code`.
pub const SIP_RESPONSES_IN: &str = "alarmgate_sip_responses_received_total";
/// Datagrams or stream frames that could not be parsed, by `transport`.
pub const SIP_PARSE_ERRORS: &str = "alarmgate_sip_parse_errors_total";
/// Transactions alive now, by `kind` (server_invite, server_non_invite, client_invite, client_non_invite).
pub const SIP_TRANSACTIONS: &str = "alarmgate_sip_transactions";
/// Dialogs (calls past the 2xx) alive now.
pub const SIP_DIALOGS: &str = "alarmgate_sip_dialogs";
/// Calls alive now (from admission to hang-up).
pub const CALLS_ACTIVE: &str = "alarmgate_calls_active";
/// Calls admitted and answered, by `tenant`.
pub const CALLS_ANSWERED: &str = "alarmgate_calls_answered_total";
/// Calls ended, by `reason` (remote_bye, local_bye, cancelled, max_duration, no_ack, shutdown, media_failed).
pub const CALLS_ENDED: &str = "alarmgate_calls_ended_total";
/// Calls refused at admission, by `reason` (forbidden, overload_concurrency, overload_rate, draining, auth, unknown_did, codec, no_port).
pub const ADMISSION_REFUSALS: &str = "alarmgate_admission_refusals_total";
/// New calls refused with 503 under overload, by `reason` (draining, overload_concurrency, overload_reserve, overload_load, source_rate) and `priority` (alarm, normal).
pub const OVERLOAD_REFUSALS: &str = "alarmgate_overload_refusals_total";
/// The SIP driver's smoothed lag: how long a message arriving now waits to be served, seconds.
pub const SIP_DRIVER_LAG: &str = "alarmgate_sip_driver_lag_seconds";
/// The media workers' smoothed tick lag: how late their 20 ms ticks run, seconds.
pub const MEDIA_TICK_LAG: &str = "alarmgate_media_tick_lag_seconds";
/// 1 while new calls of `priority` (alarm, normal) are shed for load, else 0.
pub const OVERLOAD_SHEDDING: &str = "alarmgate_overload_shedding";
/// Call duration in seconds, observed at hang-up.
pub const CALL_DURATION: &str = "alarmgate_call_duration_seconds";
/// RTP packets received on call legs.
pub const RTP_PACKETS_IN: &str = "alarmgate_rtp_packets_received_total";
/// RTP packets sent on call legs.
pub const RTP_PACKETS_OUT: &str = "alarmgate_rtp_packets_sent_total";
/// RTP/RTCP datagrams a leg refused by its source rules, by `reason`
/// (address, ssrc, no_remote).
pub const RTP_DROPPED: &str = "alarmgate_rtp_dropped_packets_total";
/// Browser (WebRTC) legs whose transport came up (ICE check answered, DTLS
/// done, SRTP keys).
pub const WEBRTC_CONNECTED: &str = "alarmgate_webrtc_legs_connected_total";
/// Browser (WebRTC) legs ended because their transport failed, by `reason`
/// (no_ice_check, dtls_timeout, dtls_failed, consent_lost).
pub const WEBRTC_FAILED: &str = "alarmgate_webrtc_legs_failed_total";
/// Contact ID messages decoded with a good checksum, by `class` (voice, technical, test, cancel).
pub const ALARMS_DECODED: &str = "alarmgate_alarms_decoded_total";
/// Kissoffs sent: messages stored on disk and acknowledged to the unit.
pub const ALARMS_ACKNOWLEDGED: &str = "alarmgate_alarms_acknowledged_total";
/// Messages that could not be stored: no kissoff, the unit repeats.
pub const ALARMS_STORE_FAILED: &str = "alarmgate_alarms_store_failed_total";
/// Kissoffs withheld because storage took too long for the unit's window.
pub const ALARMS_WITHHELD: &str = "alarmgate_alarms_kissoff_withheld_total";
/// Messages rejected (checksum, malformed, partial): the unit repeats.
pub const ALARMS_REJECTED: &str = "alarmgate_alarms_rejected_total";
/// Calls whose every attempt failed: unconfirmed alarms (never acknowledged).
pub const ALARMS_UNCONFIRMED: &str = "alarmgate_alarms_unconfirmed_total";
/// Callbacks of unconfirmed alarms waiting to be recalled or given a disposition.
pub const CALLBACKS_OPEN: &str = "alarmgate_callbacks_open";
/// Last digit to kissoff start, seconds (the unit gives up after 1.25 s).
pub const KISSOFF_DELAY: &str = "alarmgate_kissoff_delay_seconds";
/// Our handshake's end to the unit's first digit, seconds.
pub const HANDSHAKE_TO_FIRST_DIGIT: &str = "alarmgate_alarm_handshake_to_first_digit_seconds";
/// Level of each decoded digit, dBm0 (a line losing level shows here first).
pub const DIGIT_LEVEL: &str = "alarmgate_alarm_digit_level_dbm0";
/// Twist of each in-band digit (row minus column), dB.
pub const DIGIT_TWIST: &str = "alarmgate_alarm_digit_twist_db";
/// Estimated signal-to-noise of each in-band digit, dB.
pub const DIGIT_SNR: &str = "alarmgate_alarm_digit_snr_db";
/// Length of each decoded digit's tone, seconds.
pub const DIGIT_DURATION: &str = "alarmgate_alarm_digit_duration_seconds";
/// RTP packets lost while a message was being received.
pub const PACKETS_LOST_IN_MESSAGE: &str = "alarmgate_alarm_packets_lost_total";
/// Failed attempts (checksum, malformed, partial) before a message got through.
pub const MESSAGE_RETRIES: &str = "alarmgate_alarm_retries_total";
/// Of those, checksum failures.
pub const CHECKSUM_FAILURES: &str = "alarmgate_alarm_checksum_failures_total";
/// Events published to the bus and acknowledged by it (JetStream ack).
pub const BUS_FORWARDED: &str = "alarmgate_bus_events_forwarded_total";
/// Of those, acks saying the server already had the event (same `Nats-Msg-Id`).
pub const BUS_DUPLICATES: &str = "alarmgate_bus_duplicates_total";
/// Forwarding errors, by `kind` (connect, stream, publish, ack_timeout, ack, journal, invalid_record).
pub const BUS_ERRORS: &str = "alarmgate_bus_forward_errors_total";
/// Journal records not yet acknowledged by the bus.
pub const BUS_BACKLOG: &str = "alarmgate_bus_backlog_events";
/// Age of the oldest record not yet acknowledged by the bus, seconds (0 when none).
pub const BUS_BACKLOG_AGE: &str = "alarmgate_bus_backlog_age_seconds";
/// The highest journal seq the bus acknowledged.
pub const BUS_ACKED_SEQ: &str = "alarmgate_bus_acked_seq";
/// 1 while the forwarder has a checked stream and publishes, 0 while it retries.
pub const BUS_UP: &str = "alarmgate_bus_up";
/// Publish to the server's ack, seconds.
pub const BUS_ACK_SECONDS: &str = "alarmgate_bus_ack_seconds";
/// The event's time (its id) to the bus ack, seconds: decoded to on the bus.
pub const BUS_EVENT_LATENCY: &str = "alarmgate_bus_event_latency_seconds";
/// Events appended to the journal, by `type` (`alarm.received`, `call.started`...).
pub const EVENTS_WRITTEN: &str = "alarmgate_events_written_total";
/// SIGHUP reloads of the dialplan, by `result` (ok, invalid).
pub const CONFIG_RELOADS: &str = "alarmgate_config_reloads_total";
/// Calls waiting in a queue for an operator, all queues.
pub const CALLS_WAITING: &str = "alarmgate_calls_waiting";
/// Operators in each `state` (logged_out, available, ringing, on_call, wrap_up, paused).
pub const OPERATORS: &str = "alarmgate_operators";
/// Routing events, by `type` (queued, offered, answered, overflowed, operator.state).
pub const ROUTING_EVENTS: &str = "alarmgate_routing_events_total";
/// From a call entering a queue (right after an alarm's kissoff) to the
/// first operator's phone ringing (180/183 received).
pub const QUEUE_TO_RING_SECONDS: &str = "alarmgate_queue_to_ring_seconds";
/// Operator API commands, by `command`.
pub const API_COMMANDS: &str = "alarmgate_api_commands_total";
/// Call recordings finished and stored (`alarmgate.recording.stored`).
pub const RECORDINGS_STORED: &str = "alarmgate_recordings_stored_total";
/// Call recordings abandoned, by `reason` (create, write, finalize, rename,
/// hash): the disk is full or unwritable; the calls were not affected.
pub const RECORDING_FAILURES: &str = "alarmgate_recording_failures_total";
/// Recording frames (20 ms) dropped because the writer's queue was full.
pub const RECORDING_FRAMES_DROPPED: &str = "alarmgate_recording_frames_dropped_total";
/// Recordings deleted by retention (`alarmgate.recording.deleted`).
pub const RECORDINGS_DELETED: &str = "alarmgate_recordings_deleted_total";
/// Recordings being written now.
pub const RECORDINGS_ACTIVE: &str = "alarmgate_recordings_active";
/// 1 when the node accepts new calls, 0 when draining or not ready.
pub const READY: &str = "alarmgate_ready";
/// Build information; the value is always 1, `version` is a label.
pub const BUILD_INFO: &str = "alarmgate_build_info";

/// Supervised units that missed their reporting deadline, by `tenant`.
pub const UNITS_OVERDUE: &str = "alarmgate_units_overdue";
/// Units under supervision, by `tenant`.
pub const UNITS_SUPERVISED: &str = "alarmgate_units_supervised";
/// SIA DC-09 frames by `transport` and `outcome` (stored, repeat, nak,
/// duh, silent, store_failed).
pub const DC09_FRAMES: &str = "alarmgate_dc09_frames_total";

/// Cluster KV operations (issue 13), by `op` (open, get, entries, create,
/// update, delete, watch) and `outcome` (ok, conflict, timeout, invalid_key, error).
pub const CLUSTER_KV_OPS: &str = "alarmgate_cluster_kv_ops_total";

/// Registers descriptions for every metric, so `/metrics` documents itself.
pub fn describe() {
    describe_counter!(
        CLUSTER_KV_OPS,
        "Cluster KV operations, by op and outcome (conflict: a lost compare-and-set)"
    );
    describe_counter!(SIP_REQUESTS_IN, "SIP requests received, by method");
    describe_gauge!(
        UNITS_OVERDUE,
        "Supervised units that missed their reporting deadline, by tenant"
    );
    describe_gauge!(UNITS_SUPERVISED, "Units under supervision, by tenant");
    describe_counter!(SIP_RESPONSES_OUT, "SIP responses sent, by method and code");
    describe_counter!(
        SIP_REQUESTS_OUT,
        "SIP requests sent by alarmgate, by method"
    );
    describe_counter!(
        SIP_RESPONSES_IN,
        "SIP responses received, by method and code"
    );
    describe_counter!(SIP_PARSE_ERRORS, "SIP messages that could not be parsed");
    describe_counter!(DC09_FRAMES, "SIA DC-09 frames, by transport and outcome");
    describe_gauge!(SIP_TRANSACTIONS, "SIP transactions alive, by kind");
    describe_gauge!(SIP_DIALOGS, "SIP dialogs alive");
    describe_gauge!(CALLS_ACTIVE, "Calls alive");
    describe_counter!(CALLS_ANSWERED, "Calls answered, by tenant");
    describe_counter!(CALLS_ENDED, "Calls ended, by reason");
    describe_counter!(ADMISSION_REFUSALS, "Calls refused at admission, by reason");
    describe_counter!(
        OVERLOAD_REFUSALS,
        "New calls refused with 503 under overload, by reason and priority"
    );
    describe_gauge!(
        SIP_DRIVER_LAG,
        Unit::Seconds,
        "How long a SIP message arriving now waits to be served (smoothed)"
    );
    describe_gauge!(
        MEDIA_TICK_LAG,
        Unit::Seconds,
        "How late the media workers' 20 ms ticks run (smoothed)"
    );
    describe_gauge!(
        OVERLOAD_SHEDDING,
        "1 while new calls of this priority are shed for load"
    );
    describe_histogram!(CALL_DURATION, Unit::Seconds, "Call duration at hang-up");
    describe_counter!(RTP_PACKETS_IN, "RTP packets received");
    describe_counter!(RTP_PACKETS_OUT, "RTP packets sent");
    describe_counter!(
        RTP_DROPPED,
        "RTP/RTCP datagrams refused by the leg's source rules, by reason"
    );
    describe_counter!(
        WEBRTC_CONNECTED,
        "Browser (WebRTC) legs whose ICE, DTLS and SRTP came up"
    );
    describe_counter!(
        WEBRTC_FAILED,
        "Browser (WebRTC) legs ended by a transport failure, by reason"
    );
    describe_counter!(ALARMS_DECODED, "Contact ID messages decoded, by class");
    describe_counter!(
        ALARMS_ACKNOWLEDGED,
        "Alarms stored and acknowledged with a kissoff"
    );
    describe_counter!(
        ALARMS_STORE_FAILED,
        "Alarms that could not be stored (no kissoff)"
    );
    describe_counter!(
        ALARMS_WITHHELD,
        "Kissoffs withheld: storage too slow for the unit's window"
    );
    describe_counter!(
        ALARMS_REJECTED,
        "Contact ID messages rejected (checksum, format)"
    );
    describe_counter!(
        ALARMS_UNCONFIRMED,
        "Unconfirmed alarms: every attempt failed, never acknowledged"
    );
    describe_gauge!(
        CALLBACKS_OPEN,
        "Callbacks of unconfirmed alarms not yet recalled or disposed"
    );
    describe_histogram!(KISSOFF_DELAY, Unit::Seconds, "Last digit to kissoff start");
    describe_histogram!(
        HANDSHAKE_TO_FIRST_DIGIT,
        Unit::Seconds,
        "Handshake end to first digit"
    );
    describe_histogram!(DIGIT_LEVEL, "Level of decoded digits, dBm0");
    describe_histogram!(DIGIT_TWIST, "Twist of in-band digits, dB");
    describe_histogram!(DIGIT_SNR, "Estimated SNR of in-band digits, dB");
    describe_histogram!(
        DIGIT_DURATION,
        Unit::Seconds,
        "Tone length of decoded digits"
    );
    describe_counter!(
        PACKETS_LOST_IN_MESSAGE,
        "RTP packets lost during alarm messages"
    );
    describe_counter!(
        MESSAGE_RETRIES,
        "Failed attempts before alarm messages got through"
    );
    describe_counter!(
        CHECKSUM_FAILURES,
        "Contact ID checksum failures before good messages"
    );
    describe_counter!(BUS_FORWARDED, "Events acknowledged by the bus");
    describe_counter!(BUS_DUPLICATES, "Bus acks that reported a duplicate id");
    describe_counter!(BUS_ERRORS, "Event forwarding errors, by kind");
    describe_gauge!(
        BUS_BACKLOG,
        "Journal records not yet acknowledged by the bus"
    );
    describe_gauge!(
        BUS_BACKLOG_AGE,
        Unit::Seconds,
        "Age of the oldest record not yet on the bus"
    );
    describe_gauge!(BUS_ACKED_SEQ, "Highest journal seq acknowledged by the bus");
    describe_gauge!(BUS_UP, "1 while events are being forwarded");
    describe_histogram!(BUS_ACK_SECONDS, Unit::Seconds, "Bus publish to ack");
    describe_histogram!(BUS_EVENT_LATENCY, Unit::Seconds, "Event time to bus ack");
    describe_counter!(EVENTS_WRITTEN, "Events appended to the journal, by type");
    describe_counter!(
        crate::journal::RECORDS_WRITTEN,
        "Journal records made durable"
    );
    describe_counter!(crate::journal::SYNCS, "Journal group commits synced");
    describe_histogram!(
        crate::journal::SYNC_SECONDS,
        Unit::Seconds,
        "Journal fdatasync latency"
    );
    describe_counter!(
        crate::journal::WRITE_ERRORS,
        "Journal write or sync failures"
    );
    describe_counter!(
        crate::journal::OUTAGES,
        "Journal outages (appends refused until a probe reopens it)"
    );
    describe_gauge!(
        crate::journal::UNHEALTHY_SECONDS,
        Unit::Seconds,
        "Length of the current journal outage (0 when healthy)"
    );
    describe_histogram!(
        crate::journal::OUTAGE_SECONDS,
        Unit::Seconds,
        "Length of each ended journal outage"
    );
    describe_counter!(CONFIG_RELOADS, "Dialplan reloads (SIGHUP), by result");
    describe_gauge!(CALLS_WAITING, "Calls waiting for an operator");
    describe_counter!(ROUTING_EVENTS, "Routing events, by type");
    describe_gauge!(OPERATORS, "Operators in each state");
    describe_counter!(API_COMMANDS, "Operator API commands, by command");
    describe_counter!(
        crate::runtime::transport::CONNECTIONS_REFUSED,
        "TCP/TLS connections refused at accept, by reason (per_source_limit, global_limit)"
    );
    describe_counter!(
        crate::runtime::transport::CONNECTIONS_CLOSED,
        "TCP/TLS connections closed, by reason (first_message_timeout, idle_timeout...)"
    );
    describe_histogram!(
        QUEUE_TO_RING_SECONDS,
        Unit::Seconds,
        "Queued (after the kissoff) to the operator's phone ringing"
    );
    describe_counter!(RECORDINGS_STORED, "Call recordings stored");
    describe_counter!(
        RECORDING_FAILURES,
        "Call recordings abandoned (disk full or unwritable), by reason"
    );
    describe_counter!(
        RECORDING_FRAMES_DROPPED,
        "Recording frames dropped: the writer's queue was full"
    );
    describe_counter!(RECORDINGS_DELETED, "Recordings deleted by retention");
    describe_gauge!(RECORDINGS_ACTIVE, "Recordings being written");
    describe_gauge!(READY, "1 when accepting calls");
    describe_gauge!(BUILD_INFO, "Build information");
}

/// Histogram buckets for the signal metrics (whose units are not seconds)
/// and for the fast ones (journal sync, bus ack).
pub fn signal_buckets() -> [(&'static str, &'static [f64]); 9] {
    const LEVEL: &[f64] = &[
        -40.0, -35.0, -30.0, -25.0, -20.0, -15.0, -10.0, -5.0, 0.0, 3.0,
    ];
    const TWIST: &[f64] = &[-8.0, -6.0, -4.0, -2.0, 0.0, 2.0, 4.0, 6.0, 8.0];
    const SNR: &[f64] = &[0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 60.0];
    const DIGIT: &[f64] = &[0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.1, 0.15, 0.25];
    // fsync and bus acks: sub-millisecond on loopback, seconds in an outage
    const FAST: &[f64] = &[
        0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0, 120.0,
    ];
    // queue to ringing: milliseconds when an operator is free, then the
    // seconds a call waits (a centre watches 10, 20, 30 and 60 s)
    const RING: &[f64] = &[
        0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0,
        120.0, 300.0,
    ];
    // journal outages: a probe every 1-5 s, so seconds to an hour
    const OUTAGE: &[f64] = &[1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0];
    [
        (DIGIT_LEVEL, LEVEL),
        (DIGIT_TWIST, TWIST),
        (DIGIT_SNR, SNR),
        (DIGIT_DURATION, DIGIT),
        (crate::journal::SYNC_SECONDS, FAST),
        (BUS_ACK_SECONDS, FAST),
        (BUS_EVENT_LATENCY, FAST),
        (QUEUE_TO_RING_SECONDS, RING),
        (crate::journal::OUTAGE_SECONDS, OUTAGE),
    ]
}
