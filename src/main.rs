//! The `chat-server` binary: load `.env`, read settings, bind, serve until Ctrl-C or SIGTERM.

use std::process::ExitCode;

use chat_server::config::{LogFormat, Settings};

/// mimalloc instead of glibc's malloc: a chat server allocates and frees small buffers per
/// frame from several threads, where glibc's arenas showed high in a Redis fan-out
/// profile (`perf`, see docs/performance.md) and fragment with many idle connections. Its
/// version 2 (Cargo.toml says why).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // A missing .env is normal; the environment wins over the file. An unreadable or
    // malformed one stops the server: dotenvy drops the bad line and every line after it.
    let dotenv = chat_server::config::load_dotenv();
    let settings = Settings::from_env();
    let format = settings.as_ref().map_or(LogFormat::Text, |s| s.log_format);
    chat_server::telemetry::init(format);
    if let Err(e) = dotenv {
        tracing::error!("{e}");
        return ExitCode::FAILURE;
    }
    let settings = match settings {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    // WORKER_THREADS=1 is a single-threaded runtime: no work stealing and no wake-ups across
    // threads, the most work per CPU-second when the server has (about) one core to itself.
    let runtime = match settings.worker_threads {
        1 => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        0 => tokio::runtime::Builder::new_multi_thread().enable_all().build(),
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
    };
    match runtime {
        Ok(rt) => rt.block_on(serve(settings)),
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> ExitCode {
    let listener = match chat_server::transport::server::bind(&settings.host, settings.port).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("cannot listen on {}:{}: {e}", settings.host, settings.port);
            return ExitCode::FAILURE;
        }
    };
    // `run` says "listening" once its store is open, not before.
    match chat_server::run(listener, settings, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
