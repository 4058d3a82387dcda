//! Outbound URLs a tenant gives GOBI (n8n base URLs, webhook endpoints) are SSRF-checked: https
//! only, and no address that reaches GOBI's own network (loopback, private, link-local and cloud
//! metadata, carrier-grade NAT, multicast), unless the environment is local. The addresses found
//! are the ones connected to, so DNS cannot change its answer between the check and the call.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::error::ApiError;
use url::Url;

/// A URL that passed the check, with the addresses to connect to.
#[derive(Debug, Clone)]
pub struct CheckedUrl {
    pub url: Url,
    pub addresses: Vec<SocketAddr>,
}

fn refused(field: &str, reason: impl Into<String>) -> ApiError {
    ApiError::Validation(vec![crate::error::FieldError::new(field, reason.into())])
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (b == 18 || b == 19))
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
}

/// IPv6 forms that carry an IPv4 address (mapped, IPv4-compatible `::a.b.c.d`, NAT64
/// `64:ff9b::/96`) are judged by that address; 6to4 (`2002::/16`) reaches IPv4 through a relay
/// and is refused outright.
fn internal_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return internal_v4(v4);
    }
    let segments = ip.segments();
    let o = ip.octets();
    let embedded = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    let first = segments[0];
    let ipv4_compatible =
        segments[..6].iter().all(|s| *s == 0) && !ip.is_loopback() && !ip.is_unspecified();
    let nat64 = segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || first == 0x2002
        || ((ipv4_compatible || nat64) && internal_v4(embedded))
}

/// Addresses a tenant's URL may never reach outside local mode.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

/// What a URL may reach besides the public internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Public addresses over https only (production).
    Public,
    /// Also http and this machine's loopback (local and test runs: the stand-ins listen there);
    /// every other internal address is still refused.
    Loopback,
    /// Also http and every internal address (local runs of n8n on a private network).
    Internal,
}

impl Reach {
    fn allows(self, ip: IpAddr) -> bool {
        match self {
            Self::Public => !is_internal(ip),
            Self::Loopback => ip.is_loopback() || !is_internal(ip),
            Self::Internal => true,
        }
    }
}

/// Checks `raw` (an n8n base URL); `allow_local` (local and test environments) permits http and
/// internal addresses.
pub async fn check(raw: &str, allow_local: bool) -> Result<CheckedUrl, ApiError> {
    let reach = if allow_local {
        Reach::Internal
    } else {
        Reach::Public
    };
    check_url(raw, "base_url", reach).await
}

/// Checks `raw` for what it may `reach`; a refusal names `field`.
pub async fn check_url(raw: &str, field: &str, reach: Reach) -> Result<CheckedUrl, ApiError> {
    let refused = |reason: String| refused(field, reason);
    let url = Url::parse(raw.trim()).map_err(|e| refused(format!("is not a URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if reach != Reach::Public => {}
        "http" => return Err(refused("must use https".into())),
        other => return Err(refused(format!("scheme {other} is not allowed"))),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refused(
            "may not carry credentials; use auth_type and secret".into(),
        ));
    }
    let host = url
        .host_str()
        .ok_or_else(|| refused("needs a host".into()))?
        .trim_matches(['[', ']'])
        .to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| refused(format!("host {host} does not resolve")))?
            .collect(),
    };
    if addresses.is_empty() {
        return Err(refused(format!("host {host} does not resolve")));
    }
    if !addresses.iter().all(|a| reach.allows(a.ip())) {
        return Err(refused(
            "reaches a loopback, private, link-local or metadata address".into(),
        ));
    }
    Ok(CheckedUrl { url, addresses })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::7f00:1",
            "2002:7f00:1::1",
            "2002:0808:0808::1",
            "::127.0.0.1",
            "::10.0.0.1",
            "192.0.0.1",
            "192.0.0.170",
            "240.0.0.1",
            "255.255.255.254",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "64:ff9b::808:808",
            "192.0.1.1",
        ] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn urls_are_refused_outside_local_mode() {
        for url in [
            "http://127.0.0.1:5678",
            "https://169.254.169.254/latest/meta-data",
            "https://10.0.0.5",
            "http://n8n.example.com",
            "ftp://example.com",
            "https://user:pw@8.8.8.8",
            "https://[::1]/",
        ] {
            assert!(check(url, false).await.is_err(), "{url}");
        }
        assert!(check("https://8.8.8.8/webhook", false).await.is_ok());
        assert!(check("http://127.0.0.1:5678", true).await.is_ok());
    }

    #[tokio::test]
    async fn loopback_reach_allows_this_machine_alone() {
        assert!(
            check_url("http://127.0.0.1:9/hook", "url", Reach::Loopback)
                .await
                .is_ok()
        );
        for url in [
            "http://10.0.0.5/hook",
            "http://192.168.1.1/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://[fd00::1]/hook",
        ] {
            assert!(
                check_url(url, "url", Reach::Loopback).await.is_err(),
                "{url}"
            );
        }
    }
}
