//! The compute tables and every SQL statement that touches them. Functions
//! take a connection or transaction and run inside the closures given to
//! [`oxistack_db::Db::read`] and [`oxistack_db::Db::write`], so a caller
//! combines several into one transaction.

pub mod flavors;
pub mod groups;
pub mod keypairs;
pub mod quotas;
pub mod servers;
pub mod services;

use crate::service::ComputeError;
use chrono::{DateTime, Utc};
use oxistack_db::rusqlite::types::{Type, Value as SqlValue};
use oxistack_db::rusqlite::{self, Row};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::model::parse_storage_time;

fn conversion_error(index: usize, detail: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, Type::Text, detail.into())
}

/// A JSON text column decoded into `T`.
fn json_column<T: DeserializeOwned>(row: &Row, index: usize) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text).map_err(|e| conversion_error(index, e.to_string()))
}

fn time_column(row: &Row, index: usize) -> rusqlite::Result<DateTime<Utc>> {
    let text: String = row.get(index)?;
    parse_storage_time(&text).ok_or_else(|| conversion_error(index, format!("bad time {text}")))
}

fn optional_time_column(row: &Row, index: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let text: Option<String> = row.get(index)?;
    text.map(|text| {
        parse_storage_time(&text).ok_or_else(|| conversion_error(index, format!("bad time {text}")))
    })
    .transpose()
}

fn to_json<T: Serialize>(value: &T) -> Result<String, ComputeError> {
    serde_json::to_string(value).map_err(|e| ComputeError::internal("encoding a column as JSON", e))
}

/// A statement built from optional parts, with its parameters numbered as
/// they are bound.
pub struct Sql {
    text: String,
    params: Vec<SqlValue>,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Sql {
            text: text.to_owned(),
            params: Vec::new(),
        }
    }

    pub fn text(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `value`.
    pub fn bind(&mut self, value: impl Into<SqlValue>) -> &mut Self {
        self.params.push(value.into());
        self.text.push_str(&format!("?{}", self.params.len()));
        self
    }

    /// Appends `(?, ?, ...)` for `values`.
    pub fn bind_list<I, V>(&mut self, values: I) -> &mut Self
    where
        I: IntoIterator<Item = V>,
        V: Into<SqlValue>,
    {
        self.text.push('(');
        for (index, value) in values.into_iter().enumerate() {
            if index > 0 {
                self.text.push_str(", ");
            }
            self.bind(value);
        }
        self.text.push(')');
        self
    }

    pub fn query<T>(
        &self,
        conn: &rusqlite::Connection,
        map: impl FnMut(&Row) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, ComputeError> {
        // Lists repeat the same few statements: parse each once per connection.
        let mut statement = conn.prepare_cached(&self.text)?;
        let rows = statement.query_map(rusqlite::params_from_iter(self.params.iter()), map)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_numbered_in_order() {
        let mut sql = Sql::new("SELECT 1 WHERE a = ");
        sql.bind("x".to_owned())
            .text(" AND b IN ")
            .bind_list(["y".to_owned(), "z".to_owned()]);
        assert_eq!(sql.text, "SELECT 1 WHERE a = ?1 AND b IN (?2, ?3)");
        assert_eq!(sql.params.len(), 3);
    }
}
