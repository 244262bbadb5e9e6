//! The Latchkey server: configuration, start-up, the services that implement each use case,
//! and the HTTP layer that exposes them.
//!
//! Layering: `http` handlers extract and validate input, call one `service` function on
//! [`App`], and map its result; services hold the logic and talk to the store and the
//! crypto material; neither knows which database is underneath.

pub mod addresses;
pub mod app;
pub mod config;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod geoip;
pub mod hash_pool;
pub mod http;
pub mod keys;
pub mod metrics;
pub mod outbox;
pub mod seed;
pub mod service;
pub mod telemetry;
pub mod tenant_cache;

pub use app::{App, AppOptions, HostSenders, StartupError};
pub use config::Config;
