//! Native HTTPS: a server started with a certificate made here (a test CA and a leaf for
//! `localhost` and 127.0.0.1) answers over TLS 1.3 and 1.2 and nothing older; plain HTTP
//! to its port gets no answer and leaves it serving; a handshake that stalls is closed by
//! the header timeout, and the connection cap counts TLS connections; the pages' cookie is
//! `__Host-` prefixed; the configuration refuses half a TLS setting or a bad file.
//!
//! SQLite only: TLS sits below the store and never touches it.

use crate::helpers::*;
use latchkey_core::clock::{Clock, ManualClock, SystemClock};
use latchkey_server::config::{Config, Overrides};
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslConnector, SslMethod, SslVersion};
use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
use openssl::x509::{X509Name, X509};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn ec_key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn name(cn: &str) -> X509Name {
    let mut n = X509Name::builder().unwrap();
    n.append_entry_by_text("CN", cn).unwrap();
    n.build()
}

/// A certificate for `subject` signed by `issuer` (itself when `None`).
fn certificate(subject: &PKey<Private>, cn: &str, issuer: Option<(&X509, &PKey<Private>)>, ca: bool) -> X509 {
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(
        &BigNum::from_u32(rand_serial())
            .unwrap()
            .to_asn1_integer()
            .unwrap(),
    )
    .unwrap();
    b.set_subject_name(&name(cn)).unwrap();
    b.set_issuer_name(issuer.map_or(&name(cn), |(c, _)| c.subject_name()))
        .unwrap();
    b.set_pubkey(subject).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    b.set_not_after(&Asn1Time::days_from_now(2).unwrap()).unwrap();
    if ca {
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
    } else {
        let san = SubjectAlternativeName::new()
            .dns("localhost")
            .ip("127.0.0.1")
            .build(&b.x509v3_context(issuer.map(|(c, _)| c.as_ref()), None))
            .unwrap();
        b.append_extension(san).unwrap();
    }
    b.sign(issuer.map_or(subject, |(_, k)| k), MessageDigest::sha256())
        .unwrap();
    b.build()
}

fn rand_serial() -> u32 {
    u32::from_be_bytes(latchkey_core::rand::bytes(&latchkey_core::rand::OsRandom)) >> 1
}

/// A test CA and, in `dir`, `cert.pem` (leaf then CA: a chain) and `key.pem` (PKCS#8).
struct Pki {
    ca: X509,
    cert: PathBuf,
    key: PathBuf,
}

fn pki(dir: &Path) -> Pki {
    let ca_key = ec_key();
    let ca = certificate(&ca_key, "Latchkey test CA", None, true);
    let leaf_key = ec_key();
    let leaf = certificate(&leaf_key, "localhost", Some((&ca, &ca_key)), false);
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let mut chain = leaf.to_pem().unwrap();
    chain.extend(ca.to_pem().unwrap());
    std::fs::write(&cert, chain).unwrap();
    std::fs::write(&key, leaf_key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    Pki { ca, cert, key }
}

/// A TLS server on a fresh SQLite database; `tweak` changes its configuration further.
async fn tls_server(tweak: impl FnOnce(&mut Config)) -> (TestServer, Pki) {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let pki = pki(dir.path());
    let (cert, key) = (pki.cert.clone(), pki.key.clone());
    let s = spawn_with(
        Backend::Sqlite,
        dir,
        None,
        ManualClock::new(SystemClock.now_ms()),
        move |c| {
            c.tls_cert = Some(cert);
            c.tls_key = Some(key);
            tweak(c);
        },
    )
    .await;
    (s, pki)
}

fn addr(s: &TestServer) -> String {
    s.url.trim_start_matches("http://").to_owned()
}

/// A client that trusts the test CA only, with the protocol versions given.
fn connector(pki: &Pki, min: SslVersion, max: SslVersion) -> SslConnector {
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    let mut store = openssl::x509::store::X509StoreBuilder::new().unwrap();
    store.add_cert(pki.ca.clone()).unwrap();
    b.set_verify_cert_store(store.build()).unwrap();
    b.set_min_proto_version(Some(min)).unwrap();
    b.set_max_proto_version(Some(max)).unwrap();
    b.build()
}

/// Connects over TLS (checking the certificate for `localhost`), sends one request, and
/// returns the negotiated version and the whole answer.
async fn https(s: &TestServer, connector: &SslConnector, request: &str) -> Result<(String, String), String> {
    let tcp = TcpStream::connect(addr(s)).await.unwrap();
    let ssl = connector.configure().unwrap().into_ssl("localhost").unwrap();
    let mut tls = tokio_openssl::SslStream::new(ssl, tcp).unwrap();
    Pin::new(&mut tls).connect().await.map_err(|e| e.to_string())?;
    let version = tls.ssl().version_str().to_owned();
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut answer)).await;
    Ok((version, String::from_utf8_lossy(&answer).into_owned()))
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_answers_and_plain_http_does_not() {
    let (s, pki) = tls_server(|_| {}).await;
    let modern = connector(&pki, SslVersion::TLS1_2, SslVersion::TLS1_3);
    let (version, answer) = https(&s, &modern, &get("/healthz")).await.unwrap();
    assert_eq!(version, "TLSv1.3");
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.ends_with(r#"{"status":"ok"}"#), "{answer}");
    // TLS 1.2 too; nothing older (Mozilla's intermediate profile).
    let tls12 = connector(&pki, SslVersion::TLS1_2, SslVersion::TLS1_2);
    let (version, answer) = https(&s, &tls12, &get("/healthz")).await.unwrap();
    assert_eq!(version, "TLSv1.2");
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    let old = connector(&pki, SslVersion::TLS1, SslVersion::TLS1_1);
    assert!(
        https(&s, &old, &get("/healthz")).await.is_err(),
        "TLS 1.1 accepted"
    );
    // A client that does not trust the certificate's CA refuses it: the server really
    // presents the configured chain.
    let stranger = SslConnector::builder(SslMethod::tls_client()).unwrap().build();
    assert!(https(&s, &stranger, &get("/healthz")).await.is_err());

    // Plain HTTP to the TLS port: no HTTP answer, the connection is closed, and the server
    // keeps serving.
    let mut plain = TcpStream::connect(addr(&s)).await.unwrap();
    plain.write_all(get("/healthz").as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "the connection was left open");
    assert!(!String::from_utf8_lossy(&got).contains("HTTP/1.1"), "{got:?}");
    let (_, answer) = https(&s, &modern, &get("/healthz")).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_public_url_the_issuer_is_https() {
    let (s, _pki) = tls_server(|c| c.public_url = None).await;
    assert!(s.app.issuer.starts_with("https://127.0.0.1:"), "{}", s.app.issuer);
    s.stop().await;
}

/// A client that opens a connection and stalls its handshake (nothing, or half a
/// ClientHello) is closed within the header-read timeout, as a stalled request head is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_handshake_is_closed_by_the_header_timeout() {
    let (s, pki) = tls_server(|c| c.header_read_timeout_secs = 1).await;
    let since = Instant::now();
    let silent = TcpStream::connect(addr(&s)).await.unwrap();
    let mut half = TcpStream::connect(addr(&s)).await.unwrap();
    // A TLS record header announcing a 512-byte handshake message, and 10 bytes of it.
    half.write_all(&[
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0, 0, 0, 0,
    ])
    .await
    .unwrap();
    for mut conn in [silent, half] {
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut buf)).await;
        assert!(read.is_ok(), "a stalled handshake was left open");
        let after = since.elapsed();
        assert!(after >= Duration::from_millis(900), "closed too early: {after:?}");
        assert!(after < Duration::from_secs(3), "closed late: {after:?}");
    }
    // A handshake that completes in time is served.
    let modern = connector(&pki, SslVersion::TLS1_2, SslVersion::TLS1_3);
    let (_, answer) = https(&s, &modern, &get("/healthz")).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    s.stop().await;
}

/// TLS connections count against `max_connections`: beyond it a new one is closed before
/// any handshake, and a slot freed is served again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_cap_counts_tls_connections() {
    let (s, pki) = tls_server(|c| {
        c.max_connections = 16;
        c.header_read_timeout_secs = 2;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..16 {
        held.push(TcpStream::connect(addr(&s)).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let modern = connector(&pki, SslVersion::TLS1_2, SslVersion::TLS1_3);
    assert!(
        https(&s, &modern, &get("/healthz")).await.is_err(),
        "served beyond the cap"
    );
    // Once the held connections time out, TLS is served again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, answer) = https(&s, &modern, &get("/healthz")).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    drop(held);
    s.stop().await;
}

/// Over TLS (no public URL needed), the pages' cookie is `__Host-lk_session`, with Secure,
/// Path=/ and no Domain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_cookie_is_host_prefixed_over_tls() {
    let (s, pki) = tls_server(|c| c.public_url = None).await;
    let modern = connector(&pki, SslVersion::TLS1_2, SslVersion::TLS1_3);
    let (_, answer) = https(&s, &modern, &get("/login")).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    let cookie = answer
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .unwrap_or_else(|| panic!("no cookie: {answer}"));
    assert!(cookie.starts_with("__Host-lk_session="), "{cookie}");
    let attributes: Vec<&str> = cookie.split("; ").skip(1).collect();
    for flag in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax"] {
        assert!(attributes.contains(&flag), "{flag} missing: {cookie}");
    }
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    s.stop().await;
}

/// Half a TLS setting, a file that cannot be read, a file that is not PEM, and a key that
/// is not the certificate's: each refused with a clear message, all listed at once.
#[test]
fn tls_configuration_errors() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    std::fs::write(dir.path().join("none.toml"), "").unwrap();
    let load = |env: &[(&str, &Path)]| {
        let o = Overrides {
            config_file: Some(dir.path().join("none.toml")),
            ..Default::default()
        };
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.display().to_string()))
            .collect();
        Config::load_from(&o, env)
    };
    let ok = load(&[("LATCHKEY_TLS_CERT", &pki.cert), ("LATCHKEY_TLS_KEY", &pki.key)]).unwrap();
    assert!(ok.tls_files().is_some() && ok.served_over_https());
    assert!(ok.issuer().starts_with("https://"));

    let only_cert = load(&[("LATCHKEY_TLS_CERT", &pki.cert)]).unwrap_err().to_string();
    assert!(
        only_cert.contains("tls_cert is set but tls_key is not"),
        "{only_cert}"
    );
    let only_key = load(&[("LATCHKEY_TLS_KEY", &pki.key)]).unwrap_err().to_string();
    assert!(
        only_key.contains("tls_key is set but tls_cert is not"),
        "{only_key}"
    );

    let missing = dir.path().join("missing.pem");
    let err = load(&[("LATCHKEY_TLS_CERT", &missing), ("LATCHKEY_TLS_KEY", &pki.key)])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot read") && err.contains("missing.pem"),
        "{err}"
    );

    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let err = load(&[("LATCHKEY_TLS_CERT", &junk), ("LATCHKEY_TLS_KEY", &pki.key)])
        .unwrap_err()
        .to_string();
    assert!(err.contains("holds no PEM certificate"), "{err}");
    let err = load(&[("LATCHKEY_TLS_CERT", &pki.cert), ("LATCHKEY_TLS_KEY", &junk)])
        .unwrap_err()
        .to_string();
    assert!(err.contains("holds no unencrypted PEM private key"), "{err}");

    let other = dir.path().join("other.pem");
    std::fs::write(&other, ec_key().private_key_to_pem_pkcs8().unwrap()).unwrap();
    let err = load(&[("LATCHKEY_TLS_CERT", &pki.cert), ("LATCHKEY_TLS_KEY", &other)])
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not the key of the certificate"), "{err}");

    // A traditional (non-PKCS#8) EC key is read too.
    let traditional = dir.path().join("traditional.pem");
    let leaf_key = PKey::private_key_from_pem(&std::fs::read(&pki.key).unwrap()).unwrap();
    std::fs::write(
        &traditional,
        leaf_key.ec_key().unwrap().private_key_to_pem().unwrap(),
    )
    .unwrap();
    load(&[
        ("LATCHKEY_TLS_CERT", &pki.cert),
        ("LATCHKEY_TLS_KEY", &traditional),
    ])
    .unwrap();
}
