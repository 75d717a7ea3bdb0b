//! Seeded network simulator for tests, in virtual time.
//!
//! Filled in by issue 3.
