//! Network values in the configuration: SIP listeners, transports, `host:port` and CIDR blocks.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// A SIP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
    /// SIP over WebSocket (RFC 7118).
    Ws,
    /// SIP over secure WebSocket (RFC 7118).
    Wss,
}

impl Transport {
    pub const ALL: [Transport; 5] = [Self::Udp, Self::Tcp, Self::Tls, Self::Ws, Self::Wss];

    /// The lowercase name used in the configuration (`udp`, `tls`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
            Self::Tls => "tls",
            Self::Ws => "ws",
            Self::Wss => "wss",
        }
    }

    /// Whether the transport needs a TLS certificate and key (`tls`, `wss`).
    pub fn is_secure(self) -> bool {
        matches!(self, Self::Tls | Self::Wss)
    }

    /// Whether the transport runs over a TCP socket (everything but `udp`).
    pub fn is_stream(self) -> bool {
        self != Self::Udp
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Transport {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown transport `{s}`, expected one of udp, tcp, tls, ws, wss")
            })
    }
}

/// A SIP listener: `udp:0.0.0.0:5060`, `tls:[::]:5061`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Listen {
    pub transport: Transport,
    pub addr: SocketAddr,
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport, self.addr)
    }
}

impl FromStr for Listen {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let shape =
            "expected TRANSPORT:ADDRESS:PORT such as \"udp:0.0.0.0:5060\" or \"tls:[::]:5061\"";
        let (transport, addr) = s
            .split_once(':')
            .ok_or_else(|| format!("bad listen address {s:?}: {shape}"))?;
        let transport = transport.parse()?;
        let addr = addr.parse().map_err(|_| {
            format!("bad listen address {s:?}: {shape} (IPv6 addresses go in brackets)")
        })?;
        Ok(Self { transport, addr })
    }
}

/// A host name or IP address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    Ip(IpAddr),
    /// A DNS name, as written.
    Name(String),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Self::Ip(ip) => write!(f, "{ip}"),
            Self::Name(name) => f.write_str(name),
        }
    }
}

/// `host:port`, with IPv6 hosts in brackets: `sip.example.net:5060`, `[2001:db8::1]:5060`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub host: Host,
    pub port: u16,
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl FromStr for HostPort {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let shape =
            || format!("bad address {s:?}: expected HOST:PORT such as \"sip.example.net:5060\"");
        let (host, port) = s.rsplit_once(':').ok_or_else(shape)?;
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(shape)?;
        let host = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Host::Ip(IpAddr::V6(v6.parse().map_err(|_| shape())?))
        } else if let Ok(ip) = host.parse::<std::net::Ipv4Addr>() {
            Host::Ip(IpAddr::V4(ip))
        } else if is_dns_name(host) {
            Host::Name(host.to_owned())
        } else {
            return Err(shape());
        };
        Ok(Self { host, port })
    }
}

fn is_dns_name(name: &str) -> bool {
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    (1..=253).contains(&name.len()) && name.split('.').all(label_ok)
}

/// Whether `name` is usable as a SIP domain (a DNS name or an IP address).
pub(crate) fn is_domain(name: &str) -> bool {
    is_dns_name(name) || name.parse::<IpAddr>().is_ok()
}

/// An IP network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`); a bare address is a /32 or /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    addr: IpAddr,
    prefix_len: u8,
}

impl IpNet {
    /// The network address (host bits are zero).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// Whether `ip` is inside this network. IPv4-mapped IPv6 addresses count as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.addr.is_ipv4() && masked(ip, self.prefix_len) == self.addr
    }
}

/// `ip` with every bit after the first `prefix_len` cleared.
fn masked(ip: IpAddr, prefix_len: u8) -> IpAddr {
    let len = u32::from(prefix_len);
    match ip {
        IpAddr::V4(ip) => {
            let mask = u32::MAX.checked_shl(32 - len.min(32)).unwrap_or(0);
            IpAddr::V4((u32::from(ip) & mask).into())
        }
        IpAddr::V6(ip) => {
            let mask = u128::MAX.checked_shl(128 - len.min(128)).unwrap_or(0);
            IpAddr::V6((u128::from(ip) & mask).into())
        }
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

impl FromStr for IpNet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let shape = || {
            format!(
                "bad address or network {s:?}: expected an IP address or CIDR block such as \"192.0.2.0/24\""
            )
        };
        let (addr, len) = match s.split_once('/') {
            Some((addr, len)) => (addr, Some(len)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| shape())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix_len = match len {
            None => max,
            Some(len) => len
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(shape)?,
        };
        let network = masked(addr, prefix_len);
        if network != addr {
            return Err(format!(
                "bad network {s:?}: host bits are set (did you mean \"{network}/{prefix_len}\"?)"
            ));
        }
        Ok(Self { addr, prefix_len })
    }
}
