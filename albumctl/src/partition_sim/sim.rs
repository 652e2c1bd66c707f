//! A running simulator: the proxy, with the partition layer, in front of
//! an emulator.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use super::bucket::Limits;
use super::clock::Clock;
use super::exchange::Sim;
use super::ledger::Ledger;
use super::schema::Schema;
use super::stats::SimStats;
use crate::proxy::Proxy;

/// How to start a simulator.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The per-partition limits.
    pub limits: Limits,
    /// The key attributes of the table and its indexes.
    pub schema: Schema,
    /// Real time, or a hand-moved clock for tests.
    pub clock: Clock,
}

impl SimConfig {
    /// The shipped table's definition under `limits`, in real time.
    pub fn new(limits: Limits) -> Result<Self, String> {
        Ok(Self {
            limits,
            schema: Schema::shipped()?,
            clock: Clock::real(),
        })
    }
}

/// A running simulator. Dropping it stops it.
#[derive(Debug)]
pub struct PartitionSim {
    proxy: Proxy,
    sim: Arc<Sim>,
}

impl PartitionSim {
    /// Binds `listen` and forwards to `upstream` (an `http://` URL) on the
    /// current tokio runtime.
    pub async fn start(upstream: &str, listen: SocketAddr, cfg: SimConfig) -> Result<Self, String> {
        let sim = Arc::new(Sim {
            schema: cfg.schema,
            clock: cfg.clock,
            ledger: Mutex::new(Ledger::new(cfg.limits)),
        });
        let proxy = Proxy::start(upstream, listen, Arc::clone(&sim)).await?;
        Ok(Self { proxy, sim })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.proxy.addr()
    }

    /// `http://127.0.0.1:PORT`: the endpoint for clients.
    pub fn endpoint(&self) -> String {
        self.proxy.endpoint()
    }

    /// Its accounting, every partition.
    pub fn stats(&self) -> SimStats {
        self.sim.ledger().stats(None)
    }

    /// Clears the accounting and refills every bucket.
    pub fn reset(&self) {
        self.sim.ledger().reset();
    }

    /// Its clock (to advance a manual one).
    pub fn clock(&self) -> &Clock {
        &self.sim.clock
    }

    /// Runs until the listener fails (the command line's `partition-sim`).
    pub async fn wait(self) {
        self.proxy.wait().await;
    }
}
