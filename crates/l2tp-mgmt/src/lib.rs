//! Management protocol shared by l2tpd and l2tpctl (issue 6).
