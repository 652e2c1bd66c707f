//! The simulator as a proxy layer: each DynamoDB call it models is
//! admitted, throttled or trimmed by its partitions' buckets; every other
//! call passes through.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use hyper::body::Bytes;
use serde_json::{Map, Value};

use super::clock::Clock;
use super::ledger::Ledger;
use super::schema::Schema;
use super::{batch_get, control, lock, reads, writes};
use crate::proxy::{Answer, Call, Layer, Outcome, Reply, Upstream, bad_gateway, merge_unprocessed};

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

impl Layer for Sim {
    async fn call(&self, call: Call, upstream: &Upstream) -> Outcome {
        let x = Exchange {
            sim: self,
            upstream,
            call: &call,
        };
        Outcome::Respond(x.handle().await)
    }
}

/// One call in flight: the simulator, the emulator, the client's request.
pub(super) struct Exchange<'a> {
    pub(super) sim: &'a Sim,
    upstream: &'a Upstream,
    pub(super) call: &'a Call,
}

impl Exchange<'_> {
    async fn handle(&self) -> Reply {
        let call = self.call;
        if let Some(path) = call.parts.uri.path().strip_prefix("/__sim/") {
            return control::answer(self.sim, &call.parts.method, path, call.parts.uri.query());
        }
        let Some(op) = call.op() else {
            return self.pass_through().await;
        };
        {
            let mut ledger = self.sim.ledger();
            ledger.totals.calls += 1;
            ledger.op(op).calls += 1;
        }
        match self.modelled(op).await {
            Some(resp) => {
                self.sim.ledger().totals.accounted += 1;
                resp
            }
            None => {
                self.sim.ledger().totals.passed_through += 1;
                self.pass_through().await
            }
        }
    }

    /// The answer to a call the simulator models; `None` for any other
    /// operation, and for a body it cannot read.
    async fn modelled(&self, op: &str) -> Option<Reply> {
        let req = self.call.json()?;
        match op {
            "PutItem" | "DeleteItem" | "UpdateItem" => writes::single(self, op, &req).await,
            "BatchWriteItem" => writes::batch(self, &req).await,
            "GetItem" => reads::get_item(self, &req).await,
            "BatchGetItem" => batch_get::batch_get(self, &req).await,
            "Query" | "Scan" => reads::query_or_scan(self, op, &req).await,
            _ => None,
        }
    }

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

    async fn pass_through(&self) -> Reply {
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
