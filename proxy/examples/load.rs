//! Load benchmark (not a test): N concurrent clients send a fixed number of session requests
//! through the proxy binary to the Terra sandbox, then the same straight to the sandbox.
//! Prints requests/s, p50/p99 latency, errors and the proxy's peak RSS, and the ratios.
//!
//! `cargo run --release -p terra-connect-proxy --example load -- PROXY_BINARY [CLIENTS] [REQUESTS]`
//! (scripts/bench-proxy.sh builds and runs it).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Figures {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    errors: usize,
}

async fn run(url: &str, headers: &[(&str, String)], clients: usize, requests: usize) -> Figures {
    let client = reqwest::Client::builder().pool_max_idle_per_host(clients).build().unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, next, errors, url) = (client.clone(), next.clone(), errors.clone(), url.to_owned());
        let headers: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                let mut request = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(r#"{"reference_id":"bench-user","auth_success_redirect_url":"https://app.example/done?tc_outcome=success"}"#);
                for (k, v) in &headers {
                    request = request.header(k, v);
                }
                let t = Instant::now();
                let ok = match request.send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                latencies.push(t.elapsed());
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    let mut all = Vec::with_capacity(requests);
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed();
    all.sort();
    let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    Figures {
        per_second: all.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
        errors: errors.load(Ordering::Relaxed),
    }
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let binary = args.first().expect("usage: load PROXY_BINARY [CLIENTS] [REQUESTS]").clone();
    let clients: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(64);
    let requests: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20_000);

    let sandbox = terra_connect_proxy::sandbox::spawn(false, None).await.expect("sandbox");
    let mut proxy = Command::new(&binary)
        .env_clear()
        .env("TERRA_DEV_ID", &sandbox.credentials.dev_id)
        .env("TERRA_API_KEY", &sandbox.credentials.api_key)
        .env("TERRA_API_BASE", &sandbox.api_base)
        .env("TERRA_CONNECT_ADDR", "127.0.0.1:0")
        .env("TERRA_CONNECT_ALLOWED_REDIRECTS", "https://app.example")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the proxy binary");
    let mut line = String::new();
    BufReader::new(proxy.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let proxy_url = line.trim().rsplit(' ').next().unwrap().to_owned();

    let through_proxy = format!("{proxy_url}/api/terra/auth/authenticateUser?resource=FITBIT");
    let direct = format!("{}/auth/authenticateUser?resource=FITBIT", sandbox.api_base);
    let credentials =
        [("dev-id", sandbox.credentials.dev_id.clone()), ("x-api-key", sandbox.credentials.api_key.clone())];

    // Warm both paths (connections, the provider list cache).
    run(&through_proxy, &[], clients, 1_000).await;
    run(&direct, &credentials, clients, 1_000).await;

    let d = run(&direct, &credentials, clients, requests).await;
    let p = run(&through_proxy, &[], clients, requests).await;
    // One client at a time: no queueing, so the difference is the proxy's own work.
    let d1 = run(&direct, &credentials, 1, requests / 10).await;
    let p1 = run(&through_proxy, &[], 1, requests / 10).await;
    let rss = peak_rss_kib(proxy.id());
    let _ = proxy.kill();
    let _ = proxy.wait();

    println!("load benchmark: {clients} concurrent clients, {requests} POST /auth/authenticateUser each run");
    println!("{:<26} {:>10} {:>9} {:>9} {:>7}", "path", "req/s", "p50 ms", "p99 ms", "errors");
    println!("{:<26} {:>10.0} {:>9.3} {:>9.3} {:>7}", "sandbox direct", d.per_second, ms(d.p50), ms(d.p99), d.errors);
    println!("{:<26} {:>10.0} {:>9.3} {:>9.3} {:>7}", "proxy -> sandbox", p.per_second, ms(p.p50), ms(p.p99), p.errors);
    println!("proxy/direct throughput ratio at {clients} clients: {:.2}", p.per_second / d.per_second);
    println!(
        "latency the proxy adds at {clients} clients: p50 {:.3} ms, p99 {:.3} ms",
        ms(p.p50) - ms(d.p50),
        ms(p.p99) - ms(d.p99)
    );
    println!(
        "{:<26} {:>10.0} {:>9.3} {:>9.3} {:>7}",
        "1 client: sandbox direct",
        d1.per_second,
        ms(d1.p50),
        ms(d1.p99),
        d1.errors
    );
    println!(
        "{:<26} {:>10.0} {:>9.3} {:>9.3} {:>7}",
        "1 client: proxy -> sandbox",
        p1.per_second,
        ms(p1.p50),
        ms(p1.p99),
        p1.errors
    );
    println!(
        "latency the proxy adds with 1 client: p50 {:.3} ms, p99 {:.3} ms",
        ms(p1.p50) - ms(d1.p50),
        ms(p1.p99) - ms(d1.p99)
    );
    match rss {
        Some(kib) => println!("proxy peak RSS: {:.1} MiB", kib as f64 / 1024.0),
        None => println!("proxy peak RSS: unavailable (no /proc)"),
    }
    if p.errors + d.errors + p1.errors + d1.errors > 0 {
        std::process::exit(1);
    }
}
