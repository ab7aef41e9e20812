//! The client's address: the TCP peer's, or, when the peer is a trusted proxy
//! (`TICKETING_TRUSTED_PROXIES`), the address the proxies say they forwarded the request for.
//! The per-address rate limits count by it.
//!
//! Behind a proxy every request comes from the proxy's address, so without this the limits would
//! count the whole audience as one client. Headers are believed only from a trusted peer: anyone
//! else could write any address into them. Through several proxies, the chain is read from the
//! nearest hop outwards, and the first address that is not a trusted proxy is the client's
//! (RFC 7239 `Forwarded: for=…` when present, else `X-Forwarded-For`).

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName};
use thiserror::Error;

use crate::state::Shared;

/// A network: an address and a prefix length (`10.0.0.0/8`, `fd00::/8`), or one address.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// Why a network was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("`{0}` is not an address or a network such as 10.0.0.0/8 or fd00::/8")]
pub struct CidrError(String);

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let refused = || CidrError(text.to_owned());
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let network: IpAddr = address.parse().map_err(|_| refused())?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= bits).ok_or_else(refused)?,
            None => bits,
        };
        Ok(Self { network, prefix })
    }
}

impl Cidr {
    /// Whether `ip` is in this network (an IPv4 address written as IPv6, `::ffff:a.b.c.d`, is
    /// compared as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl std::fmt::Debug for Cidr {
    /// As it is written in the settings: `10.0.0.0/8`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

/// The peers whose forwarding headers are believed (none by default).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// Trusts the peers in `networks`.
    pub fn new(networks: Vec<Cidr>) -> Self {
        Self(networks)
    }

    /// Whether `ip` is a trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }

    /// The client's address for a request from `peer` carrying `headers`: `peer` itself unless it
    /// is trusted; else, from the nearest hop outwards, the first address of the forwarding chain
    /// that is not a trusted proxy (when the chain is all trusted proxies, its farthest one; when
    /// a hop cannot be read, the last address reached before it).
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let chain = forwarded_for(headers).or_else(|| x_forwarded_for(headers)).unwrap_or_default();
        let mut client = peer;
        for hop in chain.iter().rev() {
            match hop {
                Some(ip) if self.trusts(*ip) => client = *ip,
                Some(ip) => return *ip,
                None => return client,
            }
        }
        client
    }
}

/// The `for=` nodes of every `Forwarded` header, in order (`None` for one that is not an
/// address: `unknown`, an obfuscated `_name`); `None` when there is no such header.
fn forwarded_for(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let values = header_values(headers, &axum::http::header::FORWARDED)?;
    let mut chain = Vec::new();
    for element in values.iter().flat_map(|v| v.split(',')) {
        let node = element
            .split(';')
            .filter_map(|pair| pair.split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
            .map(|(_, value)| value);
        if let Some(node) = node {
            chain.push(node_address(node));
        }
    }
    (!chain.is_empty()).then_some(chain)
}

/// The addresses of every `X-Forwarded-For` header, in order; `None` when there is none.
fn x_forwarded_for(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let values = header_values(headers, &HeaderName::from_static("x-forwarded-for"))?;
    let chain: Vec<Option<IpAddr>> = values.iter().flat_map(|v| v.split(',')).map(node_address).collect();
    (!chain.is_empty()).then_some(chain)
}

/// The values of the headers `name` (none readable: `None`).
fn header_values(headers: &HeaderMap, name: &HeaderName) -> Option<Vec<String>> {
    let values: Vec<String> = headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect();
    (!values.is_empty()).then_some(values)
}

/// A node's address: `192.0.2.1`, `"192.0.2.1:4711"`, `"[2001:db8::1]:4711"`, `2001:db8::1`.
fn node_address(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok());
    }
    node.parse::<IpAddr>().ok().or_else(|| node.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// The client's address (see the module), for handlers that count or record by address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<Shared> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Self::Rejection> {
        // Served by `Server::serve`, every request carries its peer; a router driven without one
        // (a test calling it in-process) counts as the unspecified address.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        Ok(Self(state.config.trusted_proxies.client(peer, &parts.headers)))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("a name"),
                HeaderValue::from_str(value).expect("a value"),
            );
        }
        map
    }

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|n| n.parse().expect("a network")).collect())
    }

    #[test]
    fn networks_hold_their_addresses() {
        let private: Cidr = "10.0.0.0/8".parse().expect("a network");
        assert!(private.contains(ip("10.200.3.4")) && !private.contains(ip("11.0.0.1")));
        assert!(private.contains(ip("::ffff:10.1.2.3")), "IPv4 written as IPv6");
        let one: Cidr = "192.0.2.7".parse().expect("an address");
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6: Cidr = "fd00::/8".parse().expect("a network");
        assert!(v6.contains(ip("fd12:3456::1")) && !v6.contains(ip("fe80::1")) && !v6.contains(ip("10.0.0.1")));
        let all: Cidr = "0.0.0.0/0".parse().expect("every IPv4 address");
        assert!(all.contains(ip("203.0.113.9")));
        for bad in ["10.0.0.0/33", "10.0.0/8", "fd00::/129", "proxy.local", ""] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let said = headers(&[("x-forwarded-for", "198.51.100.1"), ("forwarded", "for=198.51.100.2")]);
        assert_eq!(trusted.client(ip("203.0.113.5"), &said), ip("203.0.113.5"));
        assert_eq!(TrustedProxies::default().client(ip("10.0.0.1"), &said), ip("10.0.0.1"), "none trusted by default");
    }

    #[test]
    fn through_trusted_proxies_the_first_untrusted_hop_is_the_client() {
        let trusted = proxies(&["10.0.0.0/8", "fd00::/8"]);
        let peer = ip("10.0.0.2");
        // A client's own header is kept at the left: it is not believed.
        let chain = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.9")]);
        assert_eq!(trusted.client(peer, &chain), ip("198.51.100.7"));
        let split = headers(&[("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "198.51.100.7")]);
        assert_eq!(trusted.client(peer, &split), ip("198.51.100.7"), "several headers are one list");
        let all_trusted = headers(&[("x-forwarded-for", "10.1.1.1, 10.0.0.9")]);
        assert_eq!(trusted.client(peer, &all_trusted), ip("10.1.1.1"));
        let unreadable = headers(&[("x-forwarded-for", "198.51.100.7, garbage, 10.0.0.9")]);
        assert_eq!(trusted.client(peer, &unreadable), ip("10.0.0.9"), "stops before what it cannot read");
        assert_eq!(trusted.client(peer, &HeaderMap::new()), peer, "no header: the proxy itself");
    }

    #[test]
    fn forwarded_is_read_before_x_forwarded_for() {
        let trusted = proxies(&["10.0.0.0/8", "fd00::/8"]);
        let both = headers(&[
            ("forwarded", r#"for=198.51.100.17;proto=https, For="[2001:db8:cafe::17]:4711";by=10.0.0.1"#),
            ("x-forwarded-for", "203.0.113.1"),
        ]);
        assert_eq!(trusted.client(ip("fd00::2"), &both), ip("2001:db8:cafe::17"));
        let with_port = headers(&[("forwarded", r#"for="192.0.2.43:47011""#)]);
        assert_eq!(trusted.client(ip("10.0.0.2"), &with_port), ip("192.0.2.43"));
        let hidden = headers(&[("forwarded", "for=unknown, for=10.0.0.5")]);
        assert_eq!(trusted.client(ip("10.0.0.2"), &hidden), ip("10.0.0.5"));
    }
}
