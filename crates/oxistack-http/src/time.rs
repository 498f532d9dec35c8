//! Timestamps as the OpenStack APIs write and read them.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};

/// `2026-11-24T19:00:00Z`: how Nova, Neutron and Glance show `created_at`
/// and `updated_at`.
pub fn wire_time(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A time a client sent (a filter such as `changes-since`, an expiry):
/// RFC 3339, or ISO 8601 without a zone, which OpenStack takes as UTC.
pub fn parse_client_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_times_with_or_without_zone() {
        let zoned = parse_client_time("2026-11-24T19:00:00+01:00").unwrap();
        assert_eq!(wire_time(&zoned), "2026-11-24T18:00:00Z");
        let naive = parse_client_time("2026-11-24T19:00:00.5").unwrap();
        assert_eq!(wire_time(&naive), "2026-11-24T19:00:00Z");
        assert!(parse_client_time("yesterday").is_none());
    }
}
