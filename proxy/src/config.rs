//! The credentials and the defaults the library shares with the binary.

use std::fmt;
use std::time::Duration;

/// How long one call to Terra may take by default.
pub(crate) const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);

/// Terra's developer id and API key. `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Sent as the `dev-id` header.
    pub dev_id: String,
    /// Sent as the `x-api-key` header.
    pub api_key: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials { dev_id: <redacted>, api_key: <redacted> }")
    }
}
