//! The crash journal's files in `daemon.state_dir`: what a restart after `kill -9` needs to
//! resume the tunnels and sessions.
//!
//! * `state.base`: a generation number (u64 LE) then a core snapshot (`core::snapshot`: its
//!   header, format version and CRC-32);
//! * `state.log`: a header — magic `L2TPJRNL`, the snapshot format version (u32 LE), the
//!   generation of the base it follows (u64 LE) — then records, each framed as
//!   `length (u32 LE) | CRC-32 of the record (u32 LE) | record` (`core::journal`).
//!
//! Every step's records go to the log in one `write(2)` before the step's datagrams are
//! sent (write-ahead: what a peer saw acknowledged is on disk; `fsync` is optional, the
//! journal is about the process dying, not the machine). When the log outgrows the base, a
//! new base is written (temporary file, then `rename`) under the next generation and the log
//! starts afresh: a log whose generation is not the base's is older than the base and
//! ignored, so a crash between the two renames loses nothing. Amortised, each record is
//! written twice.
//!
//! Loading: a log that ends inside a record (the process died in the middle of its
//! `write`) loses that record only — it was never acted on. Anything else that does not
//! read — a CRC mismatch, a bad header, another format version, a base that does not
//! decode — is a [`JournalError`]: the caller logs it, moves the files aside
//! ([`Journal::discard`], `*.corrupt`) and starts clean, never half-restored.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::core::snapshot;

/// The log's first bytes.
pub const LOG_MAGIC: [u8; 8] = *b"L2TPJRNL";
/// Log header length.
pub const LOG_HEADER_LEN: usize = 20;
/// Record frame header length.
pub const FRAME_LEN: usize = 8;
/// The log is compacted into a new base once it is larger than the base and this.
const MIN_COMPACT: u64 = 256 * 1024;

/// Why the journal cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Reading or writing failed.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        error: io::Error,
    },
    /// A file's content is damaged or of another format.
    #[error("{path}: {why}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

/// What a journal holds: the base snapshot and the records after it.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The core snapshot.
    pub base: Vec<u8>,
    /// The records, in order.
    pub records: Vec<Vec<u8>>,
    /// Bytes of an incomplete last record dropped (0: none).
    pub torn_tail: usize,
}

/// The journal's files, open for appending.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    log: File,
    generation: u64,
    log_len: u64,
    base_len: u64,
    fsync: bool,
    buf: Vec<u8>,
    /// Records appended since the last base.
    pub appended: u64,
}

fn base_path(dir: &Path) -> PathBuf {
    dir.join("state.base")
}

fn log_path(dir: &Path) -> PathBuf {
    dir.join("state.log")
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> JournalError + '_ {
    move |error| JournalError::Io {
        path: path.to_path_buf(),
        error,
    }
}

fn corrupt(path: &Path, why: impl Into<String>) -> JournalError {
    JournalError::Corrupt {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

fn log_header(generation: u64) -> [u8; LOG_HEADER_LEN] {
    let mut h = [0u8; LOG_HEADER_LEN];
    h[..8].copy_from_slice(&LOG_MAGIC);
    h[8..12].copy_from_slice(&snapshot::VERSION.to_le_bytes());
    h[12..20].copy_from_slice(&generation.to_le_bytes());
    h
}

/// Creates (truncates) `path`, readable by its owner only.
fn private_file(path: &Path) -> Result<File, JournalError> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(path))
}

/// Appends one record, framed, to `out`.
pub fn frame(out: &mut Vec<u8>, record: &[u8]) {
    out.extend_from_slice(&(record.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(record).to_le_bytes());
    out.extend_from_slice(record);
}

/// Reads the journal in `dir`: `Ok(None)` when there is none (a first start).
pub fn load(dir: &Path) -> Result<Option<Loaded>, JournalError> {
    let bp = base_path(dir);
    let mut base = match fs::read(&bp) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(&bp)(e)),
    };
    if base.len() < 8 {
        return Err(corrupt(&bp, format!("{} bytes, too short", base.len())));
    }
    let generation = u64::from_le_bytes(base[..8].try_into().expect("8 bytes"));
    base.drain(..8);
    snapshot::open(&base).map_err(|e| corrupt(&bp, e.to_string()))?;
    let lp = log_path(dir);
    let mut log = Vec::new();
    match File::open(&lp) {
        Ok(mut f) => {
            f.read_to_end(&mut log).map_err(io_err(&lp))?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(&lp)(e)),
    }
    let mut loaded = Loaded {
        base,
        ..Loaded::default()
    };
    if log.is_empty() {
        return Ok(Some(loaded));
    }
    if log.len() < LOG_HEADER_LEN || log[..8] != LOG_MAGIC {
        return Err(corrupt(&lp, "not an l2tpd journal log (bad header)"));
    }
    let version = u32::from_le_bytes(log[8..12].try_into().expect("4 bytes"));
    if version != snapshot::VERSION {
        return Err(corrupt(
            &lp,
            format!(
                "journal format version {version}, this binary reads version {}",
                snapshot::VERSION
            ),
        ));
    }
    let log_gen = u64::from_le_bytes(log[12..20].try_into().expect("8 bytes"));
    if log_gen != generation {
        // Older than the base (a compaction died before it replaced the log): the base
        // holds all of it.
        tracing::info!(
            log = log_gen,
            base = generation,
            "journal log older than its base: ignored"
        );
        return Ok(Some(loaded));
    }
    let mut at = LOG_HEADER_LEN;
    while at < log.len() {
        let rest = &log[at..];
        if rest.len() < FRAME_LEN {
            loaded.torn_tail = rest.len();
            break;
        }
        let len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
        if rest.len() - FRAME_LEN < len {
            loaded.torn_tail = rest.len();
            break;
        }
        let record = &rest[FRAME_LEN..FRAME_LEN + len];
        if crc32fast::hash(record) != crc {
            return Err(corrupt(
                &lp,
                format!(
                    "record {} (offset {at}): checksum mismatch",
                    loaded.records.len()
                ),
            ));
        }
        loaded.records.push(record.to_vec());
        at += FRAME_LEN + len;
    }
    Ok(Some(loaded))
}

/// Moves a journal that cannot be used aside (`state.base.corrupt`, `state.log.corrupt`), so
/// the daemon starts clean and the files stay for a post-mortem.
pub fn discard(dir: &Path) {
    for p in [base_path(dir), log_path(dir)] {
        if p.exists() {
            let mut to = p.clone().into_os_string();
            to.push(".corrupt");
            if let Err(e) = fs::rename(&p, &to) {
                tracing::error!(file = %p.display(), "cannot move the journal aside: {e}");
                let _ = fs::remove_file(&p);
            }
        }
    }
}

impl Journal {
    /// Starts a journal in `dir` (created if missing) on `base`, the core's snapshot now:
    /// written as the next generation, with an empty log after it.
    pub fn create(dir: &Path, base: &[u8], fsync: bool) -> Result<Journal, JournalError> {
        // The state holds tunnel secrets and who the users are: the daemon's alone.
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_err(dir))?;
        let generation = match fs::read(base_path(dir)) {
            Ok(b) if b.len() >= 8 => u64::from_le_bytes(b[..8].try_into().expect("8 bytes")),
            _ => 0,
        };
        let lp = log_path(dir);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&lp)
            .map_err(io_err(&lp))?;
        let mut j = Journal {
            dir: dir.to_path_buf(),
            log,
            generation,
            log_len: 0,
            base_len: 0,
            fsync,
            buf: Vec::new(),
            appended: 0,
        };
        j.write_base(base)?;
        Ok(j)
    }

    /// Appends records in one `write(2)` (and `fsync` if asked).
    pub fn append(&mut self, records: &[Vec<u8>]) -> Result<(), JournalError> {
        if records.is_empty() {
            return Ok(());
        }
        self.buf.clear();
        for r in records {
            frame(&mut self.buf, r);
        }
        let lp = log_path(&self.dir);
        self.log.write_all(&self.buf).map_err(io_err(&lp))?;
        if self.fsync {
            self.log.sync_data().map_err(io_err(&lp))?;
        }
        self.log_len += self.buf.len() as u64;
        self.appended += records.len() as u64;
        if self.buf.capacity() > 1 << 20 {
            self.buf = Vec::new();
        }
        Ok(())
    }

    /// True when the log has outgrown the base: time for [`Journal::write_base`].
    pub fn wants_base(&self) -> bool {
        self.log_len > self.base_len.max(MIN_COMPACT)
    }

    /// Replaces the base with `base` (the core's snapshot now) under the next generation
    /// and starts an empty log after it: each written to a temporary file and renamed.
    pub fn write_base(&mut self, base: &[u8]) -> Result<(), JournalError> {
        let generation = self.generation + 1;
        let bp = base_path(&self.dir);
        let mut tmp = bp.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        {
            let mut f = private_file(&tmp)?;
            f.write_all(&generation.to_le_bytes())
                .and_then(|()| f.write_all(base))
                .map_err(io_err(&tmp))?;
            if self.fsync {
                f.sync_all().map_err(io_err(&tmp))?;
            }
        }
        fs::rename(&tmp, &bp).map_err(io_err(&bp))?;
        let lp = log_path(&self.dir);
        let mut ltmp = lp.clone().into_os_string();
        ltmp.push(".tmp");
        let ltmp = PathBuf::from(ltmp);
        {
            let mut f = private_file(&ltmp)?;
            f.write_all(&log_header(generation))
                .map_err(io_err(&ltmp))?;
            if self.fsync {
                f.sync_all().map_err(io_err(&ltmp))?;
            }
        }
        fs::rename(&ltmp, &lp).map_err(io_err(&lp))?;
        self.log = OpenOptions::new()
            .append(true)
            .open(&lp)
            .map_err(io_err(&lp))?;
        self.generation = generation;
        self.base_len = base.len() as u64 + 8;
        self.log_len = LOG_HEADER_LEN as u64;
        self.appended = 0;
        Ok(())
    }

    /// Removes the journal (a clean shutdown: nothing to resume).
    pub fn remove(self) {
        for p in [base_path(&self.dir), log_path(&self.dir)] {
            let _ = fs::remove_file(p);
        }
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("l2tpd-journal-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    fn fake_base() -> Vec<u8> {
        // A header over an empty payload opens (decoding is the core's business).
        let mut b = Vec::new();
        b.extend_from_slice(&snapshot::MAGIC);
        b.extend_from_slice(&snapshot::VERSION.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes());
        b.extend_from_slice(&crc32fast::hash(&[]).to_le_bytes());
        b
    }

    #[test]
    fn records_come_back_in_order_and_a_new_base_empties_the_log() {
        let d = dir("order");
        let mut j = Journal::create(&d, &fake_base(), false).unwrap();
        j.append(&[b"one".to_vec(), b"two".to_vec()]).unwrap();
        j.append(&[b"three".to_vec()]).unwrap();
        let l = load(&d).unwrap().unwrap();
        assert_eq!(
            l.records,
            vec![b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]
        );
        assert_eq!(l.base, fake_base());
        j.write_base(&fake_base()).unwrap();
        assert!(load(&d).unwrap().unwrap().records.is_empty());
        use std::os::unix::fs::PermissionsExt;
        for f in ["state.base", "state.log"] {
            let mode = fs::metadata(d.join(f)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{f} is the daemon's alone");
        }
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_torn_last_record_is_dropped_and_a_damaged_one_refuses_the_journal() {
        let d = dir("torn");
        let mut j = Journal::create(&d, &fake_base(), false).unwrap();
        j.append(&[b"whole".to_vec(), b"torn record".to_vec()])
            .unwrap();
        let lp = log_path(&d);
        let len = fs::metadata(&lp).unwrap().len();
        let f = OpenOptions::new().write(true).open(&lp).unwrap();
        f.set_len(len - 3).unwrap();
        let l = load(&d).unwrap().unwrap();
        assert_eq!(l.records, vec![b"whole".to_vec()]);
        assert_eq!(l.torn_tail, FRAME_LEN + b"torn record".len() - 3);
        // A flipped byte inside a complete record.
        let mut bytes = fs::read(&lp).unwrap();
        bytes[LOG_HEADER_LEN + FRAME_LEN] ^= 0xff;
        fs::write(&lp, &bytes).unwrap();
        let e = load(&d).unwrap_err();
        assert!(e.to_string().contains("checksum mismatch"), "{e}");
        discard(&d);
        assert!(load(&d).unwrap().is_none(), "moved aside");
        assert!(d.join("state.log.corrupt").exists());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_log_older_than_its_base_is_ignored() {
        let d = dir("gen");
        let mut j = Journal::create(&d, &fake_base(), false).unwrap();
        j.append(&[b"old".to_vec()]).unwrap();
        let old_log = fs::read(log_path(&d)).unwrap();
        j.write_base(&fake_base()).unwrap();
        // A compaction that died after the base's rename, before the log's.
        fs::write(log_path(&d), old_log).unwrap();
        assert!(load(&d).unwrap().unwrap().records.is_empty());
        let _ = fs::remove_dir_all(&d);
    }
}
