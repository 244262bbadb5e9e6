//! Test-only helpers shared by the crates' integration tests: real counterparts (moto for AWS
//! SNS, aiosmtpd for SMTP, a Standard Webhooks receiver) started as child processes on free loopback ports, and a software
//! WebAuthn authenticator ([`webauthn`]).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test scaffolding fails loudly

pub mod hookd;
pub mod moto;
pub mod process;
pub mod smtpd;
pub mod webauthn;
