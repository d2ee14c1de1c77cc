//! RTP port allocation: every answered call holds a real, bound UDP socket from the
//! configured range for as long as it lives (RTP on the even port, RFC 3550 §11). The media
//! engine takes these sockets over; until then they keep the negotiated port truly ours.

use std::net::{IpAddr, SocketAddr, UdpSocket};

/// Hands out bound RTP sockets from `[min, max]`, round robin over even ports.
#[derive(Debug)]
pub struct PortAllocator {
    bind_ip: IpAddr,
    min: u16,
    max: u16,
    next: u16,
}

impl PortAllocator {
    pub fn new(bind_ip: IpAddr, min: u16, max: u16) -> Self {
        let min = min + (min % 2);
        Self {
            bind_ip,
            min,
            max,
            next: min,
        }
    }

    /// Binds the next free even port; `None` when the whole range is in use.
    pub fn allocate(&mut self) -> Option<UdpSocket> {
        let span = (u32::from(self.max) - u32::from(self.min)) / 2 + 1;
        for _ in 0..span {
            let port = self.next;
            self.next = if u32::from(port) + 2 > u32::from(self.max) {
                self.min
            } else {
                port + 2
            };
            if let Ok(sock) = UdpSocket::bind(SocketAddr::new(self.bind_ip, port)) {
                return Some(sock);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_distinct_even_ports_and_reports_exhaustion() {
        let mut a = PortAllocator::new("127.0.0.1".parse().unwrap(), 40001, 40006);
        let socks: Vec<_> = std::iter::from_fn(|| a.allocate()).take(10).collect();
        let ports: Vec<u16> = socks
            .iter()
            .map(|s| s.local_addr().unwrap().port())
            .collect();
        assert_eq!(ports, vec![40002, 40004, 40006]);
        drop(socks);
        assert!(a.allocate().is_some());
    }
}
