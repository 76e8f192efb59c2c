//! Connection management: `listConnections()`, `disconnect()` and `listProviders()`.
//!
//! Their options, checked before any request; the proxy route each one calls
//! (`terra_connect_protocol::path`); and the entries of the proxy's answers, checked and
//! typed. Pure: the browser half is `web::manage`.

use crate::error::{Error, ErrorCode, Result};
use crate::options::{self, MAX_REFERENCE_ID};
use crate::url;
use crate::wire::Method;
use terra_connect_protocol::{is_provider_name, is_user_id, path};

/// Which of the three calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// `listConnections()`: `GET {proxyUrl}/connections`.
    ListConnections,
    /// `disconnect()`: `DELETE {proxyUrl}/connections/{userId}`.
    Disconnect,
    /// `listProviders()`: `GET {proxyUrl}/providers`.
    ListProviders,
}

impl Call {
    /// The options the call reads (besides `signal`): `listProviders()` takes no `referenceId`
    /// (the catalogue is the account's), only `disconnect()` a `userId`.
    pub fn reads(self, option: &str) -> bool {
        match option {
            "referenceId" => self != Call::ListProviders,
            "userId" => self == Call::Disconnect,
            _ => true,
        }
    }
}

/// The options as they arrive from JavaScript: each absent or a string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawManageOptions {
    /// `proxyUrl`, as for `createSession()`.
    pub proxy_url: Option<String>,
    /// `referenceId`: whose connections (the proxy's reference-id hook, when it has one, decides instead).
    pub reference_id: Option<String>,
    /// `userId`: the connection to remove (`disconnect()`).
    pub user_id: Option<String>,
}

/// A checked request: what to send where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManageRequest {
    /// The HTTP method.
    pub method: Method,
    /// The URL, under `proxyUrl`.
    pub url: String,
}

impl RawManageOptions {
    /// Checks the options of `call` and builds its request, or names the first problem.
    pub fn validate(self, call: Call) -> Result<ManageRequest> {
        let mut url = options::proxy_url(self.proxy_url)?;
        let reference_id = options::non_empty("referenceId", self.reference_id, MAX_REFERENCE_ID)?;
        let method = match call {
            Call::ListProviders => {
                url.push_str(path::PROVIDERS);
                Method::Get
            }
            Call::ListConnections => {
                url.push_str(path::CONNECTIONS);
                Method::Get
            }
            Call::Disconnect => {
                let user_id = self.user_id.ok_or_else(|| Error::invalid("userId", "is required"))?;
                if !is_user_id(&user_id) {
                    return Err(Error::invalid(
                        "userId",
                        "must be a Terra user id: 1 to 128 letters, digits, '-' or '_'",
                    ));
                }
                url.push_str(path::CONNECTIONS);
                url.push('/');
                url.push_str(&user_id);
                Method::Delete
            }
        };
        if let Some(reference_id) = reference_id {
            url.push_str("?reference_id=");
            url.push_str(&url::encode(&reference_id));
        }
        Ok(ManageRequest { method, url })
    }
}

/// What a field of an entry must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A Terra user id ([`is_user_id`]); otherwise the entry is refused.
    UserId,
    /// A provider name ([`is_provider_name`]); otherwise the entry is refused.
    Provider,
    /// A string, or `null`.
    Text,
    /// `true` only when it is `true`.
    Flag,
    /// A non-empty string, or else the entry's first field (a provider's name falls back to its
    /// resource).
    Name,
    /// An absolute http(s) URL, or `null` (a `javascript:` or relative icon is dropped).
    Url,
}

/// One field of an entry: its name in the proxy's JSON, its name in JavaScript, what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// The proxy's (Terra's) name, e.g. `user_id`.
    pub wire: &'static str,
    /// The name JavaScript sees, e.g. `userId`.
    pub js: &'static str,
    /// What it must hold.
    pub kind: Kind,
}

const fn field(wire: &'static str, js: &'static str, kind: Kind) -> Field {
    Field { wire, js, kind }
}

/// A `Connection`, field by field, in the order JavaScript sees them.
pub const CONNECTION: [Field; 7] = [
    field("user_id", "userId", Kind::UserId),
    field("provider", "provider", Kind::Provider),
    field("reference_id", "referenceId", Kind::Text),
    field("active", "active", Kind::Flag),
    field("created_at", "createdAt", Kind::Text),
    field("last_webhook_update", "lastWebhookUpdate", Kind::Text),
    field("scopes", "scopes", Kind::Text),
];

/// A `Provider`, field by field, in the order JavaScript sees them.
pub const PROVIDER: [Field; 3] = [
    field("resource", "resource", Kind::Provider),
    field("name", "name", Kind::Name),
    field("icon", "icon", Kind::Url),
];

/// What goes under a field's JavaScript name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// The value as the proxy sent it.
    Keep,
    /// `null`.
    Null,
    /// This boolean.
    Flag(bool),
    /// The value of the entry's first field.
    First,
    /// Nothing: the entry breaks the contract, and the answer is an `invalid_response`.
    Refuse,
}

/// Checks one field's value: `text` when it is a string, `flag` when it is a boolean.
pub fn check(kind: Kind, text: Option<&str>, flag: Option<bool>) -> Check {
    match (kind, text) {
        (Kind::UserId, Some(t)) if is_user_id(t) => Check::Keep,
        (Kind::Provider, Some(t)) if is_provider_name(t) => Check::Keep,
        (Kind::UserId | Kind::Provider, _) => Check::Refuse,
        (Kind::Flag, _) => Check::Flag(flag == Some(true)),
        (Kind::Name, Some(t)) if !t.is_empty() => Check::Keep,
        (Kind::Name, _) => Check::First,
        (Kind::Url, Some(t)) if !url::is_http_url(t) => Check::Null,
        (Kind::Text | Kind::Url, Some(_)) => Check::Keep,
        (Kind::Text | Kind::Url, None) => Check::Null,
    }
}

/// The error for an answer whose list or one of its entries is not what the proxy contract
/// says (`what` names the list).
pub fn malformed(what: &str) -> Error {
    let mut message = String::from("the proxy's answer lacks a well-formed ");
    message.push_str(what);
    message.push_str(" array");
    Error::new(ErrorCode::InvalidResponse, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(proxy_url: &str, reference_id: Option<&str>, user_id: Option<&str>) -> RawManageOptions {
        RawManageOptions {
            proxy_url: Some(proxy_url.into()),
            reference_id: reference_id.map(Into::into),
            user_id: user_id.map(Into::into),
        }
    }

    #[test]
    fn builds_each_route() {
        let list = raw("/api/terra/", Some("user 42&x"), None).validate(Call::ListConnections).unwrap();
        assert_eq!(
            list,
            ManageRequest { method: Method::Get, url: "/api/terra/connections?reference_id=user%2042%26x".into() }
        );
        let mine = raw("https://app.example/api/terra", None, None).validate(Call::ListConnections).unwrap();
        assert_eq!(mine.url, "https://app.example/api/terra/connections");
        let delete = raw("/p", Some("r"), Some("ae53-1_x")).validate(Call::Disconnect).unwrap();
        assert_eq!(
            delete,
            ManageRequest { method: Method::Delete, url: "/p/connections/ae53-1_x?reference_id=r".into() }
        );
        let providers = raw("/p", None, None).validate(Call::ListProviders).unwrap();
        assert_eq!(providers, ManageRequest { method: Method::Get, url: "/p/providers".into() });
    }

    #[test]
    fn bad_options_name_the_option() {
        let cases = [
            (RawManageOptions::default(), Call::ListProviders, "proxyUrl is required"),
            (raw("ftp://x", None, None), Call::ListConnections, "proxyUrl must be"),
            (raw("/p?x=1", None, None), Call::ListConnections, "proxyUrl must be"),
            (raw("/p", Some(""), None), Call::ListConnections, "referenceId must not be empty"),
            (raw("/p", Some(&"r".repeat(MAX_REFERENCE_ID + 1)), None), Call::Disconnect, "referenceId is too long"),
            (raw("/p", None, None), Call::Disconnect, "userId is required"),
            (raw("/p", None, Some("")), Call::Disconnect, "userId must be a Terra user id"),
            (raw("/p", None, Some("../admin")), Call::Disconnect, "userId must be a Terra user id"),
            (raw("/p", None, Some("a%2Fb")), Call::Disconnect, "userId must be a Terra user id"),
            (raw("/p", None, Some(&"a".repeat(129))), Call::Disconnect, "userId must be a Terra user id"),
        ];
        for (options, call, message) in cases {
            let e = options.validate(call).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidArgument);
            assert!(e.message.starts_with(message), "{message}: {}", e.message);
        }
    }

    #[test]
    fn each_call_reads_its_own_options() {
        assert!(Call::Disconnect.reads("userId") && Call::Disconnect.reads("referenceId"));
        assert!(!Call::ListConnections.reads("userId") && Call::ListConnections.reads("referenceId"));
        assert!(!Call::ListProviders.reads("userId") && !Call::ListProviders.reads("referenceId"));
        assert!(Call::ListProviders.reads("proxyUrl") && Call::ListProviders.reads("signal"));
    }

    #[test]
    fn checks_each_kind_of_field() {
        use Check::*;
        let cases = [
            (Kind::UserId, Some("ae53-1_x"), None, Keep),
            (Kind::UserId, Some("a/b"), None, Refuse),
            (Kind::UserId, Some(""), None, Refuse),
            (Kind::UserId, None, None, Refuse),
            (Kind::Provider, Some("OURA"), None, Keep),
            (Kind::Provider, Some("<b>"), None, Refuse),
            (Kind::Provider, None, Some(true), Refuse),
            (Kind::Text, Some("user-42"), None, Keep),
            (Kind::Text, Some(""), None, Keep),
            (Kind::Text, None, Some(true), Null),
            (Kind::Flag, None, Some(true), Flag(true)),
            (Kind::Flag, None, Some(false), Flag(false)),
            (Kind::Flag, Some("true"), None, Flag(false)),
            (Kind::Name, Some("Fitbit"), None, Keep),
            (Kind::Name, Some(""), None, First),
            (Kind::Name, None, None, First),
            (Kind::Url, Some("https://x/f.svg"), None, Keep),
            (Kind::Url, Some("http://127.0.0.1:1/icons/F.svg"), None, Keep),
            (Kind::Url, Some("javascript:alert(1)"), None, Null),
            (Kind::Url, Some("/icons/f.svg"), None, Null),
            (Kind::Url, None, None, Null),
        ];
        for (kind, text, flag, expected) in cases {
            assert_eq!(check(kind, text, flag), expected, "{kind:?} {text:?} {flag:?}");
        }
        assert_eq!(malformed("providers").message, "the proxy's answer lacks a well-formed providers array");
    }

    #[test]
    fn entries_start_with_the_field_names_fall_back_to() {
        // Kind::Name falls back to the first field, which must be the one it names.
        assert_eq!(PROVIDER[0].wire, "resource");
        assert!(CONNECTION.iter().all(|f| f.kind != Kind::Name));
        for fields in [&CONNECTION[..], &PROVIDER[..]] {
            assert_ne!(check(fields[0].kind, None, None), Check::Keep, "the first field is required");
        }
    }
}
