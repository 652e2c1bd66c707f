//! One call in flight through the simulator: its state, the emulator, the
//! client's request.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use hyper::body::Bytes;
use serde_json::{Map, Value};

use super::clock::Clock;
use super::ledger::Ledger;
use super::lock;
use super::schema::Schema;
use crate::proxy::{Answer, Call, Reply, Upstream, bad_gateway, merge_unprocessed};

/// The simulator's state: the table's keys, its time, its ledger.
#[derive(Debug)]
pub(super) struct Sim {
    pub(super) schema: Schema,
    pub(super) clock: Clock,
    pub(super) ledger: Mutex<Ledger>,
}

impl Sim {
    pub(super) fn ledger(&self) -> MutexGuard<'_, Ledger> {
        lock(&self.ledger)
    }
}

/// One call in flight: the simulator, the emulator, the client's request.
pub(super) struct Exchange<'a> {
    pub(super) sim: &'a Sim,
    upstream: &'a Upstream,
    pub(super) call: &'a Call,
}

impl<'a> Exchange<'a> {
    pub(super) fn new(sim: &'a Sim, upstream: &'a Upstream, call: &'a Call) -> Self {
        Self {
            sim,
            upstream,
            call,
        }
    }
}

impl Exchange<'_> {
    pub(super) fn now(&self) -> Duration {
        self.sim.clock.now()
    }

    pub(super) fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.sim.ledger()
    }

    pub(super) fn schema(&self) -> &Schema {
        &self.sim.schema
    }

    /// Forwards `body`; a 502 for the client when the emulator cannot be
    /// reached.
    pub(super) async fn forward(&self, body: Bytes) -> Result<Answer, Reply> {
        self.upstream.send(self.call, body).await.map_err(|e| {
            self.ledger().totals.upstream_errors += 1;
            bad_gateway("partition-sim", e)
        })
    }

    /// Forwards the call as it came.
    pub(super) async fn forward_as_is(&self) -> Result<Answer, Reply> {
        self.forward(self.call.body.clone()).await
    }

    pub(super) async fn pass_through(&self) -> Reply {
        match self.forward_as_is().await {
            Ok(answer) => answer.respond(),
            Err(resp) => resp,
        }
    }

    /// Asks the emulator for the same read's whole items (see
    /// [`super::read_request::whole_items_request`]), uncharged: what the
    /// read consumed is what it read, not what it answered.
    pub(super) async fn sizing_read(&self, req: Map<String, Value>) -> Option<Value> {
        self.ledger().totals.sizing_reads += 1;
        let body = Bytes::from(serde_json::to_vec(&Value::Object(req)).ok()?);
        self.upstream.send(self.call, body).await.ok()?.json()
    }
}

/// The answer with what the simulator sent back added under `field`.
pub(super) fn with_unprocessed(answer: Answer, field: &str, deferred: Map<String, Value>) -> Reply {
    if deferred.is_empty() {
        return answer.respond();
    }
    match merge_unprocessed(&answer.body, field, deferred) {
        Some(body) => answer.respond_with(Bytes::from(body)),
        None => answer.respond(),
    }
}
