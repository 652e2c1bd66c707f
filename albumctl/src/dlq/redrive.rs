//! `albumctl dlq redrive`: each failed duplication re-run, its message
//! deleted only once the duplication is done.

use std::collections::{HashMap, HashSet};

use album_api::App;

use super::clients::Clients;
use super::list::{Resolved, resolve};
use super::message::{Parsed, RawMessage, Work};
use super::parse::parse_message;
use super::queue::{REDRIVE_VISIBILITY_SECONDS, delete, heartbeat, receive, release};
use super::report::{Outcome, RedriveReport};
use super::rerun::rerun;

/// What `redrive` may do.
#[derive(Clone, Debug, Default)]
pub struct RedriveOptions {
    /// Re-run at most this many failed duplications.
    pub max: Option<usize>,
    /// Say what would be re-run; run and delete nothing.
    pub dry_run: bool,
    /// Only this message.
    pub message: Option<String>,
    /// The job of `message`, when it is a worker failure whose stream
    /// record can no longer be read.
    pub job: Option<String>,
}

/// Re-runs each failed duplication of the queue through the functions'
/// library and deletes its message only when the re-run finished the
/// duplication. Failed re-runs and unreadable messages stay in the queue
/// (visible again when the redrive ends); each message is handled at most
/// once per redrive.
pub async fn redrive(
    app: &App,
    clients: &Clients,
    url: &str,
    opts: &RedriveOptions,
) -> Result<RedriveReport, String> {
    let mut r = Redrive {
        app,
        clients,
        url,
        opts,
        owner: format!("albumctl-redrive-{}", uuid::Uuid::new_v4()),
        report: RedriveReport::default(),
        held: HashMap::new(),
        seen: HashSet::new(),
    };
    let result = r.run().await;
    r.report.warnings = release(&clients.sqs, url, &r.held).await;
    result.map(|()| r.report)
}

/// One redrive under way.
struct Redrive<'a> {
    app: &'a App,
    clients: &'a Clients,
    url: &'a str,
    opts: &'a RedriveOptions,
    /// Who holds the jobs it runs.
    owner: String,
    report: RedriveReport,
    /// Messages kept hidden until the redrive ends (id → receipt).
    held: HashMap<String, String>,
    seen: HashSet<String>,
}

impl Redrive<'_> {
    async fn run(&mut self) -> Result<(), String> {
        let mut handled = 0;
        while self.opts.max.is_none_or(|m| handled < m) {
            let received =
                receive(&self.clients.sqs, self.url, 1, REDRIVE_VISIBILITY_SECONDS).await?;
            let Some((raw, receipt)) = received.into_iter().next() else {
                break;
            };
            if !self.seen.insert(raw.message_id.clone()) {
                // Back after its hold lapsed: the queue has gone round.
                self.held.insert(raw.message_id, receipt);
                break;
            }
            if self
                .opts
                .message
                .as_ref()
                .is_some_and(|m| *m != raw.message_id)
            {
                self.held.insert(raw.message_id, receipt);
                continue;
            }
            handled += 1;
            self.handle(raw, receipt).await;
        }
        Ok(())
    }

    /// Re-runs one message's duplication (or says it would), or keeps it.
    async fn handle(&mut self, raw: RawMessage, receipt: String) {
        let failed = match parse_message(&raw) {
            Parsed::Failed(f) => f,
            Parsed::Unreadable {
                message_id, reason, ..
            } => {
                self.keep(Outcome::Unreadable { message_id, reason }, raw, receipt);
                return;
            }
        };
        let Resolved { failed: f, jobs } = match (&failed.work, &self.opts.job) {
            (Work::Worker(_), Some(job)) => Resolved {
                failed,
                jobs: Ok(vec![job.clone()]),
            },
            _ => resolve(self.clients, failed).await,
        };
        let (message_id, kind) = (f.message_id.clone(), f.kind);
        if self.opts.dry_run {
            let would = Outcome::WouldRedrive {
                message_id,
                kind,
                jobs,
            };
            self.keep(would, raw, receipt);
            return;
        }
        let beat = heartbeat(&self.clients.sqs, self.url, &receipt);
        let rerun = rerun(self.app, &f, &jobs, &self.owner).await;
        beat.abort();
        match rerun {
            Ok(done) => {
                let deleted = delete(&self.clients.sqs, self.url, &receipt).await;
                self.report.outcomes.push(Outcome::Redriven {
                    message_id,
                    kind,
                    done,
                    deleted,
                });
            }
            Err(error) => {
                let again = Outcome::FailedAgain {
                    message_id,
                    kind,
                    error,
                };
                self.keep(again, raw, receipt);
            }
        }
    }

    /// Records `outcome` and keeps the message in the queue.
    fn keep(&mut self, outcome: Outcome, raw: RawMessage, receipt: String) {
        self.report.outcomes.push(outcome);
        self.held.insert(raw.message_id, receipt);
    }
}
