//! A deliberately broken stand-in for a proxy, for the browser tests of the client's error
//! handling: `POST /{mode}/auth/authenticateUser`, `GET /{mode}/connections`,
//! `DELETE /{mode}/connections/{user_id}` and `GET /{mode}/providers` answer the way `mode`
//! says, with CORS open.
//! Listens on the address in its first argument (default 127.0.0.1:0) and prints it.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

async fn answer(Path(mode): Path<String>) -> Response {
    let json = |status: StatusCode, body: &'static str| (status, [(header::CONTENT_TYPE, "application/json")], body);
    match mode.as_str() {
        "not-json" => (StatusCode::OK, "<html>hello</html>").into_response(),
        "incomplete" => json(StatusCode::OK, r#"{"status":"success","user_id":"u-1"}"#).into_response(),
        "javascript" => {
            json(StatusCode::OK, r#"{"status":"success","user_id":"u-1","auth_url":"javascript:alert(1)"}"#)
                .into_response()
        }
        "array" => json(StatusCode::OK, "[1,2]").into_response(),
        // Lists that break the proxy contract: an entry without a Terra user id / provider name,
        // and lists that are not arrays.
        "bad-entry" => json(
            StatusCode::OK,
            r#"{"connections":[{"user_id":"../admin","provider":"FITBIT","active":true}],"providers":[{"name":"Fitbit"}]}"#,
        )
        .into_response(),
        // Entries within the contract whose optional fields are odd: what the client normalises.
        "odd-entries" => json(
            StatusCode::OK,
            r#"{"connections":[{"user_id":"u-1","provider":"OURA","active":"yes","created_at":5,"scopes":"a,b","extra":1}],
               "providers":[{"resource":"FITBIT","name":"","icon":"javascript:alert(1)"},{"resource":"OURA","icon":"/oura.svg"}]}"#,
        )
        .into_response(),
        "not-a-list" => json(StatusCode::OK, r#"{"connections":{"user_id":"u"},"providers":"FITBIT"}"#).into_response(),
        "disconnected" => json(StatusCode::OK, r#"{"status":"success"}"#).into_response(),
        "slow" => {
            // A valid session, late: keeps connect()'s tab on its own "Connecting…" page.
            tokio::time::sleep(std::time::Duration::from_secs(4)).await;
            json(StatusCode::OK, r#"{"status":"success","user_id":"u-slow","auth_url":"https://provider.invalid/"}"#)
                .into_response()
        }
        "problem" => (
            StatusCode::UNPROCESSABLE_ENTITY,
            [(header::CONTENT_TYPE, "application/problem+json")],
            r#"{"type":"about:blank","title":"Unprocessable","instance":"/x","detail":"reference_id too long"}"#,
        )
            .into_response(),
        "terra-400" => {
            json(StatusCode::BAD_REQUEST, r#"{"status":"error","message":"language is not supported"}"#).into_response()
        }
        "html-500" => (StatusCode::INTERNAL_SERVER_ERROR, "<html>oops</html>").into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn answer_for_user(Path((mode, _user_id)): Path<(String, String)>) -> Response {
    answer(Path(mode)).await
}

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let app = Router::new()
        .route("/{mode}/auth/authenticateUser", post(answer))
        .route("/{mode}/connections", get(answer))
        .route("/{mode}/connections/{user_id}", axum::routing::delete(answer_for_user))
        .route("/{mode}/providers", get(answer))
        .layer(tower_http::cors::CorsLayer::permissive());
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    println!("fault proxy listening on http://{}", listener.local_addr().expect("addr"));
    axum::serve(listener, app).await.expect("serve");
}
