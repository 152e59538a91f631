//! A blocking RESP client for the cluster harness: one command per fresh connection, the
//! whole reply parsed (nested arrays, bulk strings, errors as values), every read bounded.
//! It never follows `MOVED`: the harness asks the node it means.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(String),
    Nil,
    Array(Vec<Reply>),
}

impl Reply {
    /// The text of a status or bulk reply; panics on anything else.
    pub fn text(&self) -> &str {
        match self {
            Reply::Status(s) | Reply::Bulk(s) => s,
            other => panic!("a string reply was expected, got {other:?}"),
        }
    }

    /// The integer of an integer reply; panics on anything else.
    pub fn int(&self) -> i64 {
        match self {
            Reply::Int(n) => *n,
            other => panic!("an integer reply was expected, got {other:?}"),
        }
    }

    /// The items of an array reply; panics on anything else.
    pub fn items(&self) -> &[Reply] {
        match self {
            Reply::Array(items) => items,
            other => panic!("an array reply was expected, got {other:?}"),
        }
    }
}

/// Sends `args` to `127.0.0.1:port` and reads the whole reply; `Err` when the node cannot
/// be reached or does not answer within `timeout` (a killed node, say).
pub fn call(port: u16, args: &[&str], timeout: Duration) -> std::io::Result<Reply> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(req.as_bytes())?;
    read_reply(&mut BufReader::new(s))
}

fn read_reply(r: &mut impl BufRead) -> std::io::Result<Reply> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let Some(line) = line.strip_suffix("\r\n") else {
        return Err(std::io::Error::other(format!("truncated RESP line {line:?}")));
    };
    let bad = |what: &str| std::io::Error::other(format!("bad RESP {what}: {line:?}"));
    let (kind, rest) = line.split_at_checked(1).ok_or_else(|| bad("line"))?;
    let n = || rest.parse::<i64>().map_err(|_| bad("length"));
    Ok(match kind {
        "+" => Reply::Status(rest.into()),
        "-" => Reply::Error(rest.into()),
        ":" => Reply::Int(n()?),
        "$" if n()? < 0 => Reply::Nil,
        "$" => {
            let mut buf = vec![0; n()? as usize + 2];
            r.read_exact(&mut buf)?;
            buf.truncate(buf.len() - 2);
            Reply::Bulk(String::from_utf8(buf).map_err(|_| bad("bulk"))?)
        }
        "*" if n()? < 0 => Reply::Nil,
        "*" => Reply::Array((0..n()?).map(|_| read_reply(r)).collect::<Result<_, _>>()?),
        _ => return Err(bad("type")),
    })
}
