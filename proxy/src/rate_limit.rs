//! Who the client is, for the rate limit (pure), and the rate-limit middleware.
//!
//! The key is the peer address, or, when the peer is one of the trusted reverse proxies
//! (`TERRA_CONNECT_TRUSTED_PROXIES`), the right-most `X-Forwarded-For` address that is not a
//! trusted proxy (every address right of it was appended by a proxy we trust; anything left
//! of it the client may have written). IPv6 clients are keyed by their /64, since one host
//! usually holds a whole /64.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;

use crate::error::ApiError;
use crate::store::{RateDecision, Store};

/// How many `X-Forwarded-For` entries are looked at, at most (right to left).
const MAX_FORWARDED_HOPS: usize = 16;

/// The rate-limit key of one address: IPv4 (and IPv4-mapped IPv6) as written, IPv6 as its /64.
pub(crate) fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

fn parse_hop(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    text.parse::<IpAddr>().ok().or_else(|| text.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// The client's address: see the module docs.
pub(crate) fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = match peer {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
        v4 => v4,
    };
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .rev()
        .flat_map(|v| v.to_str().unwrap_or("").rsplit(',').collect::<Vec<_>>())
        .take(MAX_FORWARDED_HOPS);
    for hop in hops {
        match parse_hop(hop) {
            Some(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            // A hop our own proxy did not write as an address: stop at the last trusted one.
            None => break,
        }
    }
    client
}

/// What the middleware needs.
pub(crate) struct Limit {
    pub(crate) per_minute: u32,
    pub(crate) trusted: Vec<IpNet>,
    pub(crate) store: Arc<dyn Store>,
}

/// The rate-limit middleware: 429 with `Retry-After` past the quota; fails open (with a
/// warning) when the store cannot answer.
pub(crate) async fn limit(limit: Arc<Limit>, request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    if let Some(peer) = peer {
        let key = address_key(client_address(peer, request.headers(), &limit.trusted));
        match limit.store.hit_rate_limit(&key, limit.per_minute).await {
            Ok(RateDecision::Allowed) => {}
            Ok(RateDecision::Limited { retry_after_secs }) => {
                let mut response =
                    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many requests; retry later")
                        .into_response();
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
                return response;
            }
            Err(e) => tracing::warn!(error = %e, "rate limit skipped: the store did not answer"),
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn ipv6_is_keyed_by_its_64() {
        assert_eq!(address_key("2001:db8:1:2:aaaa::1".parse().unwrap()), "2001:db8:1:2::/64");
        assert_eq!(
            address_key("2001:db8:1:2:ffff::9".parse().unwrap()),
            address_key("2001:db8:1:2::1".parse().unwrap())
        );
        assert_ne!(address_key("2001:db8:1:3::1".parse().unwrap()), address_key("2001:db8:1:2::1".parse().unwrap()));
        assert_eq!(address_key("::ffff:10.1.2.3".parse().unwrap()), "10.1.2.3");
        assert_eq!(address_key("10.1.2.3".parse().unwrap()), "10.1.2.3");
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_peers() {
        let lb: IpAddr = "10.0.0.5".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        let trusted = nets(&["10.0.0.0/8"]);
        // From a stranger the header is ignored.
        assert_eq!(client_address(stranger, &headers(&["1.2.3.4"]), &trusted), stranger);
        // From the load balancer: the right-most untrusted entry, whatever the client wrote left of it.
        let spoofed = headers(&["6.6.6.6, 198.51.100.7"]);
        assert_eq!(client_address(lb, &spoofed, &trusted), "198.51.100.7".parse::<IpAddr>().unwrap());
        let chain = headers(&["6.6.6.6", "198.51.100.7, 10.0.0.9"]);
        assert_eq!(client_address(lb, &chain, &trusted), "198.51.100.7".parse::<IpAddr>().unwrap());
        // No header, or garbage written by the client only: the trusted hop itself.
        assert_eq!(client_address(lb, &HeaderMap::new(), &trusted), lb);
        assert_eq!(client_address(lb, &headers(&["garbage"]), &trusted), lb);
        assert_eq!(
            client_address(lb, &headers(&["garbage, 198.51.100.7"]), &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // Without trusted proxies the header never counts.
        assert_eq!(client_address(lb, &spoofed, &[]), lb);
        // Ports and IPv6.
        assert_eq!(
            client_address(lb, &headers(&["[2001:db8::1]:443"]), &trusted),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_address(lb, &headers(&["198.51.100.7:5000"]), &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
    }
}
