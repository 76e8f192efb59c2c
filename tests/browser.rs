//! The JS-facing API in headless Chromium, against the real proxy binary (sandbox mode) and a
//! deliberately broken proxy (`proxy/examples/fault_proxy.rs`), both started by
//! `scripts/test.sh`, which passes their URLs at compile time.

#![cfg(target_arch = "wasm32")]

use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use terra_connect::web::values::TerraConnectError;
use terra_connect::{create_session, disconnect, list_connections, list_providers, parse_redirect, JsSessionOptions};

/// `connect()` as an app calls it: from JavaScript of its own (a click handler), not from
/// inside the futures executor that runs this test. (Firefox may run a microtask checkpoint
/// inside `window.open`; called from inside a running wasm-bindgen-futures task, that
/// re-enters the executor's queue and leaves it stuck; see `terra_connect::web::later`.)
/// Resolves with connect()'s promise, wrapped in an array so that it is not awaited.
async fn connect(options: &JsSessionOptions) -> js_sys::Promise {
    let mut options = Some(JsValue::from(options.unchecked_ref::<JsValue>().clone()));
    let started = js_sys::Promise::new(&mut |resolve, _| {
        let options = options.take().unwrap();
        let run = wasm_bindgen::closure::Closure::once_into_js(move || {
            let promise = terra_connect::connect(options.unchecked_ref());
            let _ = resolve.call1(&JsValue::NULL, &js_sys::Array::of1(&promise));
        });
        web_sys::window().unwrap().queue_microtask(run.unchecked_ref());
    });
    JsFuture::from(started).await.unwrap().unchecked_into::<js_sys::Array>().get(0).unchecked_into()
}

wasm_bindgen_test_configure!(run_in_browser);

/// The proxy binary in sandbox mode, e.g. `http://127.0.0.1:18787`.
const PROXY: &str = env!("TERRA_CONNECT_TEST_PROXY");
/// The fault proxy's base URL.
const FAULTS: &str = env!("TERRA_CONNECT_TEST_FAULTS");
/// A loopback port nothing listens on.
const CLOSED: &str = env!("TERRA_CONNECT_TEST_CLOSED");

fn options(pairs: &[(&str, JsValue)]) -> JsSessionOptions {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
    }
    o.unchecked_into()
}

fn s(v: &str) -> JsValue {
    JsValue::from_str(v)
}

fn api() -> String {
    format!("{PROXY}/api/terra")
}

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &s(key)).unwrap()
}

/// Awaits a promise that must reject with a TerraConnectError of `code`; returns the error.
async fn rejects_with(promise: js_sys::Promise, code: &str) -> JsValue {
    let error = JsFuture::from(promise).await.expect_err("the promise should reject");
    assert!(error.is_instance_of::<TerraConnectError>(), "not a TerraConnectError: {error:?}");
    assert!(error.is_instance_of::<js_sys::Error>(), "not an Error subclass");
    assert_eq!(get(&error, "name"), s("TerraConnectError"));
    assert_eq!(get(&error, "code"), s(code), "message: {:?}", get(&error, "message"));
    assert!(get(&error, "message").as_string().is_some_and(|m| !m.is_empty()));
    error
}

#[wasm_bindgen_test]
async fn create_session_returns_the_sandboxs_session() {
    let opts = options(&[
        ("proxyUrl", s(&api())),
        ("resource", s("fitbit")),
        ("referenceId", s("user-42")),
        ("successUrl", s("http://127.0.0.1:8787/done.html")),
        ("failureUrl", s("http://127.0.0.1:8787/failed.html")),
        ("language", s("en")),
    ]);
    let session = JsFuture::from(create_session(&opts)).await.unwrap();
    let user_id = get(&session, "userId").as_string().unwrap();
    let auth_url = get(&session, "authUrl").as_string().unwrap();
    assert_eq!(user_id.len(), 36);
    assert!(auth_url.starts_with("http://127.0.0.1:") && auth_url.contains("/consent/"), "{auth_url}");
}

#[wasm_bindgen_test]
async fn invalid_arguments_fail_before_any_request() {
    // The proxy URL points at a closed port: a `network` error would mean a request was made.
    let dead = format!("http://127.0.0.1:{CLOSED}");
    let cases: Vec<(Vec<(&str, JsValue)>, &str)> = vec![
        (vec![("proxyUrl", s(&dead))], "resource"),
        (vec![("proxyUrl", s(&dead)), ("resource", s(""))], "resource"),
        (vec![("proxyUrl", s(&dead)), ("resource", s("FIT BIT"))], "resource"),
        (vec![("proxyUrl", s(&dead)), ("resource", JsValue::from(7))], "resource"),
        (vec![("resource", s("FITBIT"))], "proxyUrl"),
        (vec![("proxyUrl", s("ftp://x")), ("resource", s("FITBIT"))], "proxyUrl"),
        (
            vec![("proxyUrl", s(&dead)), ("resource", s("FITBIT")), ("successUrl", s("http://app.example/done"))],
            "successUrl",
        ),
        (vec![("proxyUrl", s(&dead)), ("resource", s("FITBIT")), ("failureUrl", s("/failed"))], "failureUrl"),
        (vec![("proxyUrl", s(&dead)), ("resource", s("FITBIT")), ("referenceId", s(""))], "referenceId"),
    ];
    for (pairs, option) in cases {
        let error = rejects_with(create_session(&options(&pairs)), "invalid_argument").await;
        let message = get(&error, "message").as_string().unwrap();
        assert!(message.starts_with(option), "{message}");
        let opts: JsValue = options(&pairs).into();
        rejects_with(connect(opts.unchecked_ref()).await, "invalid_argument").await;
    }
    let not_an_object = JsValue::from_str("FITBIT").unchecked_into::<JsSessionOptions>();
    rejects_with(create_session(&not_an_object), "invalid_argument").await;
}

#[wasm_bindgen_test]
async fn unreachable_proxy_is_a_network_error() {
    let opts = options(&[("proxyUrl", s(&format!("http://127.0.0.1:{CLOSED}"))), ("resource", s("FITBIT"))]);
    rejects_with(create_session(&opts), "network").await;
}

#[wasm_bindgen_test]
async fn the_proxys_refusal_is_a_proxy_error_with_status_and_message() {
    let opts = options(&[("proxyUrl", s(&api())), ("resource", s("NOSUCHWATCH"))]);
    let error = rejects_with(create_session(&opts), "proxy_error").await;
    assert_eq!(get(&error, "status"), JsValue::from(403));
    // The proxy names the providers it allows; the client names the request and the status.
    let message = get(&error, "message").as_string().unwrap();
    assert!(message.starts_with("'NOSUCHWATCH' is not an allowed provider; this proxy allows "), "{message}");
    assert!(message.contains("FITBIT"), "{message}");
    let request = format!("(POST {}/auth/authenticateUser?resource=NOSUCHWATCH answered 403)", api());
    assert!(message.ends_with(&request), "{message}");
}

#[wasm_bindgen_test]
async fn error_shapes_of_a_broken_proxy() {
    let cases = [
        ("problem", "proxy_error", Some(422), Some("reference_id too long")),
        ("terra-400", "proxy_error", Some(400), Some("language is not supported")),
        ("html-500", "proxy_error", Some(500), None),
        ("not-json", "invalid_response", None, None),
        ("incomplete", "invalid_response", None, None),
        ("javascript", "invalid_response", None, None),
        ("array", "invalid_response", None, None),
    ];
    for (mode, code, status, message) in cases {
        let opts = options(&[("proxyUrl", s(&format!("{FAULTS}/{mode}"))), ("resource", s("FITBIT"))]);
        let error = rejects_with(create_session(&opts), code).await;
        assert_eq!(get(&error, "status").as_f64(), status.map(f64::from), "{mode}");
        let text = get(&error, "message").as_string().unwrap();
        if let Some(message) = message {
            assert!(text.starts_with(message), "{mode}: {text}");
        }
        // Every such error names the request it comes from, and the status.
        let request = format!("(POST {FAULTS}/{mode}/auth/authenticateUser?resource=FITBIT answered ");
        assert!(text.contains(&request), "{mode}: {text}");
    }
}

fn origin() -> String {
    web_sys::window().unwrap().location().origin().unwrap()
}

/// Options for `connect()` whose redirect URLs are on this test page's origin.
fn connect_options(resource: &str, extra: &[(&str, JsValue)]) -> JsSessionOptions {
    let mut pairs = vec![
        ("proxyUrl", s(&api())),
        ("resource", s(resource)),
        ("referenceId", s("user-42")),
        ("successUrl", s(&format!("{}/done?auth=success", origin()))),
        ("failureUrl", s(&format!("{}/failed", origin()))),
    ];
    pairs.extend(extra.iter().cloned());
    options(&pairs)
}

async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window().unwrap().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms).unwrap();
    });
    JsFuture::from(promise).await.unwrap();
}

/// Waits until exactly one flow is pending and returns its state.
async fn pending_state() -> String {
    for _ in 0..100 {
        let keys = terra_connect::web::storage::keys_with_prefix(terra_connect::state::PENDING_PREFIX);
        if let [key] = keys.as_slice() {
            return key[terra_connect::state::PENDING_PREFIX.len()..].to_owned();
        }
        sleep(20).await;
    }
    panic!("no single pending record appeared");
}

/// What the success or failure page would see: Terra's parameters on a redirect URL.
fn came_back(outcome: &str, state: &str) -> JsValue {
    let path = if outcome == "success" { "done?auth=success&" } else { "failed?" };
    let href = format!(
        "{}/{path}tc_outcome={outcome}&tc_state={state}&user_id=u-1&resource=FITBIT&reference_id=user-42",
        origin()
    );
    let o = Object::new();
    Reflect::set(&o, &s("href"), &s(&href)).unwrap();
    Reflect::set(&o, &s("closeTab"), &JsValue::FALSE).unwrap();
    o.into()
}

fn complete(options: &JsValue) -> Result<JsValue, JsValue> {
    terra_connect::complete_redirect(Some(options.clone().unchecked_into()))
}

#[wasm_bindgen_test]
async fn connect_resolves_when_the_success_page_completes() {
    let promise = connect(&connect_options("fitbit", &[])).await;
    let state = pending_state().await;
    assert!(terra_connect::state::is_well_formed(&state));
    let redirect = came_back("success", &state);
    let completed = complete(&redirect).unwrap();
    assert_eq!(get(&completed, "outcome"), s("success"));
    let result = JsFuture::from(promise).await.unwrap();
    assert_eq!(get(&result, "outcome"), s("success"));
    assert_eq!(get(&result, "userId"), s("u-1"));
    assert_eq!(get(&result, "resource"), s("FITBIT"));
    assert_eq!(get(&result, "referenceId"), s("user-42"));
    assert!(terra_connect::web::storage::keys_with_prefix("terra-connect:").is_empty(), "everything cleaned up");
    // The same URL again in this page load (React StrictMode) answers the same result...
    let again = complete(&redirect).unwrap();
    assert_eq!((get(&again, "outcome"), get(&again, "userId")), (s("success"), s("u-1")));
    // ...but its state is used: once this page completed another URL, it is a replay.
    let other = came_back("success", "0123456789abcdef0123456789abcdef");
    assert_eq!(get(&complete(&other).unwrap_err(), "code"), s("state_mismatch"));
    let replay = complete(&redirect).unwrap_err();
    assert_eq!(get(&replay, "code"), s("state_mismatch"));
}

#[wasm_bindgen_test]
async fn the_failure_url_rejects_with_auth_failed_and_what_came_back() {
    let promise = connect(&connect_options("OURA", &[])).await;
    let state = pending_state().await;
    complete(&came_back("failure", &state)).unwrap();
    let error = rejects_with(promise, "auth_failed").await;
    let result = get(&error, "result");
    assert_eq!(get(&result, "outcome"), s("failure"));
    assert_eq!(get(&result, "referenceId"), s("user-42"));
}

#[wasm_bindgen_test]
async fn forged_urls_are_refused_and_deliver_nothing() {
    let abort = web_sys::AbortController::new().unwrap();
    let promise = connect(&connect_options("GARMIN", &[("signal", abort.signal().into())])).await;
    let state = pending_state().await;
    let unknown = "0123456789abcdef0123456789abcdef";
    let href = |query: &str| {
        let o = Object::new();
        Reflect::set(&o, &s("href"), &s(&format!("{}/done?{query}", origin()))).unwrap();
        JsValue::from(o)
    };
    for forged in [
        came_back("success", unknown),
        came_back("success", "not-a-state"),
        href("tc_outcome=success&user_id=evil"),
        // No marker and no state: not a redirect of any connect(), so state_mismatch too.
        href("user_id=evil&resource=FITBIT"),
        href(&format!("tc_state={state}&user_id=evil")),
    ] {
        let error = complete(&forged).unwrap_err();
        assert!(error.is_instance_of::<TerraConnectError>());
        assert_eq!(get(&error, "code"), s("state_mismatch"));
    }
    // The real flow is still pending and unharmed: abort it.
    assert_eq!(pending_state().await, state);
    abort.abort();
    rejects_with(promise, "aborted").await;
    let late = complete(&came_back("success", &state)).unwrap_err();
    assert_eq!(get(&late, "code"), s("state_mismatch"), "an aborted flow accepts nothing");
}

#[wasm_bindgen_test]
async fn connect_times_out() {
    let promise = connect(&connect_options("FITBIT", &[("timeoutMs", JsValue::from(300))])).await;
    rejects_with(promise, "timeout").await;
    assert!(terra_connect::web::storage::keys_with_prefix(terra_connect::state::PENDING_PREFIX).is_empty());
}

#[wasm_bindgen_test]
async fn an_already_aborted_signal_rejects_at_once() {
    let abort = web_sys::AbortController::new().unwrap();
    abort.abort();
    let promise = connect(&connect_options("FITBIT", &[("signal", abort.signal().into())])).await;
    rejects_with(promise, "aborted").await;
    assert!(terra_connect::web::storage::keys_with_prefix(terra_connect::state::PENDING_PREFIX).is_empty());
}

#[wasm_bindgen_test]
async fn connect_checks_its_own_options() {
    let cases: [(&[(&str, JsValue)], &str); 8] = [
        (&[("timeoutMs", JsValue::from(0))], "timeoutMs"),
        (&[("timeoutMs", s("100"))], "timeoutMs"),
        (&[("mode", s("tab"))], "mode"),
        (&[("signal", s("stop"))], "signal"),
        (&[("onTabClosed", JsValue::from(1))], "onTabClosed"),
        (&[("verify", s("yes"))], "verify"),
        (&[("providers", js_sys::Array::of1(&s("GARMIN")).into())], "resource"),
        (&[("successUrl", s("http://127.0.0.1:1/elsewhere"))], "successUrl"),
    ];
    for (extra, option) in cases {
        let error = rejects_with(connect(&connect_options("FITBIT", extra)).await, "invalid_argument").await;
        assert!(get(&error, "message").as_string().unwrap().starts_with(option), "{option}");
    }
    let no_failure_url = options(&[
        ("proxyUrl", s(&api())),
        ("resource", s("FITBIT")),
        ("successUrl", s(&format!("{}/done", origin()))),
    ]);
    rejects_with(connect(&no_failure_url).await, "invalid_argument").await;
}

#[wasm_bindgen_test]
async fn connect_rejects_and_cleans_up_when_the_session_cannot_be_created() {
    rejects_with(connect(&connect_options("NOSUCHWATCH", &[])).await, "proxy_error").await;
    assert!(terra_connect::web::storage::keys_with_prefix(terra_connect::state::PENDING_PREFIX).is_empty());
}

#[wasm_bindgen_test]
fn parse_redirect_reads_explicit_urls() {
    let r = parse_redirect(Some(
        "https://app.example/done?auth=success&tc_outcome=success&user_id=ae53&reference_id=user%2042&resource=FITBIT"
            .into(),
    ))
    .unwrap();
    assert_eq!(get(&r, "outcome"), s("success"));
    assert_eq!(get(&r, "userId"), s("ae53"));
    assert_eq!(get(&r, "referenceId"), s("user 42"));
    assert_eq!(get(&r, "resource"), s("FITBIT"));

    let r = parse_redirect(Some("https://app.example/failed?tc_outcome=failure&reference_id=null".into())).unwrap();
    assert_eq!(get(&r, "outcome"), s("failure"));
    assert!(get(&r, "userId").is_null() && get(&r, "referenceId").is_null() && get(&r, "resource").is_null());
}

#[wasm_bindgen_test]
fn parse_redirect_defaults_to_window_location() {
    let window = web_sys::window().unwrap();
    let history = window.history().unwrap();
    let original = window.location().href().unwrap();
    let marked = format!(
        "{}?tc_outcome=success&user_id=u-7&resource=OURA&reference_id=null#frag",
        original.split(['?', '#']).next().unwrap()
    );
    history.replace_state_with_url(&JsValue::NULL, "", Some(&marked)).unwrap();
    let result = parse_redirect(None);
    history.replace_state_with_url(&JsValue::NULL, "", Some(&original)).unwrap();
    let r = result.unwrap();
    assert_eq!(get(&r, "userId"), s("u-7"));
    assert_eq!(get(&r, "resource"), s("OURA"));
    assert!(get(&r, "referenceId").is_null());
}

#[wasm_bindgen_test]
fn parse_redirect_throws_on_unmarked_urls() {
    let error = parse_redirect(Some("https://app.example/done?user_id=u".into())).unwrap_err();
    assert!(error.is_instance_of::<TerraConnectError>());
    assert_eq!(get(&error, "code"), s("invalid_argument"));
}

/// The module's allocator (feature `allocator`, on in this suite through the dev-dependency on
/// the crate itself, as in the npm build) puts freed blocks back to use: the same work done
/// 100 times over does not grow memory, where an allocator that never reused would grow it by
/// hundreds of megabytes. Blocks honour alignments above the default.
#[wasm_bindgen_test]
fn the_allocator_reuses_freed_memory_and_aligns() {
    let memory_bytes = || {
        let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
        memory.buffer().unchecked_into::<js_sys::ArrayBuffer>().byte_length()
    };
    let work = || {
        for i in 0..100usize {
            let strings: Vec<String> = (0..20).map(|k| "x".repeat((i * 7 + k * 131) % 5000)).collect();
            assert!(strings.iter().all(|s| s.bytes().all(|b| b == b'x')));
        }
    };
    work();
    let before = memory_bytes();
    for _ in 0..100 {
        work();
    }
    assert_eq!(memory_bytes(), before, "memory grew although every block was freed");

    #[repr(align(64))]
    struct Aligned([u8; 64]);
    let boxes: Vec<Box<Aligned>> = (0..100).map(|i| Box::new(Aligned([i; 64]))).collect();
    assert!(boxes.iter().all(|b| (&**b as *const Aligned as usize) % 64 == 0));
    assert!(boxes.iter().enumerate().all(|(i, b)| b.0.iter().all(|&x| usize::from(x) == i)));
}

/// Milliseconds since the page started.
fn now() -> f64 {
    js_sys::Date::now()
}

fn abort_after(controller: &web_sys::AbortController, ms: i32) {
    let controller = controller.clone();
    let abort = wasm_bindgen::closure::Closure::once_into_js(move || controller.abort());
    web_sys::window()
        .unwrap()
        .set_timeout_with_callback_and_timeout_and_arguments_0(abort.unchecked_ref(), ms)
        .unwrap();
}

/// The fault proxy's `slow` mode answers a valid session after 4 s: aborting after 100 ms
/// must abort the request itself (the promise would otherwise resolve with that session).
#[wasm_bindgen_test]
async fn create_session_aborts_a_request_in_flight() {
    let controller = web_sys::AbortController::new().unwrap();
    let opts = options(&[
        ("proxyUrl", s(&format!("{FAULTS}/slow"))),
        ("resource", s("FITBIT")),
        ("signal", controller.signal().into()),
    ]);
    let started = now();
    let promise = create_session(&opts);
    abort_after(&controller, 100);
    rejects_with(promise, "aborted").await;
    let took = now() - started;
    assert!(took < 2000.0, "the abort took {took} ms: the request ran to its end");
}

/// connect() with `verify: "webhook"` long-polls the proxy (up to 25 s for a user whose signed
/// event never comes); aborting mid-poll rejects at once.
#[wasm_bindgen_test]
async fn connect_aborts_its_long_poll_in_flight() {
    let controller = web_sys::AbortController::new().unwrap();
    let promise =
        connect(&connect_options("FITBIT", &[("verify", s("webhook")), ("signal", controller.signal().into())])).await;
    let state = pending_state().await;
    complete(&came_back("success", &state)).unwrap();
    sleep(300).await; // the long poll is now in flight
    let started = now();
    controller.abort();
    rejects_with(promise, "aborted").await;
    assert!(now() - started < 2000.0);
}

/// `verify: "proxy"` is the typed spelling of `verify: true`: the proxy asks Terra, which does
/// not know the user the redirect names, so the result is `not_verified`.
#[wasm_bindgen_test]
async fn verify_proxy_asks_the_proxy() {
    let promise = connect(&connect_options("FITBIT", &[("verify", s("proxy"))])).await;
    let state = pending_state().await;
    complete(&came_back("success", &state)).unwrap();
    rejects_with(promise, "not_verified").await;
}

/// Every parameter Terra appended beyond its three comes back as `details`, from
/// parseRedirect(), completeRedirect() and, for a failure, connect()'s `error.result`.
#[wasm_bindgen_test]
async fn extra_parameters_come_back_as_details() {
    let r = parse_redirect(Some(
        "https://app.example/failed?page=2&tc_outcome=failure&reference_id=u&reason=user_denied&error_text=a%26b"
            .into(),
    ))
    .unwrap();
    let details = get(&r, "details");
    assert_eq!(js_sys::Object::keys(details.unchecked_ref::<Object>()).length(), 2, "only what came after the marker");
    assert_eq!(get(&details, "reason"), s("user_denied"));
    assert_eq!(get(&details, "error_text"), s("a&b"));
    let none = parse_redirect(Some("https://app.example/done?tc_outcome=success&user_id=u".into())).unwrap();
    assert_eq!(js_sys::Object::keys(get(&none, "details").unchecked_ref::<Object>()).length(), 0);

    let promise = connect(&connect_options("OURA", &[])).await;
    let state = pending_state().await;
    let o = Object::new();
    let href =
        format!("{}/failed?tc_outcome=failure&tc_state={state}&reference_id=user-42&reason=user_denied", origin());
    Reflect::set(&o, &s("href"), &s(&href)).unwrap();
    Reflect::set(&o, &s("closeTab"), &JsValue::FALSE).unwrap();
    let completed = complete(&o.into()).unwrap();
    assert_eq!(get(&get(&completed, "details"), "reason"), s("user_denied"));
    let error = rejects_with(promise, "auth_failed").await;
    assert_eq!(get(&get(&get(&error, "result"), "details"), "reason"), s("user_denied"));
}

/// When localStorage refuses the pending record (here: it is full), connect() rejects at once
/// with `storage_unavailable`, and sends nothing.
#[wasm_bindgen_test]
async fn connect_fails_at_once_when_storage_refuses_the_pending_record() {
    use terra_connect::web::storage;
    const FILL: &str = "test-fill:";
    // Fill the origin's quota: chunks of halving size until not even one character fits.
    let mut count = 0;
    let mut size = 1 << 20;
    while size > 0 {
        let chunk = "x".repeat(size);
        while count < 400 && storage::set(&format!("{FILL}{count}"), &chunk) {
            count += 1;
        }
        size /= 2;
    }
    let started = now();
    // A closed port: a request would be a `network` error, not the one expected.
    let dead = options(&[
        ("proxyUrl", s(&format!("http://127.0.0.1:{CLOSED}"))),
        ("resource", s("FITBIT")),
        ("successUrl", s(&format!("{}/done", origin()))),
        ("failureUrl", s(&format!("{}/failed", origin()))),
    ]);
    let result = JsFuture::from(connect(&dead).await).await;
    let took = now() - started;
    for key in storage::keys_with_prefix(FILL) {
        storage::remove(&key);
    }
    let error = result.expect_err("connect() should reject");
    assert_eq!(get(&error, "code"), s("storage_unavailable"), "{:?}", get(&error, "message"));
    assert!(took < 1000.0);
    assert!(storage::keys_with_prefix(terra_connect::state::PENDING_PREFIX).is_empty());
}

// Connection management: listConnections(), disconnect(), listProviders().

fn manage_options(pairs: &[(&str, JsValue)]) -> terra_connect::JsManageOptions {
    options(pairs).unchecked_into()
}

/// A reference id no other test (or earlier run against the same proxy) has used.
fn fresh_reference_id(what: &str) -> String {
    format!("wasm-{what}-{}", (js_sys::Math::random() * 1e15) as u64)
}

async fn resolved(promise: js_sys::Promise) -> JsValue {
    JsFuture::from(promise).await.unwrap_or_else(|e| panic!("rejected: {:?}", get(&e, "message")))
}

/// The connections `listConnections()` gives for `reference_id`, as (userId, provider) pairs.
async fn listed(reference_id: &str) -> Vec<(String, String)> {
    let list =
        resolved(list_connections(&manage_options(&[("proxyUrl", s(&api())), ("referenceId", s(reference_id))]))).await;
    let list: js_sys::Array = list.dyn_into().expect("an array");
    list.iter().map(|c| (get(&c, "userId").as_string().unwrap(), get(&c, "provider").as_string().unwrap())).collect()
}

/// Creates a session for `reference_id` and presses Allow on the sandbox's consent page (the
/// form post the page's button sends); returns the user id. The post is cross-origin
/// `no-cors`: the sandbox acts on it, but the browser may turn its opaque HTML answer into a
/// network error (Chromium's opaque-response blocking), so only its effect is checked, by the
/// listings that follow.
async fn connected_user(resource: &str, reference_id: &str) -> String {
    let opts = options(&[("proxyUrl", s(&api())), ("resource", s(resource)), ("referenceId", s(reference_id))]);
    let session = resolved(create_session(&opts)).await;
    let auth_url = get(&session, "authUrl").as_string().unwrap();
    let _ = gloo_net::http::Request::post(&auth_url)
        .mode(web_sys::RequestMode::NoCors)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("decision=allow")
        .unwrap()
        .send()
        .await;
    get(&session, "userId").as_string().unwrap()
}

#[wasm_bindgen_test]
async fn list_providers_gives_the_sandboxs_catalogue_with_names_and_icons() {
    let list = resolved(list_providers(&manage_options(&[("proxyUrl", s(&api()))]))).await;
    let list: js_sys::Array = list.dyn_into().expect("an array");
    assert!(list.length() >= 10, "{}", list.length());
    let fitbit = list.iter().find(|p| get(p, "resource") == s("FITBIT")).expect("FITBIT is offered");
    assert_eq!(get(&fitbit, "name"), s("Fitbit"));
    let icon = get(&fitbit, "icon").as_string().expect("an icon URL");
    assert!(icon.starts_with("http://127.0.0.1:") && icon.ends_with("/icons/FITBIT.svg"), "{icon}");
    let keys = js_sys::Object::keys(fitbit.unchecked_ref::<Object>());
    assert_eq!(keys.iter().map(|k| k.as_string().unwrap()).collect::<Vec<_>>(), ["resource", "name", "icon"]);
}

#[wasm_bindgen_test]
async fn connections_are_listed_per_owner_and_disconnected() {
    let owner = fresh_reference_id("owner");
    let stranger = fresh_reference_id("stranger");
    assert_eq!(listed(&owner).await, []);
    let fitbit = connected_user("FITBIT", &owner).await;
    let garmin = connected_user("garmin", &owner).await;
    let mut both = listed(&owner).await;
    both.sort();
    let mut expected = vec![(fitbit.clone(), "FITBIT".to_owned()), (garmin.clone(), "GARMIN".to_owned())];
    expected.sort();
    assert_eq!(both, expected);
    // Every field of a Connection, as declared.
    let list =
        resolved(list_connections(&manage_options(&[("proxyUrl", s(&api())), ("referenceId", s(&owner))]))).await;
    let first = js_sys::Array::from(&list).get(0);
    assert_eq!(get(&first, "referenceId"), s(&owner));
    assert_eq!(get(&first, "active"), JsValue::TRUE);
    assert!(get(&first, "createdAt").is_string(), "{:?}", get(&first, "createdAt"));
    for key in ["lastWebhookUpdate", "scopes"] {
        let value = get(&first, key);
        assert!(value.is_string() || value.is_null(), "{key}: {value:?}");
    }

    // A second reference id sees neither and cannot disconnect them: 404, as for an unknown id.
    assert_eq!(listed(&stranger).await, []);
    let theirs = manage_options(&[("proxyUrl", s(&api())), ("userId", s(&fitbit)), ("referenceId", s(&stranger))]);
    let error = rejects_with(disconnect(&theirs), "proxy_error").await;
    assert_eq!(get(&error, "status"), JsValue::from(404));
    let message = get(&error, "message").as_string().unwrap();
    let request = format!("(DELETE {}/connections/{fitbit}?reference_id={stranger} answered 404)", api());
    assert!(message.ends_with(&request), "{message}");
    assert_eq!(listed(&owner).await.len(), 2, "nothing was disconnected");

    let mine = manage_options(&[("proxyUrl", s(&api())), ("userId", s(&fitbit)), ("referenceId", s(&owner))]);
    assert_eq!(resolved(disconnect(&mine)).await, JsValue::UNDEFINED);
    assert_eq!(listed(&owner).await, [(garmin, "GARMIN".to_owned())]);
    // Gone: the same call again is the unknown user's 404.
    assert_eq!(get(&rejects_with(disconnect(&mine), "proxy_error").await, "status"), JsValue::from(404));
}

#[wasm_bindgen_test]
async fn management_options_are_checked_before_any_request() {
    // A closed port: a `network` error would mean a request was made.
    let dead = format!("http://127.0.0.1:{CLOSED}");
    let long = "r".repeat(terra_connect::options::MAX_REFERENCE_ID + 1);
    let cases: Vec<(Vec<(&str, JsValue)>, &str)> = vec![
        (vec![], "proxyUrl is required"),
        (vec![("proxyUrl", s("ftp://x"))], "proxyUrl must be"),
        (vec![("proxyUrl", JsValue::from(1))], "proxyUrl must be a string"),
        (vec![("proxyUrl", s(&dead)), ("referenceId", s(""))], "referenceId must not be empty"),
        (vec![("proxyUrl", s(&dead)), ("referenceId", JsValue::from(42))], "referenceId must be a string"),
        (vec![("proxyUrl", s(&dead)), ("referenceId", s(&long))], "referenceId is too long"),
        (vec![("proxyUrl", s(&dead)), ("signal", s("stop"))], "signal must be an AbortSignal"),
    ];
    for (pairs, message) in &cases {
        for promise in [list_connections(&manage_options(pairs)), disconnect(&manage_options(pairs))] {
            let error = rejects_with(promise, "invalid_argument").await;
            let text = get(&error, "message").as_string().unwrap();
            assert!(text.starts_with(message), "{message}: {text}");
        }
    }
    let user_cases: Vec<(JsValue, &str)> = vec![
        (JsValue::UNDEFINED, "userId is required"),
        (s(""), "userId must be a Terra user id"),
        (s("../admin"), "userId must be a Terra user id"),
        (s("a%2Fb"), "userId must be a Terra user id"),
        (JsValue::from(7), "userId must be a string"),
    ];
    for (user_id, message) in user_cases {
        let error = rejects_with(
            disconnect(&manage_options(&[("proxyUrl", s(&dead)), ("userId", user_id)])),
            "invalid_argument",
        )
        .await;
        let text = get(&error, "message").as_string().unwrap();
        assert!(text.starts_with(message), "{message}: {text}");
    }
    // listProviders() takes no referenceId or userId: they are not read, so not refused.
    let error = rejects_with(list_providers(&manage_options(&[("referenceId", s(""))])), "invalid_argument").await;
    assert!(get(&error, "message").as_string().unwrap().starts_with("proxyUrl is required"));
    let not_an_object = JsValue::from_str("/api/terra").unchecked_into();
    for promise in [list_connections(&not_an_object), disconnect(&not_an_object), list_providers(&not_an_object)] {
        rejects_with(promise, "invalid_argument").await;
    }
    // Well-formed options against the closed port: now a request is made, and it fails.
    let reachable = manage_options(&[("proxyUrl", s(&dead)), ("userId", s("u-1"))]);
    for promise in [list_connections(&reachable), disconnect(&reachable), list_providers(&reachable)] {
        rejects_with(promise, "network").await;
    }
}

#[wasm_bindgen_test]
async fn management_answers_that_break_the_contract_are_typed_errors() {
    let call = |mode: &str, which: usize| {
        let o = manage_options(&[("proxyUrl", s(&format!("{FAULTS}/{mode}"))), ("userId", s("u-1"))]);
        [list_connections, disconnect, list_providers][which](&o)
    };
    let cases = [
        // (mode, which call, code, status, request)
        ("bad-entry", 0, "invalid_response", None, "GET {}/connections answered 200"),
        ("bad-entry", 2, "invalid_response", None, "GET {}/providers answered 200"),
        ("not-a-list", 0, "invalid_response", None, "GET {}/connections answered 200"),
        ("not-a-list", 2, "invalid_response", None, "GET {}/providers answered 200"),
        ("not-json", 0, "invalid_response", None, "GET {}/connections answered 200"),
        ("array", 2, "invalid_response", None, "GET {}/providers answered 200"),
        ("terra-400", 1, "proxy_error", Some(400), "DELETE {}/connections/u-1 answered 400"),
        ("html-500", 0, "proxy_error", Some(500), "GET {}/connections answered 500"),
        ("problem", 2, "proxy_error", Some(422), "GET {}/providers answered 422"),
    ];
    for (mode, which, code, status, request) in cases {
        let error = rejects_with(call(mode, which), code).await;
        assert_eq!(get(&error, "status").as_f64(), status.map(f64::from), "{mode}");
        let text = get(&error, "message").as_string().unwrap();
        let request = request.replace("{}", &format!("{FAULTS}/{mode}"));
        assert!(text.ends_with(&format!("({request})")), "{mode}: {text}");
    }
    // Odd optional fields are normalised: only the declared keys, null for what is not a
    // string, false for an `active` that is not true, no icon that is not an http(s) URL, and
    // the resource as the name when Terra gives none.
    let connections = resolved(call("odd-entries", 0)).await;
    let first = js_sys::Array::from(&connections).get(0);
    let keys = js_sys::Object::keys(first.unchecked_ref::<Object>())
        .iter()
        .map(|k| k.as_string().unwrap())
        .collect::<Vec<_>>();
    assert_eq!(keys, ["userId", "provider", "referenceId", "active", "createdAt", "lastWebhookUpdate", "scopes"]);
    assert_eq!((get(&first, "userId"), get(&first, "provider")), (s("u-1"), s("OURA")));
    assert_eq!(
        (get(&first, "active"), get(&first, "createdAt"), get(&first, "referenceId")),
        (JsValue::FALSE, JsValue::NULL, JsValue::NULL)
    );
    assert_eq!(get(&first, "scopes"), s("a,b"));
    let providers = js_sys::Array::from(&resolved(call("odd-entries", 2)).await);
    assert_eq!(providers.length(), 2);
    for (i, name) in [(0, "FITBIT"), (1, "OURA")] {
        let p = providers.get(i);
        assert_eq!((get(&p, "name"), get(&p, "icon")), (s(name), JsValue::NULL), "{i}");
    }
    // Any 2xx is a finished disconnect, with or without a body.
    assert_eq!(resolved(call("disconnected", 1)).await, JsValue::UNDEFINED);
}

#[wasm_bindgen_test]
async fn management_calls_abort() {
    let controller = web_sys::AbortController::new().unwrap();
    controller.abort();
    let o = manage_options(&[("proxyUrl", s(&api())), ("userId", s("u-1")), ("signal", controller.signal().into())]);
    for promise in [list_connections(&o), disconnect(&o), list_providers(&o)] {
        rejects_with(promise, "aborted").await;
    }
}
