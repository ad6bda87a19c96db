//! A UDP stand-in between an IPMI client and a BMC: forwards both ways, drops the
//! client's packets a test names, and records the RMCP+ payload type of each.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::UdpSocket;

/// Packets from the client a stand-in has seen, by RMCP+ payload type (0x10 Open Session,
/// 0x12 RAKP 1, 0x00 IPMI), and how many it dropped.
#[derive(Debug, Default)]
pub struct Seen {
    /// RMCP+ payload type of each packet from the client (0xFF: not RMCP+).
    pub payload_types: Vec<u8>,
    /// Packets dropped.
    pub dropped: usize,
}

/// A UDP stand-in on `listen` that forwards to `bmc` and back, dropping the client's
/// packets whose 0-based index `drop` names. It runs until the test's runtime ends.
pub async fn stand_in(
    listen: SocketAddr,
    bmc: SocketAddr,
    drop: impl Fn(usize) -> bool + Send + 'static,
) -> Arc<Mutex<Seen>> {
    let front = Arc::new(UdpSocket::bind(listen).await.expect("stand-in bind"));
    let back = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    back.connect(bmc).await.unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let client: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
    {
        let (front, back, client) = (front.clone(), back.clone(), client.clone());
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            while let Ok(n) = back.recv(&mut buf).await {
                let to = *client.lock().unwrap();
                if let Some(to) = to {
                    let _ = front.send_to(&buf[..n], to).await;
                }
            }
        });
    }
    let recorded = seen.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        let mut index = 0;
        while let Ok((n, from)) = front.recv_from(&mut buf).await {
            *client.lock().unwrap() = Some(from);
            let packet = &buf[..n];
            let kind = if n > 5 && packet[4] == 0x06 {
                packet[5] & 0x3F
            } else {
                0xFF
            };
            let dropped = drop(index);
            {
                let mut seen = recorded.lock().unwrap();
                seen.payload_types.push(kind);
                seen.dropped += usize::from(dropped);
            }
            index += 1;
            if !dropped {
                let _ = back.send(packet).await;
            }
        }
    });
    seen
}
