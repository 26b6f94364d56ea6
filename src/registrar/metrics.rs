//! The registrar's metric names (to be listed in [`crate::telemetry::metrics`]).
//! Labels are low-cardinality: outcomes and reasons, never a user or an address.

use metrics::{describe_counter, describe_gauge};

/// REGISTERs answered, by `outcome` (ok, challenged, stale, forbidden,
/// blocked, too_brief, out_of_order, too_many_contacts, malformed).
pub const REGISTERS: &str = "alarmgate_registrar_registers_total";
/// Authentication failures (403), by `reason` (bad_response, unknown_user,
/// replay, malformed, wrong_user).
pub const AUTH_FAILURES: &str = "alarmgate_registrar_auth_failures_total";
/// REGISTERs refused with 403 without digest work because their source is blocked.
pub const AUTH_BLOCKED: &str = "alarmgate_registrar_auth_blocked_total";
/// Sources blocked after repeated authentication failures.
pub const SOURCES_BLOCKED: &str = "alarmgate_registrar_sources_blocked_total";
/// Bindings (registered contacts) now.
pub const BINDINGS: &str = "alarmgate_registrar_bindings";
/// Operators with at least one binding now.
pub const OPERATORS_REACHABLE: &str = "alarmgate_registrar_operators_reachable";
/// Bindings removed, by `reason` (unregistered, expired, unresponsive, operator_removed).
pub const BINDINGS_REMOVED: &str = "alarmgate_registrar_bindings_removed_total";
/// Keep-alive results, by `result` (alive, miss).
pub const PROBES: &str = "alarmgate_registrar_keepalives_total";

/// Registers the descriptions with the installed recorder.
pub fn describe() {
    describe_counter!(REGISTERS, "REGISTER requests answered, by outcome");
    describe_counter!(AUTH_FAILURES, "REGISTER authentication failures, by reason");
    describe_counter!(
        AUTH_BLOCKED,
        "REGISTER requests refused because their source is blocked"
    );
    describe_counter!(
        SOURCES_BLOCKED,
        "Sources blocked after repeated authentication failures"
    );
    describe_gauge!(BINDINGS, "Registered softphone contacts");
    describe_gauge!(
        OPERATORS_REACHABLE,
        "Operators with at least one registered contact"
    );
    describe_counter!(BINDINGS_REMOVED, "Bindings removed, by reason");
    describe_counter!(PROBES, "OPTIONS keep-alive results, by result");
}
