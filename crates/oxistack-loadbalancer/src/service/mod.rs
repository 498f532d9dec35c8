//! The load-balancer service's operations: typed calls (a caller and a
//! typed request, a typed result or an [`LbError`]) that check the policy
//! themselves. A change reads its load balancer's whole tree in one write
//! transaction, refuses (Octavia's 409) while anything in it waits for the
//! data plane, changes it, marks it pending and asks the reconciler for a
//! pass; reads render trees as Octavia's documents.

mod catalog;
mod error;
mod health;
mod l7;
mod lists;
mod loadbalancers;
mod members;
mod objects;
mod quotas;
mod reconcile;
mod state;
mod validate;

use std::sync::Arc;

use oxistack_auth::policy::allows;
use oxistack_auth::{Action, AuthContext};
use oxistack_contracts::LoadBalancerNetworking;
use oxistack_db::Db;
use oxistack_db::rusqlite::Connection;
use oxistack_lbplane::LoadBalancerDataPlane;

use crate::model::{ACTIVE, Kind, PENDING_UPDATE, Tree};
use crate::store;

pub use catalog::Catalog;
pub use error::LbError;
pub use lists::ListKind;
pub use loadbalancers::PROVIDERS;
pub use quotas::defaults as quota_defaults;
pub use reconcile::ReconcileError;

/// The load-balancer service: its state lives in the database; networking
/// and the data plane are kept in line with it in the background.
pub struct LoadBalancerService {
    db: Db,
    networking: Arc<dyn LoadBalancerNetworking>,
    plane: Arc<dyn LoadBalancerDataPlane>,
    reconciler: reconcile::Reconciler,
}

impl LoadBalancerService {
    /// The service over `db` (migrated with [`crate::MIGRATIONS`]), with
    /// VIP ports from `networking` and traffic served by `plane`. Starts
    /// the reconciler and the health poll as tasks of `tasks` (and a first
    /// pass at once), so it must be called within a tokio runtime.
    pub fn new(
        db: Db,
        networking: Arc<dyn LoadBalancerNetworking>,
        plane: Arc<dyn LoadBalancerDataPlane>,
        tasks: &oxistack_tasks::Supervisor,
    ) -> Arc<Self> {
        let reconciler = reconcile::start(db.clone(), networking.clone(), plane.clone(), tasks);
        reconciler.request();
        let service = Arc::new(LoadBalancerService {
            db,
            networking,
            plane,
            reconciler,
        });
        health::start(&service, tasks);
        service
    }

    /// Builds the desired state from the database and applies it now,
    /// waiting for networking and the data plane (`oxistack reconcile`);
    /// pending objects are settled by it.
    pub async fn reconcile_now(&self) -> Result<(), ReconcileError> {
        self.reconciler.reconcile_now().await
    }

    /// Changes the tree of load balancer `lb_id` (found by `locate`) in
    /// one write transaction, then asks for a pass.
    async fn change<T, F>(&self, caller: &Arc<AuthContext>, at: Locate, f: F) -> Result<T, LbError>
    where
        F: FnOnce(&mut Tree) -> Result<T, LbError> + Send + 'static,
        T: Send + 'static,
    {
        authorize(caller, Action::WriteLoadBalancers)?;
        let caller = caller.clone();
        let value = self
            .db
            .write(move |tx| {
                let mut tree = writable_tree(tx, &caller, &at)?;
                let before = tree.clone();
                let value = f(&mut tree)?;
                quotas::enforce(tx, Some(&before), &tree)?;
                store::save(tx, &tree)?;
                Ok::<_, LbError>(value)
            })
            .await?;
        self.reconciler.request();
        Ok(value)
    }

    /// Reads the tree holding the object `at` names, as the caller may.
    async fn read<T, F>(&self, caller: &Arc<AuthContext>, at: Locate, f: F) -> Result<T, LbError>
    where
        F: FnOnce(&Tree) -> Result<T, LbError> + Send + 'static,
        T: Send + 'static,
    {
        authorize(caller, Action::ReadLoadBalancers)?;
        let caller = caller.clone();
        self.db
            .read(move |conn| {
                let tree = visible_tree(conn, &caller, &at)?;
                f(&tree)
            })
            .await
    }
}

/// Which object a request is about: its kind and id. Its load balancer is
/// found from it.
#[derive(Debug, Clone)]
pub struct Locate {
    pub kind: Kind,
    pub id: String,
}

impl Locate {
    pub fn new(kind: Kind, id: &str) -> Locate {
        Locate {
            kind,
            id: id.to_owned(),
        }
    }
}

pub(crate) fn authorize(caller: &AuthContext, action: Action) -> Result<(), LbError> {
    if allows(caller, action.rule()) {
        Ok(())
    } else {
        Err(LbError::Forbidden)
    }
}

/// Whether the caller sees `project`'s load balancers: its own, or all
/// for admins and global observers.
fn sees(caller: &AuthContext, project: &str) -> bool {
    caller.can_see_project(project) || allows(caller, Action::ReadAllLoadBalancers.rule())
}

/// Whether the caller may change `project`'s load balancers.
fn owns(caller: &AuthContext, project: &str) -> bool {
    caller.can_see_project(project) || allows(caller, Action::ManageLoadBalancing.rule())
}

fn visible_tree(conn: &Connection, caller: &AuthContext, at: &Locate) -> Result<Tree, LbError> {
    let missing = || LbError::not_found(at.kind, &at.id);
    let lb_id = store::owner(conn, at.kind, &at.id)?.ok_or_else(missing)?;
    let tree = store::tree(conn, &lb_id)?.ok_or_else(missing)?;
    if !sees(caller, &tree.lb.project_id) {
        return Err(missing());
    }
    Ok(tree)
}

fn writable_tree(conn: &Connection, caller: &AuthContext, at: &Locate) -> Result<Tree, LbError> {
    let tree = visible_tree(conn, caller, at)?;
    if !owns(caller, &tree.lb.project_id) {
        return Err(LbError::Forbidden);
    }
    Ok(tree)
}

/// Locks the load balancer for a change to something under it, as
/// Octavia's `test_and_set_lb_and_listeners_prov_status` does: refused
/// unless it is `ACTIVE`, then `PENDING_UPDATE`.
/// What the new objects of the change are stamped with.
fn lock_for_child(tree: &mut Tree) -> Result<validate::Birth, LbError> {
    let now = now();
    if tree.lb.provisioning_status != ACTIVE {
        return Err(LbError::Conflict(format!(
            "Load Balancer {} is immutable and cannot be updated.",
            tree.lb.id
        )));
    }
    tree.lb.provisioning_status = PENDING_UPDATE.into();
    tree.lb.updated_at = Some(now.clone());
    Ok(validate::Birth {
        project_id: tree.lb.project_id.clone(),
        now,
    })
}

/// Octavia's timestamps: UTC to the second, without a zone.
fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string()
}
