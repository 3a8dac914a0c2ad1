//! The `main` of a node binary: logging, runtime, listener, signals.

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

/// Runs a node: sets up logging (`CELLCHAIN_LOG`, else `default_log`; colours
/// only on a terminal, so log files stay plain text), loads the configuration
/// with `load` (exit 2 with the reason when it fails), binds its `listen`
/// address and runs `run` until SIGINT or SIGTERM (exit 1 on an error).
pub fn run_node<C, E, F>(
    default_log: &str,
    load: impl FnOnce() -> Result<C, E>,
    listen: impl FnOnce(&C) -> SocketAddr,
    run: impl FnOnce(C, tokio::net::TcpListener, ShutdownSignal) -> F,
) -> ExitCode
where
    E: std::fmt::Display,
    F: Future<Output = anyhow::Result<()>>,
{
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("CELLCHAIN_LOG")
                .unwrap_or_else(|_| EnvFilter::new(default_log)),
        )
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let config = match load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let address = listen(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {address}: {e}"))?;
        run(config, listener, shutdown_signal()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Completes on SIGINT or SIGTERM.
pub type ShutdownSignal = std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

fn shutdown_signal() -> ShutdownSignal {
    Box::pin(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received; shutting down"),
            _ = term.recv() => tracing::info!("SIGTERM received; shutting down"),
        }
    })
}
