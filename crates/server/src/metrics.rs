//! A small hand-rolled Prometheus counter set, served as text at
//! `GET /metrics`. Hand-rolled because the server needs a dozen counters
//! and one gauge; a registry crate would add more than it saves.
//! Labels carry only fixed words and status codes: never a user id.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct Metrics {
    pub registrations: AtomicU64,
    /// Accounts deleted by their owner (`POST /v1/account/delete`).
    pub accounts_deleted: AtomicU64,
    pub logins_ok: AtomicU64,
    pub logins_failed: AtomicU64,
    pub logins_limited: AtomicU64,
    pub logouts: AtomicU64,
    /// Sessions ended by their account from another session (or by id).
    pub sessions_revoked: AtomicU64,
    pub push_requests: AtomicU64,
    pub ops_applied: AtomicU64,
    pub ops_duplicate: AtomicU64,
    pub ops_conflict: AtomicU64,
    pub pull_requests: AtomicU64,
    pub pull_changes: AtomicU64,
    pub pokes_sent: AtomicU64,
    pub event_streams: AtomicI64,
    /// File chunks by what a `PUT` did, and chunks served.
    pub file_chunks_stored: AtomicU64,
    pub file_chunks_resent: AtomicU64,
    pub file_chunks_served: AtomicU64,
    /// Responses by status code (bounded: HTTP has few codes).
    responses: Mutex<BTreeMap<u16, u64>>,
}

impl Metrics {
    pub fn record_status(&self, status: u16) {
        let mut m = self.responses.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry(status).or_default() += 1;
    }

    /// Prometheus text exposition format, version 0.0.4.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, samples: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (labels, v) in samples {
                let _ = writeln!(out, "{name}{labels} {v}");
            }
        };
        counter("outpost_registrations_total", "Accounts created.", &[("", self.registrations.load(Relaxed))]);
        counter(
            "outpost_accounts_deleted_total",
            "Accounts deleted by their owner.",
            &[("", self.accounts_deleted.load(Relaxed))],
        );
        counter(
            "outpost_logins_total",
            "Log-in attempts by outcome.",
            &[
                ("{result=\"ok\"}", self.logins_ok.load(Relaxed)),
                ("{result=\"failed\"}", self.logins_failed.load(Relaxed)),
                ("{result=\"rate_limited\"}", self.logins_limited.load(Relaxed)),
            ],
        );
        counter("outpost_logouts_total", "Sessions ended by log-out.", &[("", self.logouts.load(Relaxed))]);
        counter(
            "outpost_sessions_revoked_total",
            "Sessions ended by revocation (GET /v1/sessions, then DELETE or revoke-others).",
            &[("", self.sessions_revoked.load(Relaxed))],
        );
        counter("outpost_push_requests_total", "Push batches accepted.", &[("", self.push_requests.load(Relaxed))]);
        counter(
            "outpost_push_ops_total",
            "Pushed ops by result.",
            &[
                ("{result=\"applied\"}", self.ops_applied.load(Relaxed)),
                ("{result=\"duplicate\"}", self.ops_duplicate.load(Relaxed)),
                ("{result=\"conflict\"}", self.ops_conflict.load(Relaxed)),
            ],
        );
        counter("outpost_pull_requests_total", "Pull pages served.", &[("", self.pull_requests.load(Relaxed))]);
        counter(
            "outpost_file_chunks_put_total",
            "File chunk uploads by result.",
            &[
                ("{result=\"stored\"}", self.file_chunks_stored.load(Relaxed)),
                ("{result=\"already_there\"}", self.file_chunks_resent.load(Relaxed)),
            ],
        );
        counter(
            "outpost_file_chunks_served_total",
            "File chunks downloaded.",
            &[("", self.file_chunks_served.load(Relaxed))],
        );
        counter("outpost_pull_changes_total", "Changes sent in pull pages.", &[("", self.pull_changes.load(Relaxed))]);
        counter("outpost_pokes_sent_total", "Poke events written to streams.", &[("", self.pokes_sent.load(Relaxed))]);
        let _ = writeln!(
            out,
            "# HELP outpost_event_streams Open /v1/events streams.\n# TYPE outpost_event_streams gauge\noutpost_event_streams {}",
            self.event_streams.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP outpost_http_responses_total HTTP responses by status.\n# TYPE outpost_http_responses_total counter"
        );
        let m = self.responses.lock().unwrap_or_else(|p| p.into_inner());
        for (status, n) in m.iter() {
            let _ = writeln!(out, "outpost_http_responses_total{{status=\"{status}\"}} {n}");
        }
        out
    }
}
