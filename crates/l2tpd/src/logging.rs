//! Log output: plain text (colour only on a terminal) or one JSON object per line, at a
//! level that a reload can change while the daemon runs.

use std::sync::OnceLock;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

use crate::config::LogFormat;

/// Where the datapath's debug-mask messages go (`l2tp::data`), enabled at debug level.
const DEBUG_MASK_DIRECTIVE: &str = "l2tp::data=debug";

/// The running filter, replaced by [`set_level`]; `None` while `RUST_LOG` rules.
static LEVEL: OnceLock<Option<reload::Handle<EnvFilter, Registry>>> = OnceLock::new();

fn filter(level: &str) -> EnvFilter {
    // The datapath's debug-mask messages (`l2tpctl set … debug data,seq`) are rate-limited
    // and only emitted when an operator set a mask: they reach the log at any level.
    EnvFilter::new(level).add_directive(DEBUG_MASK_DIRECTIVE.parse().expect("a valid directive"))
}

/// Sends log lines to standard error at `level` (`RUST_LOG` overrides it), as `format`.
pub fn init(level: &str, format: LogFormat) {
    let from_env = std::env::var("RUST_LOG").ok().and_then(|v| {
        EnvFilter::try_new(v)
            .ok()
            .map(|f| f.add_directive(DEBUG_MASK_DIRECTIVE.parse().expect("a valid directive")))
    });
    let env_rules = from_env.is_some();
    let (filter, handle) = reload::Layer::new(from_env.unwrap_or_else(|| filter(level)));
    // Colour only on a terminal: a file, a pipe or the journal gets plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    let (text, json) = match format {
        LogFormat::Text => (
            Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(colour),
            ),
            None,
        ),
        LogFormat::Json => (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_writer(std::io::stderr),
            ),
        ),
    };
    let ok = tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .try_init()
        .is_ok();
    if ok {
        let _ = LEVEL.set((!env_rules).then_some(handle));
    }
}

/// Changes the level of the running daemon's log (a reload). Returns false when `RUST_LOG`
/// set the filter (it keeps ruling) or logging was not set up here.
pub fn set_level(level: &str) -> bool {
    match LEVEL.get() {
        Some(Some(h)) => h.reload(filter(level)).is_ok(),
        _ => false,
    }
}
