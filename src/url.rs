//! Just enough URL handling for redirect URLs and query strings, without a URL crate.
//!
//! Every byte of this crate ships to every browser, so this module implements only what the
//! flow needs: split an absolute URL into scheme and host, read and append query parameters,
//! and percent-encode and -decode (`application/x-www-form-urlencoded` rules).

/// The parts of an absolute hierarchical URL (`scheme://authority/...`) that checks need.
#[derive(Debug, PartialEq, Eq)]
pub struct Absolute<'a> {
    /// The scheme, lower-cased by the caller when compared (`https`, `http`, ...).
    pub scheme: &'a str,
    /// The host without the port; IPv6 literals keep their brackets (`[::1]`).
    pub host: &'a str,
    /// Whether the authority carries `user:pass@` credentials.
    pub has_userinfo: bool,
}

/// The index of the first byte of `text` in `set` (ASCII bytes, so always a char boundary).
///
/// The crate searches with these byte helpers rather than `str::find` and friends: core's
/// substring and char searchers are several kilobytes of wasm.
// `set.contains` would call core's memchr, which is larger than this loop in wasm.
#[allow(clippy::manual_contains)]
pub fn find_byte(text: &str, set: &[u8]) -> Option<usize> {
    text.bytes().position(|b| set.iter().any(|&s| s == b))
}

/// `text` split around the first `sep` (an ASCII byte), or `None` without one.
pub fn split_once_byte(text: &str, sep: u8) -> Option<(&str, &str)> {
    let at = find_byte(text, &[sep])?;
    Some((&text[..at], &text[at + 1..]))
}

/// `text` before the first byte in `set`, or all of it.
fn before<'a>(text: &'a str, set: &[u8]) -> &'a str {
    &text[..find_byte(text, set).unwrap_or(text.len())]
}

/// `text` after the last `sep` (an ASCII byte), or all of it.
fn after_last(text: &str, sep: u8) -> &str {
    match text.bytes().rposition(|b| b == sep) {
        Some(at) => &text[at + 1..],
        None => text,
    }
}

/// The `sep`-separated pieces of `text` that are not empty.
fn pieces(text: &str, sep: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    core::iter::from_fn(move || loop {
        let current = rest?;
        let (piece, tail) = split_once_byte(current, sep).map_or((current, None), |(p, t)| (p, Some(t)));
        rest = tail;
        if !piece.is_empty() {
            return Some(piece);
        }
    })
}

/// Splits `url` into [`Absolute`] parts, or `None` when it is not `scheme://authority...`.
pub fn split_absolute(url: &str) -> Option<Absolute<'_>> {
    // A scheme has no ':', so the first ':' must be the one of "://".
    let (scheme, rest) = split_once_byte(url, b':')?;
    let rest = rest.strip_prefix("//")?;
    let mut bytes = scheme.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    if !first_ok || !bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')) {
        return None;
    }
    let authority = before(rest, b"/?#");
    let host_port = after_last(authority, b'@');
    let has_userinfo = host_port.len() != authority.len();
    let host =
        if host_port.starts_with('[') { &host_port[..=find_byte(host_port, b"]")?] } else { before(host_port, b":") };
    Some(Absolute { scheme, host, has_userinfo })
}

/// Whether `url` is an absolute `http` or `https` URL with a host.
pub fn is_http_url(url: &str) -> bool {
    split_absolute(url).is_some_and(|a| {
        !a.host.is_empty() && (a.scheme.eq_ignore_ascii_case("https") || a.scheme.eq_ignore_ascii_case("http"))
    })
}

/// The origin of an absolute `http(s)` URL as `window.location.origin` spells it
/// (`https://app.example`, default ports left out), or `None` for other URLs.
pub fn origin_of(url: &str) -> Option<String> {
    let parts = split_absolute(url)?;
    let scheme = parts.scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => ":443",
        "http" => ":80",
        _ => return None,
    };
    let authority = before(&url[parts.scheme.len() + 3..], b"/?#");
    let host_port = after_last(authority, b'@').to_ascii_lowercase();
    let host_port = host_port.strip_suffix(default_port).unwrap_or(&host_port);
    if host_port.is_empty() {
        return None;
    }
    let mut out = scheme;
    out.push_str("://");
    out.push_str(host_port);
    Some(out)
}

/// Whether `host` names this machine's loopback interface.
pub fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host == "[::1]" || is_ipv4_loopback(host)
}

fn is_ipv4_loopback(host: &str) -> bool {
    // Four dot-separated groups of one to three digits, the first one 127.
    let (mut groups, mut digits) = (0, 0);
    for b in host.bytes().chain([b'.']) {
        match b {
            b'0'..=b'9' if digits < 3 => digits += 1,
            b'.' if digits > 0 => (groups, digits) = (groups + 1, 0),
            _ => return false,
        }
    }
    groups == 4 && host.starts_with("127.")
}

/// The query string of `url` (between `?` and `#`, without either), empty when absent.
pub fn query_of(url: &str) -> &str {
    split_once_byte(before(url, b"#"), b'?').map_or("", |(_, query)| query)
}

/// Decoded `(name, value)` pairs of a query string, in order; empty segments are skipped.
pub fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    pieces(query, b'&').map(|pair| {
        let (name, value) = split_once_byte(pair, b'=').unwrap_or((pair, ""));
        (decode(name), decode(value))
    })
}

/// The first decoded value of parameter `name` in `query`.
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query_pairs(query).find(|(n, _)| n == name).map(|(_, v)| v)
}

/// Percent-decodes a query component; `+` is a space and malformed escapes stay as written.
/// When the escapes decode to invalid UTF-8, the component is kept exactly as written.
pub fn decode(component: &str) -> String {
    let bytes = component.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (bytes.get(i + 1).and_then(|&b| hex(b)), bytes.get(i + 2).and_then(|&b| hex(b))) {
                (Some(hi), Some(lo)) => {
                    out.push(hi * 16 + lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| component.to_owned())
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-encodes `text` for a query component (everything but `A-Z a-z 0-9 - . _ ~`).
pub fn encode(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
    // Only ASCII was pushed; the check is kept because it is cheaper than `unsafe`.
    String::from_utf8(out).unwrap_or_default()
}

/// `url` with `name=value` appended to its query, before any fragment; the existing query
/// is kept as it is.
pub fn append_param(url: &str, name: &str, value: &str) -> String {
    let (base, fragment) = url.split_at(find_byte(url, b"#").unwrap_or(url.len()));
    let mut out = String::with_capacity(url.len() + name.len() + value.len() + 8);
    out.push_str(base);
    if find_byte(base, b"?").is_none() {
        out.push('?');
    } else if !(base.ends_with('?') || base.ends_with('&')) {
        out.push('&');
    }
    out.push_str(&encode(name));
    out.push('=');
    out.push_str(&encode(value));
    out.push_str(fragment);
    out
}

/// `url` without the query parameters whose names `drop` accepts; other parameters, their
/// order and their exact spelling, and the fragment are kept. A query left empty is removed.
pub fn remove_params(url: &str, drop: impl Fn(&str) -> bool) -> String {
    let (base, fragment) = url.split_at(find_byte(url, b"#").unwrap_or(url.len()));
    let Some((path, query)) = split_once_byte(base, b'?') else {
        return url.to_owned();
    };
    let mut out = String::with_capacity(url.len());
    out.push_str(path);
    let mut sep = '?';
    for segment in pieces(query, b'&') {
        let name = before(segment, b"=");
        if !drop(&decode(name)) {
            out.push(sep);
            out.push_str(segment);
            sep = '&';
        }
    }
    out.push_str(fragment);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_need_an_http_scheme_and_a_host() {
        for good in ["https://x.example/a?b", "HTTP://127.0.0.1:8787", "http://[::1]/"] {
            assert!(is_http_url(good), "{good}");
        }
        for bad in ["ftp://x.example", "https://", "https:///path", "/api/terra", "x.example", "javascript:alert(1)"] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }

    #[test]
    fn splits_absolute_urls() {
        let a = split_absolute("https://app.example:8443/done?x=1#top").unwrap();
        assert_eq!(a, Absolute { scheme: "https", host: "app.example", has_userinfo: false });
        let b = split_absolute("http://user:pw@127.0.0.1:8787/").unwrap();
        assert_eq!(b.host, "127.0.0.1");
        assert!(b.has_userinfo);
        assert_eq!(split_absolute("http://[::1]:80/x").unwrap().host, "[::1]");
        assert_eq!(split_absolute("myapp://done").unwrap().scheme, "myapp");
        assert_eq!(split_absolute("https://host?q").unwrap().host, "host");
    }

    #[test]
    fn rejects_non_absolute_urls() {
        for bad in ["/done", "done.html", "//host/x", "1http://x", "ht tp://x", "", "http://[::1/x"] {
            assert_eq!(split_absolute(bad), None, "{bad}");
        }
    }

    #[test]
    fn computes_origins() {
        assert_eq!(origin_of("https://App.Example:443/done?x#y").as_deref(), Some("https://app.example"));
        assert_eq!(origin_of("http://127.0.0.1:8787/done.html").as_deref(), Some("http://127.0.0.1:8787"));
        assert_eq!(origin_of("http://localhost:80").as_deref(), Some("http://localhost"));
        assert_eq!(origin_of("https://app.example:8443").as_deref(), Some("https://app.example:8443"));
        assert_eq!(origin_of("myapp://done"), None);
        assert_eq!(origin_of("https:///x"), None);
    }

    #[test]
    fn knows_loopback_hosts() {
        for good in ["localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "[::1]"] {
            assert!(is_loopback_host(good), "{good}");
        }
        for bad in ["127.0.0.1.evil.com", "128.0.0.1", "example.com", "localhost.evil", "127.0.0", "", "[::2]"] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }

    #[test]
    fn reads_query_parameters() {
        let q = query_of("https://a/done?auth=success&user_id=ae%2053&empty=&flag&x=a+b#frag?no=1");
        assert_eq!(q, "auth=success&user_id=ae%2053&empty=&flag&x=a+b");
        assert_eq!(query_param(q, "user_id").as_deref(), Some("ae 53"));
        assert_eq!(query_param(q, "empty").as_deref(), Some(""));
        assert_eq!(query_param(q, "flag").as_deref(), Some(""));
        assert_eq!(query_param(q, "x").as_deref(), Some("a b"));
        assert_eq!(query_param(q, "no"), None);
        assert_eq!(query_of("https://a/done#x?y=1"), "");
        assert_eq!(query_of("https://a/done"), "");
    }

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(decode("%E2%9C%93%20ok"), "\u{2713} ok");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz%4"), "%zz%4");
        assert_eq!(decode("%ff"), "%ff");
        assert_eq!(decode("a%2Bb"), "a+b");
    }

    #[test]
    fn encodes_components() {
        assert_eq!(encode("user 42/\u{e9}&x=y"), "user%2042%2F%C3%A9%26x%3Dy");
        assert_eq!(encode("Az09-._~"), "Az09-._~");
        assert_eq!(decode(&encode("a b+c&d=é")), "a b+c&d=é");
    }

    #[test]
    fn appends_parameters_before_the_fragment() {
        assert_eq!(append_param("https://a/done", "k", "v 1"), "https://a/done?k=v%201");
        assert_eq!(append_param("https://a/done?auth=success", "k", "v"), "https://a/done?auth=success&k=v");
        assert_eq!(append_param("https://a/done?", "k", "v"), "https://a/done?k=v");
        assert_eq!(append_param("https://a/done?x=1&", "k", "v"), "https://a/done?x=1&k=v");
        assert_eq!(append_param("https://a/done#top", "k", "v"), "https://a/done?k=v#top");
        assert_eq!(append_param("https://a/d?x#top", "k", "v"), "https://a/d?x&k=v#top");
    }

    #[test]
    fn removes_parameters_and_keeps_the_rest() {
        let url = "https://a/done?auth=success&user_id=u1&resource=FITBIT&x=%20#frag";
        let kept = remove_params(url, |n| n == "user_id" || n == "resource");
        assert_eq!(kept, "https://a/done?auth=success&x=%20#frag");
        assert_eq!(remove_params("https://a/done?user_id=1", |n| n == "user_id"), "https://a/done");
        assert_eq!(remove_params("https://a/done", |_| true), "https://a/done");
        assert_eq!(remove_params("https://a/done?user%5Fid=1&b", |n| n == "user_id"), "https://a/done?b");
    }
}
