//! The HTTP client `web_fetch` uses: names resolved by [`CheckedResolver`], which hands
//! the connector only addresses the [`AddressPolicy`] allows (so what is checked is
//! exactly what is connected to: no window for DNS rebinding), IP literals and schemes
//! checked on the first URL and on every redirect hop (which `web_fetch` follows itself,
//! with [`check_url`]), the [`EgressAllowList`] too
//! (host and port, every hop), and no proxy (a proxy would resolve the target itself,
//! out of the policy's sight).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

use super::address::AddressPolicy;
use super::allow_list::{url_host_port, EgressAllowList};

/// Redirects followed at most before giving up.
pub const MAX_REDIRECTS: usize = 5;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why `web_fetch` refused a URL before connecting to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchRefusal {
    #[error("{address} is {reason}; web_fetch refuses loopback, private and link-local addresses unless an exact [network] allow entry names them (e.g. \"127.0.0.1:8080\")")]
    AddressLiteral {
        address: IpAddr,
        reason: &'static str,
    },
    #[error("{host} resolves to {address}, {reason}; web_fetch refuses loopback, private and link-local addresses unless an exact [network] allow entry names the host")]
    ResolvedAddress {
        host: String,
        address: IpAddr,
        reason: &'static str,
    },
    #[error("{host} did not resolve to any address ({cause}); check the host name")]
    Unresolved { host: String, cause: String },
    #[error("a redirect led to a '{scheme}' URL; web_fetch follows only http:// and https://")]
    RedirectScheme { scheme: String },
    #[error("redirected too many times (more than {MAX_REDIRECTS})")]
    TooManyRedirects,
    #[error("a redirect led to {host}, a host the person did not name in this turn's message and [network] allow does not list; untrusted content is in this conversation, so web_fetch follows a redirect only where the injection policy would let a fetch go. If that page is needed, fetch its URL directly so the policy can judge it")]
    UnnamedRedirect { host: String },
    #[error("{host}:{port} is not on the egress allow-list ([network] allow = {allowed}); web_fetch reaches only the hosts listed there, and the person can add one in config.toml")]
    NotAllowed {
        host: String,
        port: u16,
        allowed: String,
    },
}

/// Where names come from: the system resolver, or a fixed table (tests, which map
/// made-up names to loopback addresses).
#[derive(Debug, Clone, Default)]
pub enum HostTable {
    #[default]
    System,
    Fixed(Arc<HashMap<String, Vec<IpAddr>>>),
}

/// Resolves a name, then keeps only the addresses the policy allows; fails, naming the
/// host, an address and why, when none is left.
#[derive(Debug, Clone)]
struct CheckedResolver {
    policy: Arc<AddressPolicy>,
    allow: Arc<EgressAllowList>,
    hosts: HostTable,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let policy = self.policy.clone();
        let hosts = self.hosts.clone();
        // A name the allow-list names exactly may resolve to a non-public address.
        let opened = self.allow.opens_addresses_of(&host);
        Box::pin(async move {
            let found = lookup(&hosts, &host).await?;
            let mut allowed = Vec::new();
            let mut refusal = None;
            for address in found {
                let checked = if opened {
                    Ok(())
                } else {
                    policy.check(address)
                };
                match checked {
                    Ok(()) => allowed.push(SocketAddr::new(address, 0)),
                    Err(reason) => {
                        refusal.get_or_insert(FetchRefusal::ResolvedAddress {
                            host: host.clone(),
                            address,
                            reason,
                        });
                    }
                }
            }
            if allowed.is_empty() {
                let refusal = refusal.unwrap_or(FetchRefusal::Unresolved {
                    host,
                    cause: "no addresses".to_string(),
                });
                return Err(Box::new(refusal) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

async fn lookup(hosts: &HostTable, host: &str) -> Result<Vec<IpAddr>, FetchRefusal> {
    match hosts {
        HostTable::Fixed(table) => {
            table
                .get(host)
                .cloned()
                .ok_or_else(|| FetchRefusal::Unresolved {
                    host: host.to_string(),
                    cause: "not in the host table".to_string(),
                })
        }
        HostTable::System => match tokio::net::lookup_host((host, 0)).await {
            Ok(found) => Ok(found.map(|socket| socket.ip()).collect()),
            Err(err) => Err(FetchRefusal::Unresolved {
                host: host.to_string(),
                cause: err.to_string(),
            }),
        },
    }
}

/// Checks what the resolver never sees: the scheme, the allow-list (host and port,
/// when it has entries) and an IP literal host (the connector dials those directly;
/// an allow-list entry for the address opens it). `url` crate parsing has already
/// turned decimal, octal and hex IPv4 spellings (`http://2130706433/`) into plain
/// addresses.
pub fn check_url(
    url: &Url,
    policy: &AddressPolicy,
    allow: &EgressAllowList,
) -> Result<(), FetchRefusal> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchRefusal::RedirectScheme {
            scheme: url.scheme().to_string(),
        });
    }
    let (host, port) = url_host_port(url).unwrap_or_default();
    if !allow.is_empty() && allow.permitting(&host, port).is_none() {
        return Err(FetchRefusal::NotAllowed {
            host,
            port,
            allowed: allow.describe(),
        });
    }
    let Ok(address) = host.parse::<IpAddr>() else {
        return Ok(());
    };
    if allow.opens_addresses_of(&host) {
        return Ok(());
    }
    policy
        .check(address)
        .map_err(|reason| FetchRefusal::AddressLiteral { address, reason })
}

/// A client for `web_fetch` under `policy` and `allow`, resolving names through `hosts`.
pub fn build_client(
    policy: Arc<AddressPolicy>,
    allow: Arc<EgressAllowList>,
    hosts: HostTable,
) -> Result<reqwest::Client, reqwest::Error> {
    // Redirects are followed by `web_fetch` itself (`super::fetch`), hop by hop, so
    // each hop is judged with what the call knows (the step's injection rule) too.
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(CheckedResolver {
            policy,
            allow,
            hosts,
        }))
        .user_agent(concat!("hearth/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The refusal behind a failed request, if the policy caused it.
pub fn refusal_in(err: &reqwest::Error) -> Option<&FetchRefusal> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(cause) = source {
        if let Some(refusal) = cause.downcast_ref::<FetchRefusal>() {
            return Some(refusal);
        }
        source = cause.source();
    }
    None
}
