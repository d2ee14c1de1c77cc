//! RTP port allocation: every answered call holds a real, bound pair of UDP sockets from the
//! configured range for as long as it lives: RTP on the even port and RTCP on the next odd one
//! (RFC 3550 §11), for peers that do not multiplex RTCP (RFC 5761). The media workers serve
//! both.

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

    /// Binds the next free even port and the odd port above it; `None` when no such pair is
    /// free in the whole range.
    pub fn allocate(&mut self) -> Option<(UdpSocket, UdpSocket)> {
        let span = (u32::from(self.max) - u32::from(self.min)) / 2 + 1;
        for _ in 0..span {
            let port = self.next;
            self.next = if u32::from(port) + 2 > u32::from(self.max) {
                self.min
            } else {
                port + 2
            };
            let Some(odd) = port.checked_add(1) else {
                continue;
            };
            if let Ok(rtp) = UdpSocket::bind(SocketAddr::new(self.bind_ip, port))
                && let Ok(rtcp) = UdpSocket::bind(SocketAddr::new(self.bind_ip, odd))
            {
                return Some((rtp, rtcp));
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
        let mut a = PortAllocator::new("127.0.0.1".parse().unwrap(), 40001, 40007);
        let socks: Vec<_> = std::iter::from_fn(|| a.allocate()).take(10).collect();
        let ports: Vec<(u16, u16)> = socks
            .iter()
            .map(|(a, b)| {
                (
                    a.local_addr().unwrap().port(),
                    b.local_addr().unwrap().port(),
                )
            })
            .collect();
        assert_eq!(ports, vec![(40002, 40003), (40004, 40005), (40006, 40007)]);
        drop(socks);
        assert!(a.allocate().is_some());
    }
}
