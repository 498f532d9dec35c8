//! Every list page's table: a filter box, sortable column headers and
//! pages of [`PAGE_SIZE`] rows, all through the query string (`q`,
//! `sort`, `dir`, `page`) so a list's state is a link. The rows come
//! whole from the API and are filtered, sorted and paged here, which at a
//! single server's scale is cheaper than a round trip per page.
//!
//! Each row is `tr#row-ID[data-id=ID]`; a row in a pending state also
//! carries `data-refresh`, which `dashboard.js` uses to fetch the page
//! again and swap in that row until it settles. Messages about a row's
//! object are shown right under it.
//!
//! A table inside an object's page (a network's ports, a router's
//! interfaces) is rendered whole instead ([`Table::render_all`]): its
//! rows are few, and filter, sort and page links of its own would share
//! the page's query string with every other table there.

use maud::{Markup, html};
use serde::Deserialize;

use crate::context::Ctx;
use crate::layout;

pub const PAGE_SIZE: usize = 20;

/// A list's state, from the query string.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ListQuery {
    pub q: Option<String>,
    pub sort: Option<String>,
    pub dir: Option<String>,
    pub page: Option<usize>,
}

impl ListQuery {
    fn descending(&self) -> bool {
        self.dir.as_deref() == Some("desc")
    }

    fn link(&self, base: &str, sort: Option<&str>, desc: bool, page: usize) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(q) = self.q.as_deref().filter(|q| !q.is_empty()) {
            pairs.push(("q", q.to_owned()));
        }
        if let Some(sort) = sort {
            pairs.push(("sort", sort.to_owned()));
            if desc {
                pairs.push(("dir", "desc".to_owned()));
            }
        }
        if page > 1 {
            pairs.push(("page", page.to_string()));
        }
        match serde_urlencoded::to_string(&pairs) {
            Ok(query) if !query.is_empty() => format!("{base}?{query}"),
            _ => base.to_owned(),
        }
    }
}

type Text<'a, T> = Box<dyn Fn(&T) -> String + Send + Sync + 'a>;
type Cell<'a, T> = Box<dyn Fn(&T) -> Markup + Send + Sync + 'a>;
type Predicate<'a, T> = Box<dyn Fn(&T) -> bool + Send + Sync + 'a>;

enum Render<'a, T> {
    Cell(Cell<'a, T>),
    Status(Text<'a, T>),
}

struct Column<'a, T> {
    key: &'static str,
    label: &'static str,
    sort: Option<Text<'a, T>>,
    render: Render<'a, T>,
}

/// A table of `T`s: columns, each row's id, what the filter searches and
/// which rows are pending.
pub struct Table<'a, T> {
    base: String,
    columns: Vec<Column<'a, T>>,
    id: Text<'a, T>,
    search: Option<Text<'a, T>>,
    pending: Option<Predicate<'a, T>>,
    caption: &'static str,
}

impl<'a, T> Table<'a, T> {
    /// A table at page `base` (its links keep that path), whose rows are
    /// identified by `id`; `caption` names it for screen readers.
    pub fn new(
        base: &str,
        caption: &'static str,
        id: impl Fn(&T) -> String + Send + Sync + 'a,
    ) -> Self {
        Table {
            base: base.to_owned(),
            columns: Vec::new(),
            id: Box::new(id),
            search: None,
            pending: None,
            caption,
        }
    }

    /// A column sorted by its text.
    pub fn column(
        self,
        key: &'static str,
        label: &'static str,
        text: impl Fn(&T) -> String + Send + Sync + Clone + 'a,
    ) -> Self {
        let sort = text.clone();
        self.cell(
            key,
            label,
            Some(Box::new(sort)),
            move |row: &T| html! { (text(row)) },
        )
    }

    /// A column of any markup, sorted by `sort` if given.
    pub fn cell(
        mut self,
        key: &'static str,
        label: &'static str,
        sort: Option<Text<'a, T>>,
        cell: impl Fn(&T) -> Markup + Send + Sync + 'a,
    ) -> Self {
        self.columns.push(Column {
            key,
            label,
            sort,
            render: Render::Cell(Box::new(cell)),
        });
        self
    }

    /// A status column (`td[data-status]` with a badge).
    pub fn status(
        mut self,
        key: &'static str,
        label: &'static str,
        status: impl Fn(&T) -> String + Send + Sync + Clone + 'a,
    ) -> Self {
        self.columns.push(Column {
            key,
            label,
            sort: Some(Box::new(status.clone())),
            render: Render::Status(Box::new(status)),
        });
        self
    }

    /// What the filter box matches (case-insensitively) in a row.
    pub fn search(mut self, text: impl Fn(&T) -> String + Send + Sync + 'a) -> Self {
        self.search = Some(Box::new(text));
        self
    }

    /// Which rows refresh by themselves until they settle.
    pub fn pending(mut self, pending: impl Fn(&T) -> bool + Send + Sync + 'a) -> Self {
        self.pending = Some(Box::new(pending));
        self
    }

    /// The filter box, the table of this page's rows and the page links.
    pub fn render(&self, ctx: &Ctx, query: &ListQuery, rows: Vec<T>, empty: &str) -> Markup {
        self.render_with(ctx, Some(query), rows, empty)
    }

    /// Every row, in the order given, without filter box, sort links or
    /// pages: for a table embedded in an object's page.
    pub fn render_all(&self, ctx: &Ctx, rows: Vec<T>, empty: &str) -> Markup {
        self.render_with(ctx, None, rows, empty)
    }

    /// The table as [`Table::render`] (`query` given) or
    /// [`Table::render_all`] (none) shows it.
    fn render_with(
        &self,
        ctx: &Ctx,
        listed: Option<&ListQuery>,
        mut rows: Vec<T>,
        empty: &str,
    ) -> Markup {
        let whole = ListQuery::default();
        let query = listed.unwrap_or(&whole);
        if let (Some(search), Some(q)) = (&self.search, query.q.as_deref()) {
            let q = q.trim().to_lowercase();
            if !q.is_empty() {
                rows.retain(|row| search(row).to_lowercase().contains(&q));
            }
        }
        let sorted_by = query.sort.as_deref().and_then(|key| {
            self.columns
                .iter()
                .find(|column| column.key == key && column.sort.is_some())
        });
        if let Some(sort) = sorted_by.and_then(|column| column.sort.as_ref()) {
            rows.sort_by_cached_key(|row| natural_key(&sort(row)));
            if query.descending() {
                rows.reverse();
            }
        }
        let total = rows.len();
        let page_size = match listed {
            Some(_) => PAGE_SIZE,
            None => total.max(1),
        };
        let pages = total.div_ceil(page_size).max(1);
        let page = query.page.unwrap_or(1).clamp(1, pages);
        let shown = rows.iter().skip((page - 1) * page_size).take(page_size);
        let current_sort = sorted_by.map(|column| column.key);
        html! {
            @if self.search.is_some() && listed.is_some() {
                form.filter method="get" action=(self.base) role="search" {
                    label for="filter" { "Filter" }
                    input #filter type="search" name="q" value=[query.q.as_deref()];
                    @if let Some(sort) = current_sort {
                        input type="hidden" name="sort" value=(sort);
                        @if query.descending() { input type="hidden" name="dir" value="desc"; }
                    }
                    button type="submit" { "Filter" }
                }
            }
            div.table-wrap {
                table {
                    caption.visually-hidden { (self.caption) }
                    thead { tr {
                        @for column in &self.columns {
                            @if column.sort.is_some() && listed.is_some() {
                                @let this = current_sort == Some(column.key);
                                @let desc = this && !query.descending();
                                th scope="col" aria-sort=[this.then(|| if query.descending() { "descending" } else { "ascending" })] {
                                    a href=(query.link(&self.base, Some(column.key), desc, 1)) { (column.label) }
                                }
                            } @else {
                                th scope="col" { (column.label) }
                            }
                        }
                    } }
                    tbody {
                        @for row in shown {
                            @let id = (self.id)(row);
                            @let pending = self.pending.as_ref().is_some_and(|pending| pending(row));
                            tr id=(format!("row-{id}")) data-id=(id) data-refresh[pending] {
                                @for column in &self.columns {
                                    @match &column.render {
                                        Render::Cell(cell) => td { (cell(row)) },
                                        Render::Status(status) => (layout::status_cell(&status(row))),
                                    }
                                }
                            }
                            @if let Some(messages) = ctx.flashes_about(&id) {
                                tr.row-message id=(format!("message-{id}")) {
                                    td colspan=(self.columns.len()) { (messages) }
                                }
                            }
                        }
                        @if total == 0 {
                            tr { td.empty colspan=(self.columns.len()) { (empty) } }
                        }
                    }
                }
            }
            @if pages > 1 {
                nav.pages aria-label="Pages" {
                    @if page > 1 {
                        a rel="prev" href=(query.link(&self.base, current_sort, query.descending(), page - 1)) { "Previous" }
                    }
                    span { "Page " (page) " of " (pages) " (" (total) " items)" }
                    @if page < pages {
                        a rel="next" href=(query.link(&self.base, current_sort, query.descending(), page + 1)) { "Next" }
                    }
                }
            }
        }
    }
}

/// Sorts numbers by value within text ("vm-2" before "vm-10").
fn natural_key(text: &str) -> Vec<(String, u64)> {
    let mut key = Vec::new();
    let mut word = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            let mut number = c.to_digit(10).map(u64::from).unwrap_or(0);
            while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                number = number.saturating_mul(10).saturating_add(u64::from(d));
                chars.next();
            }
            key.push((std::mem::take(&mut word), number));
        } else {
            word.extend(c.to_lowercase());
        }
    }
    key.push((word, 0));
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_sort_by_value() {
        let mut names = vec!["vm-10", "vm-2", "Vm-1", "a"];
        names.sort_by_cached_key(|name| natural_key(name));
        assert_eq!(names, ["a", "Vm-1", "vm-2", "vm-10"]);
    }

    #[test]
    fn links_keep_the_filter_and_sort() {
        let query = ListQuery {
            q: Some("web 1".into()),
            ..ListQuery::default()
        };
        assert_eq!(
            query.link("/dashboard/x", Some("name"), true, 2),
            "/dashboard/x?q=web+1&sort=name&dir=desc&page=2"
        );
        assert_eq!(ListQuery::default().link("/d", None, false, 1), "/d");
    }
}
