//! The image list's query string: filters, sorting and pagination, parsed
//! and validated the way Glance does before anything is read.

use crate::ImageError;

use crate::model::{self, MemberStatus, Visibility};

/// Page size when the client gives none, and the largest page served.
const DEFAULT_LIMIT: u32 = 25;
const MAX_LIMIT: u32 = 1000;

/// Columns of the image table a list can filter or sort on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Id,
    Name,
    Status,
    Visibility,
    Owner,
    Protected,
    OsHidden,
    Checksum,
    OsHashValue,
    Size,
    MinDisk,
    MinRam,
    DiskFormat,
    ContainerFormat,
    CreatedAt,
    UpdatedAt,
}

impl Column {
    /// The column's name, both in SQL and in the API.
    pub fn name(self) -> &'static str {
        match self {
            Column::Id => "id",
            Column::Name => "name",
            Column::Status => "status",
            Column::Visibility => "visibility",
            Column::Owner => "owner",
            Column::Protected => "protected",
            Column::OsHidden => "os_hidden",
            Column::Checksum => "checksum",
            Column::OsHashValue => "os_hash_value",
            Column::Size => "size",
            Column::MinDisk => "min_disk",
            Column::MinRam => "min_ram",
            Column::DiskFormat => "disk_format",
            Column::ContainerFormat => "container_format",
            Column::CreatedAt => "created_at",
            Column::UpdatedAt => "updated_at",
        }
    }
}

/// The keys Glance lets a list sort on.
pub const SORT_KEYS: [Column; 8] = [
    Column::Name,
    Column::Status,
    Column::ContainerFormat,
    Column::DiskFormat,
    Column::Size,
    Column::Id,
    Column::CreatedAt,
    Column::UpdatedAt,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortDir {
    Asc,
    Desc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Comparison {
    pub fn sql(self) -> &'static str {
        match self {
            Comparison::Eq => "=",
            Comparison::Neq => "!=",
            Comparison::Gt => ">",
            Comparison::Gte => ">=",
            Comparison::Lt => "<",
            Comparison::Lte => "<=",
        }
    }
}

/// A value a condition compares a column with.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Text(String),
    Integer(i64),
}

/// One restriction on the listed images; all of them must hold.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Compare(Column, Comparison, Operand),
    OneOf(Column, Vec<String>),
    HasTag(String),
    HasProperty(String, String),
}

/// Which visibilities a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisibilityFilter {
    /// Glance's default: everything visible except other projects' community images.
    Default,
    All,
    Only(Visibility),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub limit: u32,
    pub marker: Option<String>,
    /// Sort order, ending with `created_at` and `id` so that it is total and
    /// pagination by marker never skips or repeats an image.
    pub sort: Vec<(Column, SortDir)>,
    pub visibility: VisibilityFilter,
    /// Shared images of other projects are listed when the caller's
    /// membership has this status; `None` lists them whatever it is.
    pub member_status: Option<MemberStatus>,
    pub conditions: Vec<Condition>,
}

impl ListQuery {
    /// Parses the query string's `pairs`, in order.
    pub fn parse(pairs: &[(String, String)]) -> Result<ListQuery, ImageError> {
        let mut query = ListQuery {
            limit: DEFAULT_LIMIT,
            marker: None,
            sort: Vec::new(),
            visibility: VisibilityFilter::Default,
            member_status: Some(MemberStatus::Accepted),
            conditions: Vec::new(),
        };
        let mut os_hidden = false;
        let mut sorting = SortParams::default();
        for (key, value) in pairs {
            let value = value.trim();
            match key.as_str() {
                "limit" => query.limit = parse_limit(value)?,
                "marker" => query.marker = Some(value.to_owned()),
                "sort" => sorting.combined = Some(value.to_owned()),
                "sort_key" => sorting.keys.push(sort_key(value)?),
                "sort_dir" => sorting.dirs.push(sort_dir(value)?),
                "member_status" => query.member_status = parse_member_status(value)?,
                "visibility" => query.visibility = parse_visibility(value)?,
                "os_hidden" => os_hidden = boolean(key, value)?,
                "protected" => query
                    .conditions
                    .push(flag(Column::Protected, boolean(key, value)?)),
                "tag" => query.conditions.push(Condition::HasTag(value.to_owned())),
                "owner" => query.conditions.push(text(Column::Owner, value)),
                "checksum" => query.conditions.push(text(Column::Checksum, value)),
                "os_hash_value" => query.conditions.push(text(Column::OsHashValue, value)),
                "id" => query.conditions.push(listable(Column::Id, value)),
                "name" => query.conditions.push(listable(Column::Name, value)),
                "status" => query.conditions.push(listable(Column::Status, value)),
                "disk_format" => query.conditions.push(listable(Column::DiskFormat, value)),
                "container_format" => query
                    .conditions
                    .push(listable(Column::ContainerFormat, value)),
                "size" => query
                    .conditions
                    .push(bound(key, Column::Size, Comparison::Eq, value)?),
                "size_min" => {
                    query
                        .conditions
                        .push(bound(key, Column::Size, Comparison::Gte, value)?)
                }
                "size_max" => {
                    query
                        .conditions
                        .push(bound(key, Column::Size, Comparison::Lte, value)?)
                }
                "min_disk" => {
                    query
                        .conditions
                        .push(bound(key, Column::MinDisk, Comparison::Eq, value)?)
                }
                "min_ram" => {
                    query
                        .conditions
                        .push(bound(key, Column::MinRam, Comparison::Eq, value)?)
                }
                "created_at" => {
                    query
                        .conditions
                        .push(time_condition(key, Column::CreatedAt, value)?)
                }
                "updated_at" => {
                    query
                        .conditions
                        .push(time_condition(key, Column::UpdatedAt, value)?)
                }
                "changes-since" => {
                    return Err(ImageError::invalid(
                        "The 'changes-since' filter does not exist in the v2 API; use 'updated_at=gte:<time>'.",
                    ));
                }
                // As Glance does, any other key filters on an extra property.
                _ => query
                    .conditions
                    .push(Condition::HasProperty(key.clone(), value.to_owned())),
            }
        }
        query.conditions.push(flag(Column::OsHidden, os_hidden));
        query.sort = sorting.resolve()?;
        Ok(query)
    }
}

#[derive(Default)]
struct SortParams {
    /// The `sort=name:asc,size` form.
    combined: Option<String>,
    /// The `sort_key=name&sort_dir=asc` form.
    keys: Vec<Column>,
    dirs: Vec<SortDir>,
}

impl SortParams {
    fn resolve(self) -> Result<Vec<(Column, SortDir)>, ImageError> {
        let mut sort = match self.combined {
            Some(_) if !self.keys.is_empty() || !self.dirs.is_empty() => {
                return Err(ImageError::invalid(
                    "The 'sort' parameter cannot be combined with 'sort_key' or 'sort_dir'.",
                ));
            }
            Some(combined) => combined
                .split(',')
                .map(|item| {
                    let (key, dir) = item.split_once(':').unwrap_or((item, "desc"));
                    Ok((sort_key(key.trim())?, sort_dir(dir.trim())?))
                })
                .collect::<Result<Vec<_>, ImageError>>()?,
            None => {
                let keys = if self.keys.is_empty() {
                    vec![Column::CreatedAt]
                } else {
                    self.keys
                };
                let dirs = match self.dirs.len() {
                    0 => vec![SortDir::Desc; keys.len()],
                    1 => vec![self.dirs[0]; keys.len()],
                    n if n == keys.len() => self.dirs,
                    _ => {
                        return Err(ImageError::invalid(
                            "The number of 'sort_dir' values must be one or match the number of 'sort_key' values.",
                        ));
                    }
                };
                keys.into_iter().zip(dirs).collect()
            }
        };
        // Tie-breakers follow the client's direction when it gave only one.
        let tie_dir = match sort.as_slice() {
            [(_, dir)] => *dir,
            _ => SortDir::Desc,
        };
        for tie_breaker in [Column::CreatedAt, Column::Id] {
            if !sort.iter().any(|(key, _)| *key == tie_breaker) {
                sort.push((tie_breaker, tie_dir));
            }
        }
        Ok(sort)
    }
}

fn parse_limit(value: &str) -> Result<u32, ImageError> {
    match value.parse::<u32>() {
        Ok(limit) if limit > 0 => Ok(limit.min(MAX_LIMIT)),
        _ => Err(ImageError::invalid(format!(
            "Invalid limit '{value}': it must be a positive integer."
        ))),
    }
}

fn sort_key(value: &str) -> Result<Column, ImageError> {
    SORT_KEYS
        .into_iter()
        .find(|key| key.name() == value)
        .ok_or_else(|| {
            let valid: Vec<_> = SORT_KEYS.iter().map(|k| k.name()).collect();
            ImageError::invalid(format!(
                "Invalid sort key '{value}'. It must be one of: {}.",
                valid.join(", ")
            ))
        })
}

fn sort_dir(value: &str) -> Result<SortDir, ImageError> {
    match value {
        "asc" => Ok(SortDir::Asc),
        "desc" => Ok(SortDir::Desc),
        _ => Err(ImageError::invalid(format!(
            "Invalid sort direction '{value}'. It must be 'asc' or 'desc'."
        ))),
    }
}

fn parse_member_status(value: &str) -> Result<Option<MemberStatus>, ImageError> {
    match value {
        "all" => Ok(None),
        _ => MemberStatus::parse(value).map(Some).ok_or_else(|| {
            ImageError::invalid(format!(
                "Invalid member_status '{value}'. It must be one of: pending, accepted, rejected, all."
            ))
        }),
    }
}

fn parse_visibility(value: &str) -> Result<VisibilityFilter, ImageError> {
    match value {
        "all" => Ok(VisibilityFilter::All),
        _ => Visibility::parse(value).map(VisibilityFilter::Only).ok_or_else(|| {
            ImageError::invalid(format!(
                "Invalid visibility '{value}'. It must be one of: public, private, shared, community, all."
            ))
        }),
    }
}

/// A boolean query value. Python clients send `True`, so case is ignored.
fn boolean(key: &str, value: &str) -> Result<bool, ImageError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ImageError::invalid(format!(
            "Invalid value '{value}' for '{key}': it must be 'true' or 'false'."
        ))),
    }
}

fn flag(column: Column, value: bool) -> Condition {
    Condition::Compare(column, Comparison::Eq, Operand::Integer(value.into()))
}

fn text(column: Column, value: &str) -> Condition {
    Condition::Compare(column, Comparison::Eq, Operand::Text(value.to_owned()))
}

/// Glance's `in:a,b` and `eq:a` forms for names, ids, statuses and formats.
/// Unlike Glance, a value whose prefix is not an operator ("ubuntu:24.04")
/// is taken literally rather than refused.
fn listable(column: Column, value: &str) -> Condition {
    match value.split_once(':') {
        Some(("in", list)) => Condition::OneOf(column, split_list(list)),
        Some(("eq", exact)) => text(column, exact),
        _ => text(column, value),
    }
}

/// Splits `a,"b,c",d` on the commas outside double quotes.
fn split_list(list: &str) -> Vec<String> {
    let mut items = vec![String::new()];
    let mut quoted = false;
    for c in list.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => items.push(String::new()),
            _ => items.last_mut().expect("never empty").push(c),
        }
    }
    items
}

fn bound(
    key: &str,
    column: Column,
    comparison: Comparison,
    value: &str,
) -> Result<Condition, ImageError> {
    let n = value.parse::<i64>().map_err(|_| {
        ImageError::invalid(format!(
            "Invalid value '{value}' for '{key}': it must be an integer."
        ))
    })?;
    Ok(Condition::Compare(column, comparison, Operand::Integer(n)))
}

/// `created_at=gte:2026-11-24T19:00:00Z`; without an operator, equality.
fn time_condition(key: &str, column: Column, value: &str) -> Result<Condition, ImageError> {
    let operators = [
        ("eq", Comparison::Eq),
        ("neq", Comparison::Neq),
        ("gt", Comparison::Gt),
        ("gte", Comparison::Gte),
        ("lt", Comparison::Lt),
        ("lte", Comparison::Lte),
    ];
    let (comparison, time) = match value.split_once(':') {
        Some((op, rest)) if op.chars().all(|c| c.is_ascii_alphabetic()) => {
            let comparison = operators.iter().find(|(name, _)| *name == op).map(|(_, c)| *c).ok_or_else(|| {
                ImageError::invalid(format!(
                    "Invalid operator '{op}' for '{key}'. It must be one of: eq, neq, gt, gte, lt, lte."
                ))
            })?;
            (comparison, rest)
        }
        _ => (Comparison::Eq, value),
    };
    let time = oxistack_http::time::parse_client_time(time).ok_or_else(|| {
        ImageError::invalid(format!(
            "Invalid time '{time}' for '{key}': use ISO 8601, e.g. 2026-11-24T19:00:00Z."
        ))
    })?;
    Ok(Condition::Compare(
        column,
        comparison,
        Operand::Text(model::storage_time(&time)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxistack_http::ApiError;

    /// A query parsed, refused as Glance's clients see it.
    fn parse(query: &str) -> Result<ListQuery, ApiError> {
        let pairs: Vec<(String, String)> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect();
        ListQuery::parse(&pairs).map_err(ApiError::from)
    }

    #[test]
    fn defaults_are_glances() {
        let q = parse("").unwrap();
        assert_eq!(q.limit, 25);
        assert_eq!(
            q.sort,
            vec![
                (Column::CreatedAt, SortDir::Desc),
                (Column::Id, SortDir::Desc)
            ]
        );
        assert_eq!(q.member_status, Some(MemberStatus::Accepted));
        assert_eq!(q.visibility, VisibilityFilter::Default);
        assert_eq!(q.conditions, vec![flag(Column::OsHidden, false)]);
    }

    #[test]
    fn both_sort_syntaxes_are_understood() {
        let q = parse("sort=name:asc,size").unwrap();
        assert_eq!(
            q.sort,
            vec![
                (Column::Name, SortDir::Asc),
                (Column::Size, SortDir::Desc),
                (Column::CreatedAt, SortDir::Desc),
                (Column::Id, SortDir::Desc)
            ]
        );
        let q = parse("sort_key=name&sort_key=status&sort_dir=asc").unwrap();
        assert_eq!(
            q.sort[..2],
            [(Column::Name, SortDir::Asc), (Column::Status, SortDir::Asc)]
        );
        assert_eq!(q.sort[3], (Column::Id, SortDir::Desc));
        let q = parse("sort_key=name&sort_dir=asc").unwrap();
        assert_eq!(
            q.sort[2],
            (Column::Id, SortDir::Asc),
            "a single direction applies to tie-breakers"
        );
    }

    #[test]
    fn bad_parameters_are_400s() {
        for bad in [
            "limit=0",
            "limit=-1",
            "limit=ten",
            "sort_key=owner",
            "sort_dir=up",
            "sort=name&sort_key=id",
            "sort_key=name&sort_key=id&sort_key=size&sort_dir=asc&sort_dir=desc",
            "visibility=everyone",
            "member_status=maybe",
            "os_hidden=yes",
            "protected=1",
            "size_min=big",
            "size=4k",
            "created_at=gte:yesterday",
            "created_at=after:2026-01-01T00:00:00Z",
            "changes-since=2026-01-01T00:00:00Z",
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.status, 400, "{bad}");
        }
        let err = parse("sort_key=owner").unwrap_err();
        assert!(
            err.message.contains("created_at"),
            "the error names the valid keys: {}",
            err.message
        );
    }

    #[test]
    fn filters_become_conditions() {
        let q = parse("name=in:a,\"b,c\"&os_hidden=True&tag=x&tag=y&hw_disk_bus=scsi&limit=5000&created_at=gte:2026-01-01T00:00:00Z&name=ubuntu:24.04")
            .unwrap();
        assert_eq!(q.limit, 1000);
        assert_eq!(
            q.conditions,
            vec![
                Condition::OneOf(Column::Name, vec!["a".into(), "b,c".into()]),
                Condition::HasTag("x".into()),
                Condition::HasTag("y".into()),
                Condition::HasProperty("hw_disk_bus".into(), "scsi".into()),
                Condition::Compare(
                    Column::CreatedAt,
                    Comparison::Gte,
                    Operand::Text("2026-01-01T00:00:00.000000Z".into())
                ),
                text(Column::Name, "ubuntu:24.04"),
                flag(Column::OsHidden, true),
            ]
        );
    }
}
