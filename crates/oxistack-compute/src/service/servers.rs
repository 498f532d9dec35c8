//! Server operations the API answers at once: listing, changing records,
//! and accepting actions that the background work then carries out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use chrono::Utc;
use oxistack_auth::{Action, AuthContext, authorize};
use oxistack_http::ApiError;
use oxistack_virt::DriverError;

use super::lifecycle::{PowerAction, nic};
use super::{ComputeService, load_visible};
use crate::interfaces::{PortRequest, PortSummary};
use crate::model::{LockedBy, Server, TaskState, VmState, server_not_found};
use crate::query::ServerListing;
use crate::store;

/// A page of servers with the ports of each (when asked for).
pub struct ListedServers {
    pub servers: Vec<Server>,
    pub ports: HashMap<String, Vec<PortSummary>>,
}

impl ListedServers {
    pub fn ports(&self, id: &str) -> &[PortSummary] {
        self.ports.get(id).map_or(&[], Vec::as_slice)
    }
}

/// Whether a server-changing request heeds the server's lock, as Nova's
/// corresponding call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    Heeded,
    Ignored,
}

/// A 409 for an action the server's state does not allow, in Nova's words.
pub fn conflict(action: &str, server: &Server) -> ApiError {
    let (attribute, state) = match server.task_state {
        Some(task) => ("task_state", task.as_str()),
        None => ("vm_state", server.vm_state.as_str()),
    };
    ApiError::conflict(format!(
        "Cannot '{action}' instance {} while it is in {attribute} {state}",
        server.id
    ))
}

/// Refuses `action` unless the server is idle in one of `states`.
pub fn require_state(server: &Server, action: &str, states: &[VmState]) -> Result<(), ApiError> {
    if server.task_state.is_some() || !states.contains(&server.vm_state) {
        return Err(conflict(action, server));
    }
    Ok(())
}

impl ComputeService {
    /// The servers `listing` selects; with `with_ports`, their ports too,
    /// fetched in one call.
    pub(crate) async fn list_servers(
        &self,
        caller: &Arc<AuthContext>,
        mut listing: ServerListing,
        with_ports: bool,
    ) -> Result<ListedServers, ApiError> {
        authorize(caller, Action::ReadServers)?;
        if listing.empty {
            return Ok(ListedServers {
                servers: Vec::new(),
                ports: HashMap::new(),
            });
        }
        let by_address = listing.ip.is_some() || listing.ip6.is_some();
        let filtered_later = by_address || listing.name.is_some();
        listing.query.limit = (!filtered_later).then_some(listing.limit);
        let query = listing.query;
        let mut servers = self
            .read(move |conn| store::servers::list(conn, &query))
            .await?;
        if let Some(name) = &listing.name {
            servers.retain(|s| name.is_match(&s.name));
        }
        let mut ports = HashMap::new();
        if by_address {
            ports = self.ports_of(&servers).await?;
            // A server matches when any of its fixed addresses does.
            let matches = |server: &Server| {
                let fixed = ports
                    .get(&server.id)
                    .into_iter()
                    .flatten()
                    .flat_map(|p| &p.fixed_ips);
                fixed.map(|ip| ip.ip_address).any(|address| {
                    let pattern = if address.is_ipv4() {
                        &listing.ip
                    } else {
                        &listing.ip6
                    };
                    pattern
                        .as_ref()
                        .is_some_and(|p| p.is_match(&address.to_string()))
                })
            };
            servers.retain(matches);
        }
        servers.truncate(listing.limit);
        if with_ports && !by_address {
            ports = self.ports_of(&servers).await?;
        }
        Ok(ListedServers { servers, ports })
    }

    /// The ports of `servers`, in one call.
    async fn ports_of(
        &self,
        servers: &[Server],
    ) -> Result<HashMap<String, Vec<PortSummary>>, ApiError> {
        if servers.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<String> = servers.iter().map(|s| s.id.clone()).collect();
        self.networking.ports_of(&ids).await
    }

    pub(crate) async fn ports_of_server(&self, id: &str) -> Result<Vec<PortSummary>, ApiError> {
        let ids = [id.to_owned()];
        Ok(self
            .networking
            .ports_of(&ids)
            .await?
            .remove(id)
            .unwrap_or_default())
    }

    /// A server the caller may see, with its ports.
    pub(crate) async fn show_server(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
    ) -> Result<(Server, Vec<PortSummary>), ApiError> {
        authorize(caller, Action::ReadServers)?;
        let server = self.visible_server(caller, id).await?;
        let ports = self.ports_of_server(id).await?;
        Ok((server, ports))
    }

    /// Changes a server the caller may modify, in one transaction:
    /// 404 if they cannot see it, 409 if it is locked (for `Lock::Heeded`)
    /// and they are not an administrator, or whatever `change` refuses.
    pub(crate) async fn modify_server<T, F>(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        lock: Lock,
        change: F,
    ) -> Result<(Server, T), ApiError>
    where
        F: FnOnce(&mut Server) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        authorize(caller, Action::ModifyServer)?;
        let (caller, id) = (caller.clone(), id.to_owned());
        self.write(move |tx| {
            let mut server = load_visible(tx, &caller, &id)?;
            if lock == Lock::Heeded {
                require_unlocked(&caller, &server)?;
            }
            let outcome = change(&mut server)?;
            server.updated_at = Utc::now();
            store::servers::save(tx, &server)?;
            Ok((server, outcome))
        })
        .await
    }

    /// Accepts a delete: the server shows `deleting` until the background
    /// teardown has removed it. Deleting twice is not an error.
    pub(crate) async fn delete_server(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
    ) -> Result<(), ApiError> {
        let (_, started) = self
            .modify_server(caller, id, Lock::Heeded, |server| {
                if server.task_state == Some(TaskState::Deleting) {
                    return Ok(false);
                }
                server.task_state = Some(TaskState::Deleting);
                Ok(true)
            })
            .await?;
        if started {
            self.start_teardown(id);
        }
        Ok(())
    }

    /// Accepts a power action the server's state allows.
    pub(crate) async fn power_server(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        action: PowerAction,
    ) -> Result<(), ApiError> {
        self.modify_server(caller, id, Lock::Heeded, move |server| {
            require_state(server, action.name(), action.allowed_from())?;
            server.task_state = Some(action.task());
            Ok(())
        })
        .await?;
        self.start_power(id, action);
        Ok(())
    }

    /// Locks a server against changes by non-administrators.
    pub(crate) async fn lock_server(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        reason: Option<String>,
    ) -> Result<(), ApiError> {
        let owner = caller.project_id().map(str::to_owned);
        self.modify_server(caller, id, Lock::Ignored, move |server| {
            server.locked_by = Some(if owner.as_deref() == Some(server.project_id.as_str()) {
                LockedBy::Owner
            } else {
                LockedBy::Admin
            });
            server.locked_reason = reason;
            Ok(())
        })
        .await
        .map(drop)
    }

    /// Unlocks a server; a lock an administrator set (on someone else's
    /// server) only an administrator lifts.
    pub(crate) async fn unlock_server(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
    ) -> Result<(), ApiError> {
        let lifter = caller.clone();
        self.modify_server(caller, id, Lock::Ignored, move |server| {
            if server.locked_by == Some(LockedBy::Admin) {
                authorize(&lifter, Action::UnlockOverride)?;
            }
            server.locked_by = None;
            server.locked_reason = None;
            Ok(())
        })
        .await
        .map(drop)
    }

    /// The last `lines` lines of the server's console (all if `None`).
    pub(crate) async fn console_output(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        lines: Option<usize>,
    ) -> Result<String, ApiError> {
        authorize(caller, Action::ReadServerConsole)?;
        let server = self.visible_server(caller, id).await?;
        if server.vm_state == VmState::Building {
            return Err(conflict("get_console_output", &server));
        }
        match self.driver.console_output(id, lines).await {
            Ok(output) => Ok(output),
            Err(DriverError::NotFound(_)) => Err(ApiError::not_found(
                "Guest does not have a console available.",
            )),
            Err(error) => Err(ApiError::internal(format!("console of {id}: {error}"))),
        }
    }

    /// Plugs a new port (on `network`, or the given existing `port`) into
    /// a server, hot if it runs.
    pub(crate) async fn attach_interface(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        attachment: Attachment,
    ) -> Result<PortSummary, ApiError> {
        let server = self
            .idle_for_interfaces(caller, id, "attach_interface")
            .await?;
        let _turn = self.locks.lock(id).await;
        let port = match attachment {
            Attachment::Port(port_id) => self.networking.bind_port(caller, &port_id, id).await?,
            Attachment::Network {
                network_id,
                fixed_ip,
            } => {
                let network_id = match network_id {
                    Some(network_id) => network_id,
                    None => self.only_network(caller).await?,
                };
                let request = PortRequest {
                    network_id,
                    fixed_ip,
                    security_group_ids: server
                        .security_groups
                        .iter()
                        .map(|g| g.id.clone())
                        .collect(),
                    device_id: id.to_owned(),
                };
                self.networking.create_port(caller, request).await?
            }
        };
        let attached = match self.networking.sync_host().await {
            Ok(()) => self
                .driver
                .attach_nic(id, &nic(&port))
                .await
                .map_err(|e| e.to_string()),
            Err(error) => Err(error.message),
        };
        if let Err(error) = attached {
            if let Err(release) = self.networking.release_port(id, &port.id).await {
                tracing::error!(server = %id, port = %port.id, error = %release, "cannot release a port that failed to attach");
            }
            return Err(ApiError::internal(format!(
                "Failed to attach network adapter device to {id}: {error}"
            )));
        }
        Ok(port)
    }

    /// Unplugs port `port_id` from a server and releases it.
    pub(crate) async fn detach_interface(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        port_id: &str,
    ) -> Result<(), ApiError> {
        self.idle_for_interfaces(caller, id, "detach_interface")
            .await?;
        let _turn = self.locks.lock(id).await;
        let ports = self.ports_of_server(id).await?;
        if !ports.iter().any(|p| p.id == port_id) {
            return Err(ApiError::not_found(format!(
                "Port {port_id} is not attached to instance {id}"
            )));
        }
        self.driver
            .detach_nic(id, port_id)
            .await
            .map_err(|e| ApiError::internal(format!("detaching port {port_id} from {id}: {e}")))?;
        self.networking.release_port(id, port_id).await
    }

    /// A server whose interfaces may change now: visible, unlocked (to a
    /// non-administrator), and idle in a state Nova allows.
    async fn idle_for_interfaces(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        action: &'static str,
    ) -> Result<Server, ApiError> {
        authorize(caller, Action::ModifyServer)?;
        let server = self.visible_server(caller, id).await?;
        require_unlocked(caller, &server)?;
        require_state(
            &server,
            action,
            &[VmState::Active, VmState::Paused, VmState::Stopped],
        )?;
        Ok(server)
    }

    /// The caller's only usable network, for an attachment that names none.
    async fn only_network(&self, caller: &Arc<AuthContext>) -> Result<String, ApiError> {
        let networks = self.networking.usable_networks(caller).await?;
        match networks.as_slice() {
            [network] => Ok(network.id.clone()),
            [] => Err(ApiError::bad_request(
                "No network is available to attach the interface to.",
            )),
            _ => Err(ApiError::conflict(
                "Multiple possible networks found, use a Network ID to be more specific.",
            )),
        }
    }

    /// The network service's side of a server action: adding or removing
    /// a security group, associating or disassociating a floating IP.
    pub(crate) async fn server_network_action(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        action: NetworkAction,
    ) -> Result<(), ApiError> {
        authorize(caller, Action::ModifyServer)?;
        let server = self.visible_server(caller, id).await?;
        if server.task_state == Some(TaskState::Deleting) {
            return Err(server_not_found(id));
        }
        let networking = self.networking();
        match action {
            NetworkAction::AddSecurityGroup(group) => {
                networking.add_security_group(caller, id, &group).await
            }
            NetworkAction::RemoveSecurityGroup(group) => {
                networking.remove_security_group(caller, id, &group).await
            }
            NetworkAction::AddFloatingIp {
                address,
                fixed_address,
            } => {
                networking
                    .associate_floating_ip(caller, id, address, fixed_address)
                    .await
            }
            NetworkAction::RemoveFloatingIp(address) => {
                networking
                    .disassociate_floating_ip(caller, id, address)
                    .await
            }
        }
    }
}

/// 409 for a non-administrator acting on a locked server.
fn require_unlocked(caller: &AuthContext, server: &Server) -> Result<(), ApiError> {
    if server.locked_by.is_some() && !caller.is_admin() {
        return Err(ApiError::conflict(format!(
            "Instance {} is locked",
            server.id
        )));
    }
    Ok(())
}

/// What to plug into a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attachment {
    /// An existing port.
    Port(String),
    /// A new port on a network (the caller's only one if `None`).
    Network {
        network_id: Option<String>,
        fixed_ip: Option<IpAddr>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkAction {
    AddSecurityGroup(String),
    RemoveSecurityGroup(String),
    AddFloatingIp {
        address: IpAddr,
        fixed_address: Option<IpAddr>,
    },
    RemoveFloatingIp(IpAddr),
}
