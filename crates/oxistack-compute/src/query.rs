//! Query strings: the pagination every collection shares, and the filters,
//! sorting and scoping of the server list.

use chrono::{DateTime, Utc};
use oxistack_http::ApiError;
use oxistack_http::microversion::Microversion;
use regex::{Regex, RegexBuilder};

use crate::model::KNOWN_STATUSES;
use crate::store::flavors::SortDir;
use crate::store::servers::{ServerQuery, sort_expression};
use crate::versions::{API_CLEANUP, CHANGES_BEFORE, LOCKED_REASON, STRICT_STATUS_FILTER, TAGS};

/// Nova's `max_limit`: the most items one page holds.
pub const MAX_LIMIT: usize = 1000;

fn bad_query(parameter: &str, problem: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!(
        "Invalid value for query parameter '{parameter}': {problem}"
    ))
}

/// The values of `name` in a query, in order.
pub fn all<'q>(pairs: &'q [(String, String)], name: &'q str) -> impl Iterator<Item = &'q str> + 'q {
    pairs
        .iter()
        .filter(move |(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The last value of `name`, as Nova reads single-valued parameters.
pub fn last<'q>(pairs: &'q [(String, String)], name: &str) -> Option<&'q str> {
    pairs
        .iter()
        .rev()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// `limit` and `marker`: a page of at most `limit` (capped at
/// [`MAX_LIMIT`]) items after `marker`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub limit: usize,
    pub marker: Option<String>,
}

impl Page {
    pub fn parse(pairs: &[(String, String)]) -> Result<Page, ApiError> {
        let limit = match last(pairs, "limit") {
            None => MAX_LIMIT,
            Some(text) => match text.parse::<i64>() {
                Ok(limit) if limit >= 0 => (limit as usize).min(MAX_LIMIT),
                Ok(_) => return Err(ApiError::bad_request("limit param must be positive")),
                Err(_) => return Err(ApiError::bad_request("limit param must be an integer")),
            },
        };
        Ok(Page {
            limit,
            marker: last(pairs, "marker").map(str::to_owned),
        })
    }
}

/// A boolean query value as Nova reads one (`True`, `false`, `1`...).
pub fn parse_bool(parameter: &str, value: &str) -> Result<bool, ApiError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" | "y" => Ok(true),
        "false" | "0" | "no" | "off" | "f" | "n" => Ok(false),
        _ => Err(bad_query(parameter, format!("'{value}' is not a boolean"))),
    }
}

fn parse_time(parameter: &str, value: &str) -> Result<DateTime<Utc>, ApiError> {
    oxistack_http::time::parse_client_time(value)
        .ok_or_else(|| bad_query(parameter, format!("'{value}' is not an ISO 8601 time")))
}

/// A filter that is a regular expression, matched anywhere in the value
/// and regardless of case, as DevStack's MySQL `REGEXP` matches.
fn parse_regex(parameter: &str, value: &str) -> Result<Regex, ApiError> {
    RegexBuilder::new(value)
        .case_insensitive(true)
        .build()
        .map_err(|e| bad_query(parameter, format!("not a regular expression: {e}")))
}

/// Comma-separated tags.
fn tag_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The parameters a server list understands. From 2.75 anything else is a
/// 400, as Nova's schema refuses it; before, it is ignored.
const SERVER_LIST_PARAMETERS: &[&str] = &[
    "limit",
    "marker",
    "sort_key",
    "sort_dir",
    "all_tenants",
    "project_id",
    "tenant_id",
    "user_id",
    "name",
    "ip",
    "ip6",
    "status",
    "image",
    "flavor",
    "changes-since",
    "changes-before",
    "reservation_id",
    "key_name",
    "availability_zone",
    "host",
    "node",
    "uuid",
    "locked",
    "tags",
    "tags-any",
    "not-tags",
    "not-tags-any",
    "deleted",
    "soft_deleted",
];

/// A server list request: what the database filters and what is matched
/// afterwards (regular expressions, addresses). Which projects and hosts
/// it may cover the service decides.
#[derive(Debug)]
pub struct ServerListing {
    /// `all_tenants`: every project's servers, for an administrator.
    pub all_projects: bool,
    /// `project_id` (or `tenant_id`): an administrator's filter.
    pub project: Option<String>,
    /// `host` (or `node`): an administrator's filter.
    pub host: Option<String>,
    pub query: ServerQuery,
    pub name: Option<Regex>,
    pub ip: Option<Regex>,
    pub ip6: Option<Regex>,
    pub limit: usize,
    /// Nothing can match (e.g. deleted servers, which are not kept).
    pub empty: bool,
}

impl ServerListing {
    pub fn parse(
        pairs: &[(String, String)],
        version: Microversion,
    ) -> Result<ServerListing, ApiError> {
        if version.at_least(API_CLEANUP)
            && let Some((unknown, _)) = pairs
                .iter()
                .find(|(key, _)| !SERVER_LIST_PARAMETERS.contains(&key.as_str()))
        {
            return Err(ApiError::bad_request(format!(
                "Invalid input for query parameters: '{unknown}' is not a server list parameter."
            )));
        }
        let page = Page::parse(pairs)?;
        let mut query = ServerQuery {
            marker: page.marker,
            ..ServerQuery::default()
        };
        let single = |name: &str| last(pairs, name).map(str::to_owned);

        let all_projects = match last(pairs, "all_tenants") {
            None => false,
            Some("") => true,
            Some(value) => parse_bool("all_tenants", value)?,
        };
        let project = single("project_id").or_else(|| single("tenant_id"));
        let host = single("host").or_else(|| single("node"));
        query.user_id = single("user_id");
        query.image_id = single("image");
        query.flavor_id = single("flavor");
        query.reservation_id = single("reservation_id");
        query.key_name = single("key_name");
        query.availability_zone = single("availability_zone");
        query.uuid = single("uuid");

        let mut empty = false;
        for status in all(pairs, "status").flat_map(|s| s.split(',')) {
            let status = status.trim().to_ascii_uppercase();
            if !KNOWN_STATUSES.contains(&status.as_str()) {
                if version.at_least(STRICT_STATUS_FILTER) {
                    return Err(bad_query(
                        "status",
                        format!("'{status}' is not a server status"),
                    ));
                }
                empty = true;
            }
            query.statuses.push(status);
        }
        if let Some(value) = last(pairs, "deleted") {
            empty |= parse_bool("deleted", value)?;
        }
        if let Some(value) = last(pairs, "soft_deleted") {
            empty |= parse_bool("soft_deleted", value)?;
        }
        if let Some(value) = last(pairs, "locked") {
            if !version.at_least(LOCKED_REASON) {
                return Err(bad_query(
                    "locked",
                    "filtering on 'locked' needs microversion 2.73",
                ));
            }
            query.locked = Some(parse_bool("locked", value)?);
        }
        if let Some(value) = last(pairs, "changes-since") {
            query.changes_since = Some(parse_time("changes-since", value)?);
        }
        if let Some(value) = last(pairs, "changes-before") {
            if !version.at_least(CHANGES_BEFORE) {
                return Err(bad_query("changes-before", "needs microversion 2.66"));
            }
            query.changes_before = Some(parse_time("changes-before", value)?);
        }
        if let (Some(since), Some(before)) = (query.changes_since, query.changes_before)
            && since > before
        {
            return Err(ApiError::bad_request(
                "The value of changes-since must be less than or equal to changes-before.",
            ));
        }
        if version.at_least(TAGS) {
            let tags = |name: &str| last(pairs, name).map(tag_list).unwrap_or_default();
            query.tags = tags("tags");
            query.tags_any = tags("tags-any");
            query.not_tags = tags("not-tags");
            query.not_tags_any = tags("not-tags-any");
        }
        query.sort = parse_sort(pairs)?;

        Ok(ServerListing {
            all_projects,
            project,
            host,
            query,
            name: last(pairs, "name")
                .map(|v| parse_regex("name", v))
                .transpose()?,
            ip: last(pairs, "ip")
                .map(|v| parse_regex("ip", v))
                .transpose()?,
            ip6: last(pairs, "ip6")
                .map(|v| parse_regex("ip6", v))
                .transpose()?,
            limit: page.limit,
            empty,
        })
    }
}

/// `sort_key`/`sort_dir` pairs; a key without a direction sorts
/// descending, as in Nova. Newest first by default.
fn parse_sort(pairs: &[(String, String)]) -> Result<Vec<(&'static str, SortDir)>, ApiError> {
    let keys: Vec<&str> = all(pairs, "sort_key").collect();
    let dirs: Vec<&str> = all(pairs, "sort_dir").collect();
    if keys.is_empty() {
        if dirs.len() > 1 {
            return Err(bad_query("sort_dir", "give one sort_dir per sort_key"));
        }
        let dir = match dirs.first() {
            Some(dir) => parse_dir(dir)?,
            None => SortDir::Desc,
        };
        return Ok(vec![(
            sort_expression("created_at").unwrap_or("s.created_at"),
            dir,
        )]);
    }
    if dirs.len() > keys.len() {
        return Err(bad_query(
            "sort_dir",
            "give at most one sort_dir per sort_key",
        ));
    }
    keys.iter()
        .enumerate()
        .map(|(index, key)| {
            let expression = sort_expression(key)
                .ok_or_else(|| bad_query("sort_key", format!("'{key}' is not a sort key")))?;
            let dir = match dirs.get(index) {
                Some(dir) => parse_dir(dir)?,
                None => SortDir::Desc,
            };
            Ok((expression, dir))
        })
        .collect()
}

pub fn parse_dir(value: &str) -> Result<SortDir, ApiError> {
    match value {
        "asc" => Ok(SortDir::Asc),
        "desc" => Ok(SortDir::Desc),
        _ => Err(bad_query(
            "sort_dir",
            format!("'{value}' is not 'asc' or 'desc'"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn pages_are_capped_and_checked() {
        assert_eq!(Page::parse(&[]).unwrap().limit, MAX_LIMIT);
        assert_eq!(
            Page::parse(&pairs(&[("limit", "5000")])).unwrap().limit,
            MAX_LIMIT
        );
        assert_eq!(
            Page::parse(&pairs(&[("limit", "-1")])).unwrap_err().status,
            400
        );
        assert_eq!(
            Page::parse(&pairs(&[("limit", "x")])).unwrap_err().status,
            400
        );
    }

    #[test]
    fn name_filters_are_regular_expressions_as_clients_escape_them() {
        // Python's re.escape and Go's QuoteMeta escape '-' and '.'.
        let exact = parse_regex("name", r"^c\-1\.a$").unwrap();
        assert!(exact.is_match("c-1.a"));
        assert!(exact.is_match("C-1.A"));
        assert!(!exact.is_match("c-1xa"));
    }

    #[test]
    fn sorting_defaults_to_newest_first() {
        assert_eq!(
            parse_sort(&[]).unwrap(),
            vec![("s.created_at", SortDir::Desc)]
        );
        let sorted = parse_sort(&pairs(&[
            ("sort_key", "display_name"),
            ("sort_dir", "asc"),
            ("sort_key", "uuid"),
        ]))
        .unwrap();
        assert_eq!(
            sorted,
            vec![("s.name", SortDir::Asc), ("s.id", SortDir::Desc)]
        );
        assert!(parse_sort(&pairs(&[("sort_key", "password")])).is_err());
    }
}
