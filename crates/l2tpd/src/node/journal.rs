//! The node's crash journal (`daemon.state_dir`): replayed into the core at start when one
//! is there (crash recovery), then kept — each step's records appended before its datagrams
//! leave, a new base when the log outgrows the old one (`crate::journal`).

use std::io;
use std::path::Path;
use std::time::Instant;

use crate::core::snapshot::Restored;
use crate::journal::{self, Journal};

use super::Node;

/// What starting on a state directory found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// No journal there: a clean start.
    Fresh,
    /// The journal was replayed: tunnels and sessions restored, waiting to be resumed.
    Recovered(Restored),
    /// A journal was there but could not be used (moved aside): a clean start.
    Discarded,
}

impl Node {
    /// Keeps the crash journal in `dir` (`fsync`: after every write). With `replay`, a
    /// journal found there is replayed into the (fresh) core first; one that does not read
    /// is logged, moved aside (`*.corrupt`) and the node starts clean. Call it before the
    /// first step. The restored tunnels then wait for [`Node::resume_recovered`].
    pub fn attach_journal(
        &mut self,
        dir: &Path,
        fsync: bool,
        replay: bool,
    ) -> io::Result<Recovery> {
        self.core.enable_journal();
        self.tuns.persist = true;
        let now = Instant::now();
        self.now = now;
        let mut outcome = Recovery::Fresh;
        if replay {
            match journal::load(dir) {
                Ok(None) => {}
                Ok(Some(l)) => {
                    if l.torn_tail > 0 {
                        tracing::warn!(node = %self.name, dir = %dir.display(), bytes = l.torn_tail, "state journal ends inside a record (the process died while writing it): that record is dropped, it was never acted on");
                    }
                    let records: Vec<&[u8]> = l.records.iter().map(Vec::as_slice).collect();
                    match self.core.replay_journal(&l.base, &records, now) {
                        Ok(r) => outcome = Recovery::Recovered(r),
                        Err(e) => {
                            tracing::error!(node = %self.name, dir = %dir.display(), "state journal unusable: {e}; starting clean (moved aside as *.corrupt)");
                            journal::discard(dir);
                            outcome = Recovery::Discarded;
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(node = %self.name, "state journal unusable: {e}; starting clean (moved aside as *.corrupt)");
                    journal::discard(dir);
                    outcome = Recovery::Discarded;
                }
            }
        }
        if let Recovery::Recovered(_) = outcome {
            self.reattach_session_tuns();
        }
        // What a killed process left that nothing brought back: its interfaces would keep
        // routes to addresses the pool hands out again.
        if let Some(pattern) = self.core.session_interface_pattern() {
            let removed = self.tuns.remove_orphans(pattern);
            if !removed.is_empty() {
                tracing::warn!(node = %self.name, "removed {} interfaces left by a process that died, no session of which was recovered: {}", removed.len(), removed.join(" "));
            }
        }
        let base = self
            .core
            .journal_base(now)
            .map_err(|e| io::Error::new(io::ErrorKind::Unsupported, e))?;
        let j = Journal::create(dir, &base, fsync).map_err(|e| io::Error::other(e.to_string()))?;
        self.journal = Some(j);
        Ok(outcome)
    }

    /// Reattaches the restored sessions' persistent TUNs; a session whose interface is
    /// gone is told so (the core clears it).
    fn reattach_session_tuns(&mut self) {
        for (key, name) in self.core.own_interfaces() {
            if let Err(error) = self.tuns.reattach(&self.poller, key, &name) {
                tracing::warn!(node = %self.name, session = %key, "cannot reattach the session's interface: {error}");
                self.core
                    .handle(self.now, crate::core::Input::InterfaceFailed { key, error });
            }
        }
    }

    /// Resumes every tunnel the journal restored: those whose peer offered RFC 4951
    /// control channel failover (and we too) are recovered through it; every other one
    /// probes its peer with a HELLO now, Ns/Nr re-synchronised on the answer. Returns how
    /// many were probed with a HELLO.
    pub fn resume_recovered(&mut self) -> usize {
        let now = Instant::now();
        self.now = now;
        let restored = self.core.take_restored_tunnels();
        let not_taken = self.core.recover_restored_tunnels(now);
        let ids: Vec<_> = restored
            .into_iter()
            .filter(|t| not_taken.contains(t))
            .collect();
        let n = self.core.resume_restored(now, &ids);
        self.drain();
        self.flush();
        n
    }

    /// Appends what the core's last inputs changed (before their datagrams leave), and
    /// writes a new base when the log has outgrown the old one.
    pub(super) fn write_journal(&mut self) {
        let Some(j) = self.journal.as_mut() else {
            return;
        };
        self.core
            .journal_records(self.now, &mut self.journal_records);
        let mut r = j.append(&self.journal_records);
        self.journal_records.clear();
        if r.is_ok() && j.wants_base() {
            r = match self.core.journal_base(self.now) {
                Ok(b) => j.write_base(&b),
                Err(e) => {
                    tracing::error!(node = %self.name, "journal base: {e}");
                    Ok(())
                }
            };
        }
        if let Err(e) = r {
            // What is on disk now lags behind the sessions: a restart on it would bring
            // back tunnels and sessions that have ended since. Without a journal a restart
            // starts clean, which is what crash recovery being off means.
            tracing::error!(node = %self.name, "state journal: {e}; crash recovery is off from now on (the journal is removed)");
            if let Some(j) = self.journal.take() {
                j.remove();
            }
        }
    }
}
