//! The networking service's operations. Each decides what a request may
//! do and makes its change in one transaction, refusing before anything is
//! written; the kind-specific decisions live in the submodules as plain
//! functions over a connection, so that one transaction can combine them
//! (a router creating its gateway port, bootstrap creating everything).

mod access;
mod addresses;
mod bootstrap;
mod compute;
mod dhcp;
mod documents;
mod floating_ips;
mod networks;
mod ports;
mod quotas;
mod reconcile;
mod routers;
mod security_groups;
mod state;
mod subnets;

use std::sync::Arc;

use oxistack_auth::{Action, AuthContext, authorize};
use oxistack_db::Db;
use oxistack_db::rusqlite::Connection;
use oxistack_http::{ApiError, envelope};
use oxistack_netplane::NetworkDataPlane;
use serde_json::{Map, Value};

use crate::kind::Kind;
use crate::query::{ListQuery, Page};
use crate::store::{self, Prefilter};
use crate::wire::{self, InterfaceInfo};

pub use bootstrap::NetworkDefaults;
pub use reconcile::ReconcileError;

use access::scope;
use reconcile::Reconciler;

/// A Neutron document: one resource's attributes.
pub type Document = Map<String, Value>;

/// The networking service: its state lives in the database; the data
/// plane is kept in line with it in the background.
pub struct NetworkService {
    db: Db,
    reconciler: Reconciler,
    /// The host ports bound by the compute service are on (this machine).
    host: String,
}

impl NetworkService {
    /// The service over `db`, whose network tables must already be
    /// migrated, applying desired state through `dataplane`. Starts the
    /// background reconciliation (and a first one at once), so it must be
    /// called within a tokio runtime.
    pub fn new(db: Db, dataplane: Arc<dyn NetworkDataPlane>) -> Arc<Self> {
        let reconciler = Reconciler::start(db.clone(), dataplane);
        reconciler.request();
        Arc::new(NetworkService {
            db,
            reconciler,
            host: host_name(),
        })
    }

    /// Builds the desired state from the database and applies it now,
    /// waiting for the data plane (`oxistack reconcile`).
    pub async fn reconcile_now(&self) -> Result<(), ReconcileError> {
        self.reconciler.reconcile_now().await
    }

    /// Runs `change` in one write transaction and, once committed, asks for
    /// the data plane to follow.
    async fn change<T, F>(&self, change: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let value = self.db.write(move |tx| change(tx)).await?;
        self.reconciler.request();
        Ok(value)
    }

    pub(crate) async fn list(
        &self,
        caller: &Arc<AuthContext>,
        query: ListQuery,
    ) -> Result<Page, ApiError> {
        authorize(caller, Action::ReadNetworking)?;
        let kind = query.kind();
        if matches!(kind, Kind::SecurityGroup | Kind::SecurityGroupRule) {
            self.ensure_default_group(caller).await?;
        }
        let caller = caller.clone();
        self.db
            .read(move |conn| {
                let admin = caller.is_admin();
                let items = documents::load(conn, scope(&caller), admin, kind, &query.prefilter())?;
                let marker = match &query.marker {
                    Some(id) => Some(
                        documents::load(conn, scope(&caller), admin, kind, &Prefilter::id(id))?
                            .pop()
                            .ok_or_else(|| {
                                crate::errors::bad_request(
                                    "HTTPBadRequest",
                                    format!(
                                        "marker {id} is not a {} you can see.",
                                        kind.singular()
                                    ),
                                )
                            })?,
                    ),
                    None => None,
                };
                Ok(query.page(items, marker.as_ref()))
            })
            .await
    }

    pub(crate) async fn show(
        &self,
        caller: &Arc<AuthContext>,
        kind: Kind,
        id: &str,
    ) -> Result<Document, ApiError> {
        authorize(caller, Action::ReadNetworking)?;
        if kind == Kind::SecurityGroup {
            self.ensure_default_group(caller).await?;
        }
        let (caller, id) = (caller.clone(), id.to_owned());
        self.db
            .read(move |conn| documents::one(conn, scope(&caller), caller.is_admin(), kind, &id))
            .await
    }

    /// `POST` of one resource (`{"network": {...}}`) or several
    /// (`{"networks": [...]}`, all or none): the created documents.
    pub(crate) async fn create(
        &self,
        caller: &Arc<AuthContext>,
        kind: Kind,
        body: Value,
    ) -> Result<Value, ApiError> {
        authorize(caller, Action::CreateNetworking)?;
        let bodies: Vec<(String, Value)> = match body {
            Value::Object(mut body) if body.get(kind.plural()).is_some_and(Value::is_array) => {
                let Some(Value::Array(items)) = body.remove(kind.plural()) else {
                    unreachable!("checked to be an array")
                };
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| (format!("{}[{i}]", kind.plural()), item))
                    .collect()
            }
            Value::Object(mut body) if body.contains_key(kind.singular()) => {
                vec![(
                    kind.singular().to_owned(),
                    body.remove(kind.singular()).unwrap_or_default(),
                )]
            }
            _ => {
                return Err(crate::errors::bad_request(
                    "HTTPBadRequest",
                    format!(
                        "Resource body required: give {{\"{}\": {{...}}}} or {{\"{}\": [...]}}.",
                        kind.singular(),
                        kind.plural()
                    ),
                ));
            }
        };
        if matches!(
            kind,
            Kind::Port | Kind::SecurityGroup | Kind::SecurityGroupRule
        ) {
            self.ensure_default_group(caller).await?;
        }
        let bulk = bodies.len() != 1 || bodies[0].0 != kind.singular();
        let caller = caller.clone();
        let documents = self
            .change(move |conn| {
                bodies
                    .into_iter()
                    .map(|(key, body)| {
                        let id = create_one(conn, &caller, kind, &key, body)?;
                        documents::one(conn, store::Scope::All, caller.is_admin(), kind, &id)
                    })
                    .collect::<Result<Vec<_>, ApiError>>()
            })
            .await?;
        Ok(if bulk {
            serde_json::json!({ kind.plural(): documents })
        } else {
            serde_json::json!({ kind.singular(): documents.into_iter().next() })
        })
    }

    pub(crate) async fn update(
        &self,
        caller: &Arc<AuthContext>,
        kind: Kind,
        id: &str,
        body: Value,
    ) -> Result<Document, ApiError> {
        authorize(caller, Action::UpdateNetworking)?;
        let (caller, id) = (caller.clone(), id.to_owned());
        self.change(move |conn| {
            let key = kind.singular();
            match kind {
                Kind::Network => networks::update(conn, &caller, &id, envelope(body, key)?),
                Kind::Subnet => subnets::update(conn, &caller, &id, envelope(body, key)?),
                Kind::Port => ports::update(conn, &caller, &id, envelope(body, key)?),
                Kind::Router => routers::update(conn, &caller, &id, envelope(body, key)?),
                Kind::FloatingIp => floating_ips::update(conn, &caller, &id, envelope(body, key)?),
                Kind::SecurityGroup => {
                    security_groups::update(conn, &caller, &id, envelope(body, key)?)
                }
                Kind::SecurityGroupRule => Err(ApiError::new(
                    axum::http::StatusCode::METHOD_NOT_ALLOWED,
                    "Security group rules cannot be changed; delete the rule and create another.",
                )),
            }?;
            documents::one(conn, store::Scope::All, caller.is_admin(), kind, &id)
        })
        .await
    }

    pub(crate) async fn delete(
        &self,
        caller: &Arc<AuthContext>,
        kind: Kind,
        id: &str,
    ) -> Result<(), ApiError> {
        authorize(caller, Action::DeleteNetworking)?;
        let (caller, id) = (caller.clone(), id.to_owned());
        self.change(move |conn| match kind {
            Kind::Network => networks::delete(conn, &caller, &id),
            Kind::Subnet => subnets::delete(conn, &caller, &id),
            Kind::Port => ports::delete(conn, &caller, &id),
            Kind::Router => routers::delete(conn, &caller, &id),
            Kind::FloatingIp => floating_ips::delete(conn, &caller, &id),
            Kind::SecurityGroup => security_groups::delete(conn, &caller, &id),
            Kind::SecurityGroupRule => security_groups::delete_rule(conn, &caller, &id),
        })
        .await
    }

    pub(crate) async fn tags(
        &self,
        caller: &Arc<AuthContext>,
        kind: Kind,
        id: &str,
    ) -> Result<Vec<String>, ApiError> {
        let document = self.show(caller, kind, id).await?;
        Ok(document
            .get("tags")
            .and_then(Value::as_array)
            .map(|tags| {
                tags.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Changes a resource's tags: `Replace` them all, `Add` some, or
    /// `Remove` one (404 if it does not have it). Returns the tags after.
    pub(crate) async fn change_tags(
        &self,
        caller: &Arc<AuthContext>,
        kind: Kind,
        id: &str,
        change: TagChange,
    ) -> Result<Vec<String>, ApiError> {
        authorize(caller, Action::UpdateNetworking)?;
        if let TagChange::Replace(tags) | TagChange::Add(tags) = &change {
            tags.iter().try_for_each(|tag| validate_tag(tag))?;
        }
        let (caller, id) = (caller.clone(), id.to_owned());
        self.db
            .write(move |conn| {
                let document = documents::one(conn, scope(&caller), caller.is_admin(), kind, &id)?;
                let owner = document
                    .get("project_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                access::require_owner(&caller, owner)?;
                match &change {
                    TagChange::Replace(tags) => store::tags::replace(conn, &id, tags)?,
                    TagChange::Add(tags) => {
                        for tag in tags {
                            store::tags::add(conn, &id, tag)?;
                        }
                    }
                    TagChange::Remove(tag) => {
                        if !store::tags::remove(conn, &id, tag)? {
                            return Err(ApiError::not_found(format!(
                                "Tag {tag} could not be found for {} {id}.",
                                kind.singular()
                            ))
                            .with_kind("TagNotFound"));
                        }
                    }
                    TagChange::Clear => store::tags::delete_all(conn, &id)?,
                }
                store::touch(conn, kind.table(), &id)?;
                let mut tags = store::tags::of(conn, std::slice::from_ref(&id))?;
                Ok(tags.remove(&id).unwrap_or_default())
            })
            .await
    }

    pub(crate) async fn add_router_interface(
        &self,
        caller: &Arc<AuthContext>,
        router_id: &str,
        request: wire::InterfaceRequest,
    ) -> Result<InterfaceInfo, ApiError> {
        authorize(caller, Action::UpdateNetworking)?;
        let (caller, router_id) = (caller.clone(), router_id.to_owned());
        self.change(move |conn| routers::add_interface(conn, &caller, &router_id, request))
            .await
    }

    pub(crate) async fn remove_router_interface(
        &self,
        caller: &Arc<AuthContext>,
        router_id: &str,
        request: wire::InterfaceRequest,
    ) -> Result<InterfaceInfo, ApiError> {
        authorize(caller, Action::UpdateNetworking)?;
        let (caller, router_id) = (caller.clone(), router_id.to_owned());
        self.change(move |conn| routers::remove_interface(conn, &caller, &router_id, request))
            .await
    }

    /// Adds (`add == true`) or removes static routes of a router.
    pub(crate) async fn change_extra_routes(
        &self,
        caller: &Arc<AuthContext>,
        router_id: &str,
        request: wire::ExtraRoutes,
        add: bool,
    ) -> Result<Document, ApiError> {
        authorize(caller, Action::UpdateNetworking)?;
        let (caller, router_id) = (caller.clone(), router_id.to_owned());
        self.change(move |conn| {
            routers::change_routes(conn, &caller, &router_id, request, add)?;
            documents::one(
                conn,
                store::Scope::All,
                caller.is_admin(),
                Kind::Router,
                &router_id,
            )
        })
        .await
    }

    /// Creates the caller's project's `default` security group if it does
    /// not exist yet, as Neutron does the first time a project uses
    /// security groups or ports.
    async fn ensure_default_group(&self, caller: &AuthContext) -> Result<(), ApiError> {
        let Some(project) = caller.project_id().map(str::to_owned) else {
            return Ok(());
        };
        let lookup = project.clone();
        let exists = self
            .db
            .read(move |conn| store::security_groups::default_of(conn, &lookup))
            .await?
            .is_some();
        if !exists {
            self.change(move |conn| security_groups::ensure_default(conn, &project).map(drop))
                .await?;
        }
        Ok(())
    }
}

/// How a request changes a resource's tags.
#[derive(Debug, Clone)]
pub(crate) enum TagChange {
    Replace(Vec<String>),
    Add(Vec<String>),
    Remove(String),
    Clear,
}

/// Neutron's tag rules: non-empty, at most 255 characters, no commas
/// (lists of tags in filters are comma-separated).
pub(crate) fn validate_tag(tag: &str) -> Result<(), ApiError> {
    if tag.is_empty() || tag.chars().count() > 255 || tag.contains(',') {
        return Err(crate::errors::invalid_input(
            "tags",
            format!("'{tag}' is not a valid tag: tags are 1 to 255 characters without commas"),
        ));
    }
    Ok(())
}

/// Creates one resource from its request body (`key` names it in errors),
/// returning its id.
fn create_one(
    conn: &Connection,
    caller: &AuthContext,
    kind: Kind,
    key: &str,
    body: Value,
) -> Result<String, ApiError> {
    let body = serde_json::json!({ key: body });
    match kind {
        Kind::Network => networks::create(conn, caller, envelope(body, key)?).map(|n| n.std.id),
        Kind::Subnet => subnets::create(conn, caller, envelope(body, key)?).map(|s| s.std.id),
        Kind::Port => {
            ports::create(conn, caller, envelope(body, key)?, ports::Origin::Api).map(|p| p.std.id)
        }
        Kind::Router => routers::create(conn, caller, envelope(body, key)?).map(|r| r.std.id),
        Kind::FloatingIp => {
            floating_ips::create(conn, caller, envelope(body, key)?).map(|f| f.std.id)
        }
        Kind::SecurityGroup => {
            security_groups::create(conn, caller, envelope(body, key)?).map(|g| g.std.id)
        }
        Kind::SecurityGroupRule => {
            security_groups::create_rule(conn, caller, envelope(body, key)?).map(|r| r.std.id)
        }
    }
}

/// This machine's name, which ports bound by the compute service carry as
/// `binding:host_id` (the compute host is this machine).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn defaults() -> NetworkDefaults {
        NetworkDefaults {
            admin_project_id: "admin-project".into(),
            demo_project_id: "demo-project".into(),
            floating_range: "172.24.4.0/24".into(),
            pool_start: "172.24.4.2".parse().unwrap(),
            pool_end: "172.24.4.254".parse().unwrap(),
            gateway: "172.24.4.1".parse().unwrap(),
        }
    }

    /// One resource of every kind: DevStack's networks, the admin
    /// project's default security group, a floating IP.
    pub fn populate(conn: &Connection) {
        bootstrap::create_defaults(conn, &defaults()).unwrap();
        let admin = AuthContext::cloud_administrator("admin-project");
        security_groups::ensure_default(conn, "admin-project").unwrap();
        let public = store::networks::list(
            conn,
            store::Scope::All,
            &Prefilter::new().with("name", vec!["public".into()]),
        )
        .unwrap()
        .remove(0);
        floating_ips::create(
            conn,
            &admin,
            wire::FloatingIpCreate {
                floating_network_id: public.std.id,
                ..Default::default()
            },
        )
        .unwrap();
    }
}
