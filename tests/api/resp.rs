//! A raw Redis client for tests that look at what the server left in Redis: one command per
//! fresh connection, and a subscriber that reads what is published on a channel (classic, or
//! sharded on a cluster).

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::helpers::{Deployment, TIMEOUT};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resp {
    Text(String),
    Int(i64),
    Nil,
}

/// Sends one command to Redis over a fresh raw TCP connection and returns the reply as a
/// flat list (a scalar reply is a list of one); nested arrays are not needed here.
pub async fn redis_command(port: u16, args: &[&str]) -> Vec<Resp> {
    let work = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut cmd = format!("*{}\r\n", args.len());
        for a in args {
            cmd.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        stream.write_all(cmd.as_bytes()).await.unwrap();
        let mut reader = BufReader::new(stream);
        let head = read_line(&mut reader).await;
        match head.split_at(1) {
            ("*", n) => {
                let n: usize = n.parse().unwrap();
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    let line = read_line(&mut reader).await;
                    items.push(read_scalar(&mut reader, &line).await);
                }
                items
            }
            _ => vec![read_scalar(&mut reader, &head).await],
        }
    };
    tokio::time::timeout(TIMEOUT, work)
        .await
        .expect("Redis did not answer")
}

async fn read_line(reader: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).await.unwrap();
    assert!(line.ends_with("\r\n"), "truncated RESP line {line:?}");
    line.truncate(line.len() - 2);
    line
}

async fn read_scalar(reader: &mut BufReader<TcpStream>, line: &str) -> Resp {
    match line.split_at(1) {
        ("+", s) => Resp::Text(s.to_string()),
        (":", n) => Resp::Int(n.parse().unwrap()),
        ("$", "-1") | ("_", _) => Resp::Nil,
        ("$", n) => {
            let mut buf = vec![0; n.parse::<usize>().unwrap() + 2];
            reader.read_exact(&mut buf).await.unwrap();
            buf.truncate(buf.len() - 2);
            Resp::Text(String::from_utf8(buf).unwrap())
        }
        ("-", e) => panic!("Redis error: {e}"),
        _ => panic!("unexpected RESP reply {line:?}"),
    }
}

/// A raw subscriber to one channel: what the server publishes there, in order.
pub struct Subscriber {
    reader: BufReader<TcpStream>,
    /// `message`, or `smessage` for a sharded channel.
    kind: &'static str,
}

impl Subscriber {
    /// Subscribes, and returns once Redis has confirmed it.
    pub async fn open(port: u16, channel: &str) -> Self {
        Self::open_as(port, channel, "subscribe", "message").await
    }

    /// Subscribes where the deployment's server publishes `channel`: with `SSUBSCRIBE` on
    /// the master of its slot on a cluster.
    pub async fn open_for(deployment: &Deployment, channel: &str) -> Self {
        match deployment.sharded() {
            true => Self::open_as(deployment.port_for(channel), channel, "ssubscribe", "smessage").await,
            false => Self::open(deployment.port_for(channel), channel).await,
        }
    }

    async fn open_as(port: u16, channel: &str, verb: &str, kind: &'static str) -> Self {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let cmd = format!(
            "*2\r\n${}\r\n{verb}\r\n${}\r\n{channel}\r\n",
            verb.len(),
            channel.len()
        );
        stream.write_all(cmd.as_bytes()).await.unwrap();
        let mut sub = Self {
            reader: BufReader::new(stream),
            kind,
        };
        let confirmed = sub.push().await;
        assert_eq!(
            confirmed,
            [Resp::Text(verb.into()), Resp::Text(channel.into()), Resp::Int(1)]
        );
        sub
    }

    /// The payload of the next message published on the channel.
    pub async fn next(&mut self) -> String {
        match &self.push().await[..] {
            [Resp::Text(kind), Resp::Text(_), Resp::Text(payload)] if kind == self.kind => payload.clone(),
            other => panic!("a {} was expected, got {other:?}", self.kind),
        }
    }

    async fn push(&mut self) -> Vec<Resp> {
        let work = async {
            let head = read_line(&mut self.reader).await;
            assert_eq!(head, "*3", "a three-part push was expected");
            let mut parts = Vec::with_capacity(3);
            for _ in 0..3 {
                let line = read_line(&mut self.reader).await;
                parts.push(read_scalar(&mut self.reader, &line).await);
            }
            parts
        };
        tokio::time::timeout(TIMEOUT, work)
            .await
            .expect("nothing published within the timeout")
    }
}
