//! One simulated client: a task that holds at most one WebSocket at a time, reads every frame
//! as it comes (unless told to stop, as a slow consumer), and carries out the operations the
//! driver sends it, in order. Everything it sends and sees goes to the journal.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::journal::{End, Sent, Shared, now_us};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Silence after which a settling client has read what the server had sent it.
const QUIET: Duration = Duration::from_millis(300);

/// What the driver asks of a client.
#[derive(Debug)]
pub enum Cmd {
    Connect {
        instance: usize,
        port: u16,
        small_buffer: bool,
    },
    Disconnect,
    Drop,
    /// A `join`, `leave`, `text` or `typing` frame for the room.
    Frame {
        kind: &'static str,
        room: String,
    },
    StopReading(Duration),
    /// Answers once its pause, if any, is over and it has read what was waiting (see
    /// `Client::settle`).
    Settle(oneshot::Sender<()>),
    /// Closes the connection (the end of the run) and answers.
    Finish(oneshot::Sender<()>),
}

struct Open {
    ws: Ws,
    conn: usize,
}

struct Client {
    id: usize,
    user: String,
    journal: Shared,
    open: Option<Open>,
    /// Frames with content sent so far (content tags are `c<client>-<n>`).
    sent: usize,
}

/// Starts client `id` as `user`; it runs until its sender is dropped.
pub fn spawn(
    id: usize,
    user: String,
    journal: Shared,
) -> (mpsc::UnboundedSender<Cmd>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let client = Client {
        id,
        user,
        journal,
        open: None,
        sent: 0,
    };
    (tx, tokio::spawn(client.run(rx)))
}

async fn next(open: &mut Option<Open>) -> Option<Result<Message, tungstenite::Error>> {
    match open {
        Some(o) => o.ws.next().await,
        None => std::future::pending().await,
    }
}

impl Client {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Cmd>) {
        let mut pause: Option<Instant> = None;
        loop {
            let reading = self.open.is_some() && pause.is_none();
            let until = pause.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(Cmd::StopReading(d)) => pause = Some(Instant::now() + d),
                    Some(Cmd::Settle(done)) => {
                        self.settle(pause.take()).await;
                        let _ = done.send(());
                    }
                    Some(cmd) => self.handle(cmd).await,
                    None => break,
                },
                msg = next(&mut self.open), if reading => self.received(msg),
                _ = tokio::time::sleep_until(until), if pause.is_some() => pause = None,
            }
        }
        self.close().await;
    }

    async fn handle(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Connect {
                instance,
                port,
                small_buffer,
            } => self.connect(instance, port, small_buffer).await,
            Cmd::Disconnect => self.close().await,
            Cmd::Drop => {
                if let Some(o) = self.open.take() {
                    self.journal.end(o.conn, End::Dropped);
                }
            }
            Cmd::Frame { kind, room } => self.send(kind, room).await,
            Cmd::StopReading(_) | Cmd::Settle(_) => {} // both handled in `run`
            Cmd::Finish(done) => {
                self.close().await;
                let _ = done.send(());
            }
        }
    }

    async fn connect(&mut self, instance: usize, port: u16, small_buffer: bool) {
        self.close().await;
        let t0 = now_us();
        let url = format!("ws://127.0.0.1:{port}/ws/{}", self.user);
        let opened = tokio::time::timeout(Duration::from_secs(5), async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            if small_buffer {
                socket.set_recv_buffer_size(4096)?;
            }
            let tcp = socket.connect(([127, 0, 0, 1], port).into()).await?;
            tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp))
                .await
                .map_err(std::io::Error::other)
        })
        .await;
        match opened {
            Ok(Ok((ws, _))) => {
                let conn = self.journal.open(self.id, &self.user, instance, t0);
                self.journal.event(format!(
                    "c{} ({}) connected to i{instance}: conn {conn} opened",
                    self.id, self.user
                ));
                self.open = Some(Open { ws, conn });
            }
            Ok(Err(e)) => self
                .journal
                .event(format!("c{} connect to i{instance} failed: {e}", self.id)),
            Err(_) => self
                .journal
                .event(format!("c{} connect to i{instance} timed out", self.id)),
        }
    }

    /// Waits out the pause (a slow consumer's, as the schedule has it: not cut short), then
    /// reads until the server has been silent for [`QUIET`] or the connection ended. While
    /// paused, the client reads nothing, so a close the server sent meanwhile (no pong within
    /// `WS_TIMEOUT_SECONDS`, a full outbox) or a reset is not in the journal yet; once settled,
    /// the journal says whether the connection is open as the server sees it.
    async fn settle(&mut self, pause: Option<Instant>) {
        if let Some(until) = pause {
            tokio::time::sleep_until(until).await;
        }
        // Reading answers the pings that waited at once, and the server closes a connection
        // only after a heartbeat interval with nothing heard: it has closed it by now or does
        // not, and a close it sent is read well within `QUIET`.
        while self.open.is_some() {
            match tokio::time::timeout(QUIET, next(&mut self.open)).await {
                Ok(msg) => self.received(msg),
                Err(_) => return,
            }
        }
    }

    /// A clean close: sends a close frame, then reads (recording) until the server's close
    /// or 1 s.
    async fn close(&mut self) {
        let Some(mut o) = self.open.take() else {
            return;
        };
        self.journal.end(o.conn, End::ByClient);
        let _ = tokio::time::timeout(Duration::from_millis(500), o.ws.close(None)).await;
        let deadline = Instant::now() + Duration::from_secs(1);
        while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, o.ws.next()).await {
            if let Message::Text(t) = msg
                && let Ok(v) = serde_json::from_str(&t)
            {
                self.journal.frame(o.conn, v);
            }
        }
    }

    async fn send(&mut self, kind: &'static str, room: String) {
        let Some(o) = self.open.as_mut() else {
            return self
                .journal
                .event(format!("c{} {kind} {room}: not connected", self.id));
        };
        let (frame, content) = match kind {
            "text" => {
                self.sent += 1;
                let content = format!("c{}-{}", self.id, self.sent);
                (
                    json!({"type": kind, "chat_id": room, "content": content}),
                    Some(content),
                )
            }
            "typing" => (json!({"type": kind, "chat_id": room, "content": "typing"}), None),
            _ => (json!({"type": kind, "chat_id": room}), None),
        };
        let conn = o.conn;
        let at = now_us();
        let sent = tokio::time::timeout(
            Duration::from_secs(2),
            o.ws.send(Message::text(frame.to_string())),
        )
        .await;
        self.journal.sent(
            conn,
            Sent {
                at,
                kind,
                room,
                content,
            },
        );
        if !matches!(sent, Ok(Ok(()))) {
            self.open = None;
            self.journal
                .end(conn, End::Lost(format!("send failed: {sent:?}")));
        }
    }

    fn received(&mut self, msg: Option<Result<Message, tungstenite::Error>>) {
        let Some(o) = self.open.as_ref() else {
            return;
        };
        let conn = o.conn;
        let end = match msg {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).unwrap_or(Value::String(t.to_string()));
                return self.journal.frame(conn, v);
            }
            Some(Ok(Message::Close(f))) => {
                let (code, reason) = f.map_or((1005, String::new()), |f| {
                    (u16::from(f.code), f.reason.to_string())
                });
                End::Closed(code, reason)
            }
            Some(Ok(_)) => return,
            Some(Err(e)) => End::Lost(e.to_string()),
            None => End::Lost("stream ended".into()),
        };
        self.open = None;
        self.journal.end(conn, end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Cluster;

    /// A client paused for longer than the server's heartbeat allows: the server closes its
    /// connection (1008) meanwhile, and the journal says so once the client has settled, not
    /// before (soak seed 130419609 took such a connection for open).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_settled_client_has_read_the_close_sent_during_its_pause() {
        let cluster = Cluster::start(1, 0).await;
        let journal = Shared::default();
        let (tx, _task) = spawn(0, "u0".into(), journal.clone());
        let port = cluster.instances[0].port;
        let send = |cmd| tx.send(cmd).expect("the client runs");
        send(Cmd::Connect {
            instance: 0,
            port,
            small_buffer: false,
        });
        // Two heartbeats (1.5 s) without a pong, and a margin.
        send(Cmd::StopReading(Duration::from_millis(4_000)));
        let (done, settled) = oneshot::channel();
        send(Cmd::Settle(done));
        tokio::time::timeout(Duration::from_secs(10), settled)
            .await
            .expect("settled within 10 s")
            .expect("the client answers");
        let j = journal.lock();
        let [c] = &j.conns[..] else {
            panic!("one connection: {:?}", j.conns.len())
        };
        assert!(
            matches!(&c.end, Some((_, End::Closed(1008, _)))),
            "closed for want of a pong, and read: {:?}",
            c.end
        );
        cluster.remove_logs(); // kept if it failed, as a run's are
    }
}
