//! The networking service as other services use it: [`Networking`] (for
//! compute) and [`LoadBalancerNetworking`] (for load balancing)
//! implemented on [`NetworkService`] by its methods in
//! service/compute.rs and service/loadbalancing.rs, with networking's
//! errors put in the contract's terms once, here.

use std::collections::HashMap;
use std::net::IpAddr;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use oxistack_auth::AuthContext;
use oxistack_contracts::{
    ContractError, ListenerOpening, LoadBalancerNetworking, NetworkSummary, Networking,
    PortRequest, PortSummary, SecurityGroupDetail, VipPort, VipRequest,
};

use crate::NetworkService;
use crate::errors::NetworkError;

/// What a networking refusal means to another service. The message is
/// the one Neutron gives; Neutron's error type (`PortInUse`, ...) is its
/// wire format and stays behind.
impl From<NetworkError> for ContractError {
    fn from(error: NetworkError) -> Self {
        match error {
            NetworkError::NotFound { .. } | NetworkError::Missing { .. } => {
                ContractError::NotFound(error.to_string())
            }
            NetworkError::InvalidInput { .. }
            | NetworkError::Refused { .. }
            | NetworkError::List(_) => ContractError::Invalid(error.to_string()),
            NetworkError::Conflict { .. } | NetworkError::OverQuota(_) => {
                ContractError::Conflict(error.to_string())
            }
            NetworkError::Forbidden(_) => ContractError::Forbidden(error.to_string()),
            NetworkError::Storage(_) | NetworkError::Query(_) | NetworkError::Internal(_) => {
                ContractError::internal("networking", error)
            }
        }
    }
}

/// `call`, with its error in the contract's terms.
fn contract<'a, T: 'a>(
    call: impl Future<Output = Result<T, NetworkError>> + Send + 'a,
) -> BoxFuture<'a, Result<T, ContractError>> {
    call.map(|result| result.map_err(ContractError::from))
        .boxed()
}

impl Networking for NetworkService {
    fn usable_networks<'a>(
        &'a self,
        caller: &'a AuthContext,
    ) -> BoxFuture<'a, Result<Vec<NetworkSummary>, ContractError>> {
        contract(self.usable_networks(caller))
    }

    fn attachable_networks<'a>(
        &'a self,
        caller: &'a AuthContext,
        ids: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<NetworkSummary>, ContractError>> {
        contract(self.attachable_networks(caller, ids))
    }

    fn resolve_security_groups<'a>(
        &'a self,
        caller: &'a AuthContext,
        names_or_ids: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<String>, ContractError>> {
        contract(self.resolve_security_groups(caller, names_or_ids))
    }

    fn create_port<'a>(
        &'a self,
        caller: &'a AuthContext,
        request: PortRequest,
    ) -> BoxFuture<'a, Result<PortSummary, ContractError>> {
        contract(self.create_port(caller, request))
    }

    fn bind_port<'a>(
        &'a self,
        caller: &'a AuthContext,
        port_id: &'a str,
        device_id: &'a str,
    ) -> BoxFuture<'a, Result<PortSummary, ContractError>> {
        contract(self.bind_port(caller, port_id, device_id))
    }

    fn release_port<'a>(
        &'a self,
        device_id: &'a str,
        port_id: &'a str,
    ) -> BoxFuture<'a, Result<(), ContractError>> {
        contract(self.release_port(device_id, port_id))
    }

    fn release_ports<'a>(&'a self, device_id: &'a str) -> BoxFuture<'a, Result<(), ContractError>> {
        contract(self.release_ports(device_id))
    }

    fn ports_of<'a>(
        &'a self,
        device_ids: &'a [String],
    ) -> BoxFuture<'a, Result<HashMap<String, Vec<PortSummary>>, ContractError>> {
        contract(self.ports_of(device_ids))
    }

    fn add_security_group<'a>(
        &'a self,
        caller: &'a AuthContext,
        device_id: &'a str,
        group: &'a str,
    ) -> BoxFuture<'a, Result<(), ContractError>> {
        contract(self.add_security_group(caller, device_id, group))
    }

    fn server_security_groups<'a>(
        &'a self,
        device_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<SecurityGroupDetail>, ContractError>> {
        contract(self.server_security_groups(device_id))
    }

    fn remove_security_group<'a>(
        &'a self,
        caller: &'a AuthContext,
        device_id: &'a str,
        group: &'a str,
    ) -> BoxFuture<'a, Result<(), ContractError>> {
        contract(self.remove_security_group(caller, device_id, group))
    }

    fn associate_floating_ip<'a>(
        &'a self,
        caller: &'a AuthContext,
        device_id: &'a str,
        address: IpAddr,
        fixed_address: Option<IpAddr>,
    ) -> BoxFuture<'a, Result<(), ContractError>> {
        contract(self.associate_floating_ip(caller, device_id, address, fixed_address))
    }

    fn disassociate_floating_ip<'a>(
        &'a self,
        caller: &'a AuthContext,
        device_id: &'a str,
        address: IpAddr,
    ) -> BoxFuture<'a, Result<(), ContractError>> {
        contract(self.disassociate_floating_ip(caller, device_id, address))
    }

    fn sync_host<'a>(&'a self) -> BoxFuture<'a, Result<(), ContractError>> {
        sync_host(self)
    }
}

impl LoadBalancerNetworking for NetworkService {
    fn create_vip<'a>(
        &'a self,
        caller: &'a AuthContext,
        request: VipRequest,
    ) -> BoxFuture<'a, Result<VipPort, ContractError>> {
        contract(self.create_vip(caller, request))
    }

    fn set_openings<'a>(
        &'a self,
        load_balancer_id: &'a str,
        openings: Vec<ListenerOpening>,
    ) -> BoxFuture<'a, Result<(), ContractError>> {
        contract(self.set_openings(load_balancer_id, openings))
    }

    fn set_member_subnets<'a>(
        &'a self,
        load_balancer_id: &'a str,
        subnet_ids: Vec<String>,
    ) -> BoxFuture<'a, Result<(), ContractError>> {
        contract(self.set_member_subnets(load_balancer_id, subnet_ids))
    }

    fn release<'a>(
        &'a self,
        load_balancer_id: &'a str,
    ) -> BoxFuture<'a, Result<(), ContractError>> {
        contract(self.release_load_balancer(load_balancer_id))
    }

    fn sync_host(&self) -> BoxFuture<'_, Result<(), ContractError>> {
        sync_host(self)
    }

    fn subnet_network<'a>(
        &'a self,
        caller: &'a AuthContext,
        subnet_id: &'a str,
    ) -> BoxFuture<'a, Result<String, ContractError>> {
        contract(self.subnet_network(caller, subnet_id))
    }
}

/// Both contracts' `sync_host`: reconcile now and wait.
fn sync_host(service: &NetworkService) -> BoxFuture<'_, Result<(), ContractError>> {
    service
        .reconcile_now()
        .map(|result| result.map_err(|e| ContractError::internal("reconciling the network", e)))
        .boxed()
}
