//! The binary's HTTP server: hyper-util's auto (HTTP/1 and HTTP/2) connection builder with the
//! bounds `axum::serve` does not set. A request whose headers are not complete within the
//! header timeout is closed; a connection with no request in flight for the idle timeout is
//! closed (a long poll is a request in flight, not idle); at most `max_connections` are served
//! at once (further ones wait in the listen queue). When that bound is reached, connections
//! idle for at least [`SHED_AFTER`] are closed at once, so that idle or half-open connections
//! cannot hold every slot until the idle timeout. On shutdown the listener closes, every
//! connection finishes its in-flight request and closes.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tower::ServiceExt;

/// The server's bounds.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
}

/// At the connection bound, connections idle this long are closed to make room.
pub const SHED_AFTER: Duration = Duration::from_secs(1);

/// How long connections may take to finish after shutdown began.
const DRAIN: Duration = Duration::from_secs(30);

/// Serves `app` on `listener` until `shutdown` resolves, then drains.
pub async fn serve(listener: TcpListener, app: Router, limits: Limits, shutdown: impl Future<Output = ()>) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopped) = watch::channel(false);
    let (shed, shedding) = watch::channel(0u64);
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // Full: ask the connections idle long enough to make room, again every half
                // SHED_AFTER while waiting for a slot.
                let waited = loop {
                    shed.send_modify(|round| *round += 1);
                    tokio::select! {
                        permit = permits.clone().acquire_owned() => {
                            break Some(permit.expect("the semaphore is never closed"))
                        }
                        _ = tokio::time::sleep(SHED_AFTER / 2) => {}
                        _ = &mut shutdown => break None,
                    }
                };
                match waited {
                    Some(permit) => permit,
                    None => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // e.g. too many open files: wait a little instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let signals = Signals { stopped: stopped.clone(), shedding: shedding.clone() };
        tokio::spawn(connection(builder.clone(), stream, peer, app.clone(), limits, signals, permit));
    }
    drop(listener);
    let _ = stop.send(true);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN, permits.acquire_many(all)).await.is_err() {
        tracing::warn!("some connections did not finish within 30 s of shutdown");
    }
}

/// What a connection listens to: shutdown, and requests to close if idle.
struct Signals {
    stopped: watch::Receiver<bool>,
    shedding: watch::Receiver<u64>,
}

/// Requests in flight on one connection and when the last one ended.
struct Activity {
    in_flight: AtomicUsize,
    /// Milliseconds since `origin` at the last request's start or end.
    last: AtomicU64,
    origin: Instant,
}

impl Activity {
    fn touch(&self) {
        self.last.store(self.origin.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn idle_since(&self) -> Option<Instant> {
        (self.in_flight.load(Ordering::Acquire) == 0)
            .then(|| self.origin + Duration::from_millis(self.last.load(Ordering::Relaxed)))
    }
}

async fn connection(
    builder: Arc<Builder<TokioExecutor>>,
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: Limits,
    signals: Signals,
    _permit: OwnedSemaphorePermit,
) {
    let activity =
        Arc::new(Activity { in_flight: AtomicUsize::new(0), last: AtomicU64::new(0), origin: Instant::now() });
    let service = {
        let activity = activity.clone();
        tower::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            activity.in_flight.fetch_add(1, Ordering::AcqRel);
            activity.touch();
            let activity = activity.clone();
            let app = app.clone();
            async move {
                let response = app.oneshot(request).await;
                activity.touch();
                activity.in_flight.fetch_sub(1, Ordering::AcqRel);
                Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
            }
        })
    };
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service));
    tokio::pin!(conn);
    let Signals { mut stopped, mut shedding } = signals;
    let mut closing: Option<Instant> = None;
    loop {
        let wake = match (closing, activity.idle_since()) {
            (Some(since), _) => since + limits.header_timeout,
            (None, Some(idle)) => idle + limits.idle_timeout,
            (None, None) => Instant::now() + limits.idle_timeout,
        };
        tokio::select! {
            _ = conn.as_mut() => break,
            changed = stopped.changed(), if closing.is_none() => {
                if changed.is_err() || *stopped.borrow() {
                    conn.as_mut().graceful_shutdown();
                    closing = Some(Instant::now());
                }
            }
            changed = shedding.changed(), if closing.is_none() => {
                let idle_long = activity.idle_since().is_some_and(|idle| idle + SHED_AFTER <= Instant::now());
                if changed.is_ok() && idle_long {
                    conn.as_mut().graceful_shutdown();
                    closing = Some(Instant::now());
                }
            }
            _ = tokio::time::sleep_until(wake) => {
                match closing {
                    // Closing took too long (a client that never reads): drop the connection.
                    Some(_) => break,
                    None => {
                        if activity.idle_since().is_some_and(|idle| idle + limits.idle_timeout <= Instant::now()) {
                            conn.as_mut().graceful_shutdown();
                            closing = Some(Instant::now());
                        }
                    }
                }
            }
        }
    }
}
