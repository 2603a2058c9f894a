//! The poke stream: `GET /v1/events` kept open, each poke (the server's
//! newest sequence) forwarded to the engine loop, reconnecting with backoff.
//! Opening the stream counts as a real request for connectivity. No request
//! while switched offline.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::connectivity::{Connectivity, ConnectivityMonitor};
use crate::net::{NetControl, NetMode};
use crate::remote::{Remote, RemoteError};
use crate::time::Backoff;

/// A poke stream that lived this long was healthy: reconnect quickly.
const HEALTHY_STREAM: Duration = Duration::from_secs(10);

/// The last poke: how many came so far, and the sequence it carried.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Poke {
    pub count: u64,
    pub seq: u64,
}

/// Keeps `GET /v1/events` open and forwards pokes, reconnecting with
/// backoff. Opening the stream counts as a real request for connectivity.
/// Makes no request while switched offline, and keeps no stream open while
/// the sync policy does not want one (`wanted`: on battery in the
/// background, in power saver, on a network sync waits for).
pub(super) async fn run_pokes(
    remote: Remote,
    monitor: ConnectivityMonitor,
    net: NetControl,
    tx: watch::Sender<Poke>,
    mut wanted: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
    mut backoff: Backoff,
) {
    let mut mode = net.subscribe();
    let mut conn = monitor.subscribe();
    loop {
        let offline = *mode.borrow_and_update() == NetMode::Offline;
        if offline || !*wanted.borrow_and_update() {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                r = mode.changed() => if r.is_err() { return },
                r = wanted.changed() => if r.is_err() { return },
            }
            continue;
        }
        let opened = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            opened = remote.events() => opened,
        };
        match opened {
            Ok(stream) => {
                monitor.record_success();
                let since = Instant::now();
                let mut stream = Box::pin(stream);
                loop {
                    let item = tokio::select! {
                        _ = stop.wait_for(|s| *s) => return,
                        // The policy no longer wants a stream: close it.
                        r = wanted.wait_for(|w| !*w) => {
                            if r.is_err() { return }
                            break;
                        }
                        item = stream.next() => item,
                    };
                    match item {
                        Some(Ok(seq)) => tx.send_modify(|p| {
                            p.count += 1;
                            p.seq = seq;
                        }),
                        Some(Err(RemoteError::Offline)) | None => break,
                        Some(Err(e)) => {
                            tracing::debug!(error = %e, "poke stream broke");
                            break;
                        }
                    }
                }
                if since.elapsed() >= HEALTHY_STREAM {
                    backoff.reset();
                }
            }
            // Switched off meanwhile: the top of the loop waits.
            Err(RemoteError::Offline) => continue,
            // For good: no stream opens again (the stream open at the
            // deletion ended then). A poke ("unknown, pull anyway") has
            // the engine run a pass now, which meets the same answer and
            // stops sync with it in the status; then nothing more is tried.
            Err(RemoteError::AccountDeleted) => {
                tracing::info!("the account was deleted: no more poke stream");
                monitor.record_error(&RemoteError::AccountDeleted);
                tx.send_modify(|p| {
                    p.count += 1;
                    p.seq = 0;
                });
                let _ = stop.wait_for(|s| *s).await;
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, "cannot open the poke stream");
                monitor.record_error(&e);
            }
        }
        let online = *conn.borrow_and_update() == Connectivity::Online;
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(backoff.next_delay()) => {}
            // The server is back (the probe, or a pass got through).
            r = conn.wait_for(|c| *c == Connectivity::Online), if !online => {
                if r.is_err() { return }
                backoff.reset();
            }
            r = mode.changed() => if r.is_err() { return },
            r = wanted.changed() => if r.is_err() { return },
        }
    }
}
