//! The proxy's one error answer: `{"status":"error","code","message"}` with a fitting status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An error answered to the browser. The message never contains credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable code, e.g. `invalid_resource`, `upstream_unreachable`.
    pub code: &'static str,
    /// A message for people.
    pub message: String,
    /// Terra's HTTP status when the error came from Terra (for the log line).
    pub upstream_status: Option<u16>,
}

impl ApiError {
    /// An error with a status, a code and a message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), upstream_status: None }
    }

    /// 400 `invalid_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "status": "error", "code": self.code, "message": self.message });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(status) = self.upstream_status {
            response.extensions_mut().insert(crate::logging::UpstreamStatus(status));
        }
        response
    }
}
