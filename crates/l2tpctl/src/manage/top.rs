//! `l2tpctl top`: a live table of the busiest sessions. Every interval it asks the daemon for
//! the session list (one connection kept open), turns the byte counters into rates against the
//! previous sample, and prints the sessions by traffic, heaviest first — redrawing the screen
//! on a terminal, one frame after another otherwise (like `top -b`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use l2tp_mgmt::{Client, Request, Response, SessionInfo};

use super::format::duration;
use super::CtlError;

/// What `top` was asked for.
#[derive(Debug, Clone, clap::Args)]
pub struct TopArgs {
    /// Seconds between refreshes (0.2 to 3600).
    #[arg(short = 'd', long, value_name = "SECS", default_value_t = 2.0)]
    pub interval: f64,
    /// Stop after this many frames [default: until interrupted on a terminal, 2 otherwise].
    #[arg(short = 'n', long, value_name = "N")]
    pub iterations: Option<u32>,
    /// Show at most this many sessions per frame.
    #[arg(short = 'l', long, value_name = "N", default_value_t = 20)]
    pub lines: usize,
}

/// A session's counters at one sample.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    rx_bytes: u64,
    tx_bytes: u64,
    uptime_s: u64,
}

/// The byte rates of one session between two samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Bytes per second received from the peer.
    pub rx: f64,
    /// Bytes per second sent to the peer.
    pub tx: f64,
}

/// The previous sample of every session, by local (tunnel, session) ids.
#[derive(Debug, Default)]
pub struct Sampler {
    last: HashMap<(u16, u16), Sample>,
    at: Option<Instant>,
}

impl Sampler {
    /// Records `list` taken at `now`; returns each session's rate since the previous sample
    /// (`None` for a session seen for the first time, or one whose ids now belong to a new
    /// session: its counters or uptime went back).
    pub fn sample(&mut self, now: Instant, list: &[SessionInfo]) -> Vec<Option<Rate>> {
        let dt = self
            .at
            .map(|t| now.saturating_duration_since(t).as_secs_f64());
        let mut next = HashMap::with_capacity(list.len());
        let rates = list
            .iter()
            .map(|s| {
                let cur = Sample {
                    rx_bytes: s.stats.rx_bytes,
                    tx_bytes: s.stats.tx_bytes,
                    uptime_s: s.uptime_s,
                };
                next.insert((s.tunnel, s.session), cur);
                let prev = self.last.get(&(s.tunnel, s.session))?;
                let dt = dt.filter(|d| *d > 0.0)?;
                let same = cur.rx_bytes >= prev.rx_bytes
                    && cur.tx_bytes >= prev.tx_bytes
                    && cur.uptime_s >= prev.uptime_s;
                same.then(|| Rate {
                    rx: (cur.rx_bytes - prev.rx_bytes) as f64 / dt,
                    tx: (cur.tx_bytes - prev.tx_bytes) as f64 / dt,
                })
            })
            .collect();
        self.last = next;
        self.at = Some(now);
        rates
    }
}

/// `1.2M`, `340k`, `12`: a byte count or rate in powers of 1000.
fn human(v: f64) -> String {
    match v {
        v if v >= 1e9 => format!("{:.1}G", v / 1e9),
        v if v >= 1e6 => format!("{:.1}M", v / 1e6),
        v if v >= 1e3 => format!("{:.1}k", v / 1e3),
        v => format!("{v:.0}"),
    }
}

/// One frame: a summary line, a header, then up to `limit` sessions by traffic (rate when
/// known, then total bytes), heaviest first.
pub fn frame(
    list: &[SessionInfo],
    rates: &[Option<Rate>],
    peers: &HashMap<u16, String>,
    limit: usize,
) -> String {
    let mut order: Vec<usize> = (0..list.len()).collect();
    let weight = |i: usize| {
        let s = &list[i];
        let r = rates[i].map(|r| r.rx + r.tx).unwrap_or(-1.0);
        (r, s.stats.rx_bytes.saturating_add(s.stats.tx_bytes))
    };
    order.sort_by(|a, b| {
        let (ra, ta) = weight(*a);
        let (rb, tb) = weight(*b);
        rb.total_cmp(&ra).then(tb.cmp(&ta))
    });
    let (rx, tx) = rates
        .iter()
        .flatten()
        .fold((0.0, 0.0), |(x, y), r| (x + r.rx, y + r.tx));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} sessions, receiving {}B/s, sending {}B/s",
        list.len(),
        human(rx),
        human(tx)
    );
    let _ = writeln!(
        out,
        "{:<13} {:<16} {:<15} {:<21} {:>8} {:>8} {:>9} {:>9} {:>9}",
        "SESSION", "USER", "ADDRESS", "PEER", "RX/s", "TX/s", "RX", "TX", "UPTIME"
    );
    for &i in order.iter().take(limit) {
        let s = &list[i];
        let rate = |f: fn(&Rate) -> f64| rates[i].map(|r| human(f(&r))).unwrap_or("-".into());
        let _ = writeln!(
            out,
            "{:<13} {:<16} {:<15} {:<21} {:>8} {:>8} {:>9} {:>9} {:>9}",
            format!("{}/{}", s.tunnel, s.session),
            s.user.as_deref().unwrap_or("-"),
            s.ipv4
                .map(|a| a.to_string())
                .or_else(|| s.ipv6.map(|a| a.to_string()))
                .unwrap_or("-".into()),
            peers.get(&s.tunnel).map(String::as_str).unwrap_or("-"),
            rate(|r| r.rx),
            rate(|r| r.tx),
            human(s.stats.rx_bytes as f64),
            human(s.stats.tx_bytes as f64),
            duration(s.uptime_s),
        );
    }
    out
}

/// Runs `top` against the daemon at `socket`, writing frames to `out`.
pub fn run(socket: &Path, args: &TopArgs, out: &mut dyn Write) -> Result<(), CtlError> {
    if !(0.2..=3600.0).contains(&args.interval) {
        return Err(CtlError::Usage(format!(
            "--interval: expected 0.2 to 3600 seconds, got {}",
            args.interval
        )));
    }
    let terminal = std::io::stdout().is_terminal();
    let iterations = args.iterations.or((!terminal).then_some(2));
    let mut client = Client::connect(socket).map_err(CtlError::Connection)?;
    let mut sampler = Sampler::default();
    let mut shown = 0u32;
    loop {
        let list = match client
            .request(&Request::ListSessions)
            .map_err(CtlError::Connection)?
        {
            Response::Sessions(v) => v,
            Response::Error { message } => return Err(CtlError::Daemon(message)),
            other => return Err(CtlError::Daemon(format!("unexpected answer {other:?}"))),
        };
        let peers: HashMap<u16, String> = match client.request(&Request::ListTunnels) {
            Ok(Response::Tunnels(ts)) => {
                ts.into_iter().map(|t| (t.local_id, t.peer_addr)).collect()
            }
            _ => HashMap::new(),
        };
        let rates = sampler.sample(Instant::now(), &list);
        let mut text = String::new();
        if terminal {
            // Home the cursor and clear the screen before each frame.
            text.push_str("\x1b[H\x1b[2J");
        } else if shown > 0 {
            text.push('\n');
        }
        text.push_str(&frame(&list, &rates, &peers, args.lines));
        out.write_all(text.as_bytes()).map_err(CtlError::Output)?;
        out.flush().map_err(CtlError::Output)?;
        shown += 1;
        if iterations.is_some_and(|n| shown >= n) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs_f64(args.interval));
    }
}
