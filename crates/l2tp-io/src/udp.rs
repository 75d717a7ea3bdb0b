//! Batched UDP sockets (issue 4).
