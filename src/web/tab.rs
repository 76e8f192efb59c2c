//! The new tab the person logs in with: opened synchronously, then navigated or closed.

use web_sys::Window;

use crate::error::{Error, ErrorCode, Result};

/// What the new tab shows while the proxy creates the session.
const CONNECTING_PAGE: &str = "<title>Connecting to Terra\u{2026}</title>\
<p style=\"font:16px system-ui,sans-serif;margin:40vh auto;text-align:center\">Connecting to Terra\u{2026}</p>";

/// A tab this page opened and still controls.
pub struct Tab(Window);

impl Tab {
    /// Opens an empty tab showing "Connecting to Terra…".
    ///
    /// Must run synchronously inside the user's click handler, before any `await`:
    /// popup blockers allow `window.open` only there. The tab keeps its `opener`: without it
    /// the app could no longer close the tab on timeout or abort once it shows Terra's pages
    /// (a cross-origin tab may be closed only by its opener). Results never travel through
    /// `window.opener`, so providers that sever it with COOP break nothing.
    pub fn open(window: &Window) -> Result<Tab> {
        let blocked = || {
            Error::new(ErrorCode::PopupBlocked, "the browser blocked the new tab; call connect() from a click handler")
        };
        let tab = window.open_with_url_and_target("", "_blank").ok().flatten().ok_or_else(blocked)?;
        if let Some(body) = tab.document().and_then(|d| d.body()) {
            body.set_inner_html(CONNECTING_PAGE);
        }
        Ok(Tab(tab))
    }

    /// Sends the tab to `url`.
    pub fn navigate(&self, url: &str) {
        let _ = self.0.location().set_href(url);
    }

    /// Whether the tab reads closed. A tab on a page with `Cross-Origin-Opener-Policy` reads
    /// closed while it is still open.
    pub fn is_closed(&self) -> bool {
        self.0.closed().unwrap_or(true)
    }

    /// Closes the tab, in a task of its own ([`crate::web::later`]: the flow decides this while
    /// it is being polled).
    pub fn close(&self) {
        let tab = self.0.clone();
        crate::web::later(move || {
            let _ = tab.close();
        });
    }
}
