//! What every API surface shares: the accept loop and its timeouts ([`edge`]), native
//! HTTPS ([`tls`]), cross-origin calls from listed browser apps ([`cors`]), the client address behind trusted proxies ([`forwarded`]),
//! `Idempotency-Key` replays ([`idempotency`]), the extractors ([`extract`]) and
//! pagination ([`page`]). Nothing here decides how an answer looks: where something fails
//! it yields a neutral [`Failure`](crate::service::Failure), and the [`Surface`] it runs
//! for renders it.

pub mod cors;
pub mod edge;
pub mod extract;
pub mod forwarded;
pub mod idempotency;
pub mod page;
pub mod scope;
pub mod tls;

use crate::service::Failure;
use axum::response::IntoResponse;

/// An API surface (`/v1`, `/v2`, and later Auth0-style routes or hosted pages): the one
/// thing the shared parts need from it is how it answers a failure. An API answers JSON
/// with a status; a page surface may redirect or render HTML instead.
pub trait Surface: Send + Sync + 'static {
    /// What a failure becomes: an error value the surface's handlers also return.
    type Rejection: IntoResponse + Send;

    fn reject(failure: Failure) -> Self::Rejection;
}
