//! The networking service's operations: typed calls (a caller and a typed
//! request, a typed result) that check the policy themselves. Each decides
//! what a request may do and makes its change in one transaction, refusing
//! before anything is written; the calls every kind of resource shares are
//! written once over [`Resource`], and the kind-specific decisions live in
//! the submodules as plain functions over a connection, so that one
//! transaction can combine them (a router creating its gateway port,
//! bootstrap creating everything).

mod access;
mod addresses;
mod bootstrap;
mod compute;
mod dhcp;
mod floating_ips;
mod loadbalancing;
mod networks;
mod port_records;
mod ports;
mod quotas;
mod reconcile;
mod resource;
mod routers;
mod security_groups;
mod state;
mod subnets;

use std::sync::Arc;

use oxistack_auth::{Action, AuthContext};
use oxistack_db::Db;
use oxistack_db::rusqlite::Connection;
use oxistack_list::{Item, ListError, ListQuery, Page};
use oxistack_netplane::NetworkDataPlane;
use serde_json::{Map, Value};

use crate::errors::{NetworkError, authorize, missing};
use crate::kind::Kind;
use crate::model::Router;
use crate::store::{self, Prefilter, Scope};
use crate::wire::{self, InterfaceInfo};

pub use bootstrap::NetworkDefaults;
pub(crate) use quotas::not_a_limit;
pub use reconcile::ReconcileError;
pub use resource::{Resource, Shown, Updatable};

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
    /// background reconciliation as a task of `tasks` (and a first pass at
    /// once), so it must be called within a tokio runtime.
    pub fn new(
        db: Db,
        dataplane: Arc<dyn NetworkDataPlane>,
        tasks: &oxistack_tasks::Supervisor,
    ) -> Arc<Self> {
        let reconciler = reconcile::start(db.clone(), dataplane, tasks);
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
    async fn change<T, F>(&self, change: F) -> Result<T, NetworkError>
    where
        F: FnOnce(&Connection) -> Result<T, NetworkError> + Send + 'static,
        T: Send + 'static,
    {
        let value = self.db.write(move |tx| change(tx)).await?;
        self.reconciler.request();
        Ok(value)
    }

    /// A page of the resources of kind `R` the caller can see, as `query`
    /// asks.
    pub async fn list<R: Resource>(
        &self,
        caller: &Arc<AuthContext>,
        query: ListQuery,
    ) -> Result<Page<Shown<R>>, NetworkError> {
        authorize(caller, Action::ReadNetworking)?;
        if matches!(R::KIND, Kind::SecurityGroup | Kind::SecurityGroupRule) {
            self.ensure_default_group(caller).await?;
        }
        let caller = caller.clone();
        self.db
            .read(move |conn| {
                let (scope, admin) = (scope(&caller), caller.is_admin());
                let item =
                    |resource: R| Item::new(resource.standard().seq, Shown { resource, admin });
                let prefilter = query
                    .indexed()
                    .fold(Prefilter::new(), |prefilter, (column, values)| {
                        prefilter.with(column, values.to_vec())
                    });
                let items = R::list(conn, scope, &prefilter)?
                    .into_iter()
                    .map(item)
                    .collect();
                let marker = match &query.marker {
                    Some(id) => Some(R::find(conn, scope, id).map(item).map_err(|_| {
                        NetworkError::List(ListError::UnknownMarker {
                            marker: id.clone(),
                            resource: R::KIND.singular(),
                        })
                    })?),
                    None => None,
                };
                Ok(query.page(items, marker.as_ref()))
            })
            .await
    }

    /// Whether the caller may read the networking API at all: what the
    /// API's static answers (extensions, zones) ask of it.
    pub fn may_read(&self, caller: &AuthContext) -> Result<(), NetworkError> {
        authorize(caller, Action::ReadNetworking)
    }

    /// The resource `id` of kind `R`, if the caller can see it.
    pub async fn get<R: Resource>(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
    ) -> Result<R, NetworkError> {
        authorize(caller, Action::ReadNetworking)?;
        if R::KIND == Kind::SecurityGroup {
            self.ensure_default_group(caller).await?;
        }
        let (caller, id) = (caller.clone(), id.to_owned());
        self.db
            .read(move |conn| R::find(conn, scope(&caller), &id))
            .await
    }

    /// Creates one resource or several, all or none.
    pub async fn create<R: Resource>(
        &self,
        caller: &Arc<AuthContext>,
        requests: Vec<R::Create>,
    ) -> Result<Vec<R>, NetworkError> {
        authorize(caller, Action::CreateNetworking)?;
        let caller = caller.clone();
        self.change(move |conn| {
            let created = requests
                .into_iter()
                .map(|request| {
                    let id = R::create(conn, &caller, request)?;
                    R::find(conn, Scope::All, &id)
                })
                .collect::<Result<Vec<_>, NetworkError>>()?;
            // The first port or security group of a project brings its
            // default group, as in Neutron; in this transaction, so that a
            // refused request makes none.
            let uses_groups = matches!(
                R::KIND,
                Kind::Port | Kind::SecurityGroup | Kind::SecurityGroupRule
            );
            if let Some(project) = caller.project_id().filter(|_| uses_groups) {
                security_groups::ensure_default(conn, project)?;
            }
            Ok(created)
        })
        .await
    }

    pub async fn update<R: Updatable>(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        request: R::Update,
    ) -> Result<R, NetworkError> {
        authorize(caller, Action::UpdateNetworking)?;
        let (caller, id) = (caller.clone(), id.to_owned());
        self.change(move |conn| {
            R::update(conn, &caller, &id, request)?;
            R::find(conn, Scope::All, &id)
        })
        .await
    }

    pub async fn delete<R: Resource>(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
    ) -> Result<(), NetworkError> {
        authorize(caller, Action::DeleteNetworking)?;
        let (caller, id) = (caller.clone(), id.to_owned());
        self.change(move |conn| R::delete(conn, &caller, &id)).await
    }

    pub async fn tags<R: Resource>(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
    ) -> Result<Vec<String>, NetworkError> {
        let resource: R = self.get(caller, id).await?;
        Ok(resource.standard().tags.clone())
    }

    /// Changes a resource's tags: `Replace` them all, `Add` some, or
    /// `Remove` one (404 if it does not have it). Returns the tags after.
    pub async fn change_tags<R: Resource>(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        change: TagChange,
    ) -> Result<Vec<String>, NetworkError> {
        authorize(caller, Action::UpdateNetworking)?;
        if let TagChange::Replace(tags) | TagChange::Add(tags) = &change {
            tags.iter().try_for_each(|tag| validate_tag(tag))?;
        }
        let (caller, id) = (caller.clone(), id.to_owned());
        self.db
            .write(move |conn| {
                let resource = R::find(conn, scope(&caller), &id)?;
                access::require_owner(&caller, &resource.standard().project_id)?;
                match &change {
                    TagChange::Replace(tags) => store::tags::replace(conn, &id, tags)?,
                    TagChange::Add(tags) => {
                        for tag in tags {
                            store::tags::add(conn, &id, tag)?;
                        }
                    }
                    TagChange::Remove(tag) => {
                        if !store::tags::remove(conn, &id, tag)? {
                            return Err(tag_not_found(R::KIND, &id, tag));
                        }
                    }
                    TagChange::Clear => store::tags::delete_all(conn, &id)?,
                }
                store::touch(conn, R::KIND.table(), &id)?;
                let mut tags = store::tags::of(conn, std::slice::from_ref(&id))?;
                Ok(tags.remove(&id).unwrap_or_default())
            })
            .await
    }

    pub async fn add_router_interface(
        &self,
        caller: &Arc<AuthContext>,
        router_id: &str,
        request: wire::InterfaceRequest,
    ) -> Result<InterfaceInfo, NetworkError> {
        authorize(caller, Action::UpdateNetworking)?;
        let (caller, router_id) = (caller.clone(), router_id.to_owned());
        self.change(move |conn| routers::add_interface(conn, &caller, &router_id, request))
            .await
    }

    pub async fn remove_router_interface(
        &self,
        caller: &Arc<AuthContext>,
        router_id: &str,
        request: wire::InterfaceRequest,
    ) -> Result<InterfaceInfo, NetworkError> {
        authorize(caller, Action::UpdateNetworking)?;
        let (caller, router_id) = (caller.clone(), router_id.to_owned());
        self.change(move |conn| routers::remove_interface(conn, &caller, &router_id, request))
            .await
    }

    /// Adds (`add == true`) or removes static routes of a router.
    pub async fn change_extra_routes(
        &self,
        caller: &Arc<AuthContext>,
        router_id: &str,
        request: wire::ExtraRoutes,
        add: bool,
    ) -> Result<Router, NetworkError> {
        authorize(caller, Action::UpdateNetworking)?;
        let (caller, router_id) = (caller.clone(), router_id.to_owned());
        self.change(move |conn| {
            routers::change_routes(conn, &caller, &router_id, request, add)?;
            Router::find(conn, Scope::All, &router_id)
        })
        .await
    }

    /// Creates the caller's project's `default` security group if it does
    /// not exist yet, as Neutron does the first time a project uses
    /// security groups or ports.
    async fn ensure_default_group(&self, caller: &AuthContext) -> Result<(), NetworkError> {
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
pub enum TagChange {
    Replace(Vec<String>),
    Add(Vec<String>),
    Remove(String),
    Clear,
}

/// Neutron's tag rules: non-empty, at most 255 characters, no commas
/// (lists of tags in filters are comma-separated).
pub(crate) fn validate_tag(tag: &str) -> Result<(), NetworkError> {
    if tag.is_empty() || tag.chars().count() > 255 || tag.contains(',') {
        return Err(crate::errors::invalid_input(
            "tags",
            format!("'{tag}' is not a valid tag: tags are 1 to 255 characters without commas"),
        ));
    }
    Ok(())
}

/// The resource `id` of `kind` does not have `tag`.
pub(crate) fn tag_not_found(kind: Kind, id: &str, tag: &str) -> NetworkError {
    missing(
        "TagNotFound",
        format!("Tag {tag} could not be found for {} {id}.", kind.singular()),
    )
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
