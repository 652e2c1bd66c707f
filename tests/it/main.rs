//! The integration suite, one test binary: every module talks to a real
//! DynamoDB-compatible server on loopback (dynalite or moto's server, started
//! by `make test`) through the real SDK client, with real API Gateway,
//! EventBridge and DynamoDB Streams events. `make test-unit` runs the unit
//! tests alone, without an emulator.

mod support;

mod album_moves;
mod concurrency;
mod copy_faults;
mod crash_recovery;
mod crash_recovery_images;
mod cut_off_deletes;
mod deadlines;
mod dev_server;
mod dlq;
mod duplicate_album;
mod embed_urls;
mod fault_kinds;
mod fault_proxy_selftest;
mod fresh_destination_count;
mod hostile_input;
mod idempotent_duplicates;
mod image_moves;
mod imports;
mod integrator_tokens;
mod jobs;
mod lifecycle;
mod operations;
mod org_album_ids;
mod partition_sim;
mod quotas;
mod rotation;
mod shards;
mod sharinpix_examples;
mod tags;
mod token_suite;
mod trash;
mod upload_forms;
mod worker;
