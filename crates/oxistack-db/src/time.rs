//! How services store timestamps: RFC 3339 in UTC with microseconds and a
//! `Z`, fixed width, so that text order is time order in SQL and rows made
//! in the same second still sort.

use chrono::{DateTime, SecondsFormat, Utc};

pub fn storage_time(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn parse_storage_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_times_round_trip_and_sort_as_text() {
        let early = DateTime::parse_from_rfc3339("2026-11-24T19:00:00.000001Z")
            .unwrap()
            .with_timezone(&Utc);
        let late = DateTime::parse_from_rfc3339("2026-11-24T19:00:00.1Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_storage_time(&storage_time(&early)), Some(early));
        assert!(storage_time(&early) < storage_time(&late));
    }
}
