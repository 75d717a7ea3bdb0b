//! Datapath (issue 4): the PPPoL2TP driver's job in userspace.
