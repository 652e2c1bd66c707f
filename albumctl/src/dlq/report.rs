//! What a redrive did, message by message, as the command prints it.

use super::message::Kind;
use super::rerun::JobDone;

/// What happened to one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Re-run to done; the message was deleted (`deleted` false: the
    /// delete failed, the message will come back and find the job done).
    Redriven {
        /// The SQS message.
        message_id: String,
        /// What failed.
        kind: Kind,
        /// The jobs the re-run finished.
        done: Vec<JobDone>,
        /// Whether the message could be deleted.
        deleted: Result<(), String>,
    },
    /// Failed again: kept in the queue.
    FailedAgain {
        /// The SQS message.
        message_id: String,
        /// What failed.
        kind: Kind,
        /// Why it failed again.
        error: String,
    },
    /// Would be re-run (dry run): kept.
    WouldRedrive {
        /// The SQS message.
        message_id: String,
        /// What failed.
        kind: Kind,
        /// The jobs it would re-run, or why they cannot be told.
        jobs: Result<Vec<String>, String>,
    },
    /// Unreadable: kept, never deleted.
    Unreadable {
        /// The SQS message.
        message_id: String,
        /// Why it cannot be read.
        reason: String,
    },
}

impl Outcome {
    /// The outcome as one line of the report.
    fn line(&self) -> String {
        match self {
            Outcome::Redriven {
                message_id,
                kind,
                done,
                deleted,
            } => {
                let jobs: Vec<String> = done.iter().map(JobDone::to_string).collect();
                let deleted = match deleted {
                    Ok(()) => "deleted".to_string(),
                    Err(e) => format!("NOT deleted ({e})"),
                };
                format!(
                    "redriven {message_id} ({}): {}; {deleted}",
                    kind.as_str(),
                    jobs.join(", ")
                )
            }
            Outcome::FailedAgain {
                message_id,
                kind,
                error,
            } => format!(
                "failed again {message_id} ({}): {error}; kept",
                kind.as_str()
            ),
            Outcome::WouldRedrive {
                message_id,
                kind,
                jobs,
            } => format!(
                "would redrive {message_id} ({}): {}",
                kind.as_str(),
                match jobs {
                    Ok(j) => format!("job {}", j.join(", ")),
                    Err(e) => format!("job unknown: {e}"),
                }
            ),
            Outcome::Unreadable { message_id, reason } => {
                format!("unreadable {message_id}: {reason}; kept")
            }
        }
    }
}

/// What a redrive did, message by message.
#[derive(Clone, Debug, Default)]
pub struct RedriveReport {
    /// Each message handled, in order.
    pub outcomes: Vec<Outcome>,
    /// Messages that could not be made visible again.
    pub warnings: Vec<String>,
}

impl RedriveReport {
    /// Messages re-run to done and deleted.
    pub fn redriven(&self) -> usize {
        self.count(|o| {
            matches!(
                o,
                Outcome::Redriven {
                    deleted: Ok(()),
                    ..
                }
            )
        })
    }
    /// Messages whose re-run failed (kept).
    pub fn failed_again(&self) -> usize {
        self.count(|o| matches!(o, Outcome::FailedAgain { .. }))
    }
    /// Unreadable messages (kept).
    pub fn unreadable(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Unreadable { .. }))
    }
    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.outcomes.iter().filter(|o| f(o)).count()
    }

    /// The report as text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for o in &self.outcomes {
            out.push_str(&o.line());
            out.push('\n');
        }
        for w in &self.warnings {
            out.push_str(&format!("warning: {w}\n"));
        }
        out.push_str(&format!(
            "{} redriven and deleted, {} failed again, {} unreadable\n",
            self.redriven(),
            self.failed_again(),
            self.unreadable()
        ));
        out
    }
}
