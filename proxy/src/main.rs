//! `terra-connect-proxy`: the proxy as a program. Configuration comes from the environment
//! (see README's table); with no Terra credentials it runs against the built-in sandbox.

use terra_connect_proxy::config::Config;
use terra_connect_proxy::server;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("terra-connect-proxy: forwards terra-connect's requests to Terra with your credentials.");
        println!("With no TERRA_DEV_ID / TERRA_API_KEY it runs the built-in Terra sandbox.\n");
        println!("Settings (environment variable, or the matching flag followed by a value):");
        for (variable, flag) in terra_connect_proxy::config::SETTINGS {
            println!("  {flag:<24} {variable}");
        }
        return;
    }
    let flags = match terra_connect_proxy::config::parse_flags(&args) {
        Ok(flags) => flags,
        Err(e) => {
            eprintln!("terra-connect-proxy: invalid configuration: {e}");
            std::process::exit(2);
        }
    };
    let setting = |name: &str| {
        flags.iter().find(|(v, _)| *v == name).map(|(_, v)| v.clone()).or_else(|| std::env::var(name).ok())
    };
    let json_logs = setting("TERRA_CONNECT_LOG_FORMAT").is_some_and(|v| v == "json");
    let filter = setting("RUST_LOG")
        .and_then(|f| tracing_subscriber::EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info"));
    let subscriber = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json_logs {
        subscriber.json().init();
    } else {
        subscriber.init();
    }

    // The same lookup (flag over variable) for the whole configuration.
    let config = match Config::from_vars(setting) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("terra-connect-proxy: invalid configuration: {e}");
            std::process::exit(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(config.addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("terra-connect-proxy: cannot listen on {} (TERRA_CONNECT_ADDR): {e}", config.addr);
            std::process::exit(1);
        }
    };
    let listening = listener.local_addr().expect("a bound listener has an address");
    let (app, sandbox) = match server::app(&config, listening).await {
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
    tracing::warn!(
        "no reference-id hook: the binary takes reference_id from the browser's request body and trusts it; \
         mount the library with ProxyBuilder::reference_id to decide it from the app's own login session"
    );
    if config.allowed_redirects.is_none() && sandbox.is_none() {
        tracing::warn!("TERRA_CONNECT_ALLOWED_REDIRECTS is not set: any https redirect URL is accepted");
    }
    let addr = listening;
    // The one line on stdout: scripts and tests read the address from it.
    println!("terra-connect-proxy listening on http://{addr}");
    // Connect info gives the rate limit each client's address.
    let service = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    if let Err(e) = axum::serve(listener, service).with_graceful_shutdown(shutdown_signal()).await {
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
