//! What every sender is built with: the bound on one attempt, the shared HTTP client and
//! the rule for where connections may go.

use crate::outbound::{Destinations, Outbound};
use std::time::Duration;

/// What every sender is built with.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The bound on one whole attempt: connecting, TLS, the request and the response.
    pub(crate) timeout: Duration,
    /// One connection pool for every HTTP provider built with these options, so senders
    /// rebuilt per tenant or per message still reuse connections and TLS sessions. Its
    /// resolver is `outbound`, so the two cannot disagree.
    pub(crate) http: reqwest::Client,
    /// Where connections may go, and the resolver that enforces it.
    pub(crate) outbound: Outbound,
}

/// The HTTP client could not be set up (in practice: the system's TLS library failed to load).
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the HTTP client for delivery: {0}")]
pub struct BuildError(String);

impl BuildOptions {
    /// Options whose senders reach only the destinations `destinations` allows, resolved by
    /// the system's resolver.
    pub fn new(timeout: Duration, destinations: Destinations) -> Result<Self, BuildError> {
        Self::with_outbound(timeout, Outbound::new(destinations))
    }

    /// Options over a resolver of the caller's (tests inject lookups this way).
    pub fn with_outbound(timeout: Duration, outbound: Outbound) -> Result<Self, BuildError> {
        let http = crate::http::client(&outbound).map_err(|e| BuildError(crate::http::error_chain(&e)))?;
        Ok(Self {
            timeout,
            http,
            outbound,
        })
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn destinations(&self) -> Destinations {
        self.outbound.destinations()
    }
}
