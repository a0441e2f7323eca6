//! Which identity-provider URLs the server may call (SPEC §9 `IDP_ALLOW_HTTP`,
//! `IDP_ALLOWED_HOSTS`): https only unless an operator allows a host over http, an
//! optional allow-list, and no private or loopback address unless the operator named the
//! host. Names are checked again when they resolve (see [`PolicyResolver`]), so a public
//! name pointing at an internal address is refused too.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use oauth2::url::{Host, Url};

/// The operator's rules for outbound IdP calls.
#[derive(Clone, Debug)]
pub struct IdpPolicy {
    /// Hosts that may be called over plain http (development and tests).
    pub allow_http: Vec<String>,
    /// When non-empty, the only hosts that may be called (plus `allow_http`).
    pub allowed_hosts: Vec<String>,
    /// The longest an IdP call may take (SPEC §8: 10 s).
    pub timeout: Duration,
    /// The largest IdP response read, in bytes.
    pub max_response_bytes: usize,
    /// An HTTP(S) proxy for IdP calls (`IDP_PROXY_URL`); the process environment's
    /// `HTTP(S)_PROXY` is never used. Through a proxy the server cannot see the address
    /// a name resolves to, so every IdP host must then be named by the operator.
    pub proxy: Option<String>,
}

impl Default for IdpPolicy {
    fn default() -> Self {
        Self {
            allow_http: Vec::new(),
            allowed_hosts: Vec::new(),
            timeout: Duration::from_secs(10),
            max_response_bytes: 256 * 1024,
            proxy: None,
        }
    }
}

impl IdpPolicy {
    /// Checks `url` before anything is sent; the reason names the rule, never a secret.
    pub fn check(&self, url: &Url) -> Result<(), String> {
        let host = url
            .host_str()
            .ok_or_else(|| "the IdP URL has no host".to_owned())?
            .to_ascii_lowercase();
        match url.scheme() {
            "https" => {}
            "http" if self.allows_http(&host) => {}
            "http" => {
                return Err(format!(
                    "the IdP URL must use https (add {host} to IDP_ALLOW_HTTP for development)"
                ));
            }
            _ => return Err("the IdP URL must be an https URL".to_owned()),
        }
        let named = self.is_named(&host);
        if !self.allowed_hosts.is_empty() && !named {
            return Err(format!("IdP host {host} is not in IDP_ALLOWED_HOSTS"));
        }
        if self.proxy.is_some() && !named {
            return Err(format!(
                "IdP calls go through IDP_PROXY_URL, so IdP host {host} must be named in IDP_ALLOWED_HOSTS"
            ));
        }
        let ip = match url.host() {
            Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = ip
            && !named
            && !is_public(ip)
        {
            return Err(format!(
                "IdP host {host} is a private or loopback address; name it in IDP_ALLOWED_HOSTS to allow it"
            ));
        }
        Ok(())
    }

    /// True when the operator named `host` (allowed over http or allow-listed), which
    /// also permits a private address for it.
    pub fn is_named(&self, host: &str) -> bool {
        self.allows_http(host) || contains(&self.allowed_hosts, host)
    }

    fn allows_http(&self, host: &str) -> bool {
        contains(&self.allow_http, host)
    }
}

fn contains(list: &[String], host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    list.iter().any(|h| {
        h.trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .eq_ignore_ascii_case(host)
    })
}

/// True for addresses on the public internet: not loopback, private, link-local,
/// shared, reserved, benchmarking, multicast, nor an IPv6 form that carries or reaches an
/// IPv4 address (mapped, compatible, NAT64, 6to4, Teredo), which could lead inside.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (b & 0xfe) == 18)
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            let ipv4_compatible = s[..6].iter().all(|&x| x == 0);
            // 64:ff9b::/96 (well-known) and 64:ff9b:1::/48 (local-use).
            let nat64 = s[0] == 0x64 && s[1] == 0xff9b && (s[2] == 1 || s[2..6] == [0; 4]);
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || ipv4_compatible
                || nat64
                || s[0] == 0x2002
                || (s[0] == 0x2001 && s[1] == 0)
                || (s[0] == 0x2001 && s[1] == 0xdb8)
                || (s[0] == 0x100 && s[1..4].iter().all(|&x| x == 0))
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xffc0) == 0xfec0)
        }
    }
}

/// Resolves IdP host names, dropping private addresses unless the host is named.
pub struct PolicyResolver(pub Arc<IdpPolicy>);

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = Arc::clone(&self.0);
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let named = policy.is_named(&host);
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| named || is_public(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(
                    format!("IdP host {host} resolves to no address the server may call").into(),
                );
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn plain_http_is_refused_unless_the_host_is_allowed() {
        let mut policy = IdpPolicy::default();
        assert!(policy.check(&url("http://idp.example.com/token")).is_err());
        assert!(policy.check(&url("https://idp.example.com/token")).is_ok());
        policy.allow_http = vec!["idp.example.com".into()];
        assert!(policy.check(&url("http://idp.example.com/token")).is_ok());
    }

    #[test]
    fn loopback_and_private_addresses_need_the_operator_to_name_them() {
        let mut policy = IdpPolicy::default();
        for u in [
            "https://127.0.0.1/t",
            "https://10.1.2.3/t",
            "https://[::1]/t",
            "https://169.254.169.254/latest",
        ] {
            assert!(policy.check(&url(u)).is_err(), "{u}");
        }
        policy.allowed_hosts = vec!["127.0.0.1".into()];
        assert!(policy.check(&url("https://127.0.0.1/t")).is_ok());
    }

    #[test]
    fn an_allow_list_refuses_other_hosts() {
        let policy = IdpPolicy {
            allowed_hosts: vec!["login.example.com".into()],
            ..IdpPolicy::default()
        };
        assert!(policy.check(&url("https://login.example.com/t")).is_ok());
        assert!(policy.check(&url("https://evil.example.net/t")).is_err());
    }

    #[test]
    fn other_schemes_are_refused() {
        let policy = IdpPolicy::default();
        assert!(policy.check(&url("file:///etc/passwd")).is_err());
        assert!(policy.check(&url("ftp://idp.example.com/")).is_err());
    }

    #[test]
    fn addresses_that_lead_inside_are_not_public() {
        for ip in [
            "64:ff9b::a00:1",
            "64:ff9b::808:808",
            "64:ff9b:1::1",
            "2002:a00:1::1",
            "::10.0.0.1",
            "::8.8.8.8",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            "2001:0:4136:e378::1",
            "2001:db8::1",
            "100::1",
            "::ffff:10.0.0.1",
            "224.0.0.1",
            "239.255.255.250",
            "192.0.0.1",
            "198.18.0.1",
            "198.19.255.255",
            "240.0.0.1",
            "255.255.255.255",
            "100.64.0.1",
            "169.254.169.254",
        ] {
            let parsed: IpAddr = ip.parse().unwrap_or_else(|_| panic!("{ip}"));
            assert!(!is_public(parsed), "{ip} was classified public");
        }
        for ip in [
            "8.8.8.8",
            "192.0.1.1",
            "198.20.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            let parsed: IpAddr = ip.parse().unwrap_or_else(|_| panic!("{ip}"));
            assert!(is_public(parsed), "{ip} was classified private");
        }
    }

    #[test]
    fn through_a_proxy_only_named_hosts_are_called() {
        let mut policy = IdpPolicy {
            proxy: Some("http://proxy.internal:3128".into()),
            ..IdpPolicy::default()
        };
        assert!(policy.check(&url("https://login.example.com/t")).is_err());
        policy.allowed_hosts = vec!["login.example.com".into()];
        assert!(policy.check(&url("https://login.example.com/t")).is_ok());
        assert!(policy.check(&url("https://other.example.com/t")).is_err());
    }
}
