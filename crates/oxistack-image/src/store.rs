//! The image tables and every SQL statement that touches them. Functions
//! here take a connection or transaction and run inside the closures given
//! to [`oxistack_db::Db::read`] and [`oxistack_db::Db::write`], so a caller
//! combines several of them into one transaction.

use crate::ImageError;
use oxistack_db::rusqlite::types::{Type, Value as SqlValue};
use oxistack_db::rusqlite::{self, Connection, OptionalExtension, Row, params, params_from_iter};
use oxistack_db::{Migration, is_unique_violation};

use crate::model::{self, Image, ImageStatus, Member, MemberStatus, Visibility};
use crate::query::{Column, Condition, ListQuery, Operand, SortDir, VisibilityFilter};

/// The image service's tables, applied with `db.migrate("image", MIGRATIONS)`.
pub const MIGRATIONS: &[Migration] = &["
    CREATE TABLE images (
        id TEXT PRIMARY KEY,
        name TEXT,
        status TEXT NOT NULL,
        visibility TEXT NOT NULL,
        protected INTEGER NOT NULL,
        os_hidden INTEGER NOT NULL,
        owner TEXT,
        checksum TEXT,
        os_hash_algo TEXT,
        os_hash_value TEXT,
        size INTEGER,
        virtual_size INTEGER,
        min_disk INTEGER NOT NULL,
        min_ram INTEGER NOT NULL,
        disk_format TEXT,
        container_format TEXT,
        -- UTC, RFC 3339 with microseconds: text order is time order.
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX images_by_owner ON images (owner);
    CREATE INDEX images_by_creation ON images (created_at, id);
    CREATE TABLE image_tags (
        image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        PRIMARY KEY (image_id, tag)
    );
    CREATE TABLE image_properties (
        image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (image_id, name)
    );
    CREATE TABLE image_members (
        image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
        member_id TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (image_id, member_id)
    );
    CREATE INDEX image_members_by_member ON image_members (member_id);
"];

const IMAGE_COLUMNS: &str = "id, name, status, visibility, protected, os_hidden, owner, checksum, \
    os_hash_algo, os_hash_value, size, virtual_size, min_disk, min_ram, disk_format, \
    container_format, created_at, updated_at";

/// Who is listing: the administrator sees every project's images, others
/// what their project owns or may see.
#[derive(Debug, Clone, Copy)]
pub struct Lister<'a> {
    pub admin: bool,
    pub project: Option<&'a str>,
}

pub fn find_image(conn: &Connection, id: &str) -> Result<Option<Image>, ImageError> {
    let sql = format!("SELECT {IMAGE_COLUMNS} FROM images WHERE id = ?1");
    let image = conn
        .prepare_cached(&sql)?
        .query_row([id], image_from_row)
        .optional()?;
    match image {
        Some(mut image) => {
            load_details(conn, &mut image)?;
            Ok(Some(image))
        }
        None => Ok(None),
    }
}

pub fn insert_image(conn: &Connection, image: &Image) -> Result<(), ImageError> {
    let sql = format!(
        "INSERT INTO images ({IMAGE_COLUMNS}) VALUES \
         (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
    );
    let inserted = conn.execute(
        &sql,
        params![
            image.id,
            image.name,
            image.status.as_str(),
            image.visibility.as_str(),
            image.protected,
            image.os_hidden,
            image.owner,
            image.checksum,
            image.os_hash_algo,
            image.os_hash_value,
            image.size,
            image.virtual_size,
            image.min_disk,
            image.min_ram,
            image.disk_format,
            image.container_format,
            model::storage_time(&image.created_at),
            model::storage_time(&image.updated_at),
        ],
    );
    match inserted {
        Err(e) if is_unique_violation(&e) => Err(ImageError::conflict(format!(
            "An image with ID {} already exists.",
            image.id
        ))),
        other => other.map(drop).map_err(ImageError::from),
    }?;
    save_details(conn, image)
}

/// Writes every attribute, tag and property of `image` over the stored one.
pub fn save_image(conn: &Connection, image: &Image) -> Result<(), ImageError> {
    conn.prepare_cached(
        "UPDATE images SET name = ?2, status = ?3, visibility = ?4, protected = ?5, os_hidden = ?6,
            owner = ?7, checksum = ?8, os_hash_algo = ?9, os_hash_value = ?10, size = ?11,
            virtual_size = ?12, min_disk = ?13, min_ram = ?14, disk_format = ?15,
            container_format = ?16, updated_at = ?17
         WHERE id = ?1",
    )?
    .execute(params![
        image.id,
        image.name,
        image.status.as_str(),
        image.visibility.as_str(),
        image.protected,
        image.os_hidden,
        image.owner,
        image.checksum,
        image.os_hash_algo,
        image.os_hash_value,
        image.size,
        image.virtual_size,
        image.min_disk,
        image.min_ram,
        image.disk_format,
        image.container_format,
        model::storage_time(&image.updated_at),
    ])?;
    conn.prepare_cached("DELETE FROM image_tags WHERE image_id = ?1")?
        .execute([&image.id])?;
    conn.prepare_cached("DELETE FROM image_properties WHERE image_id = ?1")?
        .execute([&image.id])?;
    save_details(conn, image)
}

/// Deletes the image with its tags, properties and members.
pub fn delete_image(conn: &Connection, id: &str) -> Result<(), ImageError> {
    conn.prepare_cached("DELETE FROM images WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Ids of the images in `status`, for recovery after a crash.
pub fn images_in_status(conn: &Connection, status: ImageStatus) -> Result<Vec<String>, ImageError> {
    let mut stmt = conn.prepare("SELECT id FROM images WHERE status = ?1")?;
    let ids = stmt.query_map([status.as_str()], |row| row.get(0))?;
    Ok(ids.collect::<Result<_, _>>()?)
}

/// The images `lister` may see that match `query`, in its order, after
/// `marker` (an image the lister may see) if given.
pub fn list_images(
    conn: &Connection,
    query: &ListQuery,
    lister: Lister<'_>,
    marker: Option<&Image>,
) -> Result<Vec<Image>, ImageError> {
    let mut sql = Sql::new(&format!("SELECT {IMAGE_COLUMNS} FROM images i WHERE 1"));
    if !lister.admin {
        match lister.project {
            Some(project) => {
                sql.text(" AND (i.visibility IN ('public', 'community') OR i.owner = ")
                    .bind(project.to_owned());
                sql.text(" OR (i.visibility = 'shared' AND EXISTS (SELECT 1 FROM image_members m")
                    .text(" WHERE m.image_id = i.id AND m.member_id = ")
                    .bind(project.to_owned());
                if let Some(status) = query.member_status {
                    sql.text(" AND m.status = ")
                        .bind(status.as_str().to_owned());
                }
                sql.text(")))");
            }
            None => {
                sql.text(" AND i.visibility IN ('public', 'community')");
            }
        }
    }
    match (query.visibility, lister.project) {
        // Community images are listed only when asked for, or to their owner.
        (VisibilityFilter::Default, Some(project)) => {
            sql.text(" AND (i.visibility != 'community' OR i.owner = ")
                .bind(project.to_owned())
                .text(")");
        }
        (VisibilityFilter::Default, None) => {
            sql.text(" AND i.visibility != 'community'");
        }
        (VisibilityFilter::All, _) => {}
        (VisibilityFilter::Only(visibility), _) => {
            sql.text(" AND i.visibility = ")
                .bind(visibility.as_str().to_owned());
        }
    }
    for condition in &query.conditions {
        match condition {
            Condition::Compare(column, comparison, operand) => {
                sql.text(&format!(" AND i.{} {} ", column.name(), comparison.sql()))
                    .bind(operand_value(operand));
            }
            Condition::OneOf(column, items) => {
                sql.text(&format!(" AND i.{} IN (", column.name()));
                for (index, item) in items.iter().enumerate() {
                    sql.text(if index == 0 { "" } else { ", " })
                        .bind(item.clone());
                }
                sql.text(")");
            }
            Condition::HasTag(tag) => {
                sql.text(
                    " AND EXISTS (SELECT 1 FROM image_tags t WHERE t.image_id = i.id AND t.tag = ",
                )
                .bind(tag.clone())
                .text(")");
            }
            Condition::HasProperty(name, value) => {
                sql.text(" AND EXISTS (SELECT 1 FROM image_properties p WHERE p.image_id = i.id")
                    .text(" AND p.name = ")
                    .bind(name.clone())
                    .text(" AND p.value = ")
                    .bind(value.clone())
                    .text(")");
            }
        }
    }
    if let Some(marker) = marker {
        sql.text(" AND ");
        after_marker(&mut sql, &query.sort, marker);
    }
    let order: Vec<_> = query
        .sort
        .iter()
        .map(|(column, dir)| {
            format!(
                "i.{} {}",
                column.name(),
                if *dir == SortDir::Asc { "ASC" } else { "DESC" }
            )
        })
        .collect();
    sql.text(&format!(" ORDER BY {} LIMIT ", order.join(", ")))
        .bind(i64::from(query.limit));

    let mut stmt = conn.prepare_cached(&sql.text)?;
    let mut images = stmt
        .query_map(params_from_iter(sql.args), image_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    load_details_of_page(conn, &mut images)?;
    Ok(images)
}

/// A statement built piece by piece, with its arguments bound in order.
struct Sql {
    text: String,
    args: Vec<SqlValue>,
}

impl Sql {
    fn new(text: &str) -> Sql {
        Sql {
            text: text.to_owned(),
            args: Vec::new(),
        }
    }

    fn text(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    fn bind(&mut self, value: impl Into<SqlValue>) -> &mut Sql {
        self.text.push('?');
        self.args.push(value.into());
        self
    }
}

/// Appends the keyset condition "comes after `marker` in `sort` order": for
/// some key, all earlier keys equal the marker's and this one is past it.
/// SQLite puts NULLs first in ascending order and last in descending order,
/// and the comparisons below follow suit so that no image is skipped.
fn after_marker(sql: &mut Sql, sort: &[(Column, SortDir)], marker: &Image) {
    sql.text("(");
    for (position, (column, dir)) in sort.iter().enumerate() {
        sql.text(if position == 0 { "(" } else { " OR (" });
        for (earlier, _) in &sort[..position] {
            sql.text(&format!("i.{} IS ", earlier.name()))
                .bind(column_value(marker, *earlier))
                .text(" AND ");
        }
        let name = column.name();
        match (dir, column_value(marker, *column)) {
            (SortDir::Asc, SqlValue::Null) => sql.text(&format!("i.{name} IS NOT NULL")),
            (SortDir::Asc, value) => sql.text(&format!("i.{name} > ")).bind(value),
            (SortDir::Desc, SqlValue::Null) => sql.text("0"),
            (SortDir::Desc, value) => sql
                .text(&format!("(i.{name} < "))
                .bind(value)
                .text(&format!(" OR i.{name} IS NULL)")),
        };
        sql.text(")");
    }
    sql.text(")");
}

fn operand_value(operand: &Operand) -> SqlValue {
    match operand {
        Operand::Text(text) => SqlValue::Text(text.clone()),
        Operand::Integer(n) => SqlValue::Integer(*n),
    }
}

/// The stored value of `column` for `image`.
fn column_value(image: &Image, column: Column) -> SqlValue {
    let text = |value: &Option<String>| value.clone().map_or(SqlValue::Null, SqlValue::Text);
    let integer = |value: Option<i64>| value.map_or(SqlValue::Null, SqlValue::Integer);
    match column {
        Column::Id => SqlValue::Text(image.id.clone()),
        Column::Name => text(&image.name),
        Column::Status => SqlValue::Text(image.status.as_str().into()),
        Column::Visibility => SqlValue::Text(image.visibility.as_str().into()),
        Column::Owner => text(&image.owner),
        Column::Protected => SqlValue::Integer(image.protected.into()),
        Column::OsHidden => SqlValue::Integer(image.os_hidden.into()),
        Column::Checksum => text(&image.checksum),
        Column::OsHashValue => text(&image.os_hash_value),
        Column::Size => integer(image.size),
        Column::MinDisk => SqlValue::Integer(image.min_disk),
        Column::MinRam => SqlValue::Integer(image.min_ram),
        Column::DiskFormat => text(&image.disk_format),
        Column::ContainerFormat => text(&image.container_format),
        Column::CreatedAt => SqlValue::Text(model::storage_time(&image.created_at)),
        Column::UpdatedAt => SqlValue::Text(model::storage_time(&image.updated_at)),
    }
}

/// The membership of `project` in image `image_id`, if any.
pub fn membership(
    conn: &Connection,
    image_id: &str,
    project: Option<&str>,
) -> Result<Option<MemberStatus>, ImageError> {
    let Some(project) = project else {
        return Ok(None);
    };
    Ok(find_member(conn, image_id, project)?.map(|member| member.status))
}

pub fn find_member(
    conn: &Connection,
    image_id: &str,
    member_id: &str,
) -> Result<Option<Member>, ImageError> {
    let member = conn
        .prepare_cached(
            "SELECT image_id, member_id, status, created_at, updated_at FROM image_members
             WHERE image_id = ?1 AND member_id = ?2",
        )?
        .query_row([image_id, member_id], member_from_row)
        .optional()?;
    Ok(member)
}

pub fn members(conn: &Connection, image_id: &str) -> Result<Vec<Member>, ImageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT image_id, member_id, status, created_at, updated_at FROM image_members
         WHERE image_id = ?1 ORDER BY created_at, member_id",
    )?;
    let members = stmt.query_map([image_id], member_from_row)?;
    Ok(members.collect::<Result<_, _>>()?)
}

pub fn insert_member(conn: &Connection, member: &Member) -> Result<(), ImageError> {
    let inserted = conn.execute(
        "INSERT INTO image_members (image_id, member_id, status, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            member.image_id,
            member.member_id,
            member.status.as_str(),
            model::storage_time(&member.created_at),
            model::storage_time(&member.updated_at),
        ],
    );
    match inserted {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(ImageError::conflict(format!(
            "Project {} is already a member of image {}.",
            member.member_id, member.image_id
        ))),
        Err(e) => Err(e.into()),
    }
}

pub fn save_member(conn: &Connection, member: &Member) -> Result<(), ImageError> {
    conn.execute(
        "UPDATE image_members SET status = ?3, updated_at = ?4 WHERE image_id = ?1 AND member_id = ?2",
        params![
            member.image_id,
            member.member_id,
            member.status.as_str(),
            model::storage_time(&member.updated_at),
        ],
    )?;
    Ok(())
}

pub fn delete_member(conn: &Connection, image_id: &str, member_id: &str) -> Result<(), ImageError> {
    conn.execute(
        "DELETE FROM image_members WHERE image_id = ?1 AND member_id = ?2",
        [image_id, member_id],
    )?;
    Ok(())
}

fn save_details(conn: &Connection, image: &Image) -> Result<(), ImageError> {
    let mut insert_tag =
        conn.prepare_cached("INSERT INTO image_tags (image_id, tag) VALUES (?1, ?2)")?;
    for tag in &image.tags {
        insert_tag.execute([&image.id, tag])?;
    }
    let mut insert_property = conn.prepare_cached(
        "INSERT INTO image_properties (image_id, name, value) VALUES (?1, ?2, ?3)",
    )?;
    for (name, value) in &image.properties {
        insert_property.execute([&image.id, name, value])?;
    }
    Ok(())
}

/// Loads the tags and properties of a whole page in two queries rather
/// than two per image.
fn load_details_of_page(conn: &Connection, images: &mut [Image]) -> Result<(), ImageError> {
    if images.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = images.iter().map(|i| i.id.as_str()).collect();
    let ids = serde_json::to_string(&ids)
        .map_err(|e| ImageError::internal("encoding a page's image ids", e))?;
    let position: std::collections::HashMap<String, usize> = images
        .iter()
        .enumerate()
        .map(|(index, image)| (image.id.clone(), index))
        .collect();
    let mut tags = conn.prepare_cached(
        "SELECT image_id, tag FROM image_tags WHERE image_id IN (SELECT value FROM json_each(?1))",
    )?;
    for row in tags.query_map([&ids], |row| Ok((row.get::<_, String>(0)?, row.get(1)?)))? {
        let (id, tag) = row?;
        if let Some(&index) = position.get(&id) {
            images[index].tags.insert(tag);
        }
    }
    let mut properties = conn.prepare_cached(
        "SELECT image_id, name, value FROM image_properties WHERE image_id IN (SELECT value FROM json_each(?1))",
    )?;
    for row in properties.query_map([&ids], |row| {
        Ok((row.get::<_, String>(0)?, row.get(1)?, row.get(2)?))
    })? {
        let (id, name, value) = row?;
        if let Some(&index) = position.get(&id) {
            images[index].properties.insert(name, value);
        }
    }
    Ok(())
}

fn load_details(conn: &Connection, image: &mut Image) -> Result<(), ImageError> {
    let mut tags = conn.prepare_cached("SELECT tag FROM image_tags WHERE image_id = ?1")?;
    image.tags = tags
        .query_map([&image.id], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    let mut properties =
        conn.prepare_cached("SELECT name, value FROM image_properties WHERE image_id = ?1")?;
    image.properties = properties
        .query_map([&image.id], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(())
}

fn image_from_row(row: &Row<'_>) -> rusqlite::Result<Image> {
    Ok(Image {
        id: row.get(0)?,
        name: row.get(1)?,
        status: enum_column(row, 2, ImageStatus::parse)?,
        visibility: enum_column(row, 3, Visibility::parse)?,
        protected: row.get(4)?,
        os_hidden: row.get(5)?,
        owner: row.get(6)?,
        checksum: row.get(7)?,
        os_hash_algo: row.get(8)?,
        os_hash_value: row.get(9)?,
        size: row.get(10)?,
        virtual_size: row.get(11)?,
        min_disk: row.get(12)?,
        min_ram: row.get(13)?,
        disk_format: row.get(14)?,
        container_format: row.get(15)?,
        created_at: time_column(row, 16)?,
        updated_at: time_column(row, 17)?,
        tags: Default::default(),
        properties: Default::default(),
    })
}

fn member_from_row(row: &Row<'_>) -> rusqlite::Result<Member> {
    Ok(Member {
        image_id: row.get(0)?,
        member_id: row.get(1)?,
        status: enum_column(row, 2, MemberStatus::parse)?,
        created_at: time_column(row, 3)?,
        updated_at: time_column(row, 4)?,
    })
}

fn enum_column<T>(
    row: &Row<'_>,
    index: usize,
    parse: fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    parse(&text).ok_or_else(|| corrupt(index, format!("unknown value '{text}'")))
}

fn time_column(row: &Row<'_>, index: usize) -> rusqlite::Result<chrono::DateTime<chrono::Utc>> {
    let text: String = row.get(index)?;
    model::parse_storage_time(&text)
        .ok_or_else(|| corrupt(index, format!("bad timestamp '{text}'")))
}

fn corrupt(index: usize, detail: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, Type::Text, detail.into())
}
