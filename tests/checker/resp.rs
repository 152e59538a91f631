//! A raw Redis client for reading what the servers stored (the checker's source of truth):
//! one command per fresh connection, RESP2 replies with nested arrays, bounded by a timeout.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Text(String),
    Int(i64),
    Nil,
    Array(Vec<Reply>),
    Error(String),
}

impl Reply {
    pub fn text(&self) -> Option<&str> {
        match self {
            Reply::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn items(&self) -> &[Reply] {
        match self {
            Reply::Array(a) => a,
            _ => &[],
        }
    }
}

/// Sends one command; `None` if Redis could not be reached or did not answer in 5 s.
pub async fn command(port: u16, args: &[&str]) -> Option<Reply> {
    let work = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let mut cmd = format!("*{}\r\n", args.len());
        for a in args {
            cmd.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        stream.write_all(cmd.as_bytes()).await.ok()?;
        let mut reader = BufReader::new(stream);
        read(&mut reader).await
    };
    tokio::time::timeout(Duration::from_secs(5), work).await.ok()?
}

async fn read(reader: &mut BufReader<TcpStream>) -> Option<Reply> {
    let mut line = String::new();
    reader.read_line(&mut line).await.ok()?;
    let line = line.strip_suffix("\r\n")?;
    let (kind, rest) = line.split_at_checked(1)?;
    Some(match kind {
        "+" => Reply::Text(rest.to_string()),
        "-" => Reply::Error(rest.to_string()),
        ":" => Reply::Int(rest.parse().ok()?),
        "$" if rest == "-1" => Reply::Nil,
        "*" if rest == "-1" => Reply::Nil,
        "$" => {
            let mut buf = vec![0; rest.parse::<usize>().ok()? + 2];
            reader.read_exact(&mut buf).await.ok()?;
            buf.truncate(buf.len() - 2);
            Reply::Text(String::from_utf8(buf).ok()?)
        }
        "*" => {
            let n: usize = rest.parse().ok()?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(Box::pin(read(reader)).await?);
            }
            Reply::Array(items)
        }
        _ => return None,
    })
}
