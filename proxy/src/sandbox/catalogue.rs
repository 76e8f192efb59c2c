//! The sandbox's provider catalogue: `GET /integrations/detailed` (display names, icons, data
//! types) and the icons themselves, served by the sandbox so nothing leaves the machine.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

/// One provider of the catalogue.
struct Entry {
    provider: &'static str,
    name: &'static str,
    /// The icon's background colour.
    colour: &'static str,
    /// Data types: activity, body, nutrition, daily, sleep, menstruation.
    types: [bool; 6],
}

const fn entry(provider: &'static str, name: &'static str, colour: &'static str, types: [bool; 6]) -> Entry {
    Entry { provider, name, colour, types }
}

/// The web providers, in [`super::PROVIDERS`]'s order (a test checks they match).
const WEB: [Entry; 15] = [
    entry("FITBIT", "Fitbit", "#00B0B9", [true, true, true, true, true, true]),
    entry("GARMIN", "Garmin", "#007CC3", [true, true, false, true, true, true]),
    entry("OURA", "Oura", "#2F3542", [true, true, false, true, true, false]),
    entry("WITHINGS", "Withings", "#1A1A1A", [true, true, false, true, true, false]),
    entry("POLAR", "Polar", "#D10027", [true, true, false, true, true, false]),
    entry("SUUNTO", "Suunto", "#1B3E6F", [true, false, false, true, true, false]),
    entry("COROS", "COROS", "#3C3C3C", [true, false, false, true, true, false]),
    entry("WAHOO", "Wahoo", "#0062A8", [true, false, false, false, false, false]),
    entry("PELOTON", "Peloton", "#C2002F", [true, false, false, false, false, false]),
    entry("EIGHTSLEEP", "Eight Sleep", "#4A4A9C", [false, false, false, false, true, false]),
    entry("DEXCOM", "Dexcom", "#58A618", [false, true, false, false, false, false]),
    entry("FREESTYLELIBRE", "FreeStyle Libre", "#FFB81C", [false, true, false, false, false, false]),
    entry("GOOGLE", "Google Fit", "#4285F4", [true, true, true, true, true, false]),
    entry("GOOGLE_HEALTH", "Google Health", "#34A853", [true, true, true, true, true, true]),
    entry("STRAVA", "Strava", "#FC4C02", [true, false, false, false, false, false]),
];

/// The mobile-SDK providers, listed with `?sdk=true`.
const SDK: [Entry; 3] = [
    entry("APPLE", "Apple Health", "#FF2D55", [true, true, true, true, true, true]),
    entry("SAMSUNG", "Samsung Health", "#1428A0", [true, true, true, true, true, false]),
    entry("HEALTH_CONNECT", "Health Connect", "#3DDC84", [true, true, true, true, true, true]),
];

/// The names of [`SDK`]'s providers (also `GET /integrations`'s `sdk_providers`).
pub(super) fn sdk_providers() -> impl Iterator<Item = &'static str> {
    SDK.iter().map(|e| e.provider)
}

const TYPE_NAMES: [&str; 6] = ["activity", "body", "nutrition", "daily", "sleep", "menstruation"];

#[derive(Deserialize)]
pub(super) struct DetailedQuery {
    /// `true` adds the mobile-SDK providers. Anything other than `true` means no, as for a
    /// flag in Terra's query strings.
    sdk: Option<String>,
}

/// `GET /integrations/detailed[?sdk=true]`: every provider with its display name, its icon
/// (an absolute URL on the sandbox itself), how it is set up, and its data types.
/// `public_url` is the sandbox's origin. The caller checked the credentials.
pub(super) fn detailed(public_url: &str, query: &DetailedQuery) -> Value {
    let with_sdk = query.sdk.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("true"));
    let web = WEB.iter().map(|e| (e, "oauth"));
    let sdk = SDK.iter().filter(|_| with_sdk).map(|e| (e, "sdk"));
    let providers: Vec<Value> = web
        .chain(sdk)
        .map(|(e, setup)| {
            let types: serde_json::Map<String, Value> =
                TYPE_NAMES.iter().zip(e.types).map(|(name, on)| (name.to_string(), Value::Bool(on))).collect();
            json!({
                "provider": e.provider,
                "name": e.name,
                "icon": format!("{public_url}/icons/{}.svg", e.provider),
                "setup": setup,
                "enabled": true,
                "types": types,
            })
        })
        .collect();
    json!({ "status": "success", "providers": providers })
}

/// `GET /icons/{PROVIDER}.svg`: a rounded square in the provider's colour with its initials.
pub(super) async fn icon(Path(file): Path<String>) -> Response {
    let found = file.strip_suffix(".svg").and_then(|p| WEB.iter().chain(SDK.iter()).find(|e| e.provider == p));
    let Some(entry) = found else {
        return (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "no such icon")
            .into_response();
    };
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            // An SVG opened on its own is a document: it may run nothing.
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'"),
        ],
        svg(entry),
    )
        .into_response()
}

/// The icon of `entry`: only the catalogue's own constants go in, so nothing needs escaping.
fn svg(entry: &Entry) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"64\" height=\"64\" viewBox=\"0 0 64 64\" role=\"img\" \
aria-label=\"{name}\"><title>{name}</title><rect width=\"64\" height=\"64\" rx=\"14\" fill=\"{colour}\"/>\
<text x=\"32\" y=\"41\" font-family=\"system-ui,sans-serif\" font-size=\"24\" font-weight=\"700\" \
text-anchor=\"middle\" fill=\"#fff\">{initials}</text></svg>",
        name = entry.name,
        colour = entry.colour,
        initials = initials(entry.name),
    )
}

/// "Eight Sleep" → "ES", "Fitbit" → "FI", "COROS" → "CO".
fn initials(name: &str) -> String {
    let words: Vec<&str> = name.split_whitespace().collect();
    let letters: String = match words.as_slice() {
        [one] => one.chars().take(2).collect(),
        many => many.iter().filter_map(|w| w.chars().next()).take(2).collect(),
    };
    letters.to_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_lists_the_sandbox_providers_in_order() {
        let listed: Vec<&str> = WEB.iter().map(|e| e.provider).collect();
        assert_eq!(listed, super::super::PROVIDERS);
        let names: Vec<&str> = WEB.iter().map(|e| e.name).collect();
        assert!(names.contains(&"Eight Sleep") && names.contains(&"FreeStyle Libre") && names.contains(&"COROS"));
    }

    #[test]
    fn sdk_providers_only_on_request() {
        let count = |sdk: Option<&str>| {
            detailed("http://127.0.0.1:1", &DetailedQuery { sdk: sdk.map(str::to_owned) })["providers"]
                .as_array()
                .unwrap()
                .len()
        };
        assert_eq!(count(None), 15);
        assert_eq!(count(Some("false")), 15);
        assert_eq!(count(Some("true")), 18);
        let all = detailed("http://127.0.0.1:1", &DetailedQuery { sdk: Some("true".into()) });
        let apple = &all["providers"][15];
        assert_eq!((apple["provider"].as_str(), apple["setup"].as_str()), (Some("APPLE"), Some("sdk")));
        assert_eq!(all["providers"][0]["icon"], "http://127.0.0.1:1/icons/FITBIT.svg");
        assert_eq!(all["providers"][0]["types"]["sleep"], true);
    }

    #[test]
    fn initials_of_one_and_two_words() {
        assert_eq!(initials("Eight Sleep"), "ES");
        assert_eq!(initials("Fitbit"), "FI");
        assert_eq!(initials("FreeStyle Libre"), "FL");
        assert_eq!(initials("COROS"), "CO");
    }
}
