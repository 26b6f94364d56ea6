//! Switchboard tests.
