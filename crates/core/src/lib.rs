//! Latchkey's domain core: identifiers, canonical forms, tenant policy and the pure
//! cryptography every other layer builds on. Nothing here performs I/O or reads the clock
//! or the operating system's RNG by itself: time and randomness come in as arguments or
//! through the [`clock::Clock`] and [`rand::SecureRandom`] traits.

pub mod application;
pub mod assurance;
pub mod audit;
pub mod backup;
pub mod clock;
pub mod devices;
pub mod duration;
pub mod email;
pub mod factor;
pub mod hash;
pub mod ids;
pub mod issuer;
pub mod jws;
pub mod jwt;
pub mod links;
pub mod notices;
pub mod oauth;
pub mod oidc;
pub mod otp;
pub mod password;
pub mod phone;
pub mod policy;
pub mod rand;
pub mod scope;
pub mod seal;
pub mod secret;
pub mod settings;
pub mod text;
pub mod throttle;
pub mod tickets;
pub mod time;
pub mod totp;
pub mod webhook;
