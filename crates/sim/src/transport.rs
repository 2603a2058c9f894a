//! The simulated network: a transport straight onto the server's storage
//! ([`BackendTransport`]), and a decorator that breaks any transport in the
//! ways real networks do ([`FaultyTransport`]).
//!
//! Every fault a device sees is [`RemoteError::Unreachable`], which is all
//! a real client can tell: a request that never arrived, an answer lost
//! after the server committed, and a request still stuck in the network
//! look the same from the device.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use outpost_core::remote::{RemoteError, Traffic};
use outpost_core::sync::SyncTransport;
use outpost_protocol::v1::{self, Op, PullResponse, PushResponse, SkipRanges};
use outpost_server::{Backend, BackendError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use uuid::Uuid;

/// A [`SyncTransport`] that calls the server's storage directly: the same
/// push and pull the HTTP routes run, scoped to one user, without sockets
/// or encoding. Deterministic and fast, for the big simulation.
#[derive(Debug, Clone)]
pub struct BackendTransport {
    backend: Arc<dyn Backend>,
    user_id: Uuid,
    /// Stands for the session's token hash: the writer the server records
    /// on what this transport pushes, so its pulls can leave those out.
    session: [u8; 32],
    limits: outpost_server::Limits,
}

impl BackendTransport {
    /// A transport as a new session of `user_id`: each one its own writer.
    pub fn new(backend: Arc<dyn Backend>, user_id: Uuid) -> Self {
        static SESSIONS: AtomicU64 = AtomicU64::new(1);
        let mut session = [0u8; 32];
        session[..8].copy_from_slice(&SESSIONS.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        Self { backend, user_id, session, limits: outpost_server::Limits::default() }
    }

    pub fn user_id(&self) -> Uuid {
        self.user_id
    }
}

impl SyncTransport for BackendTransport {
    async fn push(&self, ops: Vec<Op>) -> Result<PushResponse, RemoteError> {
        // The route's checks, so the simulation cannot pass what the
        // real server would refuse.
        if ops.len() > self.limits.max_ops_per_push {
            return Err(refused(413, v1::error_code::LIMIT_EXCEEDED, format!("{} ops in one push", ops.len())));
        }
        if let Some(op) = ops.iter().find(|op| op.payload.len() > self.limits.max_payload_bytes) {
            return Err(refused(413, v1::error_code::LIMIT_EXCEEDED, format!("payload of {} bytes", op.payload.len())));
        }
        if ops.is_empty() {
            return Ok(PushResponse { results: Vec::new() });
        }
        let results =
            self.backend.push_by(self.user_id, Some(&self.session), &ops, u64::MAX).await.map_err(backend_error)?;
        Ok(PushResponse { results })
    }

    async fn pull(&self, cursor: u64, limit: u32) -> Result<PullResponse, RemoteError> {
        self.pull_skipping(cursor, limit, &SkipRanges::default()).await
    }

    async fn pull_skipping(&self, cursor: u64, limit: u32, skip: &SkipRanges) -> Result<PullResponse, RemoteError> {
        if limit == 0 || limit > self.limits.max_pull_limit {
            return Err(refused(400, v1::error_code::INVALID_QUERY, format!("limit {limit}")));
        }
        let own = (!skip.is_empty()).then_some((&self.session, skip));
        self.backend
            .pull_skipping(self.user_id, cursor, limit, self.limits.max_page_bytes, own)
            .await
            .map_err(backend_error)
    }
}

fn refused(status: u16, code: &str, message: String) -> RemoteError {
    RemoteError::Server { status, code: code.to_owned(), message }
}

fn backend_error(e: BackendError) -> RemoteError {
    match e {
        BackendError::CursorOutOfRange { .. } => refused(400, v1::error_code::CURSOR_OUT_OF_RANGE, e.to_string()),
        other => refused(500, v1::error_code::INTERNAL, other.to_string()),
    }
}

/// What the network does to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Delivered, answered.
    Deliver,
    /// Lost on the way: the server never sees it.
    DropRequest,
    /// The server commits it, the answer is lost (a timeout after commit).
    DropAnswer,
    /// Delivered twice (a retrying proxy); the device gets the second answer.
    Duplicate,
    /// Stuck in the network: the device times out, and the request reaches
    /// the server later, when [`FaultyTransport::deliver_held`] lets it go,
    /// after other devices' requests (reordering). Pulls are not held: a
    /// held pull is a dropped one.
    Hold,
}

/// Probabilities per call (each in 0..1, their sum at most 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FaultRates {
    pub drop_request: f64,
    pub drop_answer: f64,
    pub duplicate: f64,
    pub hold: f64,
}

impl FaultRates {
    /// A perfect network.
    pub const NONE: FaultRates = FaultRates { drop_request: 0.0, drop_answer: 0.0, duplicate: 0.0, hold: 0.0 };

    /// A bad mobile network: a few percent of calls go wrong in each way.
    pub const FLAKY: FaultRates = FaultRates { drop_request: 0.03, drop_answer: 0.03, duplicate: 0.03, hold: 0.02 };
}

/// How often each fault happened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FaultCounts {
    pub delivered: u64,
    pub dropped_requests: u64,
    pub dropped_answers: u64,
    pub duplicated: u64,
    pub held: u64,
    /// Held pushes that later reached the server.
    pub released: u64,
    /// Calls refused while partitioned.
    pub partitioned: u64,
}

#[derive(Debug)]
struct FaultState {
    rng: ChaCha8Rng,
    rates: FaultRates,
    /// Faults for the next calls, in order, before any random ones
    /// (scenarios use this to break exactly the call they mean).
    script: VecDeque<Fault>,
    held: VecDeque<Vec<Op>>,
    counts: FaultCounts,
}

/// A transport that loses, repeats and delays calls to `T`, driven by a
/// seeded random stream (so a run replays exactly), or by a script.
#[derive(Debug)]
pub struct FaultyTransport<T> {
    inner: T,
    state: Mutex<FaultState>,
    /// While set, every call fails at once, as to an unreachable host.
    partitioned: AtomicBool,
}

impl<T: SyncTransport> FaultyTransport<T> {
    /// A perfect network over `inner` until rates or a script say otherwise.
    pub fn new(inner: T, seed: u64) -> Self {
        Self {
            inner,
            state: Mutex::new(FaultState {
                rng: ChaCha8Rng::seed_from_u64(seed),
                rates: FaultRates::NONE,
                script: VecDeque::new(),
                held: VecDeque::new(),
                counts: FaultCounts::default(),
            }),
            partitioned: AtomicBool::new(false),
        }
    }

    /// The transport underneath, which never fails on purpose.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    pub fn set_rates(&self, rates: FaultRates) {
        self.state().rates = rates;
    }

    /// Break the next calls exactly so, before any random faults.
    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        self.state().script.extend(faults);
    }

    pub fn set_partitioned(&self, on: bool) {
        self.partitioned.store(on, Ordering::SeqCst);
    }

    pub fn is_partitioned(&self) -> bool {
        self.partitioned.load(Ordering::SeqCst)
    }

    pub fn counts(&self) -> FaultCounts {
        self.state().counts
    }

    /// Pushes held in the network, not yet at the server.
    pub fn held(&self) -> usize {
        self.state().held.len()
    }

    /// Let up to `max` held pushes reach the server, oldest first. Their
    /// answers go nowhere (the device gave up on them long ago); they are
    /// returned so a scenario can see what the server made of them.
    pub async fn deliver_held(&self, max: usize) -> Vec<Result<PushResponse, RemoteError>> {
        let mut answers = Vec::new();
        while answers.len() < max {
            let Some(ops) = self.state().held.pop_front() else { break };
            answers.push(self.inner.push(ops).await);
            self.state().counts.released += 1;
        }
        answers
    }

    fn state(&self) -> MutexGuard<'_, FaultState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The fault for the next call, or `None` when partitioned.
    fn next_fault(&self, is_push: bool) -> Option<Fault> {
        let mut s = self.state();
        if self.is_partitioned() {
            s.counts.partitioned += 1;
            return None;
        }
        let fault = match s.script.pop_front() {
            Some(f) => f,
            None => {
                let r = s.rates;
                // One draw per call whatever the rates, so a run's random
                // stream does not depend on them.
                let x: f64 = s.rng.gen();
                let table = [
                    (r.drop_request, Fault::DropRequest),
                    (r.drop_answer, Fault::DropAnswer),
                    (r.duplicate, Fault::Duplicate),
                    (r.hold, Fault::Hold),
                ];
                let mut edge = 0.0;
                let mut pick = Fault::Deliver;
                for (p, f) in table {
                    edge += p;
                    if x < edge {
                        pick = f;
                        break;
                    }
                }
                pick
            }
        };
        let fault = if fault == Fault::Hold && !is_push { Fault::DropRequest } else { fault };
        let c = &mut s.counts;
        match fault {
            Fault::Deliver => c.delivered += 1,
            Fault::DropRequest => c.dropped_requests += 1,
            Fault::DropAnswer => c.dropped_answers += 1,
            Fault::Duplicate => c.duplicated += 1,
            Fault::Hold => c.held += 1,
        }
        Some(fault)
    }
}

fn unreachable(why: &str) -> RemoteError {
    RemoteError::Unreachable(format!("simulated network: {why}"))
}

impl<T: SyncTransport> SyncTransport for FaultyTransport<T> {
    async fn push(&self, ops: Vec<Op>) -> Result<PushResponse, RemoteError> {
        match self.next_fault(true) {
            None => Err(unreachable("partitioned")),
            Some(Fault::Deliver) => self.inner.push(ops).await,
            Some(Fault::DropRequest) => Err(unreachable("request lost")),
            Some(Fault::DropAnswer) => {
                let _ = self.inner.push(ops).await;
                Err(unreachable("answer lost after the server committed"))
            }
            Some(Fault::Duplicate) => {
                let _ = self.inner.push(ops.clone()).await;
                self.inner.push(ops).await
            }
            Some(Fault::Hold) => {
                self.state().held.push_back(ops);
                Err(unreachable("request delayed in the network"))
            }
        }
    }

    async fn pull(&self, cursor: u64, limit: u32) -> Result<PullResponse, RemoteError> {
        self.pull_skipping(cursor, limit, &SkipRanges::default()).await
    }

    async fn pull_skipping(&self, cursor: u64, limit: u32, skip: &SkipRanges) -> Result<PullResponse, RemoteError> {
        match self.next_fault(false) {
            None => Err(unreachable("partitioned")),
            Some(Fault::Deliver) => self.inner.pull_skipping(cursor, limit, skip).await,
            Some(Fault::DropRequest | Fault::Hold) => Err(unreachable("request lost")),
            Some(Fault::DropAnswer) => {
                let _ = self.inner.pull_skipping(cursor, limit, skip).await;
                Err(unreachable("answer lost"))
            }
            Some(Fault::Duplicate) => {
                let _ = self.inner.pull_skipping(cursor, limit, skip).await;
                self.inner.pull_skipping(cursor, limit, skip).await
            }
        }
    }

    fn traffic(&self) -> Traffic {
        self.inner.traffic()
    }
}
