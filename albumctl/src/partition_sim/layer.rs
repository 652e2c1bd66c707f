//! The simulator as a proxy layer: each DynamoDB call it models is
//! admitted, throttled or trimmed by its partitions' buckets; every other
//! call passes through.

use super::exchange::{Exchange, Sim};
use super::{batch_get, control, reads, writes};
use crate::proxy::{Call, Layer, Outcome, Reply, Upstream};

impl Layer for Sim {
    async fn call(&self, call: Call, upstream: &Upstream) -> Outcome {
        let x = Exchange::new(self, upstream, &call);
        Outcome::Respond(handle(&x).await)
    }
}

async fn handle(x: &Exchange<'_>) -> Reply {
    let call = x.call;
    if let Some(path) = call.parts.uri.path().strip_prefix("/__sim/") {
        return control::answer(x.sim, &call.parts.method, path, call.parts.uri.query());
    }
    let Some(op) = call.op() else {
        return x.pass_through().await;
    };
    {
        let mut ledger = x.sim.ledger();
        ledger.totals.calls += 1;
        ledger.op(op).calls += 1;
    }
    match modelled(x, op).await {
        Some(resp) => {
            x.sim.ledger().totals.accounted += 1;
            resp
        }
        None => {
            x.sim.ledger().totals.passed_through += 1;
            x.pass_through().await
        }
    }
}

/// The answer to a call the simulator models; `None` for any other
/// operation, and for a body it cannot read.
async fn modelled(x: &Exchange<'_>, op: &str) -> Option<Reply> {
    let req = x.call.json()?;
    match op {
        "PutItem" | "DeleteItem" | "UpdateItem" => writes::single(x, op, &req).await,
        "BatchWriteItem" => writes::batch(x, &req).await,
        "GetItem" => reads::get_item(x, &req).await,
        "BatchGetItem" => batch_get::batch_get(x, &req).await,
        "Query" | "Scan" => reads::query_or_scan(x, op, &req).await,
        _ => None,
    }
}
