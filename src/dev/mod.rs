//! What development, demos and tests need beside the service itself: the managed local
//! database server (`localdb`: started on this machine when no `MONGODB_URL` is set, one
//! per test run) and the deterministic demo data (`seed`), written through the `Store`'s
//! typed bulk inserts like any other caller.

pub mod localdb;
pub mod seed;
