//! Sans-IO PPP (RFC 1661) for frames carried in L2TP.
//!
//! Filled in by issue 5.
