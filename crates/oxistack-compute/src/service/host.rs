//! The host behind the API, as a single-host DevStack shows it: one
//! availability zone, one hypervisor, the services of one host. Its
//! details are for administrators; everyone may list the zones.

use oxistack_auth::{Action, AuthContext};
use oxistack_virt::HostInfo;

use super::ComputeService;
use super::error::{ComputeError, Result, authorize};
use crate::model::AVAILABILITY_ZONE;
use crate::store;
use crate::store::servers::HostLoad;
use crate::store::services::{COMPUTE_BINARY, ServiceRecord};

/// Memory Nova keeps for the host itself (`reserved_host_memory_mb`),
/// counted as used.
const RESERVED_HOST_MEMORY_MB: u64 = 512;

/// `GET /os-services` filters.
#[derive(Debug, Clone, Default)]
pub struct ServiceFilter {
    pub binary: Option<String>,
    pub host: Option<String>,
}

/// Which hypervisors a listing asks for (2.53).
#[derive(Debug, Clone, Default)]
pub struct HypervisorQuery {
    /// With the servers running on each.
    pub with_servers: bool,
    /// Only those whose host name contains this; none matching is a 404.
    pub hostname_pattern: Option<String>,
}

/// How a hypervisor is named: by number before 2.53, by UUID from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HypervisorId {
    Number(String),
    Uuid(String),
}

/// The one hypervisor: its ids and how much of it the servers use.
#[derive(Debug, Clone)]
pub struct Hypervisor {
    pub number: i64,
    pub uuid: String,
    pub compute: ServiceRecord,
    pub host: HostInfo,
    pub load: HostLoad,
    /// The host's own reservation included.
    pub memory_mb_used: u64,
    /// (name, id) of the servers on it, when asked for.
    pub servers: Vec<(String, String)>,
}

impl ComputeService {
    /// The availability zones servers can be created in.
    pub fn availability_zones(&self, caller: &AuthContext) -> Result<Vec<&'static str>> {
        authorize(caller, Action::ListAvailabilityZones)?;
        Ok(vec![AVAILABILITY_ZONE])
    }

    /// This host's services matching `filter`, in Nova's order.
    pub async fn host_services(
        &self,
        caller: &AuthContext,
        filter: ServiceFilter,
    ) -> Result<Vec<ServiceRecord>> {
        authorize(caller, Action::ReadComputeHosts)?;
        let on_host = filter.host.as_ref().is_none_or(|h| *h == self.host_name);
        let mut records = self.read(store::services::all).await?;
        records.retain(|r| on_host && filter.binary.as_ref().is_none_or(|b| *b == r.binary));
        Ok(records)
    }

    /// Host aggregates' names: a single host has none (clients list them
    /// to show a hypervisor's).
    pub fn host_aggregates(&self, caller: &AuthContext) -> Result<Vec<String>> {
        authorize(caller, Action::ReadComputeHosts)?;
        Ok(Vec::new())
    }

    /// Migrations' ids: a single host that neither resizes nor migrates
    /// servers has none (administrators list them before maintenance).
    pub fn migrations(&self, caller: &AuthContext) -> Result<Vec<String>> {
        authorize(caller, Action::ReadComputeHosts)?;
        Ok(Vec::new())
    }

    pub async fn hypervisors(
        &self,
        caller: &AuthContext,
        query: HypervisorQuery,
    ) -> Result<Vec<Hypervisor>> {
        authorize(caller, Action::ReadComputeHosts)?;
        let hypervisor = self.the_hypervisor(query.with_servers).await?;
        match &query.hostname_pattern {
            Some(pattern) if !hypervisor.host.hostname.contains(pattern.as_str()) => {
                Err(ComputeError::not_found(format!(
                    "No hypervisor matching '{pattern}' could be found."
                )))
            }
            _ => Ok(vec![hypervisor]),
        }
    }

    pub async fn show_hypervisor(
        &self,
        caller: &AuthContext,
        id: &HypervisorId,
        with_servers: bool,
    ) -> Result<Hypervisor> {
        authorize(caller, Action::ReadComputeHosts)?;
        let hypervisor = self.the_hypervisor(with_servers).await?;
        let found = match id {
            HypervisorId::Uuid(uuid) => *uuid == hypervisor.uuid,
            HypervisorId::Number(number) => *number == hypervisor.number.to_string(),
        };
        if !found {
            let (HypervisorId::Uuid(id) | HypervisorId::Number(id)) = id;
            return Err(ComputeError::not_found(format!(
                "Hypervisor with ID '{id}' could not be found."
            )));
        }
        Ok(hypervisor)
    }

    async fn the_hypervisor(&self, with_servers: bool) -> Result<Hypervisor> {
        let host = self.driver.host();
        let name = host.hostname.clone();
        let (records, load, servers) = self
            .read(move |conn| {
                let servers = match with_servers {
                    true => store::servers::on_host(conn, &name)?,
                    false => Vec::new(),
                };
                Ok((
                    store::services::all(conn)?,
                    store::servers::host_load(conn, &name)?,
                    servers,
                ))
            })
            .await?;
        let compute = records
            .into_iter()
            .find(|r| r.binary == COMPUTE_BINARY)
            .ok_or_else(|| {
                ComputeError::internal(
                    "finding the compute service record",
                    "it is missing: was bootstrap run?",
                )
            })?;
        Ok(Hypervisor {
            number: 1,
            uuid: compute.node_uuid.clone().unwrap_or_default(),
            memory_mb_used: load.memory_mb + RESERVED_HOST_MEMORY_MB,
            compute,
            host,
            load,
            servers,
        })
    }
}
