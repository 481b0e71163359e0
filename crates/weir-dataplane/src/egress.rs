//! The egress guard: the only code that opens outbound connections (and
//! the ICMP sockets of PING checks), and it opens them only to addresses
//! inside `dataplane.egress_allow`.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;
use tokio::net::{TcpStream, UdpSocket};

use crate::icmp::{IcmpSocket, IcmpSupport};

/// The allow-list and the dialers that honour it.
#[derive(Debug, Clone)]
pub struct Egress {
    allow: Vec<IpNet>,
    connect_timeout: Duration,
    /// Which ICMP sockets this process can open (none unless told).
    icmp: IcmpSupport,
}

impl Egress {
    pub fn new(allow: Vec<IpNet>, connect_timeout: Duration) -> Self {
        Self {
            allow,
            connect_timeout,
            icmp: IcmpSupport::default(),
        }
    }

    /// The same guard, sending echo requests through the sockets found.
    pub fn with_icmp(mut self, icmp: IcmpSupport) -> Self {
        self.icmp = icmp;
        self
    }

    /// Whether `ip` may be dialled. IPv4-mapped IPv6 is judged as the IPv4
    /// address it reaches, so `::ffff:10.0.0.1` is neither let past an
    /// IPv4 allow-list nor refused by one that holds 10.0.0.1.
    pub fn allows(&self, ip: IpAddr) -> bool {
        weir_core::address::in_ranges(&self.allow, ip)
    }

    /// Why a backend may not be dialled, as its status shows it to the
    /// tenant (the allow-list itself is the operator's).
    pub fn refusal(&self, _ip: IpAddr) -> String {
        weir_core::status::FailureReason::NotAllowed
            .as_str()
            .to_owned()
    }

    fn check(&self, addr: SocketAddr) -> io::Result<()> {
        if self.allows(addr.ip()) {
            Ok(())
        } else {
            let allowed: Vec<String> = self.allow.iter().map(ToString::to_string).collect();
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "egress to {} is outside dataplane.egress_allow ({})",
                    addr.ip(),
                    allowed.join(", ")
                ),
            ))
        }
    }

    /// The configured connect timeout (a TLS handshake to a member gets
    /// as long again).
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// A TCP connection to `addr`, within `timeout` (a listener's own) or
    /// else the configured connect timeout.
    pub async fn connect(
        &self,
        addr: SocketAddr,
        timeout: Option<Duration>,
    ) -> io::Result<TcpStream> {
        self.check(addr)?;
        let timeout = timeout.unwrap_or(self.connect_timeout);
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connect to {addr} timed out"),
                )
            })??;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    /// A TCP connection with an explicit timeout (health checks).
    pub async fn connect_within(
        &self,
        addr: SocketAddr,
        timeout: Duration,
    ) -> io::Result<TcpStream> {
        self.check(addr)?;
        tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connect to {addr} timed out"),
                )
            })?
    }

    /// An ICMP echo socket for `ip` (judged, like every dial, against the
    /// allow-list; an IPv4-mapped address is pinged as the IPv4 address it
    /// reaches). Fails when this process has no ICMP socket of its family.
    pub fn icmp(&self, ip: IpAddr) -> io::Result<IcmpSocket> {
        let ip = weir_core::address::canonical(ip);
        self.check(SocketAddr::new(ip, 0))?;
        let kind = self.icmp.kind_for(ip).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::Unsupported,
                format!("no ICMP socket for {ip}'s address family"),
            )
        })?;
        IcmpSocket::open(kind, ip)
    }

    /// A UDP socket connected to `addr`, for one client flow.
    pub async fn udp(&self, addr: SocketAddr) -> io::Result<UdpSocket> {
        self.check(addr)?;
        let local: SocketAddr = if addr.is_ipv4() {
            "0.0.0.0:0".parse().expect("literal")
        } else {
            "[::]:0".parse().expect("literal")
        };
        let socket = UdpSocket::bind(local).await?;
        socket.connect(addr).await?;
        Ok(socket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_outside_the_allow_list_without_dialling() {
        let egress = Egress::new(vec!["127.0.0.0/8".parse().unwrap()], Duration::from_secs(1));
        assert!(egress.allows("127.0.0.9".parse().unwrap()));
        assert!(
            egress.allows("::ffff:127.0.0.9".parse().unwrap()),
            "IPv4-mapped is the IPv4 address"
        );
        let err = egress
            .connect("[::ffff:10.1.2.3]:80".parse().unwrap(), None)
            .await
            .unwrap_err();
        assert_eq!(
            err.kind(),
            io::ErrorKind::PermissionDenied,
            "a mapped address outside the list is refused without dialling"
        );
        let err = egress
            .connect("10.1.2.3:80".parse().unwrap(), None)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert!(err.to_string().contains("egress_allow"));
        let err = egress
            .udp("192.168.1.1:53".parse().unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        // Echo requests are held to the same list, whatever sockets exist.
        let pinger = egress.clone().with_icmp(IcmpSupport {
            v4: Some(crate::icmp::SocketKind::Raw),
            v6: Some(crate::icmp::SocketKind::Raw),
        });
        for outside in ["10.1.2.3", "::ffff:10.1.2.3", "2001:db8::1"] {
            let err = pinger.icmp(outside.parse().unwrap()).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{outside}");
        }
        // Without a socket of its family, an allowed address is not pinged.
        let err = egress.icmp("127.0.0.1".parse().unwrap()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Unsupported);
    }
}
