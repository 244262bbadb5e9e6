//! HTTP integration tests: each starts the real server on a free loopback port and speaks
//! HTTP to it, once on SQLite and once on PostgreSQL (when LATCHKEY_TEST_DATABASE_URL is
//! set, as CI always does). One test binary, so it links once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod helpers;

mod adaptive;
mod admin;
mod applications;
mod auth;
mod auth0_management;
mod auth0_mfa;
mod branding;
mod cors;
mod delivery;
mod devices;
mod edge;
mod errors;
mod gateway;
mod issuers;
mod meta;
mod metrics;
mod mfa;
mod nauth;
mod notices;
mod oidc;
mod pages;
mod pages_mfa;
mod parsers;
mod policy;
mod proxy;
mod recovery;
mod recovery_pages;
mod review;
mod signing;
mod throttle;
mod tickets;
mod tls;
mod u2;
mod webauthn;
mod webhooks;
