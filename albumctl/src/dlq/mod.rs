//! `albumctl dlq list|redrive`: the duplications that landed in the
//! dead-letter queue `DuplicationDeadLetterQueue` (decision 0008).
//!
//! Three kinds of message arrive there:
//! - **async invoke**: Lambda's dead-letter queue of
//!   `ScheduledDuplicateFunction`. The body is the event the function took
//!   (the schedule's input or an EventBridge event); the message attributes
//!   are `RequestID`, `ErrorCode` (an HTTP status) and `ErrorMessage`.
//! - **schedule**: EventBridge Scheduler's own dead-letter queue, when it
//!   could not invoke the function at all. The body is the target's input;
//!   the attributes are `ERROR_CODE`, `ERROR_MESSAGE`, `EXECUTION_ID`,
//!   `SCHEDULE_ARN`, `TARGET_ARN` (and others, ignored).
//! - **worker job**: the on-failure record of the worker's stream event
//!   source mapping: JSON with `requestContext`, `responseContext`,
//!   `version`, `timestamp` and `DDBStreamBatchInfo` (shard, first and last
//!   sequence numbers, stream ARN), without the stream record itself. The
//!   job is recovered by reading the record back from the stream
//!   (`GetShardIterator` `AT_SEQUENCE_NUMBER`, `GetRecords`), which keeps it
//!   24 hours; later, the listing says the job is unknown and
//!   `redrive --message ID --job JOB` names it.
//!
//! A redrive re-runs each one in-process through the functions' own
//! library: what `ScheduledDuplicateFunction` runs for that event, or the
//! job's slices until done as the worker runs them. Re-runs are idempotent
//! (deterministic copy ids, jobs found by their delivery's identity,
//! recounts): a message is deleted only when its duplication is done, and
//! an unreadable message is never deleted.

mod clients;
mod list;
mod message;
mod parse;
mod queue;
mod redrive;
mod report;
mod rerun;
mod stream;

pub use clients::Clients;
pub use list::{Listed, list, render};
pub use message::{ErrorInfo, Kind};
pub use redrive::{RedriveOptions, redrive};
pub use report::{Outcome, RedriveReport};
pub use rerun::JobDone;
pub(crate) use rerun::drive_job;
