//! The sandbox's HTML pages.

use axum::response::Html;

const STYLE: &str = "<style>body{font:16px system-ui,sans-serif;max-width:28rem;margin:15vh auto;padding:0 1rem}\
button{font:inherit;padding:.6rem 1.4rem;margin-right:.6rem;border-radius:6px;border:1px solid #888;cursor:pointer}\
#allow{background:#1a7f37;color:#fff;border-color:#1a7f37}</style>";

/// The provider's consent page for one session. `resource` is a validated provider name.
pub fn consent(session: &str, resource: &str) -> Html<String> {
    let session = escape(session);
    let resource = escape(resource);
    Html(format!(
        "<!doctype html><meta charset=utf-8><title>Connect {resource} (sandbox)</title>{STYLE}\
<h1>Connect {resource} (sandbox)</h1>\
<p>This is the Terra sandbox standing in for {resource}'s login page. No real account is involved.</p>\
<form method=post action=\"/consent/{session}\">\
<button id=allow name=decision value=allow>Allow</button>\
<button id=deny name=decision value=deny>Deny</button></form>"
    ))
}

/// Terra's hosted widget: the requested providers to pick from.
pub fn widget(id: &str, providers: &[String]) -> Html<String> {
    let id = escape(id);
    let buttons: String = providers
        .iter()
        .map(|p| {
            let p = escape(p);
            format!("<button name=provider value=\"{p}\" data-provider=\"{p}\">{p}</button>")
        })
        .collect();
    Html(format!(
        "<!doctype html><meta charset=utf-8><title>Choose your wearable (sandbox)</title>{STYLE}\
<h1>Choose your wearable (sandbox)</h1><p>The Terra sandbox standing in for Terra's widget.</p>\
<form method=post action=\"/widget/{id}\">{buttons}</form>"
    ))
}

/// A page with one message.
pub fn message(text: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><meta charset=utf-8><title>Terra sandbox</title>{STYLE}<p id=message>{}</p>",
        escape(text)
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}
