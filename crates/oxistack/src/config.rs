//! The cloud's configuration: a TOML file playing the role of DevStack's
//! local.conf, with environment overrides and embedded defaults, so that
//! `oxistack up` works with no file at all.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use ipnet::Ipv4Net;
use oxistack_qemu::Accel;
use serde::Deserialize;

pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);
pub const DEFAULT_STATE_DIR: &str = "/var/lib/oxistack";

/// The file as written by a user. Every key is optional; unknown keys are
/// errors, so a typo never silently falls back to a default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    public_address: Option<String>,
    state_dir: Option<PathBuf>,
    admin_password: Option<String>,
    region: Option<String>,
    token_expiration: Option<u32>,
    external_network: Option<ExternalNetworkFile>,
    services: Option<ServicesFile>,
    compute: Option<ComputeFile>,
    network: Option<NetworkFile>,
    image: Option<ImageFile>,
    instance_prefix: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExternalNetworkFile {
    floating_range: Option<Ipv4Net>,
    pool_start: Option<Ipv4Addr>,
    pool_end: Option<Ipv4Addr>,
    gateway: Option<Ipv4Addr>,
    physical_interface: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServicesFile {
    image: Option<bool>,
    compute: Option<bool>,
    network: Option<bool>,
    load_balancer: Option<bool>,
    volume: Option<bool>,
    dashboard: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ComputeFile {
    driver: Option<ComputeDriverKind>,
    accel: Option<Accel>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImageFile {
    cirros: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkFile {
    dataplane: Option<DataPlaneKind>,
}

/// What runs instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComputeDriverKind {
    /// Every server is a QEMU virtual machine.
    Qemu,
    /// Instances are records that change state; nothing runs.
    Fake,
}

/// What carries tenant traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataPlaneKind {
    /// Bridges, namespaces and nftables on this host.
    Linux,
    /// Networks are records; no kernel object is made.
    Fake,
}

/// The external ("public") network floating IPs come from, as DevStack's
/// FLOATING_RANGE, Q_FLOATING_ALLOCATION_POOL and PUBLIC_NETWORK_GATEWAY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalNetwork {
    pub floating_range: Ipv4Net,
    pub pool_start: Ipv4Addr,
    pub pool_end: Ipv4Addr,
    pub gateway: Ipv4Addr,
    /// A host NIC to bridge the external network onto; none means the
    /// sandboxed external network that touches nothing of the host's.
    pub physical_interface: Option<String>,
}

/// Which optional services run. Identity always does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Services {
    pub image: bool,
    pub compute: bool,
    pub network: bool,
    /// Octavia's API and the proxies; needs the network.
    pub load_balancer: bool,
    /// Cinder's API and the volumes' files; needs the image service.
    pub volume: bool,
    /// The web dashboard at /dashboard, acting through the other APIs.
    pub dashboard: bool,
}

/// The configuration in force, every default filled in.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Host clients use to reach the cloud, in the catalog and openrc.
    pub public_address: String,
    pub state_dir: PathBuf,
    /// None: generated on first start and kept in the state directory.
    pub admin_password: Option<String>,
    pub region: String,
    pub token_expiration: chrono::Duration,
    pub external_network: ExternalNetwork,
    pub services: Services,
    pub compute_driver: ComputeDriverKind,
    /// How QEMU runs guests: KVM where it really runs them, else TCG, unless forced.
    pub accelerator: Accel,
    pub dataplane: DataPlaneKind,
    /// A disk image registered as the public image `cirros` on first start.
    pub cirros_image: Option<PathBuf>,
    /// Starts the names of this cloud's namespaces on the host, so that
    /// several clouds (with different state directories) run side by side.
    pub instance_prefix: String,
    /// The file this configuration was read from, if any.
    pub file: Option<PathBuf>,
}

/// Environment variables that override the file.
pub const ENV_LISTEN: &str = "OXISTACK_LISTEN";
pub const ENV_STATE_DIR: &str = "OXISTACK_STATE_DIR";
pub const ENV_ADMIN_PASSWORD: &str = "OXISTACK_ADMIN_PASSWORD";
pub const ENV_CIRROS_IMAGE: &str = "OXISTACK_CIRROS_IMAGE";

/// The longest instance prefix: the host's device names derived from it
/// must stay within the kernel's 15 characters.
const MAX_PREFIX_LEN: usize = 8;

impl Config {
    /// Loads `path` (if given), applies the environment and checks the result.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let file = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                toml::from_str::<FileConfig>(&text).map_err(|e| {
                    anyhow::anyhow!(
                        "invalid config file {}: {}",
                        path.display(),
                        e.to_string().trim()
                    )
                })?
            }
            None => FileConfig::default(),
        };
        let mut config = Config::resolve(file, |name| std::env::var(name).ok())?;
        config.file = path.map(Path::to_path_buf);
        Ok(config)
    }

    fn resolve(file: FileConfig, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Config> {
        let listen = match env(ENV_LISTEN) {
            Some(text) => text
                .parse()
                .with_context(|| format!("invalid {ENV_LISTEN} '{text}': expected address:port"))?,
            None => file.listen.unwrap_or(DEFAULT_LISTEN),
        };
        let state_dir = env(ENV_STATE_DIR)
            .map(PathBuf::from)
            .or(file.state_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR));
        let admin_password = env(ENV_ADMIN_PASSWORD).or(file.admin_password);
        if admin_password.as_deref() == Some("") {
            bail!("invalid config: admin_password must not be empty");
        }
        let public_address = match file.public_address {
            Some(address) if !address.trim().is_empty() => address,
            Some(_) => bail!("invalid config: public_address must not be empty"),
            None if listen.ip().is_unspecified() => "127.0.0.1".to_owned(),
            None => listen.ip().to_string(),
        };
        let region = file.region.unwrap_or_else(|| "RegionOne".to_owned());
        if region.trim().is_empty() {
            bail!("invalid config: region must not be empty");
        }
        let token_expiration = match file.token_expiration {
            Some(0) => bail!("invalid config: token_expiration must be at least 1 second"),
            Some(seconds) => chrono::Duration::seconds(seconds.into()),
            None => chrono::Duration::hours(1),
        };
        let services = file.services.unwrap_or_default();
        let services = Services {
            image: services.image.unwrap_or(true),
            compute: services.compute.unwrap_or(true),
            network: services.network.unwrap_or(true),
            load_balancer: services.load_balancer.unwrap_or(true),
            volume: services.volume.unwrap_or(true),
            dashboard: services.dashboard.unwrap_or(true),
        };
        if services.compute && !(services.image && services.network) {
            bail!("invalid config: services.compute needs services.image and services.network");
        }
        if services.load_balancer && !services.network {
            bail!("invalid config: services.load_balancer needs services.network");
        }
        if services.volume && !services.image {
            bail!("invalid config: services.volume needs services.image");
        }
        let instance_prefix = match file.instance_prefix {
            Some(prefix) => {
                let valid = !prefix.is_empty()
                    && prefix.len() <= MAX_PREFIX_LEN
                    && prefix
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                    && prefix.starts_with(|c: char| c.is_ascii_lowercase());
                if !valid {
                    bail!(
                        "invalid config: instance_prefix '{prefix}' must be 1 to {MAX_PREFIX_LEN} lowercase letters or digits, starting with a letter"
                    );
                }
                prefix
            }
            None => default_prefix(&state_dir),
        };
        let cirros_image = env(ENV_CIRROS_IMAGE)
            .filter(|path| !path.is_empty())
            .map(PathBuf::from)
            .or(file.image.and_then(|i| i.cirros));
        let compute = file.compute.unwrap_or_default();
        Ok(Config {
            listen,
            public_address,
            state_dir,
            admin_password,
            region,
            token_expiration,
            external_network: external_network(file.external_network.unwrap_or_default())?,
            services,
            compute_driver: compute.driver.unwrap_or(ComputeDriverKind::Qemu),
            accelerator: compute.accel.unwrap_or_default(),
            dataplane: file
                .network
                .and_then(|n| n.dataplane)
                .unwrap_or(DataPlaneKind::Linux),
            cirros_image,
            instance_prefix,
            file: None,
        })
    }

    /// The base URL clients reach the cloud at, e.g. `http://127.0.0.1:8080`.
    pub fn public_url(&self) -> String {
        let host = if self.public_address.contains(':') && !self.public_address.starts_with('[') {
            format!("[{}]", self.public_address)
        } else {
            self.public_address.clone()
        };
        format!("http://{host}:{}", self.listen.port())
    }

    pub fn database_path(&self) -> PathBuf {
        self.state_dir.join("oxistack.db")
    }
}

/// `ox` and six hex digits of the state directory's hash: stable for a
/// cloud, different for clouds with different state directories.
fn default_prefix(state_dir: &Path) -> String {
    use sha2::Digest;
    let absolute = std::path::absolute(state_dir).unwrap_or_else(|_| state_dir.to_owned());
    let digest = sha2::Sha256::digest(absolute.as_os_str().as_encoded_bytes());
    format!("ox{}", &hex::encode(digest)[..6])
}

/// DevStack's defaults: 172.24.4.0/24, gateway .1, pool .2 to .254.
fn external_network(file: ExternalNetworkFile) -> anyhow::Result<ExternalNetwork> {
    let range = file
        .floating_range
        .unwrap_or_else(|| "172.24.4.0/24".parse().expect("valid constant"));
    let range = range.trunc();
    let hosts: Vec<Ipv4Addr> = range.hosts().take(2).collect();
    if hosts.len() < 2 || range.prefix_len() > 29 {
        bail!(
            "invalid config: external_network.floating_range {range} is too small (at most a /29)"
        );
    }
    let gateway = file.gateway.unwrap_or(hosts[0]);
    let pool_start = file.pool_start.unwrap_or(hosts[1]);
    let pool_end = file
        .pool_end
        .unwrap_or_else(|| Ipv4Addr::from(u32::from(range.broadcast()) - 1));
    for (key, address) in [
        ("gateway", gateway),
        ("pool_start", pool_start),
        ("pool_end", pool_end),
    ] {
        if !range.contains(&address) || address == range.network() || address == range.broadcast() {
            bail!(
                "invalid config: external_network.{key} {address} is not a host address of floating_range {range}"
            );
        }
    }
    if pool_start > pool_end {
        bail!(
            "invalid config: external_network.pool_start {pool_start} is after pool_end {pool_end}"
        );
    }
    if (pool_start..=pool_end).contains(&gateway) {
        bail!("invalid config: external_network.gateway {gateway} lies inside the allocation pool");
    }
    Ok(ExternalNetwork {
        floating_range: range,
        pool_start,
        pool_end,
        gateway,
        physical_interface: file.physical_interface.filter(|i| !i.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<Config> {
        let file: FileConfig = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        Config::resolve(file, |_| None)
    }

    #[test]
    fn defaults_work_without_a_file() {
        let config = parse("").unwrap();
        assert_eq!(config.listen, DEFAULT_LISTEN);
        assert_eq!(config.region, "RegionOne");
        assert_eq!(config.public_url(), "http://127.0.0.1:8080");
        assert_eq!(
            config.external_network.gateway,
            Ipv4Addr::new(172, 24, 4, 1)
        );
        assert_eq!(
            config.external_network.pool_start,
            Ipv4Addr::new(172, 24, 4, 2)
        );
        assert_eq!(
            config.external_network.pool_end,
            Ipv4Addr::new(172, 24, 4, 254)
        );
        assert!(config.services.image && config.services.compute && config.services.network);
        assert!(config.services.load_balancer);
        assert_eq!(config.compute_driver, ComputeDriverKind::Qemu);
        assert_eq!(config.dataplane, DataPlaneKind::Linux);
        assert_eq!(config.accelerator, Accel::Auto);
        assert_eq!(
            config.instance_prefix,
            default_prefix(Path::new(DEFAULT_STATE_DIR))
        );
        assert_eq!(config.instance_prefix.len(), 8);
        assert_eq!(config.token_expiration, chrono::Duration::hours(1));
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = parse("listen = \"127.0.0.1:1\"\nadmin_pasword = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("admin_pasword"), "{err}");
        let err = parse("[external_network]\nfloating_rnage = \"10.0.0.0/24\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("floating_rnage"), "{err}");
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(parse("listen = \"nonsense\"").is_err());
        assert!(
            parse("[external_network]\nfloating_range = \"10.0.0.0/24\"\ngateway = \"10.0.1.1\"")
                .is_err()
        );
        assert!(parse("[external_network]\nfloating_range = \"10.0.0.0/24\"\npool_start = \"10.0.0.9\"\npool_end = \"10.0.0.5\"").is_err());
        assert!(parse("token_expiration = 0").is_err());
        let err = parse("[compute]\ndriver = \"vmware\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("vmware") && err.contains("fake"), "{err}");
        assert!(
            parse("[services]\nnetwork = false").is_err(),
            "compute without network"
        );
        let err = parse("[services]\ncompute = false\nnetwork = false")
            .unwrap_err()
            .to_string();
        assert!(err.contains("load_balancer"), "{err}");
        assert!(
            parse("[services]\ncompute = false\nnetwork = false\nload_balancer = false").is_ok()
        );
        for prefix in ["", "toolongprefix", "Upper", "9lives", "a-b"] {
            let err = parse(&format!("instance_prefix = \"{prefix}\""))
                .unwrap_err()
                .to_string();
            assert!(err.contains("instance_prefix"), "{err}");
        }
        assert_eq!(
            parse("instance_prefix = \"demo1\"")
                .unwrap()
                .instance_prefix,
            "demo1"
        );
    }

    #[test]
    fn environment_overrides_the_file() {
        let file: FileConfig =
            toml::from_str("listen = \"127.0.0.1:1\"\nadmin_password = \"file\"").unwrap();
        let config = Config::resolve(file, |name| match name {
            ENV_LISTEN => Some("127.0.0.1:2".into()),
            ENV_ADMIN_PASSWORD => Some("env".into()),
            ENV_STATE_DIR => Some("/tmp/x".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(config.listen.port(), 2);
        assert_eq!(config.admin_password.as_deref(), Some("env"));
        assert_eq!(config.state_dir, PathBuf::from("/tmp/x"));
        assert_ne!(
            config.instance_prefix,
            default_prefix(Path::new("/tmp/y")),
            "clouds with different state directories get different prefixes"
        );
    }
}
