//! # albumctl
//!
//! What runs beside the Album API's functions but never in them: the
//! administration CLI ([`cli`]), the local dev server ([`dev`]) over the
//! template's routes ([`template`]), organizations' API secrets
//! ([`secrets`]), the table definition read from
//! `template.yaml` ([`schema`]), organizations' quotas ([`quotas`]),
//! realistic sample images ([`seed`]), the dead-letter queue's listing and
//! redrive ([`dlq`]), the in-place move of albums to per-organization keys
//! ([`migrate`]), and DynamoDB's
//! per-partition limits in front of an emulator ([`partition_sim`]), a
//! layer on the reverse proxy ([`proxy`]) that the tests' fault injector
//! shares.
//! Kept out of the functions' library so no Lambda bootstrap links clap, a
//! hyper server or a YAML parser (decision 0007).

// Every public item says what it is (the tests use this library too).
#![warn(missing_docs)]

pub mod cli;
pub mod dev;
pub mod dlq;
pub mod migrate;
pub mod partition_sim;
pub mod proxy;
pub mod quotas;
pub mod schema;
pub mod secrets;
pub mod seed;
pub mod template;
