//! Switchboard flow tests.
