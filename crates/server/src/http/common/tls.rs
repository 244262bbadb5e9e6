//! Native HTTPS (`tls_cert` and `tls_key`): the certificate chain and private key, read
//! from PEM files, checked against each other, and the TLS configuration every connection
//! gets.
//!
//! **Why OpenSSL through `tokio-openssl`, not rustls or `native-tls`.** OpenSSL is already
//! linked (WebAuthn, ID-token signatures, lettre's SMTP), so TLS costs one small crate and
//! no new cryptography to build; rustls would bring a second TLS stack and a crypto
//! provider (ring or aws-lc-rs) to compile. `native-tls`, also in the tree, was the first
//! choice, but its OpenSSL acceptor is fixed to Mozilla's *intermediate v4* profile: TLS 1.3
//! switched off, and CBC and non-forward-secret RSA key-exchange suites on, with no way to
//! change either. Here the acceptor is Mozilla's current intermediate profile (v5: TLS 1.2
//! and 1.3 only, ECDHE/DHE with AEAD ciphers only; <https://wiki.mozilla.org/Security/Server_Side_TLS>).
//!
//! The handshake is not a separate step: each connection's `SSL` is put in the accept
//! state and the first read performs it, so it runs under the same watchdog as a request
//! head (the header-read timeout from the accept) and counts against the same connection
//! cap (`edge.rs`).

use openssl::pkey::PKey;
use openssl::ssl::{Ssl, SslAcceptor, SslMethod};
use openssl::x509::X509;
use std::path::Path;
use tokio::io::{AsyncRead, AsyncWrite};
use zeroize::Zeroizing;

/// The TLS configuration of the listener: cheap to clone (one shared OpenSSL context).
#[derive(Clone)]
pub struct Tls(SslAcceptor);

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls")
    }
}

impl Tls {
    /// Reads and checks the PEM certificate chain (leaf first, then intermediates) and the
    /// PEM private key (PKCS#8, or the traditional RSA and EC forms; not encrypted). The
    /// error says which file and what is wrong, for the configuration report.
    pub fn load(cert: &Path, key: &Path) -> Result<Tls, String> {
        let read = |path: &Path| {
            std::fs::read(path)
                .map(Zeroizing::new)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
        };
        let chain = X509::stack_from_pem(&read(cert)?)
            .map_err(|_| format!("{} holds no PEM certificate", cert.display()))?;
        let mut chain = chain.into_iter();
        let leaf = chain
            .next()
            .ok_or_else(|| format!("{} holds no PEM certificate", cert.display()))?;
        let pkey = PKey::private_key_from_pem(&read(key)?).map_err(|_| {
            format!(
                "{} holds no unencrypted PEM private key (PKCS#8, RSA or EC)",
                key.display()
            )
        })?;
        let matches = leaf
            .public_key()
            .map(|public| public.public_eq(&pkey))
            .unwrap_or(false);
        if !matches {
            return Err(format!(
                "the private key in {} is not the key of the certificate in {}",
                key.display(),
                cert.display()
            ));
        }
        let fail = |e: openssl::error::ErrorStack| format!("cannot set up TLS: {e}");
        let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).map_err(fail)?;
        builder.set_private_key(&pkey).map_err(fail)?;
        builder.set_certificate(&leaf).map_err(fail)?;
        for intermediate in chain {
            builder.add_extra_chain_cert(intermediate).map_err(fail)?;
        }
        builder.check_private_key().map_err(fail)?;
        Ok(Tls(builder.build()))
    }

    /// A server-side TLS stream over `io` whose handshake happens at the first read.
    pub fn stream<S: AsyncRead + AsyncWrite>(&self, io: S) -> std::io::Result<tokio_openssl::SslStream<S>> {
        let mut ssl = Ssl::new(self.0.context()).map_err(std::io::Error::other)?;
        ssl.set_accept_state();
        tokio_openssl::SslStream::new(ssl, io).map_err(std::io::Error::other)
    }
}
