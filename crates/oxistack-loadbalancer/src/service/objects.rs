//! Adding, changing and removing the objects under a load balancer, as
//! changes of its [`Tree`] in memory: the standalone API calls and the
//! one-call populated create share them. Each checks what depends on the
//! rest of the tree (a port already listened on, a pool's protocol against
//! its listener's, one monitor per pool) with Octavia's words.

use std::sync::Arc;

use oxistack_auth::AuthContext;

use super::validate::{self, Birth};
use super::{LbError, LoadBalancerService, Locate, lock_for_child};
use crate::model::{
    HealthMonitor, Kind, L7Policy, Listener, PENDING_CREATE, PENDING_DELETE, PENDING_UPDATE,
    Record, Tree,
};
use crate::wire::documents::{self, Document};
use crate::wire::{
    ListenerCreate, ListenerUpdate, MonitorCreate, MonitorUpdate, PoolCreate, PoolUpdate,
};

/// The transport a listener's port is taken on: HTTP and TLS listeners
/// share TCP's ports.
fn l4(protocol: &str) -> &'static str {
    match protocol {
        "UDP" => "UDP",
        "SCTP" => "SCTP",
        _ => "TCP",
    }
}

pub(super) fn mark<R: Record>(record: &mut R, status: &str, now: &str) {
    if record.provisioning_status() != PENDING_CREATE {
        record.set_provisioning_status(status);
        record.touch(now);
    }
}

/// Adds a listener (and the pool it names, which must be in the tree).
pub fn add_listener(
    tree: &mut Tree,
    request: &ListenerCreate,
    birth: &Birth,
) -> Result<String, LbError> {
    let listener = validate::listener(request, &tree.lb.id, birth)?;
    let taken = tree.listeners.iter().any(|l| {
        l.provisioning_status != PENDING_DELETE
            && l.protocol_port == listener.protocol_port
            && l4(&l.protocol) == l4(&listener.protocol)
    });
    if taken {
        return Err(LbError::Conflict(format!(
            "Another Listener on this Load Balancer is already using protocol {} and protocol_port {}",
            l4(&listener.protocol),
            listener.protocol_port
        )));
    }
    if let Some(pool_id) = &listener.default_pool_id {
        check_default_pool(tree, &listener, pool_id)?;
    }
    let id = listener.id.clone();
    tree.listeners.push(listener);
    Ok(id)
}

fn check_default_pool(tree: &Tree, listener: &Listener, pool_id: &str) -> Result<(), LbError> {
    let pool = tree
        .pool(pool_id)
        .filter(|p| p.provisioning_status != PENDING_DELETE)
        .ok_or_else(|| LbError::not_found(Kind::Pool, pool_id))?;
    validate::pool_fits_listener(&listener.protocol, &pool.protocol)
}

/// Adds a pool with its members and monitor, as the default pool of
/// `listener_id` if one is given.
pub fn add_pool(
    tree: &mut Tree,
    request: &PoolCreate,
    listener_id: Option<&str>,
    birth: &Birth,
) -> Result<String, LbError> {
    let pool = validate::pool(request, &tree.lb.id, birth)?;
    if let Some(listener_id) = listener_id {
        let listener = tree
            .listener(listener_id)
            .filter(|l| l.provisioning_status != PENDING_DELETE)
            .ok_or_else(|| LbError::not_found(Kind::Listener, listener_id))?;
        if listener.default_pool_id.is_some() {
            return Err(LbError::Conflict(
                "This listener already has a default pool".into(),
            ));
        }
        validate::pool_fits_listener(&listener.protocol, &pool.protocol)?;
    }
    let pool_id = pool.id.clone();
    tree.pools.push(pool);
    for member in request.members.iter().flatten() {
        super::members::add_member(tree, &pool_id, member, birth)?;
    }
    if let Some(monitor) = &request.healthmonitor {
        add_monitor(tree, &pool_id, monitor, birth)?;
    }
    if let Some(listener_id) = listener_id {
        let now = &birth.now;
        for listener in tree.listeners.iter_mut().filter(|l| l.id == listener_id) {
            listener.default_pool_id = Some(pool_id.clone());
            mark(listener, PENDING_UPDATE, now);
        }
    }
    Ok(pool_id)
}

pub fn add_monitor(
    tree: &mut Tree,
    pool_id: &str,
    request: &MonitorCreate,
    birth: &Birth,
) -> Result<String, LbError> {
    let pool = tree
        .pool(pool_id)
        .filter(|p| p.provisioning_status != PENDING_DELETE)
        .ok_or_else(|| LbError::not_found(Kind::Pool, pool_id))?;
    if tree
        .monitor_of(pool_id)
        .is_some_and(|m| m.provisioning_status != PENDING_DELETE)
    {
        return Err(LbError::Conflict(
            "This pool already has a health monitor".into(),
        ));
    }
    let monitor = validate::monitor(request, pool, birth)?;
    let id = monitor.id.clone();
    tree.monitors.push(monitor);
    Ok(id)
}

/// Marks the listeners using `pool_id`, and the pool, as changing, as
/// Octavia does for a change to the pool or to something in it.
pub(super) fn mark_pool_path(tree: &mut Tree, pool_id: &str, now: &str) {
    for listener in tree
        .listeners
        .iter_mut()
        .filter(|l| l.default_pool_id.as_deref() == Some(pool_id))
    {
        mark(listener, PENDING_UPDATE, now);
    }
    for pool in tree.pools.iter_mut().filter(|p| p.id == pool_id) {
        mark(pool, PENDING_UPDATE, now);
    }
}

fn pool_of(tree: &Tree, kind: Kind, id: &str) -> Option<String> {
    match kind {
        Kind::Member => tree
            .members
            .iter()
            .find(|m| m.id == id)
            .map(|m| m.pool_id.clone()),
        Kind::HealthMonitor => tree
            .monitors
            .iter()
            .find(|m| m.id == id)
            .map(|m| m.pool_id.clone()),
        _ => None,
    }
}

fn update_text(
    target: &mut String,
    field: &str,
    value: Option<Option<String>>,
) -> Result<(), LbError> {
    if let Some(value) = value {
        *target = validate::text(field, value.as_deref())?;
    }
    Ok(())
}

/// A text that sets nothing: left out, `null` or empty.
fn unset(value: &Option<Option<String>>) -> bool {
    value
        .as_ref()
        .and_then(|v| v.as_deref())
        .is_none_or(str::is_empty)
}

/// The certificate references given (neither `null` nor empty).
fn given_refs<'a>(values: impl IntoIterator<Item = &'a Option<Option<String>>>) -> Vec<String> {
    values
        .into_iter()
        .filter(|v| !unset(v))
        .filter_map(|v| v.clone().flatten())
        .collect()
}

/// A listener's client authentication and HSTS attributes, as Octavia
/// checks them on a change. Without a certificate store no listener can
/// verify clients or terminate TLS, so clearing them changes nothing and
/// a reference is refused as on create; the TLS lists and ciphers matter
/// only to TLS listeners, which cannot be created here.
fn listener_tls_update(listener: &mut Listener, request: &ListenerUpdate) -> Result<(), LbError> {
    let refs = given_refs([
        &request.client_ca_tls_container_ref,
        &request.client_crl_container_ref,
    ]);
    if !refs.is_empty() {
        return Err(validate::unretrievable(&refs));
    }
    if let Some(Some(mode)) = &request.client_authentication {
        let mode = validate::one_of(
            "client_authentication",
            Some(mode),
            &["MANDATORY", "NONE", "OPTIONAL"],
        )?;
        if mode != "NONE" {
            return Err(LbError::Validation(format!(
                "Client authentication setting {mode} requires a client CA container reference."
            )));
        }
    }
    let max_age = request.hsts_max_age.flatten();
    let enables = [request.hsts_include_subdomains, request.hsts_preload]
        .into_iter()
        .any(|v| v.flatten().unwrap_or(false));
    if enables && max_age.is_none() && listener.hsts_max_age.is_none() {
        return Err(LbError::Validation(
            "Cannot enable hsts_include_subdomains or hsts_preload if hsts_max_age was not set \
             as well."
                .into(),
        ));
    }
    if max_age.is_some() && listener.protocol != "TERMINATED_HTTPS" {
        return Err(validate::hsts_protocol());
    }
    if request.hsts_max_age == Some(None) {
        listener.hsts_max_age = None;
    }
    if let Some(v) = request.hsts_include_subdomains {
        listener.hsts_include_subdomains = v.unwrap_or(false);
    }
    if let Some(v) = request.hsts_preload {
        listener.hsts_preload = v.unwrap_or(false);
    }
    Ok(())
}

/// A pool's TLS attributes on a change: without a certificate store no
/// pool can speak TLS to its members, so clearing them (or `false`)
/// changes nothing and a reference (or enabling TLS) is refused as on
/// create, with Octavia's order of checks.
fn pool_tls_update(request: &PoolUpdate) -> Result<(), LbError> {
    let tls = given_refs([&request.tls_container_ref]);
    if !tls.is_empty() {
        return Err(validate::unretrievable(&tls));
    }
    if !unset(&request.crl_container_ref) && unset(&request.ca_tls_container_ref) {
        return Err(LbError::Validation(
            "A CA reference is required to specify a certificate revocation list.".into(),
        ));
    }
    let refs = given_refs([&request.ca_tls_container_ref, &request.crl_container_ref]);
    if !refs.is_empty() || request.tls_enabled.flatten() == Some(true) {
        return Err(validate::unretrievable(&refs));
    }
    Ok(())
}

fn update_tags(target: &mut Vec<String>, value: Option<Vec<String>>) -> Result<(), LbError> {
    if let Some(tags) = value {
        *target = validate::tags(Some(&tags))?;
    }
    Ok(())
}

/// A monitor's `domain_name` and `http_version` changed (`null` clears
/// either), with Octavia's checks of the two against the stored ones.
fn monitor_domain_update(
    monitor: &mut HealthMonitor,
    domain: Option<Option<String>>,
    version: Option<Option<f64>>,
) -> Result<(), LbError> {
    let new_domain = domain
        .clone()
        .flatten()
        .map(|d| validate::domain_name(&d))
        .transpose()?;
    let new_version = version.flatten().map(validate::http_version).transpose()?;
    let any_version = new_version.or(monitor.http_version);
    if new_domain.is_some() && any_version.is_none() {
        return Err(LbError::Validation(
            "'http_version' must be specified when 'domain_name' is provided.".into(),
        ));
    }
    if let Some(v) = any_version
        && (new_domain.is_some() || monitor.domain_name.is_some())
        && v < 1.1
    {
        return Err(LbError::option(
            format!("http_version {}", validate::python_float(v)),
            "health monitors HTTP 1.1 domain name health check",
        ));
    }
    if domain.is_some() {
        monitor.domain_name = new_domain;
    }
    if version.is_some() {
        monitor.http_version = new_version;
    }
    Ok(())
}

/// Marks the policies `which` selects, and their rules, `PENDING_DELETE`.
fn delete_policies(tree: &mut Tree, which: impl Fn(&L7Policy) -> bool) {
    let mut gone = Vec::new();
    for p in tree.policies.iter_mut().filter(|p| which(p)) {
        p.set_provisioning_status(PENDING_DELETE);
        gone.push(p.id.clone());
    }
    for r in tree
        .rules
        .iter_mut()
        .filter(|r| gone.contains(&r.l7policy_id))
    {
        r.set_provisioning_status(PENDING_DELETE);
    }
}

impl LoadBalancerService {
    pub async fn create_listener(
        &self,
        caller: &Arc<AuthContext>,
        request: ListenerCreate,
    ) -> Result<Document, LbError> {
        let lb_id = request
            .loadbalancer_id
            .clone()
            .ok_or_else(|| LbError::missing("loadbalancer_id"))?;
        validate::uuid("loadbalancer_id", Some(&lb_id))?;
        if request.default_pool.is_some() {
            return Err(LbError::Validation(
                "A default pool may only be created with its listener in a fully populated load balancer."
                    .into(),
            ));
        }
        self.change(
            caller,
            Locate::new(Kind::LoadBalancer, &lb_id),
            move |tree| {
                let birth = lock_for_child(tree)?;
                let id = add_listener(tree, &request, &birth)?;
                Ok(documents::listener(
                    tree,
                    tree.listener(&id).expect("just added"),
                ))
            },
        )
        .await
    }

    pub async fn update_listener(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        request: ListenerUpdate,
    ) -> Result<Document, LbError> {
        let id = id.to_owned();
        self.change(caller, Locate::new(Kind::Listener, &id), move |tree| {
            let now = lock_for_child(tree)?.now;
            let mut listener = tree.listener(&id).cloned().expect("located");
            listener_tls_update(&mut listener, &request)?;
            update_text(&mut listener.name, "name", request.name)?;
            update_text(
                &mut listener.description,
                "description",
                request.description,
            )?;
            if let Some(up) = request.admin_state_up {
                listener.admin_state_up = up;
            }
            if let Some(limit) = request.connection_limit {
                listener.connection_limit =
                    validate::int("connection_limit", limit.unwrap_or(-1), -1, i64::MAX)?;
            }
            let tls = request.default_tls_container_ref.flatten().into_iter();
            // An empty reference is "none", as gophercloud sends to clear it.
            let refs: Vec<String> = tls
                .chain(request.sni_container_refs.flatten().unwrap_or_default())
                .filter(|r| !r.is_empty())
                .collect();
            if !refs.is_empty() {
                return Err(LbError::Validation(format!(
                    "Certificate container references are not allowed on {} protocol listeners.",
                    listener.protocol
                )));
            }
            if let Some(headers) = request.insert_headers {
                let headers = headers.unwrap_or_default();
                validate::insert_headers(&listener.protocol, &headers)?;
                listener.insert_headers = headers;
            }
            for (field, target, value, default) in [
                (
                    "timeout_client_data",
                    &mut listener.timeout_client_data,
                    request.timeout_client_data,
                    50000,
                ),
                (
                    "timeout_member_connect",
                    &mut listener.timeout_member_connect,
                    request.timeout_member_connect,
                    5000,
                ),
                (
                    "timeout_member_data",
                    &mut listener.timeout_member_data,
                    request.timeout_member_data,
                    50000,
                ),
                (
                    "timeout_tcp_inspect",
                    &mut listener.timeout_tcp_inspect,
                    request.timeout_tcp_inspect,
                    0,
                ),
            ] {
                if let Some(value) = value {
                    *target = validate::timeout(field, value, default)?;
                }
            }
            update_tags(&mut listener.tags, request.tags)?;
            if let Some(cidrs) = request.allowed_cidrs {
                listener.allowed_cidrs = validate::allowed_cidrs(cidrs.as_deref())?;
            }
            if let Some(pool_id) = request.default_pool_id {
                validate::uuid("default_pool_id", pool_id.as_deref())?;
                if let Some(pool_id) = &pool_id {
                    check_default_pool(tree, &listener, pool_id)?;
                }
                listener.default_pool_id = pool_id;
            }
            mark(&mut listener, PENDING_UPDATE, &now);
            let at = tree
                .listeners
                .iter()
                .position(|l| l.id == id)
                .expect("located");
            tree.listeners[at] = listener;
            Ok(documents::listener(tree, &tree.listeners[at]))
        })
        .await
    }

    pub async fn create_pool(
        &self,
        caller: &Arc<AuthContext>,
        request: PoolCreate,
    ) -> Result<Document, LbError> {
        validate::uuid("listener_id", request.listener_id.as_deref())?;
        validate::uuid("loadbalancer_id", request.loadbalancer_id.as_deref())?;
        let at = match (&request.listener_id, &request.loadbalancer_id) {
            (Some(listener), _) => Locate::new(Kind::Listener, listener),
            (None, Some(lb)) => Locate::new(Kind::LoadBalancer, lb),
            (None, None) => {
                return Err(LbError::Validation(
                    "loadbalancer_id or listener_id must be specified.".into(),
                ));
            }
        };
        if request.members.as_ref().is_some_and(|m| !m.is_empty())
            || request.healthmonitor.is_some()
        {
            return Err(LbError::Validation(
                "Members and health monitors may only be created with their pool in a fully populated load balancer."
                    .into(),
            ));
        }
        self.change(caller, at, move |tree| {
            if let Some(lb_id) = &request.loadbalancer_id
                && *lb_id != tree.lb.id
            {
                return Err(LbError::Validation(
                    "Listener and pool must be on the same load balancer.".into(),
                ));
            }
            let birth = lock_for_child(tree)?;
            let id = add_pool(tree, &request, request.listener_id.as_deref(), &birth)?;
            Ok(documents::pool(tree, tree.pool(&id).expect("just added")))
        })
        .await
    }

    pub async fn update_pool(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        request: PoolUpdate,
    ) -> Result<Document, LbError> {
        let id = id.to_owned();
        self.change(caller, Locate::new(Kind::Pool, &id), move |tree| {
            let now = lock_for_child(tree)?.now;
            let mut pool = tree.pool(&id).cloned().expect("located");
            pool_tls_update(&request)?;
            update_text(&mut pool.name, "name", request.name)?;
            update_text(&mut pool.description, "description", request.description)?;
            if let Some(up) = request.admin_state_up {
                pool.admin_state_up = up;
            }
            if let Some(algorithm) = request.lb_algorithm {
                pool.lb_algorithm = validate::algorithm(&algorithm)?;
            }
            if let Some(persistence) = &request.session_persistence {
                pool.session_persistence = validate::session_persistence(
                    persistence.as_ref(),
                    &pool.protocol,
                    validate::Given::Update {
                        current: pool.session_persistence.as_ref(),
                    },
                )?;
            }

            update_tags(&mut pool.tags, request.tags)?;
            let at = tree.pools.iter().position(|p| p.id == id).expect("located");
            tree.pools[at] = pool;
            mark_pool_path(tree, &id, &now);
            Ok(documents::pool(tree, &tree.pools[at]))
        })
        .await
    }

    pub async fn create_monitor(
        &self,
        caller: &Arc<AuthContext>,
        request: MonitorCreate,
    ) -> Result<Document, LbError> {
        let pool_id = request
            .pool_id
            .clone()
            .ok_or_else(|| LbError::missing("pool_id"))?;
        validate::uuid("pool_id", Some(&pool_id))?;
        self.change(caller, Locate::new(Kind::Pool, &pool_id), move |tree| {
            let birth = lock_for_child(tree)?;
            let now = birth.now.clone();
            let id = add_monitor(tree, &pool_id, &request, &birth)?;
            mark_pool_path(tree, &pool_id, &now);
            let monitor = tree
                .monitors
                .iter()
                .find(|m| m.id == id)
                .expect("just added");
            Ok(documents::monitor(monitor))
        })
        .await
    }

    pub async fn update_monitor(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        request: MonitorUpdate,
    ) -> Result<Document, LbError> {
        let id = id.to_owned();
        self.change(caller, Locate::new(Kind::HealthMonitor, &id), move |tree| {
            let now = lock_for_child(tree)?.now;
            let at = tree
                .monitors
                .iter()
                .position(|m| m.id == id)
                .expect("located");
            let mut monitor = tree.monitors[at].clone();
            let http = matches!(monitor.kind.as_str(), "HTTP" | "HTTPS");
            for (field, given) in [
                ("http_method", request.http_method.is_some()),
                ("url_path", request.url_path.is_some()),
                ("expected_codes", request.expected_codes.is_some()),
            ] {
                // Octavia refuses them, `null` included, on other types.
                if given && !http {
                    return Err(LbError::option(
                        field,
                        &format!("health monitors of type {}", monitor.kind),
                    ));
                }
            }
            update_text(&mut monitor.name, "name", request.name)?;
            if let Some(v) = request.delay {
                monitor.delay = validate::seconds("delay", v)?;
            }
            if let Some(v) = request.timeout {
                monitor.timeout = validate::seconds("timeout", v)?;
            }
            if let Some(v) = request.max_retries {
                monitor.max_retries = validate::retries("max_retries", v)?;
            }
            // A `null` resets these to Octavia's defaults.
            if let Some(v) = request.max_retries_down {
                monitor.max_retries_down = validate::retries("max_retries_down", v.unwrap_or(3))?;
            }
            if let Some(v) = request.http_method {
                monitor.http_method = Some(validate::http_method(v.as_deref().unwrap_or("GET"))?);
            }
            if let Some(v) = request.url_path {
                monitor.url_path = Some(validate::url_path(v.as_deref().unwrap_or("/"))?);
            }
            if let Some(v) = request.expected_codes {
                monitor.expected_codes =
                    Some(validate::expected_codes(v.as_deref().unwrap_or("200"))?);
            }
            monitor_domain_update(&mut monitor, request.domain_name, request.http_version)?;
            if let Some(up) = request.admin_state_up {
                monitor.admin_state_up = up;
            }
            update_tags(&mut monitor.tags, request.tags)?;
            mark(&mut monitor, PENDING_UPDATE, &now);
            let pool_id = monitor.pool_id.clone();
            tree.monitors[at] = monitor;
            mark_pool_path(tree, &pool_id, &now);
            Ok(documents::monitor(&tree.monitors[at]))
        })
        .await
    }

    /// Deletes a listener, pool, member or health monitor: marked
    /// `PENDING_DELETE` until the data plane no longer serves it.
    pub async fn delete_object(
        &self,
        caller: &Arc<AuthContext>,
        kind: Kind,
        id: &str,
    ) -> Result<(), LbError> {
        let id = id.to_owned();
        self.change(caller, Locate::new(kind, &id), move |tree| {
            let now = lock_for_child(tree)?.now;
            match kind {
                Kind::Listener => {
                    for l in tree.listeners.iter_mut().filter(|l| l.id == id) {
                        mark(l, PENDING_DELETE, &now);
                    }
                    delete_policies(tree, |p| p.listener_id == id);
                }
                Kind::L7Policy => {
                    let listener = tree
                        .policies
                        .iter()
                        .find(|p| p.id == id)
                        .map(|p| p.listener_id.clone());
                    for l in tree
                        .listeners
                        .iter_mut()
                        .filter(|l| Some(&l.id) == listener.as_ref())
                    {
                        mark(l, PENDING_UPDATE, &now);
                    }
                    delete_policies(tree, |p| p.id == id);
                }
                Kind::Pool => {
                    for l in tree
                        .listeners
                        .iter_mut()
                        .filter(|l| l.default_pool_id.as_deref() == Some(&id))
                    {
                        mark(l, PENDING_UPDATE, &now);
                    }
                    for p in tree.pools.iter_mut().filter(|p| p.id == id) {
                        p.set_provisioning_status(PENDING_DELETE);
                    }
                    for m in tree.members.iter_mut().filter(|m| m.pool_id == id) {
                        m.set_provisioning_status(PENDING_DELETE);
                    }
                    for m in tree.monitors.iter_mut().filter(|m| m.pool_id == id) {
                        m.set_provisioning_status(PENDING_DELETE);
                    }
                }
                Kind::Member | Kind::HealthMonitor => {
                    let pool_id = pool_of(tree, kind, &id).expect("located");
                    mark_pool_path(tree, &pool_id, &now);
                    for m in tree.members.iter_mut().filter(|m| m.id == id) {
                        m.set_provisioning_status(PENDING_DELETE);
                    }
                    for m in tree.monitors.iter_mut().filter(|m| m.id == id) {
                        m.set_provisioning_status(PENDING_DELETE);
                    }
                }
                Kind::LoadBalancer | Kind::L7Rule => {
                    unreachable!("load balancers and rules have their own delete")
                }
            }
            Ok(())
        })
        .await
    }

    /// One object's document.
    pub async fn show_object(
        &self,
        caller: &Arc<AuthContext>,
        kind: Kind,
        id: &str,
    ) -> Result<Document, LbError> {
        let id = id.to_owned();
        self.read(caller, Locate::new(kind, &id), move |tree| {
            Ok(match kind {
                Kind::LoadBalancer => documents::load_balancer(tree),
                Kind::Listener => documents::listener(tree, tree.listener(&id).expect("located")),
                Kind::Pool => documents::pool(tree, tree.pool(&id).expect("located")),
                Kind::Member => {
                    documents::member(tree.members.iter().find(|m| m.id == id).expect("located"))
                }
                Kind::HealthMonitor => {
                    documents::monitor(tree.monitors.iter().find(|m| m.id == id).expect("located"))
                }
                Kind::L7Policy => documents::policy(
                    tree,
                    tree.policies.iter().find(|p| p.id == id).expect("located"),
                ),
                Kind::L7Rule => unreachable!("rules are shown through their policy"),
            })
        })
        .await
    }
}
