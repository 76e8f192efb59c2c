//! Benchmark (not a test) of several instances sharing one Redis. Starts a `redis-server` on
//! a free loopback port and four proxy binaries (each on its own built-in sandbox):
//! A and B on Redis, M on memory with the same rate limit, N on memory without one. Prints:
//!
//! - the latency from a signed `auth` webhook posted at A to the answer of the long poll
//!   (`GET /connection/webhook`) waiting at B (p50, p99), beside the same within M alone;
//! - the session route (`POST /auth/authenticateUser`, one client, requests interleaved
//!   N, M, A in the same run) with no rate limit, the memory one and the Redis one, and what
//!   the Redis-backed limit adds over the memory one.
//!
//! `bench_redis PROXY_BINARY [ROUNDS] [REQUESTS]` (defaults 300 and 2000);
//! scripts/bench-redis.sh builds and runs it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use terra_connect_proxy::webhook::signature_header;

const SECRET: &str = "bench-webhook-secret";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn redis_server() -> (Killed, String) {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server runs (Debian's redis-server package; scripts/bench-redis.sh installs it)");
    let started = Instant::now();
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let mut reply = [0u8; 5];
            if s.write_all(b"PING\r\n").is_ok() && s.read(&mut reply).is_ok_and(|n| reply[..n].starts_with(b"+PONG")) {
                break;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(10), "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (Killed(child), format!("redis://127.0.0.1:{port}/0"))
}

fn proxy(binary: &str, env: &[(&str, &str)]) -> (Killed, String) {
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("TERRA_CONNECT_ADDR", "127.0.0.1:0")
        .env("TERRA_WEBHOOK_SECRET", SECRET)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("the proxy binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().rsplit(' ').next().unwrap_or_default().to_owned();
    assert!(url.starts_with("http://"), "no address printed: {line:?}");
    (Killed(child), url)
}

fn quantiles(mut all: Vec<Duration>) -> (f64, f64) {
    all.sort();
    let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)].as_secs_f64() * 1000.0;
    (at(0.50), at(0.99))
}

async fn wake_latency(http: &reqwest::Client, poster: &str, waiter: &str, rounds: usize) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let user_id = format!("bench-user-{round}-{}", uuid::Uuid::new_v4().simple());
        let poll = http
            .get(format!(
                "{waiter}/api/terra/connection/webhook?user_id={user_id}&reference_id=bench-ref&wait_ms=10000"
            ))
            .send();
        let poll = tokio::spawn(poll);
        tokio::time::sleep(Duration::from_millis(30)).await; // the long poll is waiting at the store
        let body = serde_json::json!({"type": "auth", "status": "success", "reference_id": "bench-ref",
            "user": {"user_id": user_id, "provider": "FITBIT", "reference_id": "bench-ref"}})
        .to_string();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
        let signature = signature_header(SECRET.as_bytes(), now, body.as_bytes());
        let started = Instant::now();
        let posted = http
            .post(format!("{poster}/api/terra/webhook"))
            .header("content-type", "application/json")
            .header("x-terra-signature", signature)
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(posted.status().is_success(), "webhook answered {}", posted.status());
        let answer = poll.await.unwrap().unwrap();
        latencies.push(started.elapsed());
        assert_eq!(answer.status(), 200, "the long poll was not confirmed");
    }
    latencies
}

async fn session(http: &reqwest::Client, proxy: &str) -> Duration {
    let started = Instant::now();
    let answer = http
        .post(format!("{proxy}/api/terra/auth/authenticateUser?resource=FITBIT"))
        .header("content-type", "application/json")
        .body(r#"{"reference_id":"bench-user","auth_success_redirect_url":"https://app.example/done?tc_outcome=success"}"#)
        .send()
        .await
        .unwrap();
    let ok = answer.status().is_success();
    let _ = answer.bytes().await;
    assert!(ok, "a session request failed");
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let binary = args.get(1).expect("usage: bench_redis PROXY_BINARY [ROUNDS] [REQUESTS]").clone();
    let rounds: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(300);
    let requests: usize = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(2000);

    let (_redis, redis_url) = redis_server();
    let limit = [("TERRA_CONNECT_RATE_LIMIT", "100000000")];
    let with_redis = [limit[0], ("TERRA_CONNECT_REDIS_URL", redis_url.as_str())];
    let (_a, a) = proxy(&binary, &with_redis);
    let (_b, b) = proxy(&binary, &with_redis);
    let (_m, m) = proxy(&binary, &limit);
    let (_n, n) = proxy(&binary, &[]);
    let http = reqwest::Client::builder().pool_max_idle_per_host(4).build().unwrap();

    // Warm-up: connections, the sandboxes' integration lists, Redis's script cache.
    for target in [&n, &m, &a, &b] {
        for _ in 0..20 {
            session(&http, target).await;
        }
    }
    wake_latency(&http, &a, &b, 10).await;

    let across = wake_latency(&http, &a, &b, rounds).await;
    let alone = wake_latency(&http, &m, &m, rounds).await;
    let (mut none, mut memory, mut redis) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..requests {
        none.push(session(&http, &n).await);
        memory.push(session(&http, &m).await);
        redis.push(session(&http, &a).await);
    }

    let (p50, p99) = quantiles(across);
    println!("webhook at A -> long poll answered at B (Redis, {rounds} rounds): p50 {p50:.2} ms, p99 {p99:.2} ms");
    let (p50, p99) = quantiles(alone);
    println!("webhook -> long poll within one memory instance (reference):  p50 {p50:.2} ms, p99 {p99:.2} ms");
    println!("session route, 1 client, {requests} requests per proxy, interleaved:");
    let (n50, n99) = quantiles(none);
    let (m50, m99) = quantiles(memory);
    let (r50, r99) = quantiles(redis);
    println!("  no rate limit:          p50 {n50:.3} ms, p99 {n99:.3} ms");
    println!("  memory rate limit:      p50 {m50:.3} ms, p99 {m99:.3} ms");
    println!("  Redis rate limit:       p50 {r50:.3} ms, p99 {r99:.3} ms");
    println!("  Redis adds over memory: p50 {:+.3} ms, p99 {:+.3} ms", r50 - m50, r99 - m99);
}
