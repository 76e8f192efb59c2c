//! Terra's own request and response shapes for `auth/authenticateUser`, minus the credentials.
//!
//! The client speaks Terra's wire format to the proxy, so any thin forwarding proxy that adds
//! `dev-id` and `x-api-key` works with it, not only terra-connect-proxy.

use crate::error::{Error, ErrorCode, Result};
use crate::options::{SessionOptions, Target, Verify};
use crate::redirect::{self, Outcome};
use crate::url;
use terra_connect_protocol::{body, code};

/// The HTTP method of a request to the proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `GET`: lookups and lists.
    Get,
    /// `POST` with a JSON body: sessions.
    Post,
    /// `DELETE`: `disconnect()`.
    Delete,
}

impl Method {
    /// `"GET"`, `"POST"` or `"DELETE"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// A login session Terra created: the user id it reserved and the page to send the person to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// Terra's id for the user; it exists before the person finishes logging in.
    pub user_id: String,
    /// The provider's login page (http or https).
    pub auth_url: String,
}

/// The string fields the client reads from a JSON response body; absent or not a string is `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseFields {
    /// `user_id` of a success.
    pub user_id: Option<String>,
    /// `auth_url` of a success.
    pub auth_url: Option<String>,
    /// `message` of Terra's `{status, message}` error shape (and of the proxy's own errors).
    pub message: Option<String>,
    /// `code` of the proxy's own errors.
    pub code: Option<String>,
    /// `title` of an `application/problem+json` error.
    pub title: Option<String>,
    /// `detail` of an `application/problem+json` error.
    pub detail: Option<String>,
    /// `url` of a widget session.
    pub url: Option<String>,
}

/// The request URL: `{proxy}/auth/authenticateUser?resource=RESOURCE` for one provider,
/// `{proxy}/widget/session` for Terra's widget.
pub fn endpoint(options: &SessionOptions) -> String {
    let mut out = String::with_capacity(options.proxy_url.len() + 64);
    out.push_str(&options.proxy_url);
    match &options.target {
        Target::Provider(resource) => {
            out.push_str("/auth/authenticateUser?resource=");
            out.push_str(&url::encode(resource));
        }
        Target::Widget(_) => out.push_str("/widget/session"),
    }
    out
}

/// The verification request: `{proxy}{path}?user_id=…[&reference_id=…]`, where `path` is
/// `/connection` (ask Terra) or `/connection/webhook?wait_ms=…&` style long polls.
pub fn connection_endpoint(proxy_url: &str, path: &str, user_id: &str, reference_id: Option<&str>) -> String {
    let mut out = String::with_capacity(proxy_url.len() + 96);
    out.push_str(proxy_url);
    out.push_str(path);
    out.push_str(if url::find_byte(path, b"?").is_some() { "&user_id=" } else { "?user_id=" });
    out.push_str(&url::encode(user_id));
    if let Some(reference_id) = reference_id {
        out.push_str("&reference_id=");
        out.push_str(&url::encode(reference_id));
    }
    out
}

/// The verification request for `how`: `{proxy}/connection?user_id=…` (the proxy asks Terra)
/// or the long poll `{proxy}/connection/webhook?wait_ms=MAX_WAIT_MS&user_id=…`.
pub fn verification_endpoint(proxy_url: &str, how: Verify, user_id: &str, reference_id: Option<&str>) -> String {
    let mut path = String::from("/connection");
    if how == Verify::Webhook {
        path.push_str("/webhook?wait_ms=");
        crate::state::push_u64(&mut path, u64::from(terra_connect_protocol::MAX_WAIT_MS));
    }
    connection_endpoint(proxy_url, &path, user_id, reference_id)
}

/// Reads the proxy's answer to a verification: `Ok` only for a 2xx naming `user_id`;
/// 404 is `not_verified`; the proxy's "this cannot succeed" answers (`reference_id_required`,
/// `webhooks_not_configured`) are `verify_unavailable` with its message; other errors are
/// `proxy_error`.
pub fn interpret_connection(http_status: u16, user_id: &str, fields: Option<ResponseFields>) -> Result<()> {
    match (http_status, fields) {
        (200..=299, Some(f)) if f.user_id.as_deref() == Some(user_id) => Ok(()),
        (200..=299, _) => Err(Error::new(ErrorCode::InvalidResponse, "the proxy confirmed a different user")),
        (404, _) => Err(Error::new(ErrorCode::NotVerified, "the proxy did not confirm this connection")),
        (status, Some(f))
            if matches!(f.code.as_deref(), Some(code::REFERENCE_ID_REQUIRED | code::WEBHOOKS_NOT_CONFIGURED)) =>
        {
            let mut message = String::from("verify cannot succeed with this proxy: ");
            message.push_str(f.message.as_deref().unwrap_or("it cannot tell whose user this is"));
            Err(Error { code: ErrorCode::VerifyUnavailable, message, status: Some(status) })
        }
        (status, fields) => successful(status, fields).map(|_| ()),
    }
}

/// The JSON body: only the fields given, with the outcome marker (and `connect()`'s state,
/// when given) added to the redirect URLs.
pub fn request_body(options: &SessionOptions, state: Option<&str>) -> String {
    let marked = |u: &str, outcome| {
        let u = redirect::mark(u, outcome);
        match state {
            Some(state) => url::append_param(&u, redirect::STATE_PARAM, state),
            None => u,
        }
    };
    let success = options.success_url.as_deref().map(|u| marked(u, Outcome::Success));
    let failure = options.failure_url.as_deref().map(|u| marked(u, Outcome::Failure));
    let providers = match &options.target {
        // No providers named: the field is left out, and Terra offers the dashboard's.
        Target::Widget(list) if list.is_empty() => None,
        Target::Widget(_) => Some(options.target.joined()),
        Target::Provider(_) => None,
    };
    let fields = [
        (body::PROVIDERS, providers.as_deref()),
        (body::REFERENCE_ID, options.reference_id.as_deref()),
        (body::SUCCESS_REDIRECT_URL, success.as_deref()),
        (body::FAILURE_REDIRECT_URL, failure.as_deref()),
        (body::LANGUAGE, options.language.as_deref()),
    ];
    let mut out = String::from("{");
    for (name, value) in fields {
        if let Some(value) = value {
            if out.len() > 1 {
                out.push(',');
            }
            push_json_string(&mut out, name);
            out.push(':');
            push_json_string(&mut out, value);
        }
    }
    out.push('}');
    out
}

/// Appends `value` as a JSON string literal.
pub fn push_json_string(out: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 15] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The login page to open for `target`, from the proxy's answer: `auth_url` for one
/// provider, the widget's `url` for the widget.
pub fn interpret_login(target: &Target, http_status: u16, fields: Option<ResponseFields>) -> Result<String> {
    match target {
        Target::Provider(_) => interpret(http_status, fields).map(|s| s.auth_url),
        // The widget answers {session_id, url, expires_in}: the page to open is `url`.
        Target::Widget(_) => match successful(http_status, fields)?.url {
            Some(url) if url::is_http_url(&url) => Ok(url),
            _ => Err(Error::new(ErrorCode::InvalidResponse, "the proxy's answer lacks the widget's http(s) url")),
        },
    }
}

/// Turns the proxy's answer into a [`Session`] or an error.
///
/// `fields` is `None` when the body was not a JSON object.
pub fn interpret(http_status: u16, fields: Option<ResponseFields>) -> Result<Session> {
    let fields = successful(http_status, fields)?;
    match (fields.user_id, fields.auth_url) {
        (Some(user_id), Some(auth_url)) if !user_id.is_empty() && url::is_http_url(&auth_url) => {
            Ok(Session { user_id, auth_url })
        }
        _ => Err(Error::new(ErrorCode::InvalidResponse, "the proxy's answer lacks a user_id or an http(s) auth_url")),
    }
}

/// The fields of a 2xx JSON answer; any other answer as the error it means.
pub fn successful(http_status: u16, fields: Option<ResponseFields>) -> Result<ResponseFields> {
    let ok = (200..300).contains(&http_status);
    let Some(fields) = fields else {
        return Err(if ok {
            Error::new(ErrorCode::InvalidResponse, "the proxy answered with a body that is not a JSON object")
        } else {
            proxy_error(http_status, "the proxy answered with an error and no JSON body")
        });
    };
    if !ok {
        let message = [&fields.message, &fields.detail, &fields.title]
            .into_iter()
            .flatten()
            .find(|m| !m.is_empty())
            .map_or("the proxy answered with an error", |m| m.as_str());
        return Err(proxy_error(http_status, message));
    }
    Ok(fields)
}

fn proxy_error(status: u16, message: &str) -> Error {
    Error { code: ErrorCode::ProxyError, message: message.into(), status: Some(status) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::RawOptions;

    fn options(extra: RawOptions) -> SessionOptions {
        RawOptions {
            proxy_url: Some("/api/terra".into()),
            resource: extra.providers.is_none().then(|| "oura".into()),
            ..extra
        }
        .validate()
        .unwrap()
    }

    #[test]
    fn builds_terras_endpoint() {
        assert_eq!(endpoint(&options(RawOptions::default())), "/api/terra/auth/authenticateUser?resource=OURA");
        let widget = options(RawOptions {
            resource: None,
            providers: Some(vec!["GARMIN".into(), "oura".into()]),
            ..Default::default()
        });
        assert_eq!(endpoint(&widget), "/api/terra/widget/session");
        assert_eq!(request_body(&widget, None), r#"{"providers":"GARMIN,OURA"}"#);
        let dashboard = options(RawOptions { resource: None, providers: Some(vec![]), ..Default::default() });
        assert_eq!(endpoint(&dashboard), "/api/terra/widget/session");
        assert_eq!(request_body(&dashboard, None), "{}", "no providers field: Terra offers the dashboard's");
    }

    #[test]
    fn body_holds_only_given_fields() {
        assert_eq!(request_body(&options(RawOptions::default()), None), "{}");
        let with_state = options(RawOptions { success_url: Some("https://a/d#f".into()), ..RawOptions::default() });
        assert_eq!(
            request_body(&with_state, Some("00aa")),
            r#"{"auth_success_redirect_url":"https://a/d?tc_outcome=success&tc_state=00aa#f"}"#
        );
        let body = request_body(
            &options(RawOptions {
                reference_id: Some("u\"42\\\n\u{1}é".into()),
                success_url: Some("https://app.example/done?auth=success".into()),
                failure_url: Some("https://app.example/failed".into()),
                language: Some("en".into()),
                ..RawOptions::default()
            }),
            None,
        );
        assert_eq!(
            body,
            concat!(
                r#"{"reference_id":"u\"42\\\n\u0001é","#,
                r#""auth_success_redirect_url":"https://app.example/done?auth=success&tc_outcome=success","#,
                r#""auth_failure_redirect_url":"https://app.example/failed?tc_outcome=failure","#,
                r#""language":"en"}"#
            )
        );
    }

    #[test]
    fn verification_requests_and_answers() {
        assert_eq!(
            connection_endpoint("/api/terra", "/connection", "u 1", Some("a&b")),
            "/api/terra/connection?user_id=u%201&reference_id=a%26b"
        );
        assert_eq!(connection_endpoint("/p", "/connection", "u", None), "/p/connection?user_id=u");
        assert_eq!(
            connection_endpoint("/p", "/connection/webhook?wait_ms=20000", "u", None),
            "/p/connection/webhook?wait_ms=20000&user_id=u"
        );
        assert_eq!(
            verification_endpoint("/p", Verify::Webhook, "u", Some("r")),
            "/p/connection/webhook?wait_ms=25000&user_id=u&reference_id=r"
        );
        assert_eq!(verification_endpoint("/p", Verify::Proxy, "u", None), "/p/connection?user_id=u");
        let named = |id: &str| Some(ResponseFields { user_id: Some(id.into()), ..Default::default() });
        assert_eq!(interpret_connection(200, "u", named("u")), Ok(()));
        assert_eq!(interpret_connection(200, "u", named("v")).unwrap_err().code, ErrorCode::InvalidResponse);
        assert_eq!(interpret_connection(404, "u", None).unwrap_err().code, ErrorCode::NotVerified);
        for (status, proxy_code) in [(400, "reference_id_required"), (503, "webhooks_not_configured")] {
            let answer = ResponseFields {
                code: Some(proxy_code.into()),
                message: Some("pass referenceId".into()),
                ..ResponseFields::default()
            };
            let e = interpret_connection(status, "u", Some(answer)).unwrap_err();
            assert_eq!((e.code, e.status), (ErrorCode::VerifyUnavailable, Some(status)));
            assert_eq!(e.message, "verify cannot succeed with this proxy: pass referenceId");
        }
        let other = ResponseFields { code: Some("rate_limited".into()), ..ResponseFields::default() };
        assert_eq!(interpret_connection(429, "u", Some(other)).unwrap_err().code, ErrorCode::ProxyError);
        let e = interpret_connection(502, "u", None).unwrap_err();
        assert_eq!((e.code, e.status), (ErrorCode::ProxyError, Some(502)));
    }

    #[test]
    fn reads_the_login_page_for_each_target() {
        let widget = Target::Widget(vec!["GARMIN".into()]);
        let answer = ResponseFields { url: Some("https://widget.tryterra.co/session/1".into()), ..Default::default() };
        assert_eq!(interpret_login(&widget, 200, Some(answer)).unwrap(), "https://widget.tryterra.co/session/1");
        assert_eq!(
            interpret_login(&widget, 200, Some(ResponseFields::default())).unwrap_err().code,
            ErrorCode::InvalidResponse
        );
        let one = Target::Provider("OURA".into());
        let session =
            ResponseFields { user_id: Some("u".into()), auth_url: Some("https://p/".into()), ..Default::default() };
        assert_eq!(interpret_login(&one, 200, Some(session)).unwrap(), "https://p/");
    }

    #[test]
    fn reads_a_session() {
        let fields = ResponseFields {
            user_id: Some("u-1".into()),
            auth_url: Some("https://www.fitbit.com/oauth2/authorize?x".into()),
            ..ResponseFields::default()
        };
        let s = interpret(200, Some(fields)).unwrap();
        assert_eq!(s.user_id, "u-1");
    }

    #[test]
    fn incomplete_or_unsafe_sessions_are_invalid_responses() {
        let cases = [
            ResponseFields { user_id: Some("u".into()), ..ResponseFields::default() },
            ResponseFields { auth_url: Some("https://x/".into()), ..ResponseFields::default() },
            ResponseFields {
                user_id: Some("u".into()),
                auth_url: Some("javascript:alert(1)".into()),
                ..Default::default()
            },
            ResponseFields { user_id: Some(String::new()), auth_url: Some("https://x/".into()), ..Default::default() },
        ];
        for fields in cases {
            assert_eq!(interpret(200, Some(fields)).unwrap_err().code, ErrorCode::InvalidResponse);
        }
        assert_eq!(interpret(200, None).unwrap_err().code, ErrorCode::InvalidResponse);
    }

    #[test]
    fn errors_carry_status_and_the_servers_message() {
        let terra = ResponseFields { message: Some("Invalid resource".into()), ..Default::default() };
        let e = interpret(404, Some(terra)).unwrap_err();
        assert_eq!((e.code, e.status, e.message.as_str()), (ErrorCode::ProxyError, Some(404), "Invalid resource"));

        let problem = ResponseFields {
            title: Some("Bad Request".into()),
            detail: Some("resource missing".into()),
            ..Default::default()
        };
        assert_eq!(interpret(400, Some(problem)).unwrap_err().message, "resource missing");

        let title_only = ResponseFields { title: Some("Forbidden".into()), ..Default::default() };
        assert_eq!(interpret(403, Some(title_only)).unwrap_err().message, "Forbidden");

        let e = interpret(502, None).unwrap_err();
        assert_eq!((e.code, e.status), (ErrorCode::ProxyError, Some(502)));
    }
}
