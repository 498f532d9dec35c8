//! Deserializers for the optional fields of request bodies, where the
//! OpenStack APIs tell a field left out from one given as `null`. Serde
//! alone reads both as `None`; these keep them apart, so a service can
//! refuse a `null` its schema forbids (a 400 naming the field, not a
//! silent default) or read `null` as "clear it".
//!
//! Use them with `#[serde(default, deserialize_with = "...")]`: `default`
//! covers the field being absent, the function the field being present.

use serde::{Deserialize, Deserializer};

/// An optional field that, when given, must have a value: absent is
/// `None`, and `null` is refused as a `null` `T` is (`"enabled": null` is
/// a 400, not "the default").
pub fn not_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// An optional field whose `null` means something ("clear it"): absent is
/// `None`, `null` is `Some(None)`, a value is `Some(Some(value))`.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A number or boolean as WSME reads one, and so as the OpenStack APIs
/// built on it (Octavia, ...) accept it: an integer or a string holding
/// one (`"5"`, as python-octaviaclient sends `connection_limit`), a number
/// or a numeric string for a float, and for a boolean `true`/`false`, an
/// integer (non-zero is true) or one of WSME's unambiguous strings
/// (`"true"`, `"t"`, `"yes"`, `"y"`, `"on"`, `"1"` and their opposites).
///
/// Use it through [`lenient`], [`lenient_not_null`] and
/// [`lenient_nullable`], the lenient forms of a plain optional field,
/// [`not_null`] and [`nullable`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lenient<T>(pub T);

const ENUM_TRUE: &[&str] = &["true", "t", "yes", "y", "on", "1"];
const ENUM_FALSE: &[&str] = &["false", "f", "no", "n", "off", "0"];

struct IntVisitor;

impl serde::de::Visitor<'_> for IntVisitor {
    type Value = i64;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an integer or a string holding one")
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<i64, E> {
        v.trim()
            .parse()
            .map_err(|_| E::invalid_value(serde::de::Unexpected::Str(v), &self))
    }
}

struct FloatVisitor;

impl serde::de::Visitor<'_> for FloatVisitor {
    type Value = f64;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a number or a string holding one")
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<f64, E> {
        v.trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(v), &self))
    }
}

struct BoolVisitor;

impl serde::de::Visitor<'_> for BoolVisitor {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a boolean, an integer or an unambiguous boolean string")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<bool, E> {
        Ok(v != 0)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<bool, E> {
        Ok(v != 0)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<bool, E> {
        if ENUM_TRUE.contains(&v) {
            Ok(true)
        } else if ENUM_FALSE.contains(&v) {
            Ok(false)
        } else {
            Err(E::invalid_value(serde::de::Unexpected::Str(v), &self))
        }
    }
}

impl<'de> Deserialize<'de> for Lenient<i64> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(IntVisitor).map(Lenient)
    }
}

impl<'de> Deserialize<'de> for Lenient<f64> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FloatVisitor).map(Lenient)
    }
}

impl<'de> Deserialize<'de> for Lenient<bool> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(BoolVisitor).map(Lenient)
    }
}

/// An optional [`Lenient`] field: absent or `null` is `None`.
pub fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    Lenient<T>: Deserialize<'de>,
{
    Option::<Lenient<T>>::deserialize(deserializer).map(|v| v.map(|v| v.0))
}

/// [`not_null`] for a [`Lenient`] field.
pub fn lenient_not_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    Lenient<T>: Deserialize<'de>,
{
    Lenient::<T>::deserialize(deserializer).map(|v| Some(v.0))
}

/// [`nullable`] for a [`Lenient`] field.
pub fn lenient_nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    Lenient<T>: Deserialize<'de>,
{
    Option::<Lenient<T>>::deserialize(deserializer).map(|v| Some(v.map(|v| v.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Update {
        #[serde(default, deserialize_with = "not_null")]
        name: Option<String>,
        #[serde(default, deserialize_with = "nullable")]
        description: Option<Option<String>>,
    }

    fn parse(json: &str) -> Result<Update, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn absent_fields_are_none() {
        let update = parse("{}").unwrap();
        assert_eq!(update.name, None);
        assert_eq!(update.description, None);
    }

    #[test]
    fn a_not_null_field_refuses_null_and_keeps_a_value() {
        let error = parse(r#"{"name": null}"#).unwrap_err();
        assert!(error.to_string().contains("invalid type: null"), "{error}");
        assert_eq!(
            parse(r#"{"name": "web"}"#).unwrap().name.as_deref(),
            Some("web")
        );
    }

    #[test]
    fn a_nullable_field_tells_null_from_absent() {
        assert_eq!(
            parse(r#"{"description": null}"#).unwrap().description,
            Some(None)
        );
        assert_eq!(
            parse(r#"{"description": "d"}"#).unwrap().description,
            Some(Some("d".to_owned()))
        );
    }

    #[derive(Debug, Deserialize)]
    struct Numbers {
        #[serde(default, deserialize_with = "lenient")]
        limit: Option<i64>,
        #[serde(default, deserialize_with = "lenient_not_null")]
        enabled: Option<bool>,
        #[serde(default, deserialize_with = "lenient_nullable")]
        version: Option<Option<f64>>,
    }

    fn numbers(json: &str) -> Result<Numbers, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn lenient_fields_read_numbers_and_booleans_as_wsme_does() {
        let n = numbers(r#"{"limit": "25", "enabled": "true", "version": "1.1"}"#).unwrap();
        assert_eq!(
            (n.limit, n.enabled, n.version),
            (Some(25), Some(true), Some(Some(1.1)))
        );
        let n = numbers(r#"{"limit": -1, "enabled": 0, "version": 1}"#).unwrap();
        assert_eq!(
            (n.limit, n.enabled, n.version),
            (Some(-1), Some(false), Some(Some(1.0)))
        );
        for word in ["t", "yes", "y", "on", "1"] {
            let json = format!(r#"{{"enabled": "{word}"}}"#);
            assert_eq!(numbers(&json).unwrap().enabled, Some(true), "{word}");
        }
        for word in ["false", "f", "no", "n", "off", "0"] {
            let json = format!(r#"{{"enabled": "{word}"}}"#);
            assert_eq!(numbers(&json).unwrap().enabled, Some(false), "{word}");
        }
        let n = numbers(r#"{"limit": null, "version": null}"#).unwrap();
        assert_eq!((n.limit, n.version), (None, Some(None)));
        assert_eq!(numbers("{}").unwrap().version, None);
    }

    #[test]
    fn lenient_fields_refuse_what_wsme_refuses() {
        for json in [
            r#"{"limit": "many"}"#,
            r#"{"limit": 1.5}"#,
            r#"{"enabled": "maybe"}"#,
            r#"{"enabled": null}"#,
            r#"{"version": "new"}"#,
            r#"{"limit": [1]}"#,
        ] {
            assert!(numbers(json).is_err(), "{json}");
        }
    }
}
