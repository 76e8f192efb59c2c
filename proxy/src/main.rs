//! `terra-connect-proxy`: the proxy as a program. Configuration comes from the environment
//! (see README's table); with no Terra credentials it runs against the built-in sandbox.

use terra_connect_proxy::config::Config;
use terra_connect_proxy::server;

#[tokio::main]
async fn main() {
    let json_logs = std::env::var("TERRA_CONNECT_LOG_FORMAT").is_ok_and(|v| v == "json");
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json_logs {
        subscriber.json().init();
    } else {
        subscriber.init();
    }

    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("terra-connect-proxy: invalid configuration: {e}");
            std::process::exit(2);
        }
    };
    let (app, sandbox) = match server::app(&config).await {
        Ok(built) => built,
        Err(e) => {
            eprintln!("terra-connect-proxy: could not start the Terra sandbox: {e}");
            std::process::exit(1);
        }
    };
    if let Some(sandbox) = &sandbox {
        tracing::warn!(
            api_base = %sandbox.api_base,
            "SANDBOX MODE: TERRA_DEV_ID and TERRA_API_KEY are not set, so no real Terra account is used; \
             sessions come from the built-in Terra sandbox"
        );
    }
    let listener = match tokio::net::TcpListener::bind(config.addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!(
                "terra-connect-proxy: cannot listen on {} (TERRA_CONNECT_ADDR): {e}",
                config.addr
            );
            std::process::exit(1);
        }
    };
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    // The one line on stdout: scripts and tests read the address from it.
    println!("terra-connect-proxy listening on http://{addr}");
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
    {
        eprintln!("terra-connect-proxy: server error: {e}");
        std::process::exit(1);
    }
}

/// Resolves on SIGINT or SIGTERM; in-flight requests then finish, new connections are refused.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}
