//! `terra-connect-proxy`: the proxy as a program. Configuration comes from flags or the
//! environment (`--help`, README's table); with no Terra credentials it runs against the
//! built-in sandbox.

mod app;
mod cli;
mod serve;
#[cfg(feature = "sandbox")]
mod static_guard;

use std::io::IsTerminal;

use clap::Parser;

#[tokio::main]
async fn main() {
    // --help and --version print and exit 0; an unknown flag exits 2.
    let args = cli::Args::parse();
    let config = match cli::Config::from_args(&args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("terra-connect-proxy: invalid configuration: {e}");
            std::process::exit(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if config.json_logs {
        subscriber.json().init();
    } else {
        subscriber.init();
    }

    let listener = match tokio::net::TcpListener::bind(config.addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("terra-connect-proxy: cannot listen on {} (TERRA_CONNECT_ADDR): {e}", config.addr);
            std::process::exit(1);
        }
    };
    let listening = listener.local_addr().expect("a bound listener has an address");
    let (app, mode) = match app::app(&config, listening).await {
        Ok(built) => built,
        Err(e) => {
            eprintln!("terra-connect-proxy: {e}");
            std::process::exit(1);
        }
    };
    if let Some(api_base) = &mode.sandbox_api_base {
        tracing::warn!(
            api_base = %api_base,
            "SANDBOX MODE: TERRA_DEV_ID and TERRA_API_KEY are not set, so no real Terra account is used; \
             sessions come from the built-in Terra sandbox"
        );
    }
    tracing::warn!(
        "no reference-id hook: the binary takes reference_id from the browser's request body and trusts it; \
         mount the library with ProxyBuilder::reference_id to decide it from the app's own login session"
    );
    if config.allowed_redirects.is_none() && mode.sandbox_api_base.is_none() {
        tracing::warn!("TERRA_CONNECT_ALLOWED_REDIRECTS is not set: any https redirect URL is accepted");
    }
    if mode.webhooks && config.webhook_forward_url.is_none() {
        tracing::warn!(
            "TERRA_CONNECT_WEBHOOK_FORWARD_URL is not set: Terra sends every event of the account here; \
             data events (activity, sleep, ...) are logged and dropped"
        );
    }
    if config.rate_limit.is_some() && config.trusted_proxies.is_empty() {
        tracing::info!("TERRA_CONNECT_TRUSTED_PROXIES is not set: the rate limit keys on the peer address");
    }
    // The one line on stdout: scripts and tests read the address from it.
    println!("terra-connect-proxy listening on http://{listening}");
    let limits = serve::Limits {
        max_connections: config.max_connections,
        header_timeout: config.header_timeout,
        idle_timeout: config.idle_timeout,
    };
    serve::serve(listener, app, limits, shutdown_signal()).await;
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
