//! In-memory stand-ins for what the compute service depends on (tokens,
//! the network, image and volume services) and a cloud to drive its router.

mod volumes;

pub use volumes::FakeVolumes;

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use futures_util::future::BoxFuture;
use http_body_util::BodyExt;
use oxistack_auth::{AuthContext, NamedRef, Scope, TokenValidator, unauthenticated};
use oxistack_compute::{ComputeService, MIGRATIONS, router};
use oxistack_contracts::{
    ContractError, FixedIp, ImageSummary, Images, NetworkSummary, Networking, PortRequest,
    PortSummary, SecurityGroupDetail, SecurityGroupRuleDetail,
};
use oxistack_db::Db;
use oxistack_http::ApiError;
use oxistack_virt::FakeDriver;
use serde_json::Value;
use tower::ServiceExt;

pub const IMAGE: &str = "5d0f0b1a-33a5-4c9e-9a4e-1a0c7d3b6f10";
pub const BROKEN_IMAGE: &str = "9e3a7c55-1f0b-4b8e-8d53-2a6f4c1e0b77";

pub struct FakeTokens(HashMap<&'static str, Arc<AuthContext>>);

impl TokenValidator for FakeTokens {
    fn validate<'a>(
        &'a self,
        token: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Arc<AuthContext>, ApiError>> + Send + 'a>> {
        Box::pin(async move { self.0.get(token).cloned().ok_or_else(unauthenticated) })
    }
}

fn context(user: &str, project: &str, roles: &[&str]) -> Arc<AuthContext> {
    let named = |n: &str| NamedRef {
        id: n.into(),
        name: n.into(),
    };
    Arc::new(AuthContext {
        user: named(user),
        user_domain: named("default"),
        scope: Scope::Project {
            project: named(project),
            domain: named("default"),
        },
        roles: roles.iter().map(|r| named(r)).collect(),
        methods: vec!["password".into()],
        issued_at: chrono::Utc::now(),
        expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
        audit_id: "audit".into(),
        application_credential: None,
    })
}

/// Tokens: an administrator, two members of project-a (alice, carol), a
/// member of project-b (bob) and a reader of project-a.
pub fn tokens() -> FakeTokens {
    FakeTokens(HashMap::from([
        (
            "admin",
            context("admin", "admin-project", &["admin", "member", "reader"]),
        ),
        (
            "alice",
            context("alice", "project-a", &["member", "reader"]),
        ),
        (
            "carol",
            context("carol", "project-a", &["member", "reader"]),
        ),
        ("bob", context("bob", "project-b", &["member", "reader"])),
        ("reader", context("rita", "project-a", &["reader"])),
    ]))
}

struct Network {
    id: String,
    name: String,
    project: String,
    shared: bool,
    /// Addresses are `10.0.<subnet>.<host>`, hosts 10 to `last_host`.
    subnet: u8,
    last_host: u8,
}

struct Port {
    summary: PortSummary,
    project: String,
    device_id: Option<String>,
}

struct FloatingIp {
    address: IpAddr,
    project: String,
    port_id: Option<String>,
}

#[derive(Default)]
struct NetState {
    networks: Vec<Network>,
    ports: Vec<Port>,
    /// (id, name, project)
    groups: Vec<(String, String, String)>,
    /// Rules by group id.
    rules: HashMap<String, Vec<SecurityGroupRuleDetail>>,
    floating_ips: Vec<FloatingIp>,
    next_mac: u32,
}

/// A network service in memory, as much of it as compute uses.
#[derive(Default)]
pub struct FakeNetworking {
    state: Mutex<NetState>,
    ports_of_calls: AtomicUsize,
}

fn project_of(caller: &AuthContext) -> String {
    caller.project_id().unwrap_or_default().to_owned()
}

impl FakeNetworking {
    fn state(&self) -> std::sync::MutexGuard<'_, NetState> {
        self.state.lock().unwrap()
    }

    /// The networks `keep` accepts, as compute sees them.
    fn networks_where(&self, keep: impl Fn(&Network) -> bool) -> Vec<NetworkSummary> {
        self.state()
            .networks
            .iter()
            .filter(|n| keep(n))
            .map(|n| NetworkSummary {
                id: n.id.clone(),
                name: n.name.clone(),
            })
            .collect()
    }

    /// A network of `project` with room for `hosts` addresses.
    pub fn add_network(&self, name: &str, project: &str, shared: bool, hosts: u8) -> String {
        let mut state = self.state();
        let id = uuid::Uuid::new_v4().to_string();
        let subnet = state.networks.len() as u8;
        state.networks.push(Network {
            id: id.clone(),
            name: name.into(),
            project: project.into(),
            shared,
            subnet,
            last_host: 9 + hosts,
        });
        id
    }

    pub fn add_security_group(&self, name: &str, project: &str) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        self.state()
            .groups
            .push((id.clone(), name.into(), project.into()));
        id
    }

    /// The id of `project`'s group `name`.
    pub fn security_group_id(&self, name: &str, project: &str) -> String {
        self.state()
            .groups
            .iter()
            .find(|(_, n, p)| n == name && p == project)
            .map(|(id, _, _)| id.clone())
            .expect("a security group of that name")
    }

    pub fn add_security_group_rule(&self, group_id: &str, rule: SecurityGroupRuleDetail) {
        self.state()
            .rules
            .entry(group_id.to_owned())
            .or_default()
            .push(rule);
    }

    pub fn add_floating_ip(&self, address: &str, project: &str) {
        self.state().floating_ips.push(FloatingIp {
            address: address.parse().unwrap(),
            project: project.into(),
            port_id: None,
        });
    }

    /// A port a user made on `network`, not bound to anything.
    pub fn add_port(&self, network: &str, project: &str) -> String {
        let mut state = self.state();
        let summary = new_port(&mut state, network, None, vec!["default".into()], false).unwrap();
        let id = summary.id.clone();
        state.ports.push(Port {
            summary,
            project: project.into(),
            device_id: None,
        });
        id
    }

    /// The ports bound to `device`.
    pub fn ports_of_device(&self, device: &str) -> Vec<PortSummary> {
        self.state()
            .ports
            .iter()
            .filter(|p| p.device_id.as_deref() == Some(device))
            .map(|p| p.summary.clone())
            .collect()
    }

    pub fn port_count(&self) -> usize {
        self.state().ports.len()
    }

    /// The port a floating IP is associated with.
    pub fn floating_ip_port(&self, address: &str) -> Option<String> {
        let address: IpAddr = address.parse().unwrap();
        self.state()
            .floating_ips
            .iter()
            .find(|f| f.address == address)
            .and_then(|f| f.port_id.clone())
    }

    pub fn ports_of_calls(&self) -> usize {
        self.ports_of_calls.load(Ordering::SeqCst)
    }

    fn visible_network<'s>(
        state: &'s NetState,
        caller: &AuthContext,
        id: &str,
    ) -> Option<&'s Network> {
        state.networks.iter().find(|n| {
            n.id == id && (caller.is_admin() || n.shared || n.project == project_of(caller))
        })
    }

    fn resolve_group(
        state: &NetState,
        caller: &AuthContext,
        name_or_id: &str,
    ) -> Result<(String, String), ContractError> {
        state
            .groups
            .iter()
            .find(|(id, name, project)| {
                (id == name_or_id || name == name_or_id) && *project == project_of(caller)
            })
            .map(|(id, name, _)| (id.clone(), name.clone()))
            .ok_or_else(|| {
                ContractError::NotFound(format!("Security group {name_or_id} not found."))
            })
    }

    fn release(state: &mut NetState, device_id: &str, port_id: Option<&str>) {
        let released: Vec<String> = state
            .ports
            .iter()
            .filter(|p| p.device_id.as_deref() == Some(device_id))
            .filter(|p| port_id.is_none_or(|id| id == p.summary.id))
            .map(|p| p.summary.id.clone())
            .collect();
        for fip in &mut state.floating_ips {
            if fip.port_id.as_ref().is_some_and(|p| released.contains(p)) {
                fip.port_id = None;
            }
        }
        state
            .ports
            .retain(|p| !(released.contains(&p.summary.id) && p.summary.created_by_compute));
        for port in &mut state.ports {
            if released.contains(&port.summary.id) {
                port.device_id = None;
                port.summary.floating_ips.clear();
            }
        }
    }
}

fn new_port(
    state: &mut NetState,
    network_id: &str,
    fixed_ip: Option<IpAddr>,
    security_groups: Vec<String>,
    created_by_compute: bool,
) -> Result<PortSummary, ContractError> {
    let used: Vec<IpAddr> = state
        .ports
        .iter()
        .flat_map(|p| p.summary.fixed_ips.iter().map(|ip| ip.ip_address))
        .collect();
    let network = state
        .networks
        .iter()
        .find(|n| n.id == network_id)
        .ok_or_else(|| {
            ContractError::NotFound(format!("Network {network_id} could not be found."))
        })?;
    let address = match fixed_ip {
        Some(ip) if used.contains(&ip) => {
            return Err(ContractError::Conflict(format!(
                "IP address {ip} already allocated."
            )));
        }
        Some(ip) => ip,
        None => (10..=network.last_host)
            .map(|host| IpAddr::V4(Ipv4Addr::new(10, 0, network.subnet, host)))
            .find(|ip| !used.contains(ip))
            .ok_or_else(|| {
                ContractError::Conflict(format!(
                    "No more IP addresses available on network {network_id}."
                ))
            })?,
    };
    let summary = PortSummary {
        id: uuid::Uuid::new_v4().to_string(),
        network_id: network.id.clone(),
        network_name: network.name.clone(),
        mac_address: format!("fa:16:3e:00:00:{:02x}", state.next_mac),
        fixed_ips: vec![FixedIp {
            subnet_id: format!("subnet-{}", network.subnet),
            ip_address: address,
        }],
        floating_ips: Vec::new(),
        security_groups,
        status: "ACTIVE".into(),
        created_by_compute,
    };
    state.next_mac += 1;
    Ok(summary)
}

impl Networking for FakeNetworking {
    fn usable_networks<'a>(
        &'a self,
        caller: &'a AuthContext,
    ) -> BoxFuture<'a, Result<Vec<NetworkSummary>, ContractError>> {
        Box::pin(
            async move { Ok(self.networks_where(|n| n.shared || n.project == project_of(caller))) },
        )
    }

    fn attachable_networks<'a>(
        &'a self,
        caller: &'a AuthContext,
        ids: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<NetworkSummary>, ContractError>> {
        Box::pin(async move {
            Ok(self.networks_where(|n| {
                ids.contains(&n.id)
                    && (caller.is_admin() || n.shared || n.project == project_of(caller))
            }))
        })
    }

    fn resolve_security_groups<'a>(
        &'a self,
        caller: &'a AuthContext,
        names_or_ids: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<String>, ContractError>> {
        Box::pin(async move {
            let state = self.state();
            names_or_ids
                .iter()
                .map(|n| Self::resolve_group(&state, caller, n).map(|(id, _)| id))
                .collect()
        })
    }

    fn create_port<'a>(
        &'a self,
        caller: &'a AuthContext,
        request: PortRequest,
    ) -> BoxFuture<'a, Result<PortSummary, ContractError>> {
        Box::pin(async move {
            let mut state = self.state();
            if Self::visible_network(&state, caller, &request.network_id).is_none() {
                return Err(ContractError::NotFound(format!(
                    "Network {} could not be found.",
                    request.network_id
                )));
            }
            let names = if request.security_group_ids.is_empty() {
                vec!["default".to_owned()]
            } else {
                request
                    .security_group_ids
                    .iter()
                    .map(|id| Self::resolve_group(&state, caller, id).map(|(_, name)| name))
                    .collect::<Result<_, _>>()?
            };
            let summary = new_port(
                &mut state,
                &request.network_id,
                request.fixed_ip,
                names,
                true,
            )?;
            state.ports.push(Port {
                summary: summary.clone(),
                project: project_of(caller),
                device_id: Some(request.device_id),
            });
            Ok(summary)
        })
    }

    fn bind_port<'a>(
        &'a self,
        caller: &'a AuthContext,
        port_id: &'a str,
        device_id: &'a str,
    ) -> BoxFuture<'a, Result<PortSummary, ContractError>> {
        Box::pin(async move {
            let mut state = self.state();
            let port = state
                .ports
                .iter_mut()
                .find(|p| {
                    p.summary.id == port_id
                        && (caller.is_admin() || p.project == project_of(caller))
                })
                .ok_or_else(|| {
                    ContractError::NotFound(format!("Port {port_id} could not be found."))
                })?;
            if port.device_id.is_some() {
                return Err(ContractError::Conflict(format!(
                    "Port {port_id} is still in use."
                )));
            }
            port.device_id = Some(device_id.to_owned());
            Ok(port.summary.clone())
        })
    }

    fn release_port<'a>(
        &'a self,
        device_id: &'a str,
        port_id: &'a str,
    ) -> BoxFuture<'a, Result<(), ContractError>> {
        Box::pin(async move {
            Self::release(&mut self.state(), device_id, Some(port_id));
            Ok(())
        })
    }

    fn release_ports<'a>(&'a self, device_id: &'a str) -> BoxFuture<'a, Result<(), ContractError>> {
        Box::pin(async move {
            Self::release(&mut self.state(), device_id, None);
            Ok(())
        })
    }

    fn ports_of<'a>(
        &'a self,
        device_ids: &'a [String],
    ) -> BoxFuture<'a, Result<HashMap<String, Vec<PortSummary>>, ContractError>> {
        Box::pin(async move {
            self.ports_of_calls.fetch_add(1, Ordering::SeqCst);
            let state = self.state();
            let mut ports: HashMap<String, Vec<PortSummary>> = HashMap::new();
            for port in &state.ports {
                if let Some(device) = port.device_id.as_ref().filter(|d| device_ids.contains(d)) {
                    ports
                        .entry(device.clone())
                        .or_default()
                        .push(port.summary.clone());
                }
            }
            Ok(ports)
        })
    }

    fn add_security_group<'a>(
        &'a self,
        caller: &'a AuthContext,
        device_id: &'a str,
        group: &'a str,
    ) -> BoxFuture<'a, Result<(), ContractError>> {
        Box::pin(async move {
            let mut state = self.state();
            let (_, name) = Self::resolve_group(&state, caller, group)?;
            for port in state
                .ports
                .iter_mut()
                .filter(|p| p.device_id.as_deref() == Some(device_id))
            {
                if !port.summary.security_groups.contains(&name) {
                    port.summary.security_groups.push(name.clone());
                }
            }
            Ok(())
        })
    }

    fn server_security_groups<'a>(
        &'a self,
        device_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<SecurityGroupDetail>, ContractError>> {
        Box::pin(async move {
            let state = self.state();
            let mut details: Vec<SecurityGroupDetail> = Vec::new();
            for port in state
                .ports
                .iter()
                .filter(|p| p.device_id.as_deref() == Some(device_id))
            {
                for name in &port.summary.security_groups {
                    let found = state
                        .groups
                        .iter()
                        .find(|(_, n, project)| n == name && *project == port.project);
                    if let Some((id, name, project)) = found
                        && !details.iter().any(|d| d.id == *id)
                    {
                        details.push(SecurityGroupDetail {
                            id: id.clone(),
                            name: name.clone(),
                            description: format!("{name} group"),
                            project_id: project.clone(),
                            rules: state.rules.get(id).cloned().unwrap_or_default(),
                        });
                    }
                }
            }
            Ok(details)
        })
    }

    fn remove_security_group<'a>(
        &'a self,
        caller: &'a AuthContext,
        device_id: &'a str,
        group: &'a str,
    ) -> BoxFuture<'a, Result<(), ContractError>> {
        Box::pin(async move {
            let mut state = self.state();
            let (_, name) = Self::resolve_group(&state, caller, group)?;
            let mut found = false;
            for port in state
                .ports
                .iter_mut()
                .filter(|p| p.device_id.as_deref() == Some(device_id))
            {
                let before = port.summary.security_groups.len();
                port.summary.security_groups.retain(|g| g != &name);
                found |= port.summary.security_groups.len() != before;
            }
            if found {
                Ok(())
            } else {
                Err(ContractError::NotFound(format!(
                    "Security group {group} not in use on instance {device_id}."
                )))
            }
        })
    }

    fn associate_floating_ip<'a>(
        &'a self,
        caller: &'a AuthContext,
        device_id: &'a str,
        address: IpAddr,
        fixed_address: Option<IpAddr>,
    ) -> BoxFuture<'a, Result<(), ContractError>> {
        Box::pin(async move {
            let mut guard = self.state();
            let state = &mut *guard;
            let fip = state
                .floating_ips
                .iter_mut()
                .find(|f| f.address == address && f.project == project_of(caller))
                .ok_or_else(|| {
                    ContractError::NotFound(format!("floating IP not found: {address}"))
                })?;
            let port = state
                .ports
                .iter_mut()
                .filter(|p| p.device_id.as_deref() == Some(device_id))
                .find(|p| {
                    fixed_address
                        .is_none_or(|a| p.summary.fixed_ips.iter().any(|ip| ip.ip_address == a))
                })
                .ok_or_else(|| {
                    ContractError::Invalid("No nw_info cache associated with instance".into())
                })?;
            fip.port_id = Some(port.summary.id.clone());
            port.summary.floating_ips.push(address);
            Ok(())
        })
    }

    fn sync_host<'a>(&'a self) -> BoxFuture<'a, Result<(), ContractError>> {
        Box::pin(async { Ok(()) })
    }

    fn disassociate_floating_ip<'a>(
        &'a self,
        caller: &'a AuthContext,
        device_id: &'a str,
        address: IpAddr,
    ) -> BoxFuture<'a, Result<(), ContractError>> {
        Box::pin(async move {
            let mut guard = self.state();
            let state = &mut *guard;
            let fip = state
                .floating_ips
                .iter_mut()
                .find(|f| {
                    f.address == address && f.project == project_of(caller) && f.port_id.is_some()
                })
                .ok_or_else(|| {
                    ContractError::NotFound(format!("floating IP not associated: {address}"))
                })?;
            let port_id = fip.port_id.take();
            for port in state
                .ports
                .iter_mut()
                .filter(|p| p.device_id.as_deref() == Some(device_id))
            {
                if Some(&port.summary.id) == port_id.as_ref() {
                    port.summary.floating_ips.retain(|a| *a != address);
                }
            }
            Ok(())
        })
    }
}

/// An image service that knows a few images, visible to everyone.
pub struct FakeImages(Mutex<HashMap<String, ImageSummary>>);

impl FakeImages {
    pub fn with_defaults() -> Self {
        let image = |id: &str, name: &str| ImageSummary {
            id: id.into(),
            name: name.into(),
            status: "active".into(),
            min_disk: 0,
            min_ram: 0,
            size: Some(20 * 1024 * 1024),
            disk_format: Some("qcow2".into()),
            properties: HashMap::from([("os_distro".to_owned(), "centos".to_owned())]),
        };
        FakeImages(Mutex::new(HashMap::from([
            (IMAGE.to_owned(), image(IMAGE, "centos")),
            (BROKEN_IMAGE.to_owned(), image(BROKEN_IMAGE, "broken")),
        ])))
    }
}

impl Images for FakeImages {
    fn find<'a>(
        &'a self,
        _caller: &'a AuthContext,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ImageSummary>, ContractError>> {
        Box::pin(async move { Ok(self.0.lock().unwrap().get(id).cloned()) })
    }

    fn data_file(&self, _id: &str) -> Option<std::path::PathBuf> {
        None
    }

    fn reserve_image<'a>(
        &'a self,
        _caller: &'a AuthContext,
        _request: oxistack_contracts::NewImage,
    ) -> BoxFuture<'a, Result<oxistack_contracts::ReservedImage, ContractError>> {
        Box::pin(async { Err(ContractError::Invalid("compute never makes images".into())) })
    }

    fn import_file<'a>(
        &'a self,
        _caller: &'a AuthContext,
        _id: &'a str,
        _file: &'a std::path::Path,
    ) -> BoxFuture<'a, Result<ImageSummary, ContractError>> {
        Box::pin(async { Err(ContractError::Invalid("compute never makes images".into())) })
    }

    fn discard_image<'a>(
        &'a self,
        _caller: &'a AuthContext,
        _id: &'a str,
    ) -> BoxFuture<'a, Result<(), ContractError>> {
        Box::pin(async { Ok(()) })
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts `status`, returning the JSON body.
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text());
        if self.body.is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }

    /// Asserts a Nova-format error with `status`, returning its message.
    pub fn error(&self, status: u16) -> String {
        assert_eq!(self.status.as_u16(), status, "{}", self.text());
        let body = self.json();
        let (_, fault) = body
            .as_object()
            .and_then(|o| o.iter().next())
            .unwrap_or_else(|| panic!("not a Nova error: {body}"));
        assert_eq!(fault["code"], status, "{body}");
        fault["message"].as_str().expect("a message").to_owned()
    }
}

/// A compute service over a temporary database, mounted at `/compute`.
pub struct Cloud {
    pub router: Router,
    pub service: Arc<ComputeService>,
    pub db: Db,
    pub driver: Arc<FakeDriver>,
    pub networking: Arc<FakeNetworking>,
    pub images: Arc<FakeImages>,
    pub volumes: Arc<FakeVolumes>,
    /// Where the service's per-server work runs.
    pub tasks: oxistack_tasks::Supervisor,
    _dir: Arc<tempfile::TempDir>,
}

impl Cloud {
    pub fn new() -> Cloud {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("cloud.db")).unwrap();
        db.migrate("compute", MIGRATIONS).unwrap();
        Cloud::assemble(
            db,
            Arc::new(FakeDriver::new()),
            Arc::new(FakeNetworking::default()),
            Arc::new(FakeImages::with_defaults()),
            Arc::new(FakeVolumes::default()),
            Arc::new(dir),
        )
    }

    fn assemble(
        db: Db,
        driver: Arc<FakeDriver>,
        networking: Arc<FakeNetworking>,
        images: Arc<FakeImages>,
        volumes: Arc<FakeVolumes>,
        dir: Arc<tempfile::TempDir>,
    ) -> Cloud {
        let tasks = oxistack_tasks::Supervisor::new();
        let service = ComputeService::new(
            db.clone(),
            driver.clone(),
            networking.clone(),
            images.clone(),
            &tasks,
        );
        service.bootstrap().unwrap();
        service.set_volumes(volumes.clone());
        let router = Router::new().nest("/compute", router(service.clone(), Arc::new(tokens())));
        Cloud {
            router,
            service,
            db,
            driver,
            networking,
            images,
            volumes,
            tasks,
            _dir: dir,
        }
    }

    /// The same cloud started again over its database and network, with
    /// `driver` as the host's hypervisor (a fresh one: the host rebooted).
    pub fn restarted(&self, driver: Arc<FakeDriver>) -> Cloud {
        Cloud::assemble(
            self.db.clone(),
            driver,
            self.networking.clone(),
            self.images.clone(),
            self.volumes.clone(),
            self._dir.clone(),
        )
    }

    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        version: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("/compute{uri}"));
        if let Some(token) = token {
            request = request.header("x-auth-token", token);
        }
        if let Some(version) = version {
            request = request.header("openstack-api-version", format!("compute {version}"));
        }
        let body = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        let response = self
            .router
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: body.collect().await.unwrap().to_bytes(),
        }
    }

    pub async fn get(&self, uri: &str, token: &str, version: &str) -> Reply {
        self.send(Method::GET, uri, Some(token), Some(version), None)
            .await
    }

    pub async fn post(&self, uri: &str, token: &str, version: &str, body: Value) -> Reply {
        self.send(Method::POST, uri, Some(token), Some(version), Some(body))
            .await
    }

    pub async fn put(&self, uri: &str, token: &str, version: &str, body: Value) -> Reply {
        self.send(Method::PUT, uri, Some(token), Some(version), Some(body))
            .await
    }

    pub async fn delete(&self, uri: &str, token: &str, version: &str) -> Reply {
        self.send(Method::DELETE, uri, Some(token), Some(version), None)
            .await
    }

    /// Creates a server and answers its id.
    pub async fn create_server(&self, token: &str, version: &str, server: Value) -> String {
        let reply = self
            .post(
                "/v2.1/servers",
                token,
                version,
                serde_json::json!({"server": server}),
            )
            .await;
        reply.expect(202)["server"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn server(&self, id: &str, token: &str, version: &str) -> Value {
        self.get(&format!("/v2.1/servers/{id}"), token, version)
            .await
            .expect(200)["server"]
            .clone()
    }

    /// Waits until server `id` has `status`, answering the server.
    pub async fn wait_for(&self, id: &str, status: &str) -> Value {
        for _ in 0..500 {
            let server = self.server(id, "admin", "latest").await;
            if server["status"] == status {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "server {id} never became {status}: {}",
            self.server(id, "admin", "latest").await
        );
    }

    /// Waits until server `id` is gone.
    pub async fn wait_gone(&self, id: &str) {
        for _ in 0..500 {
            if self
                .get(&format!("/v2.1/servers/{id}"), "admin", "latest")
                .await
                .status
                == StatusCode::NOT_FOUND
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("server {id} was never deleted");
    }

    /// How many servers the database holds.
    pub async fn server_count(&self) -> i64 {
        self.db
            .read(|conn| {
                conn.query_row("SELECT COUNT(*) FROM compute_servers", [], |r| r.get(0))
                    .map_err(oxistack_db::DbError::from)
            })
            .await
            .unwrap()
    }
}
