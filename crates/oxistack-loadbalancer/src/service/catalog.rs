//! Flavors and availability zones, and their profiles: what an operator
//! offers load balancers (`flavor_id`, `availability_zone` on create).
//! Octavia's shapes and rules: profiles name an enabled provider and carry
//! its metadata as a JSON text (none of whose keys the oxistack proxy has
//! capabilities for, so it must be an empty object); flavors and zones
//! name a profile; everything is an administrator's to change, flavors and
//! zones anyone's to read; what is in use cannot be deleted.

use std::sync::Arc;

use oxistack_auth::{Action, AuthContext};
use oxistack_db::rusqlite::Connection;
use oxistack_http::field::Lenient;
use oxistack_list::{Item, ListQuery, Page};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::loadbalancers::PROVIDERS;
use super::{LbError, LoadBalancerService, authorize, validate};
use crate::store;
use crate::wire::CatalogBody;
use crate::wire::documents::{self, Document};

/// The four catalogs, as their documents and URLs name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Catalog {
    FlavorProfile,
    Flavor,
    ZoneProfile,
    Zone,
}

impl Catalog {
    pub fn singular(self) -> &'static str {
        self.collection().singular
    }

    pub fn collection(self) -> &'static oxistack_list::Collection {
        match self {
            Catalog::FlavorProfile => &documents::FLAVOR_PROFILES,
            Catalog::Flavor => &documents::FLAVORS,
            Catalog::ZoneProfile => &documents::ZONE_PROFILES,
            Catalog::Zone => &documents::ZONES,
        }
    }

    /// What Octavia's messages call an entry.
    fn title(self) -> &'static str {
        match self {
            Catalog::FlavorProfile => "Flavor profile",
            Catalog::Flavor => "Flavor",
            Catalog::ZoneProfile => "Availability Zone Profile",
            Catalog::Zone => "Availability Zone",
        }
    }

    /// Reading profiles is for administrators too; flavors and zones are
    /// for anyone who reads load balancers.
    fn read_action(self) -> Action {
        match self {
            Catalog::FlavorProfile | Catalog::ZoneProfile => Action::ManageLoadBalancing,
            Catalog::Flavor | Catalog::Zone => Action::ReadLoadBalancers,
        }
    }

    /// The attributes a request may carry, the first being the key of a
    /// zone (its name) and the ones required on create.
    fn fields(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Catalog::FlavorProfile => (
                &["name", "provider_name", "flavor_data"],
                &["name", "provider_name", "flavor_data"],
            ),
            Catalog::ZoneProfile => (
                &["name", "provider_name", "availability_zone_data"],
                &["name", "provider_name", "availability_zone_data"],
            ),
            Catalog::Flavor => (
                &["name", "description", "enabled", "flavor_profile_id"],
                &["name", "flavor_profile_id"],
            ),
            Catalog::Zone => (
                &[
                    "name",
                    "description",
                    "enabled",
                    "availability_zone_profile_id",
                ],
                &["name", "availability_zone_profile_id"],
            ),
        }
    }

    /// The profile catalog an entry names, and the attribute naming it.
    fn profile(self) -> Option<(Catalog, &'static str)> {
        match self {
            Catalog::Flavor => Some((Catalog::FlavorProfile, "flavor_profile_id")),
            Catalog::Zone => Some((Catalog::ZoneProfile, "availability_zone_profile_id")),
            _ => None,
        }
    }

    /// The entries naming a profile of this catalog, and the attribute.
    fn users(self) -> Option<(Catalog, &'static str)> {
        match self {
            Catalog::FlavorProfile => Some((Catalog::Flavor, "flavor_profile_id")),
            Catalog::ZoneProfile => Some((Catalog::Zone, "availability_zone_profile_id")),
            _ => None,
        }
    }

    /// The load-balancer attribute naming an entry of this catalog.
    fn load_balancer_field(self) -> Option<&'static str> {
        match self {
            Catalog::Flavor => Some("flavor_id"),
            Catalog::Zone => Some("availability_zone"),
            _ => None,
        }
    }

    fn key(self, doc: &Document) -> String {
        let key = if self == Catalog::Zone { "name" } else { "id" };
        doc.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }
}

fn entries(conn: &Connection, catalog: Catalog) -> Result<Vec<(i64, Document)>, LbError> {
    Ok(store::catalog(conn, catalog.singular())?
        .into_iter()
        .filter_map(|(seq, doc)| match doc {
            Value::Object(doc) => Some((seq, doc)),
            _ => None,
        })
        .collect())
}

fn find(conn: &Connection, catalog: Catalog, id: &str) -> Result<Option<Document>, LbError> {
    Ok(entries(conn, catalog)?
        .into_iter()
        .map(|(_, doc)| doc)
        .find(|doc| catalog.key(doc) == id))
}

/// Octavia's `NotFound` of an entry.
fn not_found(catalog: Catalog, id: &str) -> LbError {
    LbError::Missing(format!("{} {id} not found.", catalog.title()))
}

/// Checks the attributes given for `catalog` and merges them into `doc`.
fn merge(
    catalog: Catalog,
    doc: &mut Document,
    body: Map<String, Value>,
    creating: bool,
) -> Result<(), LbError> {
    let (allowed, required) = catalog.fields();
    for key in body.keys() {
        let fixed = !creating && catalog == Catalog::Zone && key == "name";
        let profile_fixed = !creating && catalog.profile().is_some_and(|(_, f)| f == key);
        if !allowed.contains(&key.as_str()) || fixed || profile_fixed {
            return Err(LbError::Invalid(format!(
                "Unknown attribute for argument {}: {key}",
                catalog.singular()
            )));
        }
    }
    for key in required.iter().filter(|_| creating) {
        if body.get(*key).is_none_or(Value::is_null) {
            return Err(LbError::missing(key));
        }
    }
    for (key, value) in body {
        let checked = match (key.as_str(), &value) {
            // As WSME reads a boolean: "true", 1, ... too.
            ("enabled", other) => match Lenient::<bool>::deserialize(other) {
                Ok(Lenient(enabled)) => Value::Bool(enabled),
                Err(_) => {
                    return Err(LbError::field(&key, other, "Value should be a boolean"));
                }
            },
            (_, Value::String(text)) => {
                validate::text(&key, Some(text))?;
                value
            }
            (_, Value::Null) if !required.contains(&key.as_str()) => Value::String(String::new()),
            (_, other) => return Err(LbError::field(&key, other, "Value should be a string")),
        };
        doc.insert(key, checked);
    }
    if let Some(provider) = doc.get("provider_name").and_then(Value::as_str)
        && !PROVIDERS.iter().any(|(name, _)| *name == provider)
    {
        return Err(LbError::Invalid(format!(
            "Provider '{provider}' is not enabled."
        )));
    }
    for field in ["flavor_data", "availability_zone_data"] {
        let Some(text) = doc.get(field).and_then(Value::as_str) else {
            continue;
        };
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(data)) if data.is_empty() => {}
            Ok(Value::Object(data)) => {
                let keys: Vec<&String> = data.keys().collect();
                return Err(LbError::unsupported(format!("{field} keys {keys:?}")));
            }
            _ => return Err(LbError::option(text, field)),
        }
    }
    Ok(())
}

impl LoadBalancerService {
    pub async fn list_catalog(
        &self,
        caller: &Arc<AuthContext>,
        catalog: Catalog,
        query: ListQuery,
    ) -> Result<Page<Document>, LbError> {
        authorize(caller, catalog.read_action())?;
        self.db
            .read(move |conn| {
                let items: Vec<Item<Document>> = entries(conn, catalog)?
                    .into_iter()
                    .map(|(seq, doc)| Item::new(seq, doc))
                    .collect();
                super::lists::page(&query, items, catalog.singular())
            })
            .await
    }

    pub async fn show_catalog(
        &self,
        caller: &Arc<AuthContext>,
        catalog: Catalog,
        id: &str,
    ) -> Result<Document, LbError> {
        authorize(caller, catalog.read_action())?;
        let id = id.to_owned();
        self.db
            .read(move |conn| find(conn, catalog, &id)?.ok_or_else(|| not_found(catalog, &id)))
            .await
    }

    /// Creates (`id` none) or changes an entry.
    pub async fn put_catalog(
        &self,
        caller: &Arc<AuthContext>,
        catalog: Catalog,
        id: Option<&str>,
        body: CatalogBody,
    ) -> Result<Document, LbError> {
        authorize(caller, Action::ManageLoadBalancing)?;
        let id = id.map(str::to_owned);
        self.db
            .write(move |tx| {
                let creating = id.is_none();
                let mut doc = match &id {
                    Some(id) => find(tx, catalog, id)?.ok_or_else(|| not_found(catalog, id))?,
                    None if catalog == Catalog::Zone => Map::new(),
                    None => {
                        Map::from_iter([("id".to_owned(), json!(uuid::Uuid::new_v4().to_string()))])
                    }
                };
                if creating && matches!(catalog, Catalog::Flavor | Catalog::Zone) {
                    doc.insert("description".into(), json!(""));
                    doc.insert("enabled".into(), json!(true));
                }
                merge(catalog, &mut doc, body.0, creating)?;
                if let Some((profiles, field)) = catalog.profile() {
                    let profile = doc.get(field).and_then(Value::as_str).unwrap_or_default();
                    if find(tx, profiles, profile)?.is_none() {
                        return Err(LbError::option(profile, field));
                    }
                }
                let key = catalog.key(&doc);
                let name = doc.get("name").cloned();
                let clash = entries(tx, catalog)?.into_iter().any(|(_, other)| {
                    catalog.key(&other) != key && other.get("name") == name.as_ref()
                });
                if clash || (creating && find(tx, catalog, &key)?.is_some()) {
                    return Err(LbError::Conflict(format!(
                        "A {} of {} already exists.",
                        catalog.singular(),
                        name.and_then(|n| n.as_str().map(str::to_owned))
                            .unwrap_or_default()
                    )));
                }
                store::set_catalog(
                    tx,
                    catalog.singular(),
                    &key,
                    Some(&Value::Object(doc.clone())),
                )?;
                Ok(doc)
            })
            .await
    }

    /// Deletes an entry no load balancer (or, for a profile, no entry)
    /// uses.
    pub async fn delete_catalog(
        &self,
        caller: &Arc<AuthContext>,
        catalog: Catalog,
        id: &str,
    ) -> Result<(), LbError> {
        authorize(caller, Action::ManageLoadBalancing)?;
        let id = id.to_owned();
        self.db
            .write(move |tx| {
                if find(tx, catalog, &id)?.is_none() {
                    return Err(not_found(catalog, &id));
                }
                let in_use = match (catalog.users(), catalog.load_balancer_field()) {
                    (Some((users, field)), _) => entries(tx, users)?
                        .iter()
                        .any(|(_, doc)| doc.get(field).and_then(Value::as_str) == Some(&id)),
                    (None, Some(field)) => store::load_balancer_uses(tx, field, &id)?,
                    (None, None) => false,
                };
                if in_use {
                    return Err(LbError::Conflict(format!(
                        "{} {id} is in use and cannot be modified.",
                        catalog.title()
                    )));
                }
                store::set_catalog(tx, catalog.singular(), &id, None)
            })
            .await
    }
}

/// Checks a load balancer's `flavor_id` or `availability_zone` against
/// its catalog: it must exist and be enabled (Octavia's words).
pub(super) fn check_choice(conn: &Connection, catalog: Catalog, id: &str) -> Result<(), LbError> {
    let field = catalog.load_balancer_field().unwrap_or_default();
    match find(conn, catalog, id)? {
        None => Err(LbError::Validation(format!("Invalid {field}."))),
        Some(doc) if doc.get("enabled") == Some(&json!(false)) => Err(LbError::Invalid(format!(
            "The selected {} is not allowed in this deployment: {id}",
            if catalog == Catalog::Flavor {
                "flavor"
            } else {
                "availability_zone"
            }
        ))),
        Some(_) => Ok(()),
    }
}
