//! The success/failure URL that Terra sends the person back to: mark it, parse it.
//!
//! Terra appends `user_id`, `resource` and `reference_id` to the app's redirect URL and keeps
//! the query already there. Terra's URL says nothing about *which* of the two URLs it is, so
//! terra-connect adds its own marker parameter, `tc_outcome=success` or `tc_outcome=failure`,
//! to the URLs it sends. An app that creates sessions elsewhere adds the same marker itself.

use crate::error::{Error, Result};
use crate::url;

/// The marker parameter terra-connect adds to the redirect URLs it sends.
pub const OUTCOME_PARAM: &str = "tc_outcome";

/// The state (CSRF) parameter `connect()` adds to the redirect URLs it sends.
pub const STATE_PARAM: &str = "tc_state";

/// Every parameter a completed redirect carries for terra-connect: Terra's three and ours.
pub const FLOW_PARAMS: [&str; 5] = ["user_id", "resource", "reference_id", OUTCOME_PARAM, STATE_PARAM];

/// Which of the two redirect URLs the person came back to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The success URL: the person allowed the connection.
    Success,
    /// The failure URL: the login failed or was cancelled.
    Failure,
}

impl Outcome {
    /// `"success"` or `"failure"`, as on the wire and in JavaScript.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// What a redirect URL says. Every field but `outcome` is optional: Terra leaves out what it
/// does not know, and may send the literal text `null`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    /// Success or failure, from the marker.
    pub outcome: Outcome,
    /// Terra's id for the connected user.
    pub user_id: Option<String>,
    /// The provider, e.g. `FITBIT`.
    pub resource: Option<String>,
    /// The app's own id for its user, as given when the session was created.
    pub reference_id: Option<String>,
    /// The `tc_state` that `connect()` added, when present.
    pub state: Option<String>,
    /// Every other parameter after the `tc_outcome` marker, in order: what Terra appended
    /// beyond its three (a failure `reason`, for one). The app's own parameters come before
    /// the marker (the marker is appended to the app's URL) and are not included.
    pub details: Vec<(String, String)>,
}

/// `url` with the terra-connect outcome marker added (existing query and fragment kept).
pub fn mark(url: &str, outcome: Outcome) -> String {
    url::append_param(url, OUTCOME_PARAM, outcome.as_str())
}

/// Parses an absolute redirect URL (usually `window.location.href`).
///
/// Fails with `invalid_argument` when `href` is not absolute or carries no
/// `tc_outcome=success|failure` marker.
pub fn parse(href: &str) -> Result<Redirect> {
    if url::split_absolute(href).is_none() {
        return Err(Error::invalid("href", "must be an absolute URL"));
    }
    let query = url::query_of(href);
    let outcome = match url::query_param(query, OUTCOME_PARAM).as_deref() {
        Some("success") => Outcome::Success,
        Some("failure") => Outcome::Failure,
        _ => {
            return Err(Error::invalid(
                "href",
                "has no tc_outcome=success|failure marker: it is not a terra-connect redirect URL",
            ))
        }
    };
    let field = |name: &str| url::query_param(query, name).filter(|v| !v.is_empty() && v != "null");
    let details = url::query_pairs(query)
        .skip_while(|(name, _)| name != OUTCOME_PARAM)
        .filter(|(name, _)| !FLOW_PARAMS.contains(&name.as_str()))
        .collect();
    Ok(Redirect {
        outcome,
        user_id: field("user_id"),
        resource: field("resource"),
        reference_id: field("reference_id"),
        state: field(STATE_PARAM),
        details,
    })
}

/// `href` without the parameters of [`FLOW_PARAMS`]: what the address bar should show after
/// the redirect was handled. The app's own parameters and the fragment are kept.
pub fn strip(href: &str) -> String {
    url::remove_params(href, |name| FLOW_PARAMS.contains(&name))
}

/// Encodes a redirect as a query string (the form results travel in between tabs).
pub fn to_query(redirect: &Redirect) -> String {
    let mut out = String::from(OUTCOME_PARAM);
    out.push('=');
    out.push_str(redirect.outcome.as_str());
    let fields = [
        ("user_id", &redirect.user_id),
        ("resource", &redirect.resource),
        ("reference_id", &redirect.reference_id),
        (STATE_PARAM, &redirect.state),
    ];
    let given = fields.into_iter().filter_map(|(name, value)| Some((name, value.as_deref()?)));
    let details = redirect.details.iter().map(|(name, value)| (name.as_str(), value.as_str()));
    for (name, value) in given.chain(details) {
        out.push('&');
        out.push_str(&url::encode(name));
        out.push('=');
        out.push_str(&url::encode(value));
    }
    out
}

/// Decodes [`to_query`]'s output.
pub fn from_query(query: &str) -> Option<Redirect> {
    let mut href = String::from("terra-connect://result?");
    href.push_str(query);
    parse(&href).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn parses_a_success_url() {
        let r =
            parse("https://app.example/done?tc_outcome=success&user_id=ae53-1&reference_id=user-42&resource=FITBIT")
                .unwrap();
        assert_eq!(
            r,
            Redirect {
                outcome: Outcome::Success,
                user_id: Some("ae53-1".into()),
                resource: Some("FITBIT".into()),
                reference_id: Some("user-42".into()),
                state: None,
                details: vec![],
            }
        );
    }

    #[test]
    fn what_terra_appended_beyond_its_three_is_details() {
        let r = parse(
            "https://app.example/failed?page=2&tc_outcome=failure&tc_state=s&reference_id=u&reason=user_denied&resource=OURA&error%20text=a%26b",
        )
        .unwrap();
        let pairs: Vec<(&str, &str)> = r.details.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        // `page` is the app's own (before the marker); the flow's parameters are fields.
        assert_eq!(pairs, [("reason", "user_denied"), ("error text", "a&b")]);
        assert!(parse("https://a/done?tc_outcome=success&user_id=u").unwrap().details.is_empty());
    }

    #[test]
    fn keeps_the_apps_own_query_and_decodes() {
        let r = parse("https://app.example/done?auth=success&tc_outcome=success&reference_id=a%20b%26c&user_id=u#x")
            .unwrap();
        assert_eq!(r.reference_id.as_deref(), Some("a b&c"));
        assert_eq!(r.user_id.as_deref(), Some("u"));
    }

    #[test]
    fn absent_empty_and_null_are_none() {
        let r = parse("http://127.0.0.1:8787/failed.html?tc_outcome=failure&reference_id=null&user_id=").unwrap();
        assert_eq!(r.outcome, Outcome::Failure);
        assert_eq!((r.user_id, r.resource, r.reference_id), (None, None, None));
    }

    #[test]
    fn marks_urls_so_they_parse_back() {
        let success = mark("https://app.example/done?auth=success#top", Outcome::Success);
        assert_eq!(success, "https://app.example/done?auth=success&tc_outcome=success#top");
        assert_eq!(parse(&success).unwrap().outcome, Outcome::Success);
        assert_eq!(parse(&mark("https://a/f", Outcome::Failure)).unwrap().outcome, Outcome::Failure);
    }

    #[test]
    fn reads_the_state_and_strips_flow_parameters() {
        let href = "https://app.example/done?auth=success&tc_outcome=success&tc_state=abc&user_id=u&resource=OURA&reference_id=null#x";
        assert_eq!(parse(href).unwrap().state.as_deref(), Some("abc"));
        assert_eq!(strip(href), "https://app.example/done?auth=success#x");
        assert_eq!(strip("https://app.example/done?tc_outcome=failure"), "https://app.example/done");
    }

    #[test]
    fn results_round_trip_through_a_query_string() {
        let r = Redirect {
            outcome: Outcome::Failure,
            user_id: None,
            resource: Some("GOOGLE_HEALTH".into()),
            reference_id: Some("a&b=c é".into()),
            state: Some("0123".into()),
            details: vec![("reason".into(), "user denied & left".into()), ("x=y".into(), String::new())],
        };
        assert_eq!(from_query(&to_query(&r)), Some(r));
        assert_eq!(from_query("user_id=x"), None);
    }

    #[test]
    fn refuses_unmarked_or_relative_urls() {
        for bad in [
            "https://app.example/done?user_id=u",
            "https://app.example/done?tc_outcome=maybe",
            "https://app.example/done#tc_outcome=success",
            "/done?tc_outcome=success",
            "",
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidArgument, "{bad}");
        }
    }
}
