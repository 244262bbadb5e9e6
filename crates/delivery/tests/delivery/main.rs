//! The delivery providers against real counterparts: local stand-ins of the Twilio, Vonage
//! and webhook HTTP APIs, the moto AWS emulator for SNS, and aiosmtpd for SMTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod config;
mod destinations;
mod smtp;
mod sns;
mod stand_in;
mod support;
mod twilio;
mod vonage;
mod webhook;
