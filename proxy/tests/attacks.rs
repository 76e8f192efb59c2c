//! The attacks of issue 10 against the release-shaped binary over loopback, each bounded in
//! count and time: webhook CPU and memory, slow and idle connections, credential echoes, a
//! huge upstream answer, time-window overflow, X-Forwarded-For spoofing, a timing oracle and
//! the demo's static files.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::standin::{self, Behaviour};
use common::{client, ProxyProcess, API_KEY, DEV_ID};
use serde_json::{json, Value};

const SECRET: &str = "whsec_attacks";

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn proxy(api_base: &str, extra: &[(&str, &str)]) -> ProxyProcess {
    let mut env = vec![
        ("TERRA_DEV_ID", DEV_ID),
        ("TERRA_API_KEY", API_KEY),
        ("TERRA_API_BASE", api_base),
        ("TERRA_WEBHOOK_SECRET", SECRET),
        ("RUST_LOG", "info"),
    ];
    env.extend_from_slice(extra);
    ProxyProcess::start(&env)
}

fn addr(proxy: &ProxyProcess) -> String {
    proxy.url.trim_start_matches("http://").to_owned()
}

async fn healthz_ms(proxy: &ProxyProcess) -> u128 {
    let started = Instant::now();
    let r = reqwest::Client::new().get(format!("{}/healthz", proxy.url)).timeout(Duration::from_secs(5)).send().await;
    assert_eq!(r.expect("healthz answers").status(), 200);
    started.elapsed().as_millis()
}

#[tokio::test]
async fn twenty_thousand_empty_v1_values_cost_nothing() {
    let proxy = proxy("http://127.0.0.1:9/api/v2", &[]);
    let header = format!("t={},{}", now(), "v1=,".repeat(20_000));
    let body = vec![b'x'; 1024 * 1024];
    let started = Instant::now();
    for _ in 0..5 {
        let response = client()
            .post(format!("{}/api/terra/webhook", proxy.url))
            .header("x-terra-signature", &header)
            .body(body.clone())
            .send()
            .await;
        // 401 at once (hyper may close before the whole body is sent: either is a refusal).
        if let Ok(r) = response {
            assert_eq!(r.status(), 401);
        }
    }
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    assert!(healthz_ms(&proxy).await < 1000);
}

#[test]
fn a_bad_signature_header_is_refused_before_the_body_arrives() {
    let proxy = proxy("http://127.0.0.1:9/api/v2", &[]);
    for header in ["", "x-terra-signature: t=1,v1=zz\r\n", &format!("x-terra-signature: t={},v1=\r\n", now())] {
        let mut stream = TcpStream::connect(addr(&proxy)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        // Declares 8 MiB and sends none of it.
        write!(stream, "POST /api/terra/webhook HTTP/1.1\r\nhost: x\r\ncontent-length: 8000000\r\n{header}\r\n")
            .unwrap();
        let started = Instant::now();
        let mut answer = [0u8; 64];
        let n = stream.read(&mut answer).unwrap();
        assert!(String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 401"), "{header:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}

#[tokio::test]
async fn many_unfinished_webhook_bodies_keep_memory_bounded() {
    let proxy = proxy("http://127.0.0.1:9/api/v2", &[]);
    let mut held = Vec::new();
    // 60 connections with a well-formed, fresh header, each sending 1 MiB of a declared 8 MiB.
    let chunk = vec![b'x'; 1024 * 1024];
    for _ in 0..60 {
        let mut stream = TcpStream::connect(addr(&proxy)).unwrap();
        let header = format!("t={},v1={}", now(), "ab".repeat(32));
        write!(stream, "POST /api/terra/webhook HTTP/1.1\r\nhost: x\r\ncontent-length: 8000000\r\nx-terra-signature: {header}\r\n\r\n").unwrap();
        stream.set_write_timeout(Some(Duration::from_millis(500))).unwrap();
        let _ = stream.write_all(&chunk);
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(healthz_ms(&proxy).await < 1000);
    let peak = proxy.peak_rss_kib();
    assert!(peak > 0 && peak < 64 * 1024, "peak RSS {peak} KiB");
    drop(held);
}

#[tokio::test]
async fn idle_and_slow_connections_are_closed_and_long_polls_are_not() {
    let proxy = proxy(
        "http://127.0.0.1:9/api/v2",
        &[("TERRA_CONNECT_IDLE_TIMEOUT_MS", "700"), ("TERRA_CONNECT_HEADER_TIMEOUT_MS", "700")],
    );
    let closed_within = |mut stream: TcpStream, limit: Duration| {
        stream.set_read_timeout(Some(limit)).unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => return Some(started.elapsed()),
                Ok(_) => continue, // an answer (e.g. 408); keep reading until closed
                Err(_) => return None,
            }
        }
    };
    // Idle from the start.
    let idle = TcpStream::connect(addr(&proxy)).unwrap();
    assert!(closed_within(idle, Duration::from_secs(4)).is_some(), "an idle connection is closed");
    // Headers that never finish.
    let mut slow = TcpStream::connect(addr(&proxy)).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: ").unwrap();
    assert!(closed_within(slow, Duration::from_secs(4)).is_some(), "unfinished headers are closed");
    // Idle after a request on a keep-alive connection.
    let mut kept = TcpStream::connect(addr(&proxy)).unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    assert!(closed_within(kept, Duration::from_secs(4)).is_some(), "an idle keep-alive connection is closed");
    // A long poll (1.5 s, twice the idle timeout) is a request in flight: answered.
    let started = Instant::now();
    let answer = client()
        .get(format!("{}/api/terra/connection/webhook?user_id=u&reference_id=r&wait_ms=1500", proxy.url))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);
    assert!(started.elapsed() >= Duration::from_millis(1400));
}

#[tokio::test]
async fn the_connection_bound_holds_and_idle_connections_make_room() {
    let proxy = proxy("http://127.0.0.1:9/api/v2", &[("TERRA_CONNECT_MAX_CONNECTIONS", "4")]);
    // Four requests in flight (long polls of 2 s) hold the four slots: a fifth connection waits.
    let polls: Vec<_> = (0..4)
        .map(|_| {
            let url = format!("{}/api/terra/connection/webhook?user_id=u&reference_id=r&wait_ms=2000", proxy.url);
            tokio::spawn(async move { reqwest::Client::new().get(url).send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waited = healthz_ms(&proxy).await;
    assert!(waited >= 1200, "served after {waited} ms while every slot was busy");
    for poll in polls {
        assert_eq!(poll.await.unwrap().unwrap(), 404);
    }
    // Four idle connections (one half-sent header among them) hold the slots with a 30 s idle
    // timeout: at the bound they are closed after 1 s idle, not 30 s.
    let mut held: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(addr(&proxy)).unwrap()).collect();
    held[0].write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: ").unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let waited = healthz_ms(&proxy).await;
    assert!(waited < 3000, "served after {waited} ms");
    drop(held);
}

#[tokio::test]
async fn terra_refusing_our_credentials_is_a_generic_502_and_echoed_credentials_never_reach_the_browser() {
    let post = |url: String| async move {
        let r = client()
            .post(format!("{url}/api/terra/auth/authenticateUser?resource=FITBIT"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    let fitbit = [("TERRA_CONNECT_ALLOWED_RESOURCES", "FITBIT")];
    let terra = standin::start(Behaviour { echo_401: true, ..Behaviour::default() }).await;
    let p = proxy(&terra.api_base(), &fitbit);
    let (status, body) = post(p.url.clone()).await;
    assert_eq!(status, 502);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["code"], "upstream_auth");
    assert!(!body.contains(API_KEY) && !body.contains(DEV_ID), "{body}");
    assert!(p.wait_for_log("Terra refused the proxy's own credentials").await);
    // The other routes too.
    let r =
        client().get(format!("{}/api/terra/connection?user_id=u-1&reference_id=alice", p.url)).send().await.unwrap();
    assert_eq!(r.status(), 502);
    let r = client().post(format!("{}/api/terra/widget/session", p.url)).json(&json!({})).send().await.unwrap();
    let text = r.text().await.unwrap();
    assert!(text.contains("upstream_auth") && !text.contains(API_KEY), "{text}");

    for behaviour in
        [Behaviour { echo_400: true, ..Behaviour::default() }, Behaviour { echo_200: true, ..Behaviour::default() }]
    {
        let terra = standin::start(behaviour).await;
        let p = proxy(&terra.api_base(), &fitbit);
        let (status, body) = post(p.url.clone()).await;
        assert!(status >= 400, "{status} {body}");
        assert!(!body.contains(API_KEY) && !body.contains(DEV_ID), "{body}");
        assert!(!p.logs().contains(API_KEY));
    }
}

#[tokio::test]
async fn a_huge_upstream_answer_is_a_502_with_bounded_memory() {
    let terra = standin::start(Behaviour { huge: Some(100 * 1024 * 1024), ..Behaviour::default() }).await;
    let p = proxy(&terra.api_base(), &[("TERRA_CONNECT_ALLOWED_RESOURCES", "FITBIT")]);
    let started = Instant::now();
    let r = client()
        .post(format!("{}/api/terra/auth/authenticateUser?resource=FITBIT", p.url))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "upstream_error");
    assert!(started.elapsed() < Duration::from_secs(5));
    let peak = p.peak_rss_kib();
    assert!(peak > 0 && peak < 64 * 1024, "peak RSS {peak} KiB");
}

#[tokio::test]
async fn extreme_timestamps_are_refused_without_a_crash() {
    let p = proxy("http://127.0.0.1:9/api/v2", &[]);
    for t in [i64::MIN.to_string(), i64::MAX.to_string(), "-1".into(), "99999999999999999999".into()] {
        let r = client()
            .post(format!("{}/api/terra/webhook", p.url))
            .header("x-terra-signature", format!("t={t},v1={}", "ab".repeat(32)))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{t}");
    }
    assert!(healthz_ms(&p).await < 1000);
}

#[tokio::test]
async fn forwarded_for_counts_only_from_trusted_proxies() {
    let terra = standin::start(Behaviour::default()).await;
    let hit = |url: String, xff: &'static str| async move {
        client()
            .post(format!("{url}/api/terra/auth/authenticateUser?resource=FITBIT"))
            .header("x-forwarded-for", xff)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    let base = [("TERRA_CONNECT_ALLOWED_RESOURCES", "FITBIT"), ("TERRA_CONNECT_RATE_LIMIT", "2")];
    // Behind a trusted load balancer (the test client is 127.0.0.1): each client has its budget,
    // and what a client writes left of the balancer's entry does not help it.
    let mut env = base.to_vec();
    env.push(("TERRA_CONNECT_TRUSTED_PROXIES", "127.0.0.0/8"));
    let p = proxy(&terra.api_base(), &env);
    assert_eq!(hit(p.url.clone(), "198.51.100.1").await, 200);
    assert_eq!(hit(p.url.clone(), "6.6.6.6, 198.51.100.1").await, 200);
    assert_eq!(hit(p.url.clone(), "7.7.7.7, 198.51.100.1").await, 429);
    assert_eq!(hit(p.url.clone(), "198.51.100.2").await, 200, "another client");
    // IPv6: one /64 is one client.
    assert_eq!(hit(p.url.clone(), "2001:db8:1:2::1").await, 200);
    assert_eq!(hit(p.url.clone(), "2001:db8:1:2::ffff").await, 200);
    assert_eq!(hit(p.url.clone(), "2001:db8:1:2:abcd::1").await, 429);
    // Without trusted proxies the header is ignored: everyone here is 127.0.0.1.
    let p = proxy(&terra.api_base(), &base);
    assert_eq!(hit(p.url.clone(), "198.51.100.1").await, 200);
    assert_eq!(hit(p.url.clone(), "198.51.100.2").await, 200);
    assert_eq!(hit(p.url.clone(), "198.51.100.3").await, 429);
}

#[tokio::test]
async fn another_owners_user_waits_as_long_as_an_unknown_user() {
    let p = proxy("http://127.0.0.1:9/api/v2", &[]);
    let body =
        json!({"type":"auth","status":"success","user":{"user_id":"alices","provider":"OURA","reference_id":"alice"}})
            .to_string();
    let signature = terra_connect_proxy::webhook::signature_header(SECRET.as_bytes(), now(), body.as_bytes());
    let r = client()
        .post(format!("{}/api/terra/webhook", p.url))
        .header("x-terra-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let timed = |user: &'static str, reference: &'static str| {
        let url = format!("{}/api/terra/connection/webhook?user_id={user}&reference_id={reference}&wait_ms=600", p.url);
        async move {
            let started = Instant::now();
            let status = client().get(url).send().await.unwrap().status().as_u16();
            (status, started.elapsed())
        }
    };
    let (owner, owner_took) = timed("alices", "alice").await;
    assert_eq!(owner, 200);
    assert!(owner_took < Duration::from_millis(400));
    let (unknown, unknown_took) = timed("nobody", "mallory").await;
    let (other, other_took) = timed("alices", "mallory").await;
    assert_eq!((unknown, other), (404, 404));
    assert!(
        unknown_took >= Duration::from_millis(590) && other_took >= Duration::from_millis(590),
        "{unknown_took:?} {other_took:?}"
    );
    let diff = unknown_took.abs_diff(other_took);
    assert!(diff < Duration::from_millis(150), "{unknown_took:?} vs {other_took:?}");
}

#[tokio::test]
async fn static_files_refuse_protocol_relative_paths_node_modules_and_lock_files() {
    let www = std::env::temp_dir().join(format!("tc-www-{}", uuid::Uuid::new_v4()));
    for dir in ["x", "node_modules/pkg", "node_modules/terra-connect"] {
        std::fs::create_dir_all(www.join(dir)).unwrap();
    }
    for file in [
        "index.html",
        "x/index.html",
        "node_modules/pkg/index.js",
        "node_modules/terra-connect/index.js",
        "package-lock.json",
        ".env",
    ] {
        std::fs::write(www.join(file), "content").unwrap();
    }
    let p = ProxyProcess::start(&[("TERRA_CONNECT_WWW_DIR", www.to_str().unwrap())]);
    let raw = |path: &str| {
        let mut stream = TcpStream::connect(addr(&p)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    };
    assert!(raw("/index.html").starts_with("HTTP/1.1 200"));
    // This project's own package stays importable by a page without a bundler.
    assert!(raw("/node_modules/terra-connect/index.js").starts_with("HTTP/1.1 200"));
    assert!(raw("/x").to_ascii_lowercase().contains("location: /x/"), "a normal directory redirect still works");
    for path in ["//x", "//evil.example", "/node_modules/pkg/index.js", "/package-lock.json", "/.env", "/%2F%2Fx"] {
        let answer = raw(path);
        assert!(answer.starts_with("HTTP/1.1 404"), "{path}: {answer}");
        assert!(!answer.to_ascii_lowercase().contains("location: //"), "{path}: {answer}");
    }
    let _ = std::fs::remove_dir_all(&www);
}

#[test]
fn a_body_that_stalls_is_answered_408_within_the_read_bound() {
    let proxy = proxy("http://127.0.0.1:9/api/v2", &[("TERRA_CONNECT_ALLOWED_RESOURCES", "FITBIT")]);
    let started = Instant::now();
    let header = format!("t={},v1={}", now(), "ab".repeat(32));
    let requests = [
        format!("POST /api/terra/webhook HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\nx-terra-signature: {header}\r\n\r\n{{"),
        "POST /api/terra/auth/authenticateUser?resource=FITBIT HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{".to_owned(),
    ];
    let streams: Vec<TcpStream> = requests
        .iter()
        .map(|request| {
            let mut stream = TcpStream::connect(addr(&proxy)).unwrap();
            stream.write_all(request.as_bytes()).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
            stream
        })
        .collect();
    for mut stream in streams {
        let mut answer = [0u8; 64];
        let n = stream.read(&mut answer).unwrap();
        assert!(
            String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 408"),
            "{}",
            String::from_utf8_lossy(&answer[..n])
        );
    }
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(9) && took < Duration::from_secs(14), "{took:?}");
}
