//! Free ports on the loopback interface.
//!
//! The port is free when the function returns; another process can take it
//! before the test binds it. Tests that cannot tolerate that should bind
//! port 0 themselves and ask the socket for its port.

use std::io;
use std::net::{Ipv4Addr, TcpListener, UdpSocket};

/// A TCP port on 127.0.0.1 that nothing listens on right now.
pub fn free_loopback_tcp_port() -> io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// A UDP port on 127.0.0.1 that no socket is bound to right now.
pub fn free_loopback_udp_port() -> io::Result<u16> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(socket.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_can_be_bound() {
        let tcp = free_loopback_tcp_port().unwrap();
        assert_ne!(tcp, 0);
        TcpListener::bind((Ipv4Addr::LOCALHOST, tcp)).unwrap();

        let udp = free_loopback_udp_port().unwrap();
        assert_ne!(udp, 0);
        UdpSocket::bind((Ipv4Addr::LOCALHOST, udp)).unwrap();
    }
}
