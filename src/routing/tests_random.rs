//! Randomised invariant tests of the routing engine.
