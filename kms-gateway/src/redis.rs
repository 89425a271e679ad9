//! A small Redis client (RESP2 over TCP): the handful of commands the gateway needs
//! (`SET NX PX`, `GET`, `DEL`, `EVAL`, `PING`, `AUTH`, `SELECT`), with a pool of
//! connections. Written here rather than taken from the `redis` crate, whose licence
//! (BSD-3-Clause) is outside the project's MIT OR Apache-2.0 rule.

use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use zeroize::Zeroizing;

/// A reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `+OK` and other simple strings.
    Simple(String),
    /// An integer.
    Int(i64),
    /// A bulk string (`None`: nil).
    Bulk(Option<Vec<u8>>),
    /// An array (`None`: nil).
    Array(Option<Vec<Value>>),
}

/// A Redis failure. Never holds the password.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    /// The URL is not `redis://[:password@]host:port[/db]`.
    #[error("redis URL: {0}")]
    Url(String),
    /// Connecting, reading or writing failed, or timed out.
    #[error("redis {addr}: {reason}")]
    Io {
        /// The server.
        addr: String,
        /// What failed.
        reason: String,
    },
    /// The server answered with an error.
    #[error("redis error: {0}")]
    Server(String),
    /// The reply was not what the command returns.
    #[error("redis: unexpected reply {0}")]
    Protocol(String),
}

/// Where the server is and how to log in.
#[derive(Clone)]
struct Target {
    addr: String,
    password: Option<Zeroizing<String>>,
    db: u32,
}

struct Conn {
    stream: BufReader<TcpStream>,
}

/// A pooled client; cheap to share behind an `Arc`.
pub struct RedisClient {
    target: Target,
    idle: Mutex<Vec<Conn>>,
    timeout: Duration,
}

impl std::fmt::Debug for RedisClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisClient")
            .field("addr", &self.target.addr)
            .field("db", &self.target.db)
            .finish_non_exhaustive()
    }
}

const MAX_IDLE: usize = 16;
const MAX_REPLY: usize = 16 * 1024 * 1024;

impl RedisClient {
    /// A client for `redis://[:password@]host:port[/db]` (nothing is connected yet).
    pub fn new(url: &str) -> Result<RedisClient, RedisError> {
        let rest = url
            .strip_prefix("redis://")
            .ok_or_else(|| RedisError::Url("must start with redis://".into()))?;
        let (auth, hostpart) = match rest.rsplit_once('@') {
            Some((a, h)) => (Some(a), h),
            None => (None, rest),
        };
        let (host, db) = match hostpart.split_once('/') {
            Some((h, d)) if !d.is_empty() => (
                h,
                d.parse()
                    .map_err(|_| RedisError::Url("database is not a number".into()))?,
            ),
            Some((h, _)) => (h, 0),
            None => (hostpart, 0),
        };
        if host.is_empty() {
            return Err(RedisError::Url("no host".into()));
        }
        let addr = if host.contains(':') {
            host.to_string()
        } else {
            format!("{host}:6379")
        };
        let password = auth
            .map(|a| a.split_once(':').map(|(_, p)| p).unwrap_or(a))
            .filter(|p| !p.is_empty())
            .map(|p| Zeroizing::new(p.to_string()));
        Ok(RedisClient {
            target: Target { addr, password, db },
            idle: Mutex::new(Vec::new()),
            timeout: Duration::from_secs(5),
        })
    }

    fn io(&self, reason: impl std::fmt::Display) -> RedisError {
        RedisError::Io {
            addr: self.target.addr.clone(),
            reason: reason.to_string(),
        }
    }

    async fn connect(&self) -> Result<Conn, RedisError> {
        let stream = tokio::time::timeout(self.timeout, TcpStream::connect(&self.target.addr))
            .await
            .map_err(|_| self.io("connect timed out"))?
            .map_err(|e| self.io(e))?;
        let _ = stream.set_nodelay(true);
        let mut conn = Conn {
            stream: BufReader::new(stream),
        };
        if let Some(p) = &self.target.password {
            self.exchange(&mut conn, &[b"AUTH", p.as_bytes()]).await?;
        }
        if self.target.db != 0 {
            let db = self.target.db.to_string();
            self.exchange(&mut conn, &[b"SELECT", db.as_bytes()]).await?;
        }
        Ok(conn)
    }

    async fn exchange(&self, conn: &mut Conn, args: &[&[u8]]) -> Result<Value, RedisError> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        let fut = async {
            conn.stream
                .get_mut()
                .write_all(&out)
                .await
                .map_err(|e| self.io(e))?;
            read_value(&mut conn.stream, 0).await.map_err(|e| match e {
                ReadError::Io(e) => self.io(e),
                ReadError::Protocol(p) => RedisError::Protocol(p),
            })
        };
        let v = tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| self.io("reply timed out"))??;
        Ok(v)
    }

    /// Run one command; a server error reply is `RedisError::Server`.
    pub async fn cmd(&self, args: &[&[u8]]) -> Result<Value, RedisError> {
        let conn = self.idle.lock().await.pop();
        let mut conn = match conn {
            Some(c) => c,
            None => self.connect().await?,
        };
        match self.exchange(&mut conn, args).await {
            Ok(Value::Simple(s)) if s.starts_with('-') => {
                self.put_back(conn).await;
                Err(RedisError::Server(s[1..].to_string()))
            }
            Ok(v) => {
                self.put_back(conn).await;
                Ok(v)
            }
            // A broken connection is dropped, never reused.
            Err(e) => Err(e),
        }
    }

    async fn put_back(&self, conn: Conn) {
        let mut idle = self.idle.lock().await;
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    /// `PING`: whether the server answers.
    pub async fn ping(&self) -> Result<(), RedisError> {
        match self.cmd(&[b"PING"]).await? {
            Value::Simple(s) if s == "PONG" => Ok(()),
            other => Err(RedisError::Protocol(format!("{other:?}"))),
        }
    }

    /// `SET key value NX PX ttl`: true if the key was set (it did not exist).
    pub async fn set_nx_px(&self, key: &str, value: &[u8], ttl_ms: u64) -> Result<bool, RedisError> {
        let ttl = ttl_ms.max(1).to_string();
        match self
            .cmd(&[b"SET", key.as_bytes(), value, b"NX", b"PX", ttl.as_bytes()])
            .await?
        {
            Value::Simple(s) if s == "OK" => Ok(true),
            Value::Bulk(None) => Ok(false),
            other => Err(RedisError::Protocol(format!("{other:?}"))),
        }
    }

    /// `SET key value PX ttl`.
    pub async fn set_px(&self, key: &str, value: &[u8], ttl_ms: u64) -> Result<(), RedisError> {
        let ttl = ttl_ms.max(1).to_string();
        self.cmd(&[b"SET", key.as_bytes(), value, b"PX", ttl.as_bytes()])
            .await?;
        Ok(())
    }

    /// `GET key`.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RedisError> {
        match self.cmd(&[b"GET", key.as_bytes()]).await? {
            Value::Bulk(b) => Ok(b),
            other => Err(RedisError::Protocol(format!("{other:?}"))),
        }
    }

    /// `DEL key`.
    pub async fn del(&self, key: &str) -> Result<(), RedisError> {
        self.cmd(&[b"DEL", key.as_bytes()]).await?;
        Ok(())
    }

    /// `EVAL script 1 key args...`: a Lua script runs atomically on the server.
    pub async fn eval(&self, script: &str, key: &str, args: &[&[u8]]) -> Result<Value, RedisError> {
        let mut all: Vec<&[u8]> = vec![b"EVAL", script.as_bytes(), b"1", key.as_bytes()];
        all.extend_from_slice(args);
        self.cmd(&all).await
    }
}

enum ReadError {
    Io(std::io::Error),
    Protocol(String),
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        ReadError::Io(e)
    }
}

async fn read_line(r: &mut BufReader<TcpStream>) -> Result<String, ReadError> {
    let mut line = Vec::new();
    let n = (&mut *r).take(64 * 1024).read_until(b'\n', &mut line).await?;
    if n == 0 {
        return Err(ReadError::Io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    if !line.ends_with(b"\r\n") {
        return Err(ReadError::Protocol("line without CRLF".into()));
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|_| ReadError::Protocol("non-UTF-8 header line".into()))
}

fn read_value(
    r: &mut BufReader<TcpStream>,
    depth: usize,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Value, ReadError>> + Send + '_>> {
    Box::pin(async move {
        if depth > 8 {
            return Err(ReadError::Protocol("reply nested too deep".into()));
        }
        let line = read_line(r).await?;
        let (kind, rest) = line.split_at(line.len().min(1));
        let num = || {
            rest.parse::<i64>()
                .map_err(|_| ReadError::Protocol(format!("bad length {rest:?}")))
        };
        match kind {
            "+" => Ok(Value::Simple(rest.to_string())),
            // Errors travel as a simple string starting with '-' to `cmd`.
            "-" => Ok(Value::Simple(format!("-{rest}"))),
            ":" => Ok(Value::Int(num()?)),
            "$" => {
                let n = num()?;
                if n < 0 {
                    return Ok(Value::Bulk(None));
                }
                let n = n as usize;
                if n > MAX_REPLY {
                    return Err(ReadError::Protocol("bulk reply too large".into()));
                }
                let mut buf = vec![0u8; n + 2];
                r.read_exact(&mut buf).await?;
                buf.truncate(n);
                Ok(Value::Bulk(Some(buf)))
            }
            "*" => {
                let n = num()?;
                if n < 0 {
                    return Ok(Value::Array(None));
                }
                if n as usize > 1024 {
                    return Err(ReadError::Protocol("array reply too large".into()));
                }
                let mut items = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    items.push(read_value(r, depth + 1).await?);
                }
                Ok(Value::Array(Some(items)))
            }
            _ => Err(ReadError::Protocol(format!("unknown reply type {kind:?}"))),
        }
    })
}
