//! Connection management and the provider catalogue: `GET /connections`,
//! `DELETE /connections/{user_id}` and `GET /providers`, through the real binary and the
//! library router (with a reference-id hook), against the stand-in for Terra.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::standin::{self, user, Behaviour, StandIn};
use common::{client, ProxyProcess, API_KEY, DEV_ID};
use serde_json::{json, Value};
use terra_connect_proxy::{ApiError, Credentials, ProxyBuilder};

fn proxy(terra: &StandIn, extra: &[(&str, &str)]) -> ProxyProcess {
    let api_base = terra.api_base();
    let mut env = vec![
        ("TERRA_DEV_ID", DEV_ID),
        ("TERRA_API_KEY", API_KEY),
        ("TERRA_API_BASE", api_base.as_str()),
        ("TERRA_CONNECT_UPSTREAM_TIMEOUT_MS", "800"),
    ];
    env.extend_from_slice(extra);
    ProxyProcess::start(&env)
}

/// `method {proxy}/api/terra{path}`: (status, JSON or Null, raw text).
async fn call(proxy: &ProxyProcess, method: reqwest::Method, path: &str) -> (u16, Value, String) {
    let response = client().request(method, format!("{}/api/terra{path}", proxy.url)).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null), text)
}

async fn get(proxy: &ProxyProcess, path: &str) -> (u16, Value, String) {
    call(proxy, reqwest::Method::GET, path).await
}

async fn delete(proxy: &ProxyProcess, path: &str) -> (u16, Value, String) {
    call(proxy, reqwest::Method::DELETE, path).await
}

fn assert_no_secret(text: &str) {
    assert!(!text.contains(API_KEY), "API key leaked: {text}");
    assert!(!text.contains(DEV_ID), "dev id leaked: {text}");
}

/// Alice's and Bob's users, in every state the list must tell apart.
fn people() -> Behaviour {
    Behaviour {
        users: vec![
            user("a-active", "GARMIN", "alice", json!(true)),
            user("a-inactive", "FITBIT", "alice", json!(false)),
            user("a-null", "POLAR", "alice", json!(null)),
            user("a-string", "WAHOO", "alice", json!("true")),
            json!({"user_id":"a-bare","provider":"COROS","reference_id":"alice","active":true,"scopes":["x"],
                   "created_at": 7}),
            user("b-active", "OURA", "bob", json!(true)),
        ],
        ..Behaviour::default()
    }
}

fn not_found() -> Value {
    json!({"status":"error","code":"not_found","message":"no such connection"})
}

#[tokio::test]
async fn the_list_holds_only_the_owners_active_connections_in_the_documented_shape() {
    let terra = standin::start(Behaviour {
        active: json!(true),
        list_extra: vec![
            // A Terra answering more than it was asked for: none of these is alice's to see.
            user("b-leaked", "OURA", "bob", json!(true)),
            user("../etc", "OURA", "alice", json!(true)),
            json!({"provider":"OURA","reference_id":"alice","active":true}),
            json!({"user_id":"no-provider","reference_id":"alice","active":true}),
            json!(7),
            json!("a-active"),
        ],
        ..people()
    })
    .await;
    let p = proxy(&terra, &[]);
    let (status, body, text) = get(&p, "/connections?reference_id=alice").await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        body,
        json!({"connections":[
            {"user_id":"u-1","provider":"OURA","reference_id":"alice","active":true},
            {"user_id":"a-active","provider":"GARMIN","reference_id":"alice","active":true,
             "created_at":"2026-11-30T10:00:00Z","scopes":"activity:read,sleep:read"},
            {"user_id":"a-bare","provider":"COROS","reference_id":"alice","active":true},
        ]})
    );
    let asked = terra.to("/api/v2/userInfo");
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].param("reference_id").as_deref(), Some("alice"));
    assert!(asked[0].has_credentials());
    assert_no_secret(&text);

    // Someone Terra has no users for: an empty list, and the same when Terra answers 404.
    assert_eq!(get(&p, "/connections?reference_id=nobody").await.1, json!({"connections":[]}));
    let terra = standin::start(Behaviour { list_404_when_empty: true, ..Behaviour::default() }).await;
    let p = proxy(&terra, &[]);
    assert_eq!(get(&p, "/connections?reference_id=nobody").await.1, json!({"connections":[]}));
    assert_no_secret(&p.logs());
}

#[tokio::test]
async fn reference_id_games_reach_terra_as_one_value_and_without_an_owner_nothing_is_asked() {
    let terra = standin::start(people()).await;
    let p = proxy(&terra, &[]);
    // An attempt to smuggle a second parameter: Terra gets one reference id, literally.
    let (status, body, _) = get(&p, "/connections?reference_id=bob%26user_id%3Da-active&reference_id=alice").await;
    assert_eq!((status, body), (200, json!({"connections":[]})));
    let asked = terra.to("/api/v2/userInfo");
    assert_eq!(asked[0].param("reference_id").as_deref(), Some("bob&user_id=a-active"));
    assert_eq!(asked[0].param("user_id"), None);
    terra.clear();

    for path in ["/connections", "/connections?reference_id=", "/connections?user_id=a-active"] {
        let (status, body, _) = get(&p, path).await;
        assert_eq!((status, body["code"].as_str()), (400, Some("reference_id_required")), "{path}");
        assert!(body["message"].as_str().unwrap().contains("referenceId"), "{body}");
    }
    let (status, body, _) = delete(&p, "/connections/a-active").await;
    assert_eq!((status, body["code"].as_str()), (400, Some("reference_id_required")));
    assert!(terra.received().is_empty(), "nothing was sent to Terra: {:?}", terra.received());
}

#[tokio::test]
async fn deleting_an_own_connection_is_a_204_after_terras_deauthentication() {
    let terra = standin::start(people()).await;
    let p = proxy(&terra, &[]);
    let (status, _, text) = delete(&p, "/connections/a-active?reference_id=alice").await;
    assert_eq!((status, text.as_str()), (204, ""));
    let deauths = terra.deauths();
    assert_eq!(deauths.len(), 1);
    assert_eq!(deauths[0].method, "DELETE");
    assert_eq!(deauths[0].param("user_id").as_deref(), Some("a-active"));
    assert!(deauths[0].has_credentials());
    // The ownership check came first.
    let paths: Vec<String> = terra.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/api/v2/userInfo", "/api/v2/auth/deauthenticateUser"]);
    assert_eq!(terra.to("/api/v2/userInfo")[0].param("user_id").as_deref(), Some("a-active"));

    // Gone from the list; deleting it again is a 404 without a second deauthentication.
    let listed = get(&p, "/connections?reference_id=alice").await.1;
    assert!(!listed.to_string().contains("a-active"), "{listed}");
    assert_eq!(delete(&p, "/connections/a-active?reference_id=alice").await.1, not_found());
    assert_eq!(terra.deauths().len(), 1);
    assert_no_secret(&p.logs());
}

#[tokio::test]
async fn another_owners_connection_and_an_unknown_one_get_the_same_404_and_nothing_is_deleted() {
    let terra = standin::start(people()).await;
    let p = proxy(&terra, &[]);
    let theirs = delete(&p, "/connections/b-active?reference_id=alice").await;
    let unknown = delete(&p, "/connections/00000000-0000-4000-8000-000000000000?reference_id=alice").await;
    assert_eq!((theirs.0, &theirs.2), (unknown.0, &unknown.2), "identical answers");
    assert_eq!((theirs.0, theirs.1), (404, not_found()));
    // A reference id that only looks alike is someone else.
    for owner in ["Alice", "alice%20", "alic"] {
        assert_eq!(delete(&p, &format!("/connections/a-active?reference_id={owner}")).await.2, unknown.2, "{owner}");
    }
    assert!(terra.deauths().is_empty(), "nothing was sent to deauthenticateUser");
    assert_eq!(get(&p, "/connections?reference_id=bob").await.1["connections"][0]["user_id"], "b-active");
}

#[tokio::test]
async fn malformed_user_ids_are_refused_before_any_call_to_terra() {
    let terra = standin::start(people()).await;
    let p = proxy(&terra, &[]);
    let long = "a".repeat(129);
    for id in ["..%2F..%2Fauth%2FdeauthenticateUser", "a%2Fb", "a%20b", "a%00", "%FF", "a.b", long.as_str()] {
        let (status, body, _) = delete(&p, &format!("/connections/{id}?reference_id=alice")).await;
        assert_eq!((status, body["code"].as_str()), (400, Some("invalid_request")), "{id}: {body}");
        assert_eq!(body["status"], "error");
    }
    // Other shapes never reach the route: no call either.
    // (`..` and `%2E%2E` segments are resolved by the client's URL parser, as by browsers.)
    for path in ["/connections/a/b?reference_id=alice", "/connections/%2E%2E?reference_id=alice"] {
        let (status, _, _) = delete(&p, path).await;
        assert!(status == 404 || status == 405, "{path}: {status}");
    }
    // HEAD and OPTIONS on the delete route, and a POST to the list, are not deletions.
    for method in [reqwest::Method::HEAD, reqwest::Method::OPTIONS, reqwest::Method::GET, reqwest::Method::POST] {
        let (status, _, _) = call(&p, method.clone(), "/connections/a-active?reference_id=alice").await;
        assert_eq!(status, 405, "{method}");
    }
    assert_eq!(call(&p, reqwest::Method::POST, "/connections?reference_id=alice").await.0, 405);
    assert!(terra.received().is_empty(), "nothing was sent to Terra: {:?}", terra.received());
    // A 128-byte id is well-formed: it is looked up (and unknown).
    let (status, _, _) = delete(&p, &format!("/connections/{}?reference_id=alice", &long[..128])).await;
    assert_eq!(status, 404);
    assert_eq!(terra.to("/api/v2/userInfo").len(), 1);
    assert!(terra.deauths().is_empty());
}

#[tokio::test]
async fn terra_refusing_the_credentials_is_a_502_upstream_auth_on_every_new_route_without_the_key() {
    let terra = standin::start(Behaviour { echo_401: true, ..people() }).await;
    let p = proxy(&terra, &[]);
    for (status, body, text) in [
        get(&p, "/connections?reference_id=alice").await,
        delete(&p, "/connections/a-active?reference_id=alice").await,
        get(&p, "/providers").await,
    ] {
        assert_eq!((status, body["code"].as_str()), (502, Some("upstream_auth")), "{text}");
        assert_no_secret(&text);
    }
    assert!(p.wait_for_log("Terra refused the proxy's own credentials").await);
    assert_no_secret(&p.logs());
}

#[tokio::test]
async fn terras_failures_on_the_delete_are_502_or_504_and_its_404_is_not_found() {
    for (behaviour, want_status, want_code) in [
        (Behaviour { deauth_status: Some(500), ..people() }, 502, "upstream_error"),
        (Behaviour { deauth_status: Some(503), ..people() }, 502, "upstream_error"),
        (Behaviour { deauth_delay: Some(Duration::from_secs(3)), ..people() }, 504, "upstream_timeout"),
        // The user vanished between the lookup and the delete.
        (Behaviour { deauth_status: Some(404), ..people() }, 404, "not_found"),
    ] {
        let terra = standin::start(behaviour).await;
        let p = proxy(&terra, &[]);
        let started = Instant::now();
        let (status, body, text) = delete(&p, "/connections/a-active?reference_id=alice").await;
        assert_eq!((status, body["code"].as_str()), (want_status, Some(want_code)), "{text}");
        assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
        if want_status == 404 {
            assert_eq!(body, not_found(), "the same body as an unknown user");
        }
        assert_eq!(terra.deauths().len(), 1, "tried once, never retried");
        assert_no_secret(&text);
    }
}

#[tokio::test]
async fn a_long_user_list_is_read_up_to_256_kib_and_beyond_is_a_502() {
    // About 200 bytes per user: 600 users are over the 64 KiB single-answer cap, yet listed.
    let terra = standin::start(Behaviour { list_many: Some(600), ..Behaviour::default() }).await;
    let p = proxy(&terra, &[]);
    let (status, body, _) = get(&p, "/connections?reference_id=alice").await;
    assert_eq!(status, 200);
    assert_eq!(body["connections"].as_array().unwrap().len(), 600);
    let terra = standin::start(Behaviour { list_many: Some(3000), ..Behaviour::default() }).await;
    let p = proxy(&terra, &[]);
    let (status, body, _) = get(&p, "/connections?reference_id=alice").await;
    assert_eq!((status, body["code"].as_str()), (502, Some("upstream_error")));
}

#[tokio::test]
async fn providers_come_from_terras_detailed_list_with_credentials_cached_and_feed_the_allowlist() {
    let terra = standin::start(Behaviour::default()).await;
    let p = proxy(&terra, &[]);
    let (status, body, text) = get(&p, "/providers").await;
    assert_eq!(status, 200, "{text}");
    // The account's list (STRAVA is only on the general one): disabled and malformed entries
    // left out, Terra's order, a non-http icon as null, a missing name as the resource.
    assert_eq!(
        body,
        json!({"providers":[
            {"resource":"OURA","name":"Oura","icon":"https://cdn.example/oura.webp"},
            {"resource":"FITBIT","name":"Fitbit","icon":null},
            {"resource":"WITHINGS","name":"WITHINGS","icon":"http://cdn.example/withings.png"},
        ]})
    );
    let fetched = terra.to("/api/v2/integrations/detailed");
    assert_eq!(fetched.len(), 1);
    assert!(fetched[0].has_credentials(), "the account's own list is asked for");
    assert_no_secret(&text);

    // The same list is the allowlist; one fetch serves all of it (cached).
    let create = |resource: &'static str| {
        let url = format!("{}/api/terra/auth/authenticateUser?resource={resource}", p.url);
        async move { client().post(url).json(&json!({})).send().await.unwrap() }
    };
    assert_eq!(create("OURA").await.status(), 200);
    for refused in ["GARMIN", "STRAVA", "POLAR"] {
        let r = create(refused).await;
        assert_eq!(r.status(), 403, "{refused}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "resource_not_allowed");
        assert!(body["message"].as_str().unwrap().contains("FITBIT, OURA, WITHINGS"), "{body}");
    }
    assert_eq!(get(&p, "/providers").await.1, body);
    assert_eq!(terra.to("/api/v2/integrations/detailed").len(), 1, "cached");
    assert!(terra.to("/api/v2/integrations").is_empty(), "the old list is not used");
    assert_eq!(terra.to("/api/v2/auth/authenticateUser").len(), 1, "refused providers were not forwarded");
}

#[tokio::test]
async fn with_a_configured_list_providers_are_filtered_and_survive_terra_being_down() {
    let terra = standin::start(Behaviour::default()).await;
    let fixed = [("TERRA_CONNECT_ALLOWED_RESOURCES", "withings,OURA,STRAVA")];
    let p = proxy(&terra, &fixed);
    // Only configured ones Terra offers, in Terra's order, with Terra's names and icons.
    assert_eq!(
        get(&p, "/providers").await.1,
        json!({"providers":[
            {"resource":"OURA","name":"Oura","icon":"https://cdn.example/oura.webp"},
            {"resource":"WITHINGS","name":"WITHINGS","icon":"http://cdn.example/withings.png"},
        ]})
    );
    // Terra's list unavailable: the configured names, without names or icons.
    let terra = standin::start(Behaviour { catalogue_fails: true, ..Behaviour::default() }).await;
    let p = proxy(&terra, &fixed);
    assert_eq!(
        get(&p, "/providers").await.1,
        json!({"providers":[
            {"resource":"WITHINGS","name":"WITHINGS","icon":null},
            {"resource":"OURA","name":"OURA","icon":null},
            {"resource":"STRAVA","name":"STRAVA","icon":null},
        ]})
    );
    // ... tried again only after a minute.
    get(&p, "/providers").await;
    assert_eq!(terra.to("/api/v2/integrations/detailed").len(), 1);
    assert!(p.wait_for_log("could not fetch Terra's provider list").await);

    // Without a configured list, Terra being down is Terra's error on /providers, and any
    // well-formed provider goes through to Terra (as before).
    let p = proxy(&terra, &[]);
    let (status, body, _) = get(&p, "/providers").await;
    assert_eq!((status, body["code"].as_str()), (502, Some("upstream_error")));
    let r = client()
        .post(format!("{}/api/terra/auth/authenticateUser?resource=GARMIN", p.url))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_cors_preflight_for_delete_passes_for_an_allowed_origin_only() {
    let terra = standin::start(people()).await;
    let p = proxy(&terra, &[("TERRA_CONNECT_CORS_ORIGINS", "https://app.example")]);
    let preflight = |origin: &'static str| {
        client()
            .request(reqwest::Method::OPTIONS, format!("{}/api/terra/connections/a-active", p.url))
            .header("origin", origin)
            .header("access-control-request-method", "DELETE")
            .send()
    };
    let allowed = preflight("https://app.example").await.unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://app.example");
    let methods = allowed.headers()["access-control-allow-methods"].to_str().unwrap().to_owned();
    assert!(methods.contains("DELETE"), "{methods}");
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    assert!(terra.received().is_empty(), "a preflight is not a deletion");
    // The actual cross-origin DELETE carries the header too.
    let r = client()
        .delete(format!("{}/api/terra/connections/a-active?reference_id=alice", p.url))
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["access-control-allow-origin"], "https://app.example");
}

#[tokio::test]
async fn the_rate_limit_covers_the_new_routes() {
    let terra = standin::start(people()).await;
    let p = proxy(&terra, &[("TERRA_CONNECT_RATE_LIMIT", "3")]);
    assert_eq!(get(&p, "/connections?reference_id=alice").await.0, 200);
    assert_eq!(get(&p, "/providers").await.0, 200);
    assert_eq!(delete(&p, "/connections/00000000-0000-4000-8000-000000000000?reference_id=alice").await.0, 404);
    let before = terra.received().len();
    for (status, body, _) in [
        delete(&p, "/connections/a-active?reference_id=alice").await,
        get(&p, "/connections?reference_id=alice").await,
        get(&p, "/providers").await,
    ] {
        assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")));
    }
    assert_eq!(terra.received().len(), before, "refused requests were not forwarded");
    assert!(terra.deauths().is_empty());
}

/// The library router with a hook reading the app's own header, served like an app would.
async fn library(terra: &StandIn) -> String {
    let router = ProxyBuilder::new(terra.api_base(), Credentials { dev_id: DEV_ID.into(), api_key: API_KEY.into() })
        .reference_id(|parts| {
            let user = parts.headers.get("x-app-user").and_then(|v| v.to_str().ok()).map(str::to_owned);
            async move { user.ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "not_signed_in", "sign in first")) }
        })
        .build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().nest("/app/wearables", router).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/app/wearables")
}

#[tokio::test]
async fn with_a_hook_the_apps_session_is_the_owner_and_the_browsers_claim_is_ignored() {
    let terra = standin::start(Behaviour { active: json!(true), ..people() }).await;
    let url = library(&terra).await;
    let send = |method: reqwest::Method, path: &str, who: Option<&str>| {
        let mut request = client().request(method, format!("{url}{path}"));
        if let Some(who) = who {
            request = request.header("x-app-user", who);
        }
        async move {
            let r = request.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, body) = send(reqwest::Method::GET, "/connections?reference_id=bob", Some("alice")).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> =
        body["connections"].as_array().unwrap().iter().map(|c| c["user_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["u-1", "a-active", "a-bare"], "alice's, whatever the query says");
    assert_eq!(terra.to("/api/v2/userInfo")[0].param("reference_id").as_deref(), Some("alice"));

    // Bob's connection, claimed through the query by a browser signed in as alice.
    let (status, body) = send(reqwest::Method::DELETE, "/connections/b-active?reference_id=bob", Some("alice")).await;
    assert_eq!((status, body), (404, not_found()));
    assert!(terra.deauths().is_empty());
    // Nobody signed in: the hook's answer, before any call to Terra.
    terra.clear();
    let (status, body) = send(reqwest::Method::DELETE, "/connections/a-active?reference_id=alice", None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("not_signed_in")));
    let (status, _) = send(reqwest::Method::GET, "/connections?reference_id=alice", None).await;
    assert_eq!(status, 401);
    assert!(terra.received().is_empty());
    // Alice's own: deleted.
    let (status, _) = send(reqwest::Method::DELETE, "/connections/a-active", Some("alice")).await;
    assert_eq!(status, 204);
    assert_eq!(terra.deauths().len(), 1);
    // The catalogue needs no owner.
    let (status, body) = send(reqwest::Method::GET, "/providers", None).await;
    assert_eq!((status, body["providers"][0]["resource"].as_str()), (200, Some("OURA")));
}

#[tokio::test]
async fn answers_of_terra_that_echo_the_credentials_never_reach_the_browser() {
    let mut echoing = user("a-echo", "OURA", "alice", json!(true));
    echoing["scopes"] = json!(format!("activity:read key={API_KEY}"));
    let catalogue =
        json!([{"provider":"OURA","name":"Oura","icon":format!("https://cdn.example/o.webp?dev={DEV_ID}")}]);
    let terra =
        standin::start(Behaviour { users: vec![echoing], catalogue: Some(catalogue), ..Behaviour::default() }).await;
    let p = proxy(&terra, &[]);
    for (status, body, text) in [get(&p, "/connections?reference_id=alice").await, get(&p, "/providers").await] {
        assert_eq!((status, body["code"].as_str()), (502, Some("upstream_error")), "{text}");
        assert_no_secret(&text);
    }
    assert!(p.wait_for_log("contained the proxy's credentials").await);
    assert_no_secret(&p.logs());
}
