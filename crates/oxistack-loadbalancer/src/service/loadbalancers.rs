//! Load balancers themselves: create (with the VIP port from networking,
//! and optionally the whole tree under it in one call, as Kubernetes'
//! cloud provider sends it), update, delete (cascading or not), failover,
//! and the status tree and statistics.

use std::sync::Arc;

use oxistack_auth::{Action, AuthContext};
use oxistack_contracts::{ContractError, VipRequest};
use serde::Serialize;

use super::catalog::{Catalog, check_choice};
use super::objects::{add_listener, add_pool};
use super::validate::{self, Birth};
use super::{LbError, LoadBalancerService, Locate, authorize, now, owns, quotas};
use crate::model::{
    ACTIVE, ERROR, Kind, LoadBalancer, OFFLINE, PENDING_CREATE, PENDING_DELETE, PENDING_UPDATE,
    Tree,
};
use crate::store;
use crate::wire::documents::{self, Document};
use crate::wire::{ListenerCreate, LoadBalancerCreate, LoadBalancerUpdate, PoolCreate};

/// The providers served; the first is the default. Both are this cloud's
/// own data plane (`amphora` is accepted for clients that name it).
pub const PROVIDERS: &[(&str, &str)] = &[
    ("oxistack", "The oxistack load-balancer proxy (default)."),
    (
        "amphora",
        "The oxistack load-balancer proxy, under Octavia's reference name.",
    ),
];

/// Octavia's statistics of a listener or load balancer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub active_connections: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub request_errors: u64,
    pub total_connections: u64,
}

impl Stats {
    fn add(&mut self, other: &oxistack_lbplane::ListenerStats) {
        self.active_connections += other.active_connections;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self.request_errors += other.request_errors;
        self.total_connections += other.total_connections;
    }
}

/// A listener's default pool given by name only: a reference to a pool of
/// the request's `pools`.
fn is_reference(pool: &PoolCreate) -> bool {
    pool.protocol.is_none()
        && pool.lb_algorithm.is_none()
        && pool.members.is_none()
        && pool.healthmonitor.is_none()
        && pool.session_persistence.is_none()
}

/// Builds the objects of a populated create into `tree`, as Octavia's
/// `_graph_create`: full default pools move to the pools, every pool is
/// named and named once, references must resolve.
fn graph(
    tree: &mut Tree,
    mut listeners: Vec<ListenerCreate>,
    mut pools: Vec<PoolCreate>,
    birth: &Birth,
) -> Result<(), LbError> {
    let unnamed = || {
        LbError::Validation(
            "Pools must be named when creating a fully populated loadbalancer.".into(),
        )
    };
    let mut defaults = Vec::new();
    let mut required = Vec::new();
    for listener in &mut listeners {
        let Some(pool) = listener.default_pool.take() else {
            defaults.push(None);
            continue;
        };
        let name = pool
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .ok_or_else(unnamed)?;
        if is_reference(&pool) {
            required.push(name.clone());
        } else {
            pools.push(pool);
        }
        defaults.push(Some(name));
    }
    let mut names = Vec::new();
    for pool in &pools {
        let name = pool
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .ok_or_else(unnamed)?;
        if names.contains(&name) {
            return Err(LbError::Validation(
                "Pool names must be unique when creating a fully populated loadbalancer.".into(),
            ));
        }
        names.push(name);
    }
    if let Some(missing) = required.iter().find(|r| !names.contains(r)) {
        return Err(LbError::Validation(format!(
            "Pool '{missing}' was referenced but no full definition was found."
        )));
    }
    let mut pool_ids = Vec::new();
    for (pool, name) in pools.iter().zip(&names) {
        for (attribute, given) in [
            ("protocol", pool.protocol.is_some()),
            ("lb_algorithm", pool.lb_algorithm.is_some()),
        ] {
            if !given {
                return Err(LbError::Validation(format!(
                    "Pool definition for '{name}' missing required attribute: {attribute}"
                )));
            }
        }
        pool_ids.push(add_pool(tree, pool, None, birth)?);
    }
    for (mut listener, default) in listeners.into_iter().zip(defaults) {
        if listener.default_pool_id.is_some() {
            return Err(LbError::Validation(
                "default_pool_id is not allowed when creating a fully populated loadbalancer; \
                 name a pool as default_pool instead."
                    .into(),
            ));
        }
        listener.default_pool_id = default.map(|name| {
            let at = names
                .iter()
                .position(|n| *n == name)
                .expect("resolved above");
            pool_ids[at].clone()
        });
        add_listener(tree, &listener, birth)?;
    }
    Ok(())
}

fn check_provider(provider: Option<&str>) -> Result<String, LbError> {
    let provider = provider.unwrap_or(PROVIDERS[0].0);
    if PROVIDERS.iter().any(|(name, _)| *name == provider) {
        Ok(provider.to_owned())
    } else {
        Err(LbError::Invalid(format!(
            "Provider '{provider}' is not enabled."
        )))
    }
}

impl LoadBalancerService {
    pub async fn create_load_balancer(
        &self,
        caller: &Arc<AuthContext>,
        request: LoadBalancerCreate,
    ) -> Result<Document, LbError> {
        authorize(caller, Action::WriteLoadBalancers)?;
        let project = request
            .project_id
            .clone()
            .or(request.tenant_id.clone())
            .or(caller.project_id().map(str::to_owned))
            .ok_or_else(|| {
                LbError::Validation("Missing project ID in request where one is required.".into())
            })?;
        if !owns(caller, &project) {
            return Err(LbError::Forbidden);
        }
        if request.vip_port_id.is_none()
            && request.vip_network_id.is_none()
            && request.vip_subnet_id.is_none()
        {
            return Err(LbError::Validation(
                "VIP must contain one of: vip_port_id, vip_network_id, vip_subnet_id.".into(),
            ));
        }
        for (field, value) in [
            ("vip_port_id", &request.vip_port_id),
            ("vip_network_id", &request.vip_network_id),
            ("vip_subnet_id", &request.vip_subnet_id),
            ("vip_qos_policy_id", &request.vip_qos_policy_id),
            ("flavor_id", &request.flavor_id),
        ] {
            validate::uuid(field, value.as_deref())?;
        }
        let vip_address = request
            .vip_address
            .as_deref()
            .map(|a| validate::address("vip_address", a))
            .transpose()?;
        let provider = check_provider(request.provider.as_deref())?;
        let choices = [
            (Catalog::Flavor, request.flavor_id.clone()),
            (Catalog::Zone, request.availability_zone.clone()),
        ];
        self.db
            .read(move |conn| {
                for (catalog, choice) in choices {
                    if let Some(choice) = choice {
                        check_choice(conn, catalog, &choice)?;
                    }
                }
                Ok::<_, LbError>(())
            })
            .await?;
        if request
            .additional_vips
            .as_ref()
            .is_some_and(|v| !v.is_empty())
        {
            return Err(LbError::unsupported("additional VIPs"));
        }
        vip_security_groups(request.vip_sg_ids.as_deref())?;
        let now = now();
        let lb = LoadBalancer {
            id: uuid::Uuid::new_v4().to_string(),
            name: validate::text("name", request.name.as_deref())?,
            description: validate::text("description", request.description.as_deref())?,
            provisioning_status: PENDING_CREATE.into(),
            operating_status: OFFLINE.into(),
            admin_state_up: request.admin_state_up.unwrap_or(true),
            project_id: project.clone(),
            created_at: now.clone(),
            updated_at: None,
            vip_address: String::new(),
            vip_port_id: String::new(),
            vip_subnet_id: String::new(),
            vip_network_id: String::new(),
            vip_qos_policy_id: request.vip_qos_policy_id.clone(),
            provider,
            flavor_id: request.flavor_id.clone(),
            availability_zone: request.availability_zone.clone(),
            tags: validate::tags(request.tags.as_deref())?,
        };
        let mut tree = Tree::new(lb);
        let birth = Birth {
            project_id: project.clone(),
            now,
        };
        let listeners = request.listeners.clone().unwrap_or_default();
        let pools = request.pools.clone().unwrap_or_default();
        let members = pools
            .iter()
            .chain(listeners.iter().filter_map(|l| l.default_pool.as_ref()))
            .flat_map(|p| p.members.iter().flatten());
        self.check_member_subnets(caller, members).await?;
        graph(&mut tree, listeners, pools, &birth)?;

        let vip = self
            .networking
            .create_vip(
                caller,
                VipRequest {
                    load_balancer_id: tree.lb.id.clone(),
                    project_id: project,
                    port_id: request.vip_port_id.clone(),
                    subnet_id: request.vip_subnet_id.clone(),
                    network_id: request.vip_network_id.clone(),
                    address: vip_address,
                },
            )
            .await
            .map_err(|error| match error {
                // What the VIP names must exist: Octavia's 400s.
                ContractError::NotFound(message) => LbError::Invalid(message),
                other => other.into(),
            })?;
        tree.lb.vip_address = vip.address.to_string();
        tree.lb.vip_port_id = vip.port_id;
        tree.lb.vip_subnet_id = vip.subnet_id;
        tree.lb.vip_network_id = vip.network_id;
        let document = documents::load_balancer_full(&tree);
        let lb_id = tree.lb.id.clone();
        // The quota is checked with the write; a refused create gives its
        // VIP port back below.
        let saved = self
            .db
            .write(move |tx| {
                quotas::enforce(tx, None, &tree)?;
                store::save(tx, &tree)
            })
            .await;
        if let Err(error) = saved {
            if let Err(release) = self.networking.release(&lb_id).await {
                tracing::warn!(%lb_id, %release, "releasing the VIP of a failed create");
            }
            return Err(error);
        }
        self.reconciler.request();
        Ok(document)
    }

    pub async fn update_load_balancer(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        request: LoadBalancerUpdate,
    ) -> Result<Document, LbError> {
        validate::uuid(
            "vip_qos_policy_id",
            request.vip_qos_policy_id.clone().flatten().as_deref(),
        )?;
        vip_security_groups(request.vip_sg_ids.clone().flatten().as_deref())?;
        self.change(caller, Locate::new(Kind::LoadBalancer, id), move |tree| {
            lock_load_balancer(tree, PENDING_UPDATE, &[ACTIVE])?;
            let lb = &mut tree.lb;
            if let Some(name) = request.name {
                lb.name = validate::text("name", name.as_deref())?;
            }
            if let Some(description) = request.description {
                lb.description = validate::text("description", description.as_deref())?;
            }
            if let Some(qos) = request.vip_qos_policy_id {
                lb.vip_qos_policy_id = qos;
            }
            if let Some(up) = request.admin_state_up {
                lb.admin_state_up = up;
            }
            if let Some(tags) = request.tags {
                lb.tags = validate::tags(Some(&tags))?;
            }
            Ok(documents::load_balancer(tree))
        })
        .await
    }

    /// Deletes a load balancer: refused while it has listeners or pools
    /// unless `cascade`; everything is `PENDING_DELETE` until a pass has
    /// taken it off the data plane and released its ports.
    pub async fn delete_load_balancer(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        cascade: bool,
    ) -> Result<(), LbError> {
        self.change(caller, Locate::new(Kind::LoadBalancer, id), move |tree| {
            if !cascade && (!tree.listeners.is_empty() || !tree.pools.is_empty()) {
                return Err(LbError::Validation(format!(
                    "Cannot delete Load Balancer {} - it has children",
                    tree.lb.id
                )));
            }
            lock_load_balancer(tree, PENDING_DELETE, &[ACTIVE, ERROR])?;
            tree.for_each_status(|o| o.set_provisioning_status(PENDING_DELETE));
            Ok(())
        })
        .await
    }

    /// Octavia's failover: the load balancer is rebuilt on the data plane
    /// (here: applied again), `PENDING_UPDATE` meanwhile.
    pub async fn failover(&self, caller: &Arc<AuthContext>, id: &str) -> Result<(), LbError> {
        authorize(caller, Action::ManageLoadBalancing)?;
        self.change(caller, Locate::new(Kind::LoadBalancer, id), move |tree| {
            lock_load_balancer(tree, PENDING_UPDATE, &[ACTIVE, ERROR])
        })
        .await
    }

    pub async fn load_balancer_status(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
    ) -> Result<serde_json::Value, LbError> {
        self.read(caller, Locate::new(Kind::LoadBalancer, id), |tree| {
            Ok(documents::status_tree(tree))
        })
        .await
    }

    /// The statistics of a load balancer (all its listeners) or of one
    /// listener, from what the data plane observes now.
    pub async fn stats(
        &self,
        caller: &Arc<AuthContext>,
        kind: Kind,
        id: &str,
    ) -> Result<Stats, LbError> {
        let id_owned = id.to_owned();
        let listeners = self
            .read(caller, Locate::new(kind, id), move |tree| {
                Ok(match kind {
                    Kind::Listener => vec![id_owned],
                    _ => tree
                        .listeners
                        .iter()
                        .map(|l| l.id.clone())
                        .collect::<Vec<_>>(),
                })
            })
            .await?;
        let observation = self.plane.observe().await.unwrap_or_else(|error| {
            tracing::warn!(%error, "observing the load-balancer data plane");
            Default::default()
        });
        let mut stats = Stats::default();
        for listener in &listeners {
            if let Some(counters) = observation.listeners.get(listener) {
                stats.add(counters);
            }
        }
        Ok(stats)
    }
}

/// Locks the load balancer for a change of its own: refused (Octavia's
/// `LBPendingStateError`) unless its status is one of `from`.
fn lock_load_balancer(tree: &mut Tree, to: &str, from: &[&str]) -> Result<(), LbError> {
    let status = &tree.lb.provisioning_status;
    if !from.contains(&status.as_str()) {
        return Err(LbError::Conflict(format!(
            "Invalid state {status} of loadbalancer resource {}",
            tree.lb.id
        )));
    }
    tree.lb.provisioning_status = to.to_owned();
    tree.lb.updated_at = Some(now());
    Ok(())
}

/// Security groups of the VIP's own choosing (`vip_sg_ids`): the VIP port
/// has the load balancer's security group, built from its listeners, so
/// any given is refused as a provider refuses an option it lacks.
fn vip_security_groups(ids: Option<&[String]>) -> Result<(), LbError> {
    if let Some(ids) = ids.filter(|ids| !ids.is_empty()) {
        for id in ids {
            validate::uuid("vip_sg_ids", Some(id))?;
        }
        return Err(LbError::unsupported("vip_sg_ids"));
    }
    Ok(())
}
