//! The listener: every connection's calls, read whole, go to the layer.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

use super::answer::{Reply, plain};
use super::call::Call;
use super::reset::ResettableStream;
use super::upstream::Upstream;

/// What a layer does with one call.
#[derive(Debug)]
pub enum Outcome {
    /// Answer the client with this (the upstream's answer or the layer's own).
    Respond(Reply),
    /// Answer nothing: close the connection with a TCP reset.
    Reset,
}

/// The decision over every call: answer it, forward it (through
/// `upstream`, whole or rewritten, at once or late), or reset it.
pub trait Layer: Send + Sync + 'static {
    /// Decides one call; the proxy sends the client what comes back.
    fn call(&self, call: Call, upstream: &Upstream) -> impl Future<Output = Outcome> + Send;
}

/// A running proxy. Dropping it stops the listener and every connection.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    accept: JoinHandle<()>,
}

/// What every connection task shares.
struct Shared<L> {
    upstream: Upstream,
    layer: Arc<L>,
}

impl Proxy {
    /// Binds `listen` and forwards to `upstream` (an `http://` URL) through
    /// `layer`, on the current tokio runtime.
    pub async fn start<L: Layer>(
        upstream: &str,
        listen: SocketAddr,
        layer: Arc<L>,
    ) -> Result<Self, String> {
        let upstream = Upstream::new(upstream)?;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let shared = Arc::new(Shared { upstream, layer });
        let accept = tokio::spawn(accept_loop(listener, shared));
        Ok(Self { addr, accept })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: the endpoint for clients.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Runs until the listener fails.
    pub async fn wait(mut self) {
        let _ = (&mut self.accept).await;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // Aborting the accept task drops its JoinSet, which aborts every
        // connection's task.
        self.accept.abort();
    }
}

async fn accept_loop<L: Layer>(listener: TcpListener, shared: Arc<Shared<L>>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve_connection(stream, Arc::clone(&shared)));
                }
                // E.g. EMFILE: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// Serves one connection until it closes, or until its layer resets it.
async fn serve_connection<L: Layer>(stream: TcpStream, shared: Arc<Shared<L>>) {
    let reset = Arc::new(AtomicBool::new(false));
    let reset_now = Arc::new(Notify::new());
    let io = TokioIo::new(ResettableStream::new(stream, Arc::clone(&reset)));
    let service = {
        let reset_now = Arc::clone(&reset_now);
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let (shared, reset, reset_now) = (
                Arc::clone(&shared),
                Arc::clone(&reset),
                Arc::clone(&reset_now),
            );
            async move {
                match handle(&shared, req).await {
                    Outcome::Respond(resp) => Ok::<_, Infallible>(resp),
                    Outcome::Reset => {
                        reset.store(true, Ordering::SeqCst);
                        reset_now.notify_one();
                        // Never answer: the connection is dropped.
                        std::future::pending().await
                    }
                }
            }
        })
    };
    let conn = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::select! {
        // The client went away, or a protocol error: nothing to do either way.
        _ = conn => {}
        // Dropping `conn` drops the socket, which then closes with RST.
        _ = reset_now.notified() => {}
    }
}

async fn handle<L: Layer>(shared: &Shared<L>, req: Request<Incoming>) -> Outcome {
    let (parts, body) = req.into_parts();
    match body.collect().await {
        Ok(body) => {
            let call = Call::new(parts, body.to_bytes());
            shared.layer.call(call, &shared.upstream).await
        }
        Err(e) => Outcome::Respond(plain(
            StatusCode::BAD_REQUEST,
            format!("reading the request's body: {e}"),
        )),
    }
}
