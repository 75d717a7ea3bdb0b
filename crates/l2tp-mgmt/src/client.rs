//! A blocking management client: connect to the daemon's socket, send requests, read answers.

use crate::{decode_line, encode_line, read_line_bounded, Request, Response, MAX_RESPONSE_LINE};
use std::io::{BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;
use thiserror::Error;

/// Why a management request failed (the daemon's own refusals are [`Response::Error`], not this).
#[derive(Debug, Error)]
pub enum MgmtError {
    /// Could not reach the daemon.
    #[error("cannot connect to l2tpd at {path}: {source} (is the daemon running? use --socket to pick another path)")]
    Connect {
        /// The socket path tried.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The connection failed while talking.
    #[error("management connection: {0}")]
    Io(#[from] std::io::Error),
    /// The daemon closed the connection without answering.
    #[error("l2tpd closed the connection without answering")]
    Closed,
    /// A message could not be encoded or decoded.
    #[error("malformed management message: {0}")]
    Json(#[from] serde_json::Error),
}

/// A connection to the daemon's management socket.
#[derive(Debug)]
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    /// How long a request may wait for its answer by default.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// Connects to the daemon listening at `path`.
    pub fn connect(path: impl AsRef<Path>) -> Result<Self, MgmtError> {
        let path = path.as_ref();
        let stream = UnixStream::connect(path).map_err(|source| MgmtError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
        stream.set_read_timeout(Some(Self::DEFAULT_TIMEOUT))?;
        stream.set_write_timeout(Some(Self::DEFAULT_TIMEOUT))?;
        let writer = stream.try_clone()?;
        Ok(Client {
            reader: BufReader::new(stream),
            writer,
        })
    }

    /// Changes how long [`Client::request`] waits for an answer.
    pub fn set_timeout(&mut self, timeout: Duration) -> Result<(), MgmtError> {
        self.writer.set_read_timeout(Some(timeout))?;
        self.writer.set_write_timeout(Some(timeout))?;
        Ok(())
    }

    /// Sends one request and waits for its answer.
    pub fn request(&mut self, req: &Request) -> Result<Response, MgmtError> {
        let line = encode_line(req)?;
        self.writer.write_all(line.as_bytes())?;
        self.writer.flush()?;
        match read_line_bounded(&mut self.reader, MAX_RESPONSE_LINE)? {
            None => Err(MgmtError::Closed),
            Some(l) => Ok(decode_line(&l)?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::os::unix::net::UnixListener;

    fn temp_sock(name: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("l2tp-mgmt-{}-{name}.sock", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p
    }

    #[test]
    fn request_gets_the_line_the_server_writes() {
        let path = temp_sock("ok");
        let listener = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            let mut line = String::new();
            BufReader::new(&s).read_line(&mut line).unwrap();
            (&s).write_all(b"{\"response\":\"ok\"}\n").unwrap();
            line
        });
        let mut c = Client::connect(&path).unwrap();
        assert_eq!(c.request(&Request::Stats).unwrap(), Response::Ok);
        assert_eq!(server.join().unwrap(), "{\"request\":\"stats\"}\n");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn closed_connection_and_garbage_are_errors() {
        let path = temp_sock("closed");
        let listener = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            drop(s);
            let (s, _) = listener.accept().unwrap();
            let mut line = String::new();
            BufReader::new(&s).read_line(&mut line).unwrap();
            (&s).write_all(b"garbage\n").unwrap();
        });
        let mut c = Client::connect(&path).unwrap();
        assert!(matches!(
            c.request(&Request::ListTunnels),
            Err(MgmtError::Closed) | Err(MgmtError::Io(_))
        ));
        let mut c = Client::connect(&path).unwrap();
        assert!(matches!(
            c.request(&Request::ListTunnels),
            Err(MgmtError::Json(_))
        ));
        server.join().unwrap();
        std::fs::remove_file(&path).unwrap();
        let e = Client::connect(&path).unwrap_err();
        assert!(matches!(e, MgmtError::Connect { .. }));
        assert!(e.to_string().contains("is the daemon running?"), "{e}");
    }
}
