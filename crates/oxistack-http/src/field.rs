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
}
