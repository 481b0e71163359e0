//! PROXY protocol headers (HAProxy's spec, versions 1 and 2) that tell a
//! TCP backend who the client is: pure encoding, no IO.

use std::net::SocketAddr;

use weir_core::model::ProxyProtocol;

/// The v2 signature: `\r\n\r\n\0\r\nQUIT\n`.
const V2_SIGNATURE: [u8; 12] = [
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
];

/// The header for a connection from `client` to `listener` (the VIP and
/// port it came in on), or nothing when the listener sends none.
pub fn header(version: ProxyProtocol, client: SocketAddr, listener: SocketAddr) -> Vec<u8> {
    // Mixed families (an IPv6 client on an IPv4 VIP) cannot be expressed
    // as one address pair; v1 and v2 both say "unknown" then.
    let same_family = client.is_ipv4() == listener.is_ipv4();
    match version {
        ProxyProtocol::None => Vec::new(),
        ProxyProtocol::V1 if !same_family => b"PROXY UNKNOWN\r\n".to_vec(),
        ProxyProtocol::V1 => {
            let family = if client.is_ipv4() { "TCP4" } else { "TCP6" };
            format!(
                "PROXY {family} {} {} {} {}\r\n",
                client.ip(),
                listener.ip(),
                client.port(),
                listener.port()
            )
            .into_bytes()
        }
        ProxyProtocol::V2 => {
            let mut out = V2_SIGNATURE.to_vec();
            // Version 2, command PROXY.
            out.push(0x21);
            match (client, listener) {
                (SocketAddr::V4(c), SocketAddr::V4(l)) => {
                    out.push(0x11); // TCP over IPv4
                    out.extend_from_slice(&12u16.to_be_bytes());
                    out.extend_from_slice(&c.ip().octets());
                    out.extend_from_slice(&l.ip().octets());
                    out.extend_from_slice(&c.port().to_be_bytes());
                    out.extend_from_slice(&l.port().to_be_bytes());
                }
                (SocketAddr::V6(c), SocketAddr::V6(l)) => {
                    out.push(0x21); // TCP over IPv6
                    out.extend_from_slice(&36u16.to_be_bytes());
                    out.extend_from_slice(&c.ip().octets());
                    out.extend_from_slice(&l.ip().octets());
                    out.extend_from_slice(&c.port().to_be_bytes());
                    out.extend_from_slice(&l.port().to_be_bytes());
                }
                _ => {
                    out.push(0x00); // UNSPEC
                    out.extend_from_slice(&0u16.to_be_bytes());
                }
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_is_one_text_line() {
        let h = header(
            ProxyProtocol::V1,
            "10.1.2.3:5555".parse().unwrap(),
            "127.0.1.1:80".parse().unwrap(),
        );
        assert_eq!(h, b"PROXY TCP4 10.1.2.3 127.0.1.1 5555 80\r\n");
        let h = header(
            ProxyProtocol::V1,
            "[::1]:5".parse().unwrap(),
            "[::2]:6".parse().unwrap(),
        );
        assert_eq!(h, b"PROXY TCP6 ::1 ::2 5 6\r\n");
        let h = header(
            ProxyProtocol::V1,
            "[::1]:5".parse().unwrap(),
            "127.0.0.1:6".parse().unwrap(),
        );
        assert_eq!(h, b"PROXY UNKNOWN\r\n");
    }

    #[test]
    fn v2_is_the_binary_layout() {
        let h = header(
            ProxyProtocol::V2,
            "10.1.2.3:5555".parse().unwrap(),
            "127.0.1.1:80".parse().unwrap(),
        );
        assert_eq!(&h[..12], &V2_SIGNATURE);
        assert_eq!(h[12], 0x21);
        assert_eq!(h[13], 0x11);
        assert_eq!(u16::from_be_bytes([h[14], h[15]]), 12);
        assert_eq!(&h[16..20], &[10, 1, 2, 3]);
        assert_eq!(&h[20..24], &[127, 0, 1, 1]);
        assert_eq!(u16::from_be_bytes([h[24], h[25]]), 5555);
        assert_eq!(u16::from_be_bytes([h[26], h[27]]), 80);
        assert_eq!(h.len(), 28);
        assert!(header(
            ProxyProtocol::None,
            "1.1.1.1:1".parse().unwrap(),
            "2.2.2.2:2".parse().unwrap()
        )
        .is_empty());
    }
}
