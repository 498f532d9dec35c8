//! Microversion negotiation, as Nova introduced it and Cinder, Manila and
//! Placement adopted it: the client names the version it speaks in
//! `OpenStack-API-Version: <service> X.Y` (or a service's legacy header,
//! such as Nova's `X-OpenStack-Nova-API-Version: X.Y`), `latest` meaning the
//! newest one served; no header means the oldest. A version outside the
//! served range is refused with 406, a malformed one with 400. Every answer
//! says which version it was rendered for, and `Vary`s on the headers that
//! chose it so caches keep versions apart.
//!
//! A service describes its range with a [`MicroversionPolicy`], puts
//! [`negotiate`] in front of its versioned routes and reads the chosen
//! version in handlers with the [`Microversion`] extractor.

use std::fmt;
use std::str::FromStr;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ApiError;

/// The standard header, shared by every microversioned service.
pub const API_VERSION_HEADER: HeaderName = HeaderName::from_static("openstack-api-version");

/// A microversion such as `2.47`: ordered by major, then minor number, so
/// `2.10` comes after `2.9`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Microversion {
    pub major: u32,
    pub minor: u32,
}

impl Microversion {
    pub const fn new(major: u32, minor: u32) -> Self {
        Microversion { major, minor }
    }

    /// True when this version is `version` or newer: what handlers ask to
    /// decide whether a change applies (`v.at_least(EMBEDDED_FLAVOR)`).
    pub fn at_least(self, version: Microversion) -> bool {
        self >= version
    }
}

impl fmt::Display for Microversion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A version string that is not `MajorNum.MinorNum`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedMicroversion(pub String);

impl fmt::Display for MalformedMicroversion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "API Version String {} is of invalid format. Must be of format MajorNum.MinorNum.",
            self.0
        )
    }
}

impl FromStr for Microversion {
    type Err = MalformedMicroversion;

    /// Parses `X.Y` where both are decimal numbers without sign or
    /// leading zeros, as the OpenStack services do (`2.01` is refused).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let malformed = || MalformedMicroversion(text.to_owned());
        let (major, minor) = text.split_once('.').ok_or_else(malformed)?;
        let number = |part: &str| {
            let canonical = !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_digit())
                && (part == "0" || !part.starts_with('0'));
            canonical
                .then(|| part.parse::<u32>().ok())
                .flatten()
                .ok_or_else(malformed)
        };
        Ok(Microversion::new(number(major)?, number(minor)?))
    }
}

/// The microversions a service serves and the headers it reads them from.
#[derive(Debug, Clone)]
pub struct MicroversionPolicy {
    /// The service type named in `OpenStack-API-Version`, e.g. `compute`.
    pub service_type: &'static str,
    /// A service-specific header read when the standard one does not name
    /// the service, e.g. `x-openstack-nova-api-version`.
    pub legacy_header: Option<HeaderName>,
    /// The version served to a request that names none.
    pub min: Microversion,
    /// The newest version served; also what `latest` means.
    pub max: Microversion,
}

impl MicroversionPolicy {
    /// The version `headers` ask for: 400 if it is malformed, 406 if it is
    /// outside the served range, the minimum if none is named.
    pub fn negotiate(&self, headers: &HeaderMap) -> Result<Microversion, ApiError> {
        let Some(requested) = self.requested(headers) else {
            return Ok(self.min);
        };
        if requested.eq_ignore_ascii_case("latest") {
            return Ok(self.max);
        }
        let version: Microversion = requested
            .parse()
            .map_err(|e: MalformedMicroversion| ApiError::bad_request(e.to_string()))?;
        if version < self.min || version > self.max {
            return Err(ApiError::new(
                StatusCode::NOT_ACCEPTABLE,
                format!(
                    "Version {version} is not supported by the API. Minimum is {} and maximum is {}.",
                    self.min, self.max
                ),
            ));
        }
        Ok(version)
    }

    /// The version string the request names for this service, if any.
    /// The standard header may be repeated or list several services
    /// (`compute 2.60, volume 3.10`); it wins over the legacy header.
    fn requested<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        let standard = headers
            .get_all(API_VERSION_HEADER)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .find_map(|entry| {
                let (service, version) = entry.trim().split_once(char::is_whitespace)?;
                service
                    .eq_ignore_ascii_case(self.service_type)
                    .then(|| version.trim())
            });
        standard.or_else(|| {
            let legacy = self.legacy_header.as_ref()?;
            headers.get(legacy)?.to_str().ok().map(str::trim)
        })
    }

    /// Adds the headers that tell the client which version answered.
    pub fn announce(&self, version: Microversion, headers: &mut HeaderMap) {
        let standard = format!("{} {version}", self.service_type);
        if let Ok(value) = HeaderValue::from_str(&standard) {
            headers.insert(API_VERSION_HEADER, value);
        }
        let mut vary = API_VERSION_HEADER.as_str().to_owned();
        if let Some(legacy) = &self.legacy_header {
            if let Ok(value) = HeaderValue::from_str(&version.to_string()) {
                headers.insert(legacy.clone(), value);
            }
            vary = format!("{vary}, {}", legacy.as_str());
        }
        if let Ok(value) = HeaderValue::from_str(&vary) {
            headers.append(header::VARY, value);
        }
    }
}

/// Middleware negotiating the request's microversion under `policy`: the
/// version is left in the request for the [`Microversion`] extractor and
/// announced on the response, errors included.
pub async fn negotiate(
    policy: &'static MicroversionPolicy,
    mut request: Request,
    next: Next,
) -> Response {
    match policy.negotiate(request.headers()) {
        Ok(version) => {
            request.extensions_mut().insert(version);
            let mut response = next.run(request).await;
            policy.announce(version, response.headers_mut());
            response
        }
        Err(error) => error.into_response(),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Microversion {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Microversion>()
            .copied()
            .ok_or_else(|| {
                ApiError::internal(
                    "a handler reads the microversion of a route without the negotiate layer",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOVA_HEADER: HeaderName = HeaderName::from_static("x-openstack-nova-api-version");

    fn policy() -> MicroversionPolicy {
        MicroversionPolicy {
            service_type: "compute",
            legacy_header: Some(NOVA_HEADER),
            min: Microversion::new(2, 1),
            max: Microversion::new(2, 100),
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn versions_compare_numerically() {
        let v = |s: &str| s.parse::<Microversion>().unwrap();
        assert!(v("2.10") > v("2.9"));
        assert!(v("2.100") > v("2.99"));
        assert!(v("3.0") > v("2.100"));
        assert!(v("2.47").at_least(v("2.47")));
        assert_eq!(v("2.47").to_string(), "2.47");
        for bad in [
            "2", "2.", ".1", "2.x", "2.01", "-2.1", "2.1.1", " 2.1", "2.+1",
        ] {
            assert!(bad.parse::<Microversion>().is_err(), "{bad}");
        }
    }

    #[test]
    fn no_header_is_the_minimum_and_latest_the_maximum() {
        let p = policy();
        assert_eq!(p.negotiate(&HeaderMap::new()).unwrap(), p.min);
        let latest = headers(&[("openstack-api-version", "compute latest")]);
        assert_eq!(p.negotiate(&latest).unwrap(), p.max);
    }

    #[test]
    fn the_standard_header_names_the_service_and_wins_over_the_legacy_one() {
        let p = policy();
        let both = headers(&[
            ("openstack-api-version", "volume 3.10, compute 2.47"),
            ("x-openstack-nova-api-version", "2.10"),
        ]);
        assert_eq!(p.negotiate(&both).unwrap(), Microversion::new(2, 47));
        let other_service_only = headers(&[
            ("openstack-api-version", "volume 3.10"),
            ("x-openstack-nova-api-version", "2.10"),
        ]);
        assert_eq!(
            p.negotiate(&other_service_only).unwrap(),
            Microversion::new(2, 10)
        );
        let repeated = headers(&[
            ("openstack-api-version", "volume 3.10"),
            ("openstack-api-version", "Compute 2.60"),
        ]);
        assert_eq!(p.negotiate(&repeated).unwrap(), Microversion::new(2, 60));
    }

    #[test]
    fn out_of_range_is_406_and_malformed_400() {
        let p = policy();
        let too_new = p
            .negotiate(&headers(&[("openstack-api-version", "compute 2.101")]))
            .unwrap_err();
        assert_eq!(too_new.status, StatusCode::NOT_ACCEPTABLE);
        assert_eq!(
            too_new.message,
            "Version 2.101 is not supported by the API. Minimum is 2.1 and maximum is 2.100."
        );
        let too_old = p
            .negotiate(&headers(&[("x-openstack-nova-api-version", "2.0")]))
            .unwrap_err();
        assert_eq!(too_old.status, StatusCode::NOT_ACCEPTABLE);
        let malformed = p
            .negotiate(&headers(&[("openstack-api-version", "compute two")]))
            .unwrap_err();
        assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
        assert!(malformed.message.contains("MajorNum.MinorNum"));
    }

    #[test]
    fn responses_announce_the_version_and_vary_on_the_headers() {
        let mut response_headers = HeaderMap::new();
        policy().announce(Microversion::new(2, 47), &mut response_headers);
        assert_eq!(response_headers["openstack-api-version"], "compute 2.47");
        assert_eq!(response_headers["x-openstack-nova-api-version"], "2.47");
        assert_eq!(
            response_headers["vary"],
            "openstack-api-version, x-openstack-nova-api-version"
        );
    }
}
