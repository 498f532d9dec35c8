//! The compute service: what every request may do, decided here. Each
//! operation is a typed call (caller + typed request -> typed result) that
//! checks the cloud's policy itself and fails with a [`ComputeError`]; the
//! HTTP face only parses and renders. This module holds the service's
//! dependencies, start-up and the helpers operations share; flavors, key
//! pairs, quotas, server groups, the host, servers and their data, and
//! the background work that makes servers exist live in the submodules.

pub mod consoles;
mod create;
mod error;
pub mod flavors;
pub mod groups;
pub mod host;
pub mod keypairs;
mod lifecycle;
pub mod quotas;
pub mod server_data;
mod servers;
mod volumes;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use chrono::Utc;
use oxistack_auth::AuthContext;
use oxistack_db::Db;
use oxistack_db::rusqlite::{Connection, Transaction};
use oxistack_virt::ComputeDriver;

use crate::interfaces::{Images, Networking};
use crate::model::{Flavor, Server, server_not_found};
use crate::store;

pub use error::ComputeError;
pub(crate) use lifecycle::PowerAction;
pub(crate) use servers::{Attachment, Lock, NetworkAction, conflict, require_state};
pub use servers::{ServerUpdate, ServerVisibility};
pub(crate) use volumes::AttachVolume;

/// DevStack's default flavors: id, name, RAM (MiB), disk (GiB), vCPUs.
const DEFAULT_FLAVORS: &[(&str, &str, u64, u64, u32)] = &[
    ("1", "m1.tiny", 512, 1, 1),
    ("2", "m1.small", 2048, 20, 1),
    ("3", "m1.medium", 4096, 40, 2),
    ("4", "m1.large", 8192, 80, 4),
    ("5", "m1.xlarge", 16384, 160, 8),
    ("c1", "cirros256", 256, 1, 1),
    ("d1", "ds512M", 512, 5, 1),
    ("d2", "ds1G", 1024, 10, 1),
    ("d3", "ds2G", 2048, 10, 2),
    ("d4", "ds4G", 4096, 20, 4),
    ("42", "m1.nano", 128, 1, 1),
    ("84", "m1.micro", 192, 1, 1),
];

pub struct ComputeService {
    db: Db,
    driver: Arc<dyn ComputeDriver>,
    networking: Arc<dyn Networking>,
    images: Arc<dyn Images>,
    /// The volume service, once the binary wired it (it is built first and
    /// handed compute back for its events); none in a cloud without one.
    volumes: OnceLock<Arc<dyn oxistack_contracts::Volumes>>,
    /// This host's name, as servers and hypervisors show it.
    host_name: String,
    locks: InstanceLocks,
    /// Bumped by every change to flavors (their access lists and extra
    /// specs included), for what is derived from them to notice.
    flavor_generation: AtomicU64,
    /// The console tokens issued, and where the serial proxy is reached.
    consoles: consoles::ConsoleTokens,
    /// The service itself, for work it hands to background tasks.
    this: Weak<ComputeService>,
    /// Where the per-server background work runs, so shutdown waits for
    /// it (an action cut off there is driven again by the next start's
    /// resume).
    tasks: oxistack_tasks::Supervisor,
}

impl ComputeService {
    /// The compute service over `db`, whose compute tables must already be
    /// migrated, driving instances through `driver`.
    pub fn new(
        db: Db,
        driver: Arc<dyn ComputeDriver>,
        networking: Arc<dyn Networking>,
        images: Arc<dyn Images>,
        tasks: &oxistack_tasks::Supervisor,
    ) -> Arc<Self> {
        let host_name = driver.host().hostname;
        Arc::new_cyclic(|this| ComputeService {
            db,
            driver,
            networking,
            images,
            volumes: OnceLock::new(),
            host_name,
            locks: InstanceLocks::default(),
            flavor_generation: AtomicU64::new(0),
            consoles: consoles::ConsoleTokens::default(),
            this: this.clone(),
            tasks: tasks.clone(),
        })
    }

    /// On the first start of the compute service: DevStack's default
    /// flavors and this host's service records. Later starts change
    /// nothing, so flavors an administrator deleted stay deleted.
    pub fn bootstrap(&self) -> Result<(), ComputeError> {
        self.db.write_blocking(|tx| {
            if !store::services::ensure(tx)? {
                return Ok(());
            }
            for (id, name, ram, disk, vcpus) in DEFAULT_FLAVORS {
                let taken = tx
                    .prepare_cached("SELECT 1 FROM compute_flavors WHERE id = ?1 OR name = ?2")?
                    .exists([id, name])?;
                if !taken {
                    store::flavors::insert(tx, &default_flavor(id, name, *ram, *disk, *vcpus))?;
                }
            }
            Ok(())
        })
    }

    /// This host's name, as servers, services and hypervisors show it.
    pub fn host_name(&self) -> &str {
        &self.host_name
    }

    pub(crate) fn networking(&self) -> &dyn Networking {
        self.networking.as_ref()
    }

    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, ComputeError>
    where
        F: FnOnce(&Connection) -> Result<T, ComputeError> + Send + 'static,
        T: Send + 'static,
    {
        self.db.read(f).await
    }

    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, ComputeError>
    where
        F: FnOnce(&Transaction) -> Result<T, ComputeError> + Send + 'static,
        T: Send + 'static,
    {
        self.db.write(f).await
    }

    /// Server `id` if the caller may see it; 404 otherwise, whether it
    /// exists in another project or not at all.
    pub(crate) async fn visible_server(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
    ) -> Result<Server, ComputeError> {
        let (caller, id) = (caller.clone(), id.to_owned());
        self.read(move |conn| load_visible(conn, &caller, &id))
            .await
    }

    fn arc(&self) -> Arc<ComputeService> {
        self.this
            .upgrade()
            .expect("the compute service is alive while its methods run")
    }
}

pub(crate) fn load_visible(
    conn: &Connection,
    caller: &AuthContext,
    id: &str,
) -> Result<Server, ComputeError> {
    store::servers::find(conn, id)?
        .filter(|server| caller.can_see_project(&server.project_id))
        .ok_or_else(|| server_not_found(id))
}

fn default_flavor(id: &str, name: &str, ram: u64, disk: u64, vcpus: u32) -> Flavor {
    Flavor {
        id: id.to_owned(),
        name: name.to_owned(),
        ram,
        vcpus,
        disk,
        ephemeral: 0,
        swap: 0,
        rxtx_factor: 1.0,
        is_public: true,
        disabled: false,
        description: None,
        extra_specs: BTreeMap::new(),
        created_at: Utc::now(),
    }
}

/// One lock per server, so the background work on a server (build, power
/// changes, teardown) happens one operation at a time.
#[derive(Default)]
struct InstanceLocks(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl InstanceLocks {
    async fn lock(&self, id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let mutex = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(id.to_owned())
            .or_default()
            .clone();
        mutex.lock_owned().await
    }

    /// Drops the lock of a deleted server.
    fn forget(&self, id: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }
}
