//! The egress guard: the only code that opens outbound connections, and it
//! opens them only to addresses inside `dataplane.egress_allow`.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;
use tokio::net::{TcpStream, UdpSocket};

/// The allow-list and the dialers that honour it.
#[derive(Debug, Clone)]
pub struct Egress {
    allow: Vec<IpNet>,
    connect_timeout: Duration,
}

impl Egress {
    pub fn new(allow: Vec<IpNet>, connect_timeout: Duration) -> Self {
        Self {
            allow,
            connect_timeout,
        }
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
    }
}
