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

/// Splits `url` into [`Absolute`] parts, or `None` when it is not `scheme://authority...`.
pub fn split_absolute(url: &str) -> Option<Absolute<'_>> {
    let colon = url.find("://")?;
    let scheme = &url[..colon];
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) {
        return None;
    }
    let rest = &url[colon + 3..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let (has_userinfo, host_port) = match authority.rfind('@') {
        Some(at) => (true, &authority[at + 1..]),
        None => (false, authority),
    };
    let host = if host_port.starts_with('[') {
        match host_port.find(']') {
            Some(close) => &host_port[..=close],
            None => return None,
        }
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    Some(Absolute { scheme, host, has_userinfo })
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
    let rest = &url[parts.scheme.len() + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host_port = authority.rsplit('@').next().unwrap_or("").to_ascii_lowercase();
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
    let mut octets = 0;
    for part in host.split('.') {
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        octets += 1;
    }
    octets == 4 && host.starts_with("127.")
}

/// The query string of `url` (between `?` and `#`, without either), empty when absent.
pub fn query_of(url: &str) -> &str {
    let before_fragment = url.split('#').next().unwrap_or("");
    match before_fragment.find('?') {
        Some(q) => &before_fragment[q + 1..],
        None => "",
    }
}

/// Decoded `(name, value)` pairs of a query string, in order; empty segments are skipped.
pub fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|s| !s.is_empty()).map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(name), decode(value))
    })
}

/// The first decoded value of parameter `name` in `query`.
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query_pairs(query).find(|(n, _)| n == name).map(|(_, v)| v)
}

/// Percent-decodes a query component; `+` is a space, malformed escapes stay as written,
/// and invalid UTF-8 becomes U+FFFD.
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
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
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
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
    out
}

/// `url` with `name=value` appended to its query, before any fragment; the existing query
/// is kept as it is.
pub fn append_param(url: &str, name: &str, value: &str) -> String {
    let (base, fragment) = match url.find('#') {
        Some(f) => url.split_at(f),
        None => (url, ""),
    };
    let mut out = String::with_capacity(url.len() + name.len() + value.len() + 8);
    out.push_str(base);
    if !base.contains('?') {
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
    let (base, fragment) = match url.find('#') {
        Some(f) => url.split_at(f),
        None => (url, ""),
    };
    let (path, query) = match base.find('?') {
        Some(q) => (&base[..q], &base[q + 1..]),
        None => return url.to_owned(),
    };
    let mut out = String::with_capacity(url.len());
    out.push_str(path);
    let mut sep = '?';
    for segment in query.split('&').filter(|s| !s.is_empty()) {
        let name = segment.split('=').next().unwrap_or("");
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
        assert_eq!(decode("%ff"), "\u{fffd}");
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
