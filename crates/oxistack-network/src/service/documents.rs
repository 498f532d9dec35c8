//! Resources as documents: loaded from the store with what the caller may
//! see and rendered as Neutron shows them, uniformly for every kind.

use oxistack_db::rusqlite::Connection;
use oxistack_http::ApiError;

use super::Document;
use crate::kind::Kind;
use crate::query::Item;
use crate::store::{self, Prefilter, Scope};
use crate::wire;

/// The documents of `kind` within `scope` passing `prefilter`, in creation
/// order. `admin` shows the attributes only administrators see.
pub fn load(
    conn: &Connection,
    scope: Scope<'_>,
    admin: bool,
    kind: Kind,
    prefilter: &Prefilter,
) -> Result<Vec<Item>, ApiError> {
    fn items<T>(
        models: Vec<T>,
        seq: impl Fn(&T) -> i64,
        doc: impl Fn(&T) -> Document,
    ) -> Vec<Item> {
        models
            .iter()
            .map(|m| Item {
                seq: seq(m),
                doc: doc(m),
            })
            .collect()
    }
    Ok(match kind {
        Kind::Network => items(
            store::networks::list(conn, scope, prefilter)?,
            |n| n.std.seq,
            |n| wire::network(n, admin),
        ),
        Kind::Subnet => items(
            store::subnets::list(conn, scope, prefilter)?,
            |s| s.std.seq,
            wire::subnet,
        ),
        Kind::Port => items(
            store::ports::list(conn, scope, prefilter)?,
            |p| p.std.seq,
            |p| wire::port(p, admin),
        ),
        Kind::Router => items(
            store::routers::list(conn, scope, prefilter)?,
            |r| r.std.seq,
            wire::router,
        ),
        Kind::FloatingIp => items(
            store::floating_ips::list(conn, scope, prefilter)?,
            |f| f.std.seq,
            wire::floating_ip,
        ),
        Kind::SecurityGroup => items(
            store::security_groups::list(conn, scope, prefilter)?,
            |g| g.std.seq,
            wire::security_group,
        ),
        Kind::SecurityGroupRule => items(
            store::security_groups::list_rules(conn, scope, prefilter)?,
            |r| r.std.seq,
            wire::rule,
        ),
    })
}

/// The document of resource `id`, or the kind's 404.
pub fn one(
    conn: &Connection,
    scope: Scope<'_>,
    admin: bool,
    kind: Kind,
    id: &str,
) -> Result<Document, ApiError> {
    let items = load(conn, scope, admin, kind, &Prefilter::id(id))?;
    super::access::found(items, kind, id).map(|item| item.doc)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::kind::Kind;

    /// Every attribute a list can filter on is in the documents, and every
    /// attribute of the documents is known to lists.
    #[test]
    fn documents_have_exactly_the_declared_attributes() {
        let dir = tempfile::tempdir().unwrap();
        let db = oxistack_db::Db::open(&dir.path().join("t.db")).unwrap();
        db.migrate("network", store::MIGRATIONS).unwrap();
        db.write_blocking(|conn| {
            crate::service::tests::populate(conn);
            for kind in Kind::ALL {
                let items = load(conn, Scope::All, true, kind, &Prefilter::new())?;
                let doc = &items.first().unwrap_or_else(|| panic!("no {kind:?}")).doc;
                let keys: BTreeSet<&str> = doc.keys().map(String::as_str).collect();
                let declared: BTreeSet<&str> = kind.attributes().iter().map(|a| a.name).collect();
                assert_eq!(keys, declared, "{kind:?}");
            }
            Ok::<_, ApiError>(())
        })
        .unwrap();
    }
}
