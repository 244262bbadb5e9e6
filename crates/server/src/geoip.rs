//! GeoIP for adaptive MFA: a MaxMind-format database (`.mmdb`, City or Country: GeoLite2,
//! GeoIP2, or any other in that format) named by `geoip_database`, read into memory at
//! start and asked where a client address is (`policy::risk::GeoLookup`). Without one,
//! adaptive MFA has no country or travel signals.

use latchkey_core::policy::risk::{Coords, GeoLookup, Place};
use maxminddb::Reader;
use serde::Deserialize;
use std::net::IpAddr;
use std::path::Path;

/// A MaxMind database in memory.
pub struct MaxMindGeo {
    reader: Reader<Vec<u8>>,
}

/// The fields read, shared by the City and Country layouts (a Country database has no
/// `location`); everything else in a record is skipped.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow, default)]
    country: Option<CountryField<'a>>,
    #[serde(default)]
    location: Option<LocationField>,
}

#[derive(Deserialize)]
struct CountryField<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct LocationField {
    #[serde(default)]
    latitude: Option<f64>,
    #[serde(default)]
    longitude: Option<f64>,
    /// Kilometres.
    #[serde(default)]
    accuracy_radius: Option<u16>,
}

impl MaxMindGeo {
    /// Reads the database at `path`, refusing a file that is not one, or one of a kind that
    /// says nothing of countries (an ASN or ISP database).
    pub fn open(path: &Path) -> Result<Self, String> {
        let reader =
            Reader::open_readfile(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let kind = reader.metadata().database_type.clone();
        if !(kind.contains("City") || kind.contains("Country")) {
            return Err(format!(
                "{} is a {kind:?} database; adaptive MFA needs a City or Country database",
                path.display()
            ));
        }
        tracing::info!(path = %path.display(), database_type = %kind, "GeoIP database loaded");
        Ok(Self { reader })
    }
}

impl GeoLookup for MaxMindGeo {
    fn locate(&self, ip: IpAddr) -> Place {
        // An IPv4-mapped IPv6 address (a dual-stack listener's view of an IPv4 client) is
        // looked up as the IPv4 address it is.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let record = match self.reader.lookup(ip).and_then(|r| r.decode::<Record<'_>>()) {
            Ok(Some(r)) => r,
            Ok(None) => return Place::default(),
            Err(e) => {
                tracing::warn!(error = %e, "GeoIP lookup failed");
                return Place::default();
            }
        };
        let country = record
            .country
            .and_then(|c| c.iso_code)
            .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()))
            .map(str::to_ascii_uppercase);
        let coords = record.location.and_then(|l| {
            let (lat, lon) = (l.latitude?, l.longitude?);
            let sane = lat.is_finite() && lon.is_finite() && lat.abs() <= 90.0 && lon.abs() <= 180.0;
            sane.then(|| Coords {
                lat,
                lon,
                accuracy_km: f64::from(l.accuracy_radius.unwrap_or(0)),
            })
        });
        Place { country, coords }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/geoip")
            .join(name)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// The small databases `tests/fixtures/geoip/make_test_mmdb.py` wrote, read for real.
    #[test]
    fn city_and_country_databases_are_read() {
        let city = MaxMindGeo::open(&fixture("city.mmdb")).unwrap();
        let berlin = city.locate(ip("198.51.100.200"));
        assert_eq!(berlin.country.as_deref(), Some("DE"));
        let c = berlin.coords.unwrap();
        assert_eq!((c.lat, c.lon, c.accuracy_km), (52.52, 13.40, 20.0));
        assert_eq!(city.locate(ip("2001:db8:2::1")).country.as_deref(), Some("AU"));
        assert_eq!(city.locate(ip("::ffff:192.0.2.1")).country.as_deref(), Some("FR"));
        assert_eq!(
            city.locate(ip("10.1.2.3")),
            Place::default(),
            "not in the database"
        );
        assert_eq!(city.locate(ip("127.0.0.1")), Place::default());

        let country = MaxMindGeo::open(&fixture("country.mmdb")).unwrap();
        let sydney = country.locate(ip("203.0.113.9"));
        assert_eq!(sydney.country.as_deref(), Some("AU"));
        assert_eq!(sydney.coords, None, "a Country database has no location");
    }

    #[test]
    fn what_is_not_a_database_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let bogus = dir.path().join("bogus.mmdb");
        std::fs::write(&bogus, b"\x00\x01 not a database").unwrap();
        for path in [bogus, dir.path().join("missing.mmdb")] {
            let err = MaxMindGeo::open(&path).err().unwrap();
            assert!(err.contains(&path.display().to_string()), "{err}");
        }
    }
}
