//! `kinedesk`: the desk window and its command line.

use clap::Parser;

fn main() -> std::process::ExitCode {
    init_stderr_logging();
    match kinedesk::cli::run(kinedesk::cli::Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Log records go to stderr; `KINEDESK_LOG=debug` (or error, warn, info, trace, off) sets the level. Default: warn
/// for dependencies, info for KineDesk itself.
fn init_stderr_logging() {
    struct Stderr {
        level: log::LevelFilter,
    }
    impl log::Log for Stderr {
        fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
            metadata.level() <= self.level
                || (metadata.target().starts_with("kinedesk") && metadata.level() <= log::Level::Info)
        }
        fn log(&self, record: &log::Record<'_>) {
            if self.enabled(record.metadata()) {
                eprintln!("[{} {}] {}", record.level(), record.target(), record.args());
            }
        }
        fn flush(&self) {}
    }
    let level = std::env::var("KINEDESK_LOG")
        .ok()
        .and_then(|value| value.parse::<log::LevelFilter>().ok())
        .unwrap_or(log::LevelFilter::Warn);
    let logger = Box::leak(Box::new(Stderr { level }));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(level.max(log::LevelFilter::Info));
    }
}
