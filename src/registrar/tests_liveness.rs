//! Tests of keep-alives and expiry.
