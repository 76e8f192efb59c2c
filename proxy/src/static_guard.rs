//! What the demo's static serving refuses (404, before the file server sees the request):
//! paths that start with `//` (a directory redirect would answer `Location: //x/`, which a
//! browser reads as another host), backslashes, dot-files, `node_modules` and lock files.
//! One exception: `node_modules/terra-connect/` (this project's own package), which a plain
//! page without a bundler imports (README, "In a plain page"); every other installed package
//! (the demo's dev tools) stays unserved.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

const LOCK_FILES: [&str; 6] =
    ["package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb", "Cargo.lock"];

/// Whether `path` (raw, as received) may reach the static file server.
pub fn allowed(path: &str) -> bool {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    for p in [path, decoded.as_ref()] {
        if p.starts_with("//") || p.contains('\\') {
            return false;
        }
        let segments: Vec<String> = p.split('/').map(str::to_ascii_lowercase).collect();
        let modules = segments.iter().filter(|s| *s == "node_modules").count();
        if modules > 1 {
            return false;
        }
        if let Some(at) = segments.iter().position(|s| s == "node_modules") {
            if segments.get(at + 1).map(String::as_str) != Some("terra-connect") {
                return false;
            }
        }
        for lower in &segments {
            if lower.starts_with('.') && !lower.is_empty()
                || lower.ends_with(".lock")
                || LOCK_FILES.iter().any(|f| f.eq_ignore_ascii_case(lower))
            {
                return false;
            }
        }
    }
    true
}

/// The middleware.
pub async fn guard(request: Request, next: Next) -> Response {
    if allowed(request.uri().path()) {
        next.run(request).await
    } else {
        (StatusCode::NOT_FOUND, "not found").into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::allowed;

    #[test]
    fn refuses_protocol_relative_hidden_and_package_files() {
        for ok in [
            "/",
            "/index.html",
            "/pkg/terra_connect.js",
            "/e2e/done.html",
            "/a.b/c",
            "/node_modules/terra-connect/index.js",
        ] {
            assert!(allowed(ok), "{ok}");
        }
        for bad in [
            "//evil.example",
            "//x",
            "/%2F%2Fx",
            "/\\evil",
            "/node_modules/playwright-core/package.json",
            "/a/NODE_MODULES/x",
            "/node_modules/terra-connect/node_modules/x/index.js",
            "/node_modules/terra-connect-evil/index.js",
            "/node_modules/terra-connect/../playwright-core/package.json",
            "/node_modules/terra-connect/%2e%2e/playwright-core/package.json",
            "/package-lock.json",
            "/yarn.lock",
            "/Cargo.lock",
            "/pnpm-lock.yaml",
            "/.git/config",
            "/%2egit/config",
            "/.env",
        ] {
            assert!(!allowed(bad), "{bad}");
        }
    }
}
