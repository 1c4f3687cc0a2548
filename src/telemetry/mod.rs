//! Tracing setup: human-readable logs by default, JSON by config, to any sink.

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::config::LogSettings;

/// Builds the subscriber; `RUST_LOG` overrides the configured level.
#[must_use]
pub fn subscriber<W>(log: &LogSettings, sink: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    build(log, sink, false)
}

fn build<W>(log: &LogSettings, sink: W, colour: bool) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(sink);
    if log.json {
        Box::new(builder.json().finish())
    } else {
        Box::new(builder.with_target(false).with_ansi(colour).finish())
    }
}

/// Installs the subscriber for the process, writing to stderr: in colour only when
/// stderr is a terminal (a file or a pipe gets plain text). A second call is ignored.
pub fn init(log: &LogSettings) {
    use std::io::IsTerminal;
    let colour = std::io::stderr().is_terminal();
    let _ = tracing::subscriber::set_global_default(build(log, std::io::stderr, colour));
}

pub mod metrics;
pub mod status;
