//! Requests the HTTP client cannot make: a body that arrives slowly, over a raw socket.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// A POST /graphql whose body is announced in full but only partly sent.
pub struct TrickledRequest {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl TrickledRequest {
    /// Sends the headers and the first `sent` bytes of `body`, then holds back the rest.
    pub async fn start(
        address: SocketAddr,
        headers: &[(&str, &str)],
        body: &str,
        sent: usize,
    ) -> Self {
        let mut stream = TcpStream::connect(address).await.expect("cannot connect");
        let mut head = format!(
            "POST /graphql HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream
            .write_all(head.as_bytes())
            .await
            .expect("cannot send headers");
        stream
            .write_all(&body.as_bytes()[..sent])
            .await
            .expect("cannot send the body's start");
        stream.flush().await.expect("cannot flush");
        Self {
            stream,
            rest: body.as_bytes()[sent..].to_vec(),
        }
    }

    /// Sends the rest of the body and reads the whole response (status, raw text).
    pub async fn finish(mut self) -> (u16, String) {
        self.stream
            .write_all(&self.rest)
            .await
            .expect("cannot send the body's rest");
        self.read_response().await
    }

    /// Reads the response without sending the rest (the server must answer by itself).
    pub async fn read_response(mut self) -> (u16, String) {
        let mut raw = Vec::new();
        tokio::time::timeout(Duration::from_secs(30), self.stream.read_to_end(&mut raw))
            .await
            .expect("no response within 30 s")
            .expect("cannot read the response");
        let text = String::from_utf8_lossy(&raw).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, text)
    }
}

/// The JSON body of a raw HTTP/1.1 response (after the blank line).
pub fn body_json(raw: &str) -> serde_json::Value {
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}
