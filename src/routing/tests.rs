//! Rule tests of the routing engine in simulated time.
