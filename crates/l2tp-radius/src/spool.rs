//! A bounded on-disk spool for accounting Stops no server took, replayed after a restart so
//! billing is not lost. One file per record, written to a temporary name and renamed, so a
//! crash leaves either the whole record or none. This is I/O: the shell owns it.
//!
//! File format: 8 octets of seconds since the Unix epoch (when the event happened, for
//! Acct-Delay-Time on replay), then the record's attributes as on the wire.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::packet::{Attr, Packet, HEADER_LEN};
use crate::Code;

/// A record read back from the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spooled {
    /// Name of its file (pass to [`Spool::remove`] once a server took it).
    pub key: String,
    /// When the event happened, seconds since the Unix epoch.
    pub event_time: u64,
    /// Its attributes.
    pub attrs: Vec<Attr>,
}

/// The spool directory.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_records: usize,
    next: u64,
    /// Records refused because the spool was full (lost billing: alert on it).
    pub dropped: u64,
    /// Files that could not be parsed (moved aside as `*.bad`).
    pub corrupt: u64,
}

/// Why a record could not be spooled.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// Already `max_records` records waiting.
    #[error("spool full")]
    Full,
    /// The record does not encode.
    #[error("record does not encode: {0}")]
    Encode(#[from] crate::ApiError),
    /// The file system.
    #[error("spool I/O: {0}")]
    Io(#[from] io::Error),
}

impl Spool {
    /// Opens (creating) a spool directory holding at most `max_records` records.
    pub fn open(dir: &Path, max_records: usize) -> io::Result<Spool> {
        fs::create_dir_all(dir)?;
        let mut s = Spool {
            dir: dir.to_path_buf(),
            max_records,
            next: 0,
            dropped: 0,
            corrupt: 0,
        };
        s.next = s
            .keys()?
            .iter()
            .filter_map(|k| k.parse::<u64>().ok())
            .max()
            .map_or(0, |m| m + 1);
        Ok(s)
    }

    fn keys(&self) -> io::Result<Vec<String>> {
        let mut v: Vec<String> = fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.len() == 20 && n.bytes().all(|b| b.is_ascii_digit()))
            .collect();
        v.sort();
        Ok(v)
    }

    /// Records waiting.
    pub fn len(&self) -> io::Result<usize> {
        Ok(self.keys()?.len())
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Stores one record.
    pub fn push(&mut self, event_time: u64, attrs: &[Attr]) -> Result<String, SpoolError> {
        if self.len()? >= self.max_records {
            self.dropped += 1;
            return Err(SpoolError::Full);
        }
        let mut p = Packet::new(Code::ACCOUNTING_REQUEST, 0, [0; 16]);
        p.attrs = attrs.to_vec();
        let enc = p.encode()?;
        let mut data = event_time.to_be_bytes().to_vec();
        data.extend_from_slice(&enc[HEADER_LEN..]);
        let key = format!("{:020}", self.next);
        self.next += 1;
        let tmp = self.dir.join(format!("{key}.tmp"));
        fs::write(&tmp, &data)?;
        fs::File::open(&tmp)?.sync_all()?;
        fs::rename(&tmp, self.dir.join(&key))?;
        Ok(key)
    }

    /// Every record, oldest first. Unparsable files are renamed `*.bad` and counted.
    pub fn load(&mut self) -> io::Result<Vec<Spooled>> {
        let mut out = Vec::new();
        for key in self.keys()? {
            let path = self.dir.join(&key);
            let data = fs::read(&path)?;
            match parse(&data) {
                Some((event_time, attrs)) => out.push(Spooled {
                    key,
                    event_time,
                    attrs,
                }),
                None => {
                    self.corrupt += 1;
                    fs::rename(&path, self.dir.join(format!("{key}.bad")))?;
                }
            }
        }
        Ok(out)
    }

    /// Forgets a record a server acknowledged.
    pub fn remove(&mut self, key: &str) -> io::Result<()> {
        fs::remove_file(self.dir.join(key))
    }
}

fn parse(data: &[u8]) -> Option<(u64, Vec<Attr>)> {
    let t = u64::from_be_bytes(data.get(..8)?.try_into().ok()?);
    let body = &data[8..];
    let mut pkt = vec![Code::ACCOUNTING_REQUEST.0, 0];
    pkt.extend_from_slice(&u16::try_from(HEADER_LEN + body.len()).ok()?.to_be_bytes());
    pkt.extend_from_slice(&[0; 16]);
    pkt.extend_from_slice(body);
    Some((t, Packet::decode(&pkt).ok()?.attrs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AttrType;

    fn tmpdir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("l2tp-radius-spool-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn survives_reopen_bounded_and_skips_corrupt() {
        let d = tmpdir("a");
        let rec = vec![
            Attr::u32(AttrType::ACCT_STATUS_TYPE, 2),
            Attr::new(AttrType::ACCT_SESSION_ID, "x"),
        ];
        {
            let mut s = Spool::open(&d, 2).unwrap();
            s.push(100, &rec).unwrap();
            s.push(200, &rec).unwrap();
            assert!(matches!(s.push(300, &rec), Err(SpoolError::Full)));
            assert_eq!(s.dropped, 1);
        }
        fs::write(d.join(format!("{:020}", 99)), [1, 2, 3]).unwrap();
        let mut s = Spool::open(&d, 10).unwrap();
        let all = s.load().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(s.corrupt, 1);
        assert_eq!(all[0].event_time, 100);
        assert_eq!(all[1].attrs, rec);
        s.remove(&all[0].key).unwrap();
        assert_eq!(s.len().unwrap(), 1);
        // New keys continue after the highest existing one, so order is kept.
        let k = s.push(400, &rec).unwrap();
        assert!(k > all[1].key);
        fs::remove_dir_all(&d).unwrap();
    }
}
