//! The one error type of the crate: a closed set of codes plus a human message.

/// The stable, machine-readable reason a call failed.
///
/// The JavaScript side sees [`ErrorCode::as_str`] as `error.code`. The set is closed:
/// adding a code is a breaking change, documented in README.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The caller passed a missing, mistyped or malformed option. Nothing was sent.
    InvalidArgument,
    /// The proxy could not be reached (refused, DNS, CORS, offline).
    Network,
    /// The proxy answered with a non-2xx status; `status` and the server's message are kept.
    ProxyError,
    /// The proxy answered 2xx, but not with a usable Terra session.
    InvalidResponse,
    /// The browser refused to open the new tab.
    PopupBlocked,
    /// The person closed the tab before the flow finished.
    PopupClosed,
    /// No result arrived within `timeoutMs`.
    Timeout,
    /// The caller's `AbortSignal` fired.
    Aborted,
    /// Terra sent the person to the failure URL.
    AuthFailed,
    /// A redirect URL with no, an unknown, an expired or an already used state.
    StateMismatch,
    /// `verify: true`: the proxy did not confirm the user id the redirect carried.
    NotVerified,
    /// `connect()`: `localStorage` refused the pending record (disabled, full, or a private
    /// mode), so no result could ever be accepted. Nothing was sent; the tab was closed.
    StorageUnavailable,
    /// `verify`: the proxy said it cannot confirm any user for this request (no `referenceId`
    /// and no reference-id hook, or no webhook secret for `"webhook"`); the message says what
    /// is missing.
    VerifyUnavailable,
}

impl ErrorCode {
    /// Every code, in README's order (the TypeScript union `TerraConnectErrorCode` lists the same).
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::InvalidArgument,
        ErrorCode::Network,
        ErrorCode::ProxyError,
        ErrorCode::InvalidResponse,
        ErrorCode::PopupBlocked,
        ErrorCode::PopupClosed,
        ErrorCode::Timeout,
        ErrorCode::Aborted,
        ErrorCode::AuthFailed,
        ErrorCode::StateMismatch,
        ErrorCode::NotVerified,
        ErrorCode::StorageUnavailable,
        ErrorCode::VerifyUnavailable,
    ];

    /// The stable string form, e.g. `"invalid_argument"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::Network => "network",
            ErrorCode::ProxyError => "proxy_error",
            ErrorCode::InvalidResponse => "invalid_response",
            ErrorCode::PopupBlocked => "popup_blocked",
            ErrorCode::PopupClosed => "popup_closed",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Aborted => "aborted",
            ErrorCode::AuthFailed => "auth_failed",
            ErrorCode::StateMismatch => "state_mismatch",
            ErrorCode::NotVerified => "not_verified",
            ErrorCode::StorageUnavailable => "storage_unavailable",
            ErrorCode::VerifyUnavailable => "verify_unavailable",
        }
    }
}

/// A failed call: a [`ErrorCode`], a message for people and, for
/// [`ErrorCode::ProxyError`], the HTTP status the proxy answered with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// Why it failed, as a stable code.
    pub code: ErrorCode,
    /// What failed, for people; never contains secrets.
    pub message: String,
    /// The proxy's HTTP status, when there was one.
    pub status: Option<u16>,
}

impl Error {
    /// An error with a code and a message.
    // Never inlined: errors are built at dozens of call sites, and each inlined copy costs wasm.
    #[inline(never)]
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error { code, message: message.into(), status: None }
    }

    /// An [`ErrorCode::InvalidArgument`] error naming the offending option.
    #[inline(never)]
    pub fn invalid(option: &str, problem: &str) -> Self {
        let mut message = String::with_capacity(option.len() + problem.len() + 1);
        message.push_str(option);
        message.push(' ');
        message.push_str(problem);
        Error::new(ErrorCode::InvalidArgument, message)
    }
}

/// Shorthand for results of this crate.
pub type Result<T> = core::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_strings() {
        let all = [
            (ErrorCode::InvalidArgument, "invalid_argument"),
            (ErrorCode::Network, "network"),
            (ErrorCode::ProxyError, "proxy_error"),
            (ErrorCode::InvalidResponse, "invalid_response"),
            (ErrorCode::PopupBlocked, "popup_blocked"),
            (ErrorCode::PopupClosed, "popup_closed"),
            (ErrorCode::Timeout, "timeout"),
            (ErrorCode::Aborted, "aborted"),
            (ErrorCode::AuthFailed, "auth_failed"),
            (ErrorCode::StateMismatch, "state_mismatch"),
            (ErrorCode::NotVerified, "not_verified"),
            (ErrorCode::StorageUnavailable, "storage_unavailable"),
            (ErrorCode::VerifyUnavailable, "verify_unavailable"),
        ];
        for (code, text) in all {
            assert_eq!(code.as_str(), text);
        }
    }

    #[test]
    fn invalid_names_the_option() {
        let e = Error::invalid("resource", "must not be empty");
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert_eq!(e.message, "resource must not be empty");
        assert_eq!(e.status, None);
    }
}
