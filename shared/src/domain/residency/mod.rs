//! Data residency: moving a tenant's partition and media from one region to another with a
//! read-only window of seconds, rolling it back (with the changes made since) for 7 days, and
//! Atlassian's realm-migration hooks (`dare.rs`) driving the same engine.
//!
//! The migration is a state machine stored as `RESIDENCY` in the tenant's partition of the region
//! it runs from (on the `residency` due index while in flight, so [`resume_all`] finishes what a
//! crash interrupted). Every step is idempotent:
//!
//! 1. `copying`: [`copy_pass`] makes the target partition equal to the source (puts what differs,
//!    deletes what the source no longer has — sort keys, versions, due entries preserved) and
//!    copies the objects of the media records it put. The tenant stays fully usable; passes
//!    repeat while they still find much to copy.
//! 2. `read-only`: [`freeze`] sets `read_only` on the install record (the auth extractor answers
//!    writes 503 `tenant_read_only` + `Retry-After`; reads go on) and puts the fence marker, so
//!    no write of anyone lands after it ([`fence`]); then [`finish_copy`] copies what changed
//!    since, and verifies item counts and a SHA-256 over (sort key, version, body) on both sides.
//! 3. `switched`: the install record names the new region in both regions; the old region answers
//!    421 with the new one's base URL. The source copy stays, untouched, due for the retention
//!    sweep (`crate::kernel::keys::MIGRATED_SOURCE_DUE_KIND`) 7 days later. A rollback within those 7 days
//!    is the same migration in reverse, so it carries every change made since; the passes find
//!    only what changed, so it is quick.
//!
//! Realm migrations (`dare`) stop at `ready` (copied, verified, still read-only) until Atlassian
//! commits (switch) or rolls back (the source thaws, the copy is purged).

mod copy;
pub mod dare;
mod engine;
pub mod fence;
mod model;
pub mod restore;
mod routing;

pub use engine::{
    any_in_flight, cancel, copy_pass, drive, finish_copy, freeze, request, request_rollback, resume_all, spawn_drive,
    start_scheduled,
};
pub use model::{
    DarePlan, Kind, Migration, Phase, Progress, ROLLBACK_WINDOW_SECS, ResidencyView, Verified, read_only_error,
};
pub use routing::{Home, acting_in, fetch_moved_upload, home_of, home_state, region_of_install, view};
