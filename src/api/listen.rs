//! The HTTP server's front door: the accept loop with a cap on open connections (overall
//! and per client address), deadlines for slow and idle clients (a request's head and an
//! idle keep-alive connection, a request's body, a write the client does not take), and a
//! back-off when accepting fails (out of file descriptors), so that one client holding
//! sockets open cannot starve the others.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::Router;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;

use crate::config::HttpLimits;
use crate::telemetry::metrics::Metrics;

/// Serves `app` on `listener` within `limits` until `shutdown` completes, then waits for
/// the requests in flight (idle connections are closed at once).
///
/// # Errors
/// None today: accept errors are logged and retried after a pause.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let metrics = Metrics::global();
    let gate = Arc::new(Gate::new(&limits));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let mut pause = AcceptPause::default();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => {
                pause.reset();
                pair
            }
            // The client gave up before we took the connection: nothing to wait for.
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                metrics.http_accept_errors.inc();
                let wait = pause.next();
                tracing::warn!(error = %e, wait_ms = wait.as_millis(), "accepting a connection failed; waiting before the next");
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(wait) => continue,
                }
            }
        };
        let permit = match gate.admit(peer.ip()) {
            Ok(permit) => permit,
            Err(cap) => {
                metrics.http_connection_refused(cap.as_str());
                refuse(&stream);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(StallGuard::new(stream, limits.write_timeout));
        let service = connection_service(app.clone(), peer, limits.body_timeout);
        let connection = graceful.watch(http.serve_connection(io, service));
        let metrics = Arc::clone(&metrics);
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = connection.await {
                if let Some(kind) = slow_client_kind(&e) {
                    metrics.http_connection_cut(kind);
                    tracing::debug!(peer = %peer, kind, "connection closed: slow or idle client");
                } else {
                    tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
                }
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// The per-connection service: the router, told the peer's address, with a deadline on
/// each request's body.
fn connection_service(
    app: Router,
    peer: SocketAddr,
    body_timeout: Duration,
) -> impl hyper::service::Service<
    hyper::Request<Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<axum::response::Response, std::convert::Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let mut request =
            request.map(|body| axum::body::Body::new(DeadlineBody::new(body, body_timeout)));
        request.extensions_mut().insert(ConnectInfo(peer));
        tower_service::Service::call(&mut app.clone(), request)
    })
}

/// Errors of one connection, not of the listener: accept again at once.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Which deadline ended a connection, if one did (a body's deadline ends its request,
/// not the connection: [`DeadlineBody`] counts those itself).
fn slow_client_kind(e: &hyper::Error) -> Option<&'static str> {
    if e.is_timeout() {
        return Some("header_timeout");
    }
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::TimedOut)
        {
            return Some("write_timeout");
        }
        source = cause.source();
    }
    None
}

/// A connection over a cap gets a short 503 (if the socket takes it now) and is closed.
fn refuse(stream: &TcpStream) {
    let _ = stream.try_write(busy_response());
}

/// The whole HTTP answer to a connection over a cap: a 503 problem, `Connection: close`.
fn busy_response() -> &'static [u8] {
    static BUSY: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BUSY.get_or_init(|| {
        let body = r#"{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"too many connections"}"#;
        format!(
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\nContent-Type: application/problem+json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    })
}

/// Which cap refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cap {
    Total,
    PerAddress,
}

impl Cap {
    fn as_str(self) -> &'static str {
        match self {
            Self::Total => "total",
            Self::PerAddress => "per_address",
        }
    }
}

/// Counts open connections overall and per client address.
#[derive(Debug)]
struct Gate {
    max_total: usize,
    max_per_address: usize,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

impl Gate {
    fn new(limits: &HttpLimits) -> Self {
        Self {
            max_total: limits.max_connections,
            max_per_address: limits.max_connections_per_address,
            open: Mutex::default(),
        }
    }

    /// A place for one more connection from `address`, or the cap that is full.
    fn admit(self: &Arc<Self>, address: IpAddr) -> Result<Permit, Cap> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.total >= self.max_total {
            return Err(Cap::Total);
        }
        let from_address = open.by_address.entry(address).or_insert(0);
        if *from_address >= self.max_per_address {
            return Err(Cap::PerAddress);
        }
        *from_address += 1;
        open.total += 1;
        Metrics::global().http_connections_open.inc();
        Ok(Permit {
            gate: Arc::clone(self),
            address,
        })
    }

    fn release(&self, address: IpAddr) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_address.get_mut(&address) {
            *n -= 1;
            if *n == 0 {
                open.by_address.remove(&address);
            }
        }
        Metrics::global().http_connections_open.dec();
    }
}

/// One open connection's place; given back when the connection ends.
#[derive(Debug)]
struct Permit {
    gate: Arc<Gate>,
    address: IpAddr,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.gate.release(self.address);
    }
}

/// The wait after a failed accept: 10 ms doubling to 1 s, back to 10 ms after a success.
#[derive(Debug, Default)]
struct AcceptPause {
    failures: u32,
}

impl AcceptPause {
    const FIRST: Duration = Duration::from_millis(10);
    const LONGEST: Duration = Duration::from_secs(1);

    fn next(&mut self) -> Duration {
        let wait = Self::FIRST
            .saturating_mul(1 << self.failures.min(10))
            .min(Self::LONGEST);
        self.failures = self.failures.saturating_add(1);
        wait
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}

/// A request body that must arrive within a deadline from its first read.
struct DeadlineBody {
    inner: Incoming,
    limit: Duration,
    deadline: Option<Pin<Box<Sleep>>>,
}

/// The error a body gives when its deadline passed.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub(crate) struct BodyTimedOut;

impl DeadlineBody {
    fn new(inner: Incoming, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            deadline: None,
        }
    }
}

impl Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let limit = this.limit;
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        ready!(deadline.as_mut().poll(cx));
        Metrics::global().http_connection_cut("body_timeout");
        Poll::Ready(Some(Err(Box::new(BodyTimedOut))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A socket whose writes fail with `TimedOut` once the client has taken nothing for
/// `limit` (a client that asks and never reads the answer).
struct StallGuard {
    stream: TcpStream,
    limit: Duration,
    stalled_since: Option<Pin<Box<Sleep>>>,
}

impl StallGuard {
    fn new(stream: TcpStream, limit: Duration) -> Self {
        Self {
            stream,
            limit,
            stalled_since: None,
        }
    }

    /// After a write that is pending: an error once the stall has lasted `limit`.
    fn check_stall(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let limit = self.limit;
        let stall = self
            .stalled_since
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        ready!(stall.as_mut().poll(cx));
        Poll::Ready(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client took none of the reply in time",
        ))
    }

    fn progressed<T>(
        &mut self,
        done: Poll<io::Result<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<T>> {
        match done {
            Poll::Ready(result) => {
                self.stalled_since = None;
                Poll::Ready(result)
            }
            Poll::Pending => self.check_stall(cx).map(Err),
        }
    }
}

impl AsyncRead for StallGuard {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for StallGuard {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let done = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.progressed(done, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let done = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.progressed(done, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let done = Pin::new(&mut this.stream).poll_flush(cx);
        this.progressed(done, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per_address: usize) -> HttpLimits {
        HttpLimits {
            max_connections: total,
            max_connections_per_address: per_address,
            ..HttpLimits::default()
        }
    }

    #[test]
    fn the_gate_counts_per_address_and_overall_and_gives_places_back() {
        let gate = Arc::new(Gate::new(&limits(3, 2)));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = gate.admit(a).unwrap();
        let _second = gate.admit(a).unwrap();
        assert_eq!(gate.admit(a).unwrap_err(), Cap::PerAddress);
        let _third = gate.admit(b).unwrap();
        assert_eq!(gate.admit(b).unwrap_err(), Cap::Total);
        drop(first);
        assert!(gate.admit(a).is_ok(), "a place given back is taken again");
    }

    #[test]
    fn the_busy_answer_says_its_own_length() {
        let text = std::str::from_utf8(busy_response()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503"));
        assert!(
            head.contains(&format!("Content-Length: {}", body.len())),
            "{head}"
        );
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["status"], 503);
    }

    #[test]
    fn the_accept_pause_doubles_to_a_second_and_resets() {
        let mut pause = AcceptPause::default();
        let waits: Vec<_> = (0..9).map(|_| pause.next().as_millis()).collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        pause.reset();
        assert_eq!(pause.next().as_millis(), 10);
    }
}
