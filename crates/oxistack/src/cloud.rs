//! Wires the services together on one listener, the way DevStack lays
//! them out under one host: /identity, /image, /networking, /volume,
//! /compute, /load-balancer.
//!
//! `up` starts each enabled service into one list of [`Mounted`]
//! services; the catalog, the listener's routes and the start-up summary
//! are all derived from that list. Everything that runs in the background
//! runs under one [`Supervisor`], stopped with a deadline at shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use oxistack_auth::TokenValidator;
use oxistack_compute::ComputeService;
use oxistack_db::Db;
use oxistack_identity::{Bootstrap, BootstrapReport, CatalogService, IdentityService};
use oxistack_image::ImageService;
use oxistack_loadbalancer::LoadBalancerService;
use oxistack_network::{NetworkDefaults, NetworkService};
use oxistack_tasks::{CancellationToken, Supervisor};
use oxistack_volume::VolumeService;
use tower::Layer;
use tower_http::normalize_path::NormalizePathLayer;

use crate::adapters::LateMetadata;
use crate::config::{Config, DataPlaneKind};
use crate::{cirros, control, credentials, host};

/// What a kind of service is called and where it goes.
struct ServiceKind {
    /// Its catalog type, also the name its database tables migrate under.
    service_type: &'static str,
    name: &'static str,
    /// What DevStack calls it in stack.sh's closing lines.
    product: &'static str,
    /// Where its router is nested on the listener.
    path: &'static str,
    /// What the catalog URL adds to the path, e.g. Nova's `/v2.1`.
    catalog_suffix: &'static str,
    /// Other types the catalog lists it under, at the same URL (Cinder
    /// is `block-storage` and, for older clients, `volumev3`).
    catalog_aliases: &'static [&'static str],
}

const IDENTITY: ServiceKind = ServiceKind {
    service_type: "identity",
    name: "keystone",
    product: "Keystone",
    path: oxistack_identity::MOUNT,
    catalog_suffix: "",
    catalog_aliases: &[],
};
const IMAGE: ServiceKind = ServiceKind {
    service_type: "image",
    name: "glance",
    product: "Glance",
    path: "/image",
    catalog_suffix: "",
    catalog_aliases: &[],
};
const COMPUTE: ServiceKind = ServiceKind {
    service_type: "compute",
    name: "nova",
    product: "Nova",
    path: "/compute",
    catalog_suffix: "/v2.1",
    catalog_aliases: &[],
};
const NETWORK: ServiceKind = ServiceKind {
    service_type: "network",
    name: "neutron",
    product: "Neutron",
    path: "/networking",
    catalog_suffix: "",
    catalog_aliases: &[],
};

const VOLUME: ServiceKind = ServiceKind {
    service_type: "block-storage",
    name: "cinder",
    product: "Cinder",
    path: "/volume",
    catalog_suffix: "/v3",
    catalog_aliases: &["volumev3"],
};

const LOAD_BALANCER: ServiceKind = ServiceKind {
    service_type: "load-balancer",
    name: "octavia",
    product: "Octavia",
    path: "/load-balancer",
    catalog_suffix: "",
    catalog_aliases: &[],
};

/// A started service on the listener: the one entry the catalog, the
/// routes and the start-up summary are derived from. It reads as its
/// kind (`mounted.path`).
struct Mounted {
    kind: &'static ServiceKind,
    router: Router,
}

impl std::ops::Deref for Mounted {
    type Target = ServiceKind;

    fn deref(&self) -> &ServiceKind {
        self.kind
    }
}

/// The catalog entries of the mounted services, at `public_url`.
fn catalog(mounted: &[Mounted], public_url: &str) -> Vec<CatalogService> {
    mounted
        .iter()
        .flat_map(|m| {
            std::iter::once(m.service_type)
                .chain(m.catalog_aliases.iter().copied())
                .map(|service_type| CatalogService {
                    service_type: service_type.to_owned(),
                    name: m.name.to_owned(),
                    url: format!("{public_url}{}{}", m.path, m.catalog_suffix),
                })
        })
        .collect()
}

/// One listener's routes: every mounted service's router at its path.
fn routes(mounted: &[Mounted]) -> Router {
    mounted.iter().fold(Router::new(), |routes, m| {
        routes.nest(m.path, m.router.clone())
    })
}

/// How often expired tokens are swept from the database.
const TOKEN_PURGE_INTERVAL: Duration = Duration::from_secs(600);
/// How long background tasks have to stop at shutdown, in all; below the
/// 15 s `oxistack teardown` waits before it kills.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Runs the cloud in the foreground until SIGINT or SIGTERM.
pub async fn up(config: Config) -> anyhow::Result<()> {
    let started = Instant::now();
    create_state_dir(&config)?;
    let password = credentials::admin_password(&config, true)?;

    let db = Db::open(&config.database_path()).with_context(|| {
        format!(
            "cannot open the database {}",
            config.database_path().display()
        )
    })?;
    let tasks = Supervisor::new();
    let services = &config.services;
    db.migrate(IDENTITY.service_type, oxistack_identity::MIGRATIONS)?;
    let identity = IdentityService::new(db.clone(), config.token_expiration);
    let validator: Arc<dyn TokenValidator> = identity.clone();
    let mut mounted = vec![Mounted {
        kind: &IDENTITY,
        router: oxistack_identity::router(identity.clone()),
    }];

    let images = match services.image {
        true => {
            db.migrate(IMAGE.service_type, oxistack_image::MIGRATIONS)?;
            let images = ImageService::new(db.clone(), config.state_dir.join("images"))
                .context("cannot prepare the image store")?;
            mounted.push(Mounted {
                kind: &IMAGE,
                router: oxistack_image::router(images.clone(), validator.clone()),
            });
            Some(images)
        }
        false => None,
    };
    let volume = match (services.volume, &images) {
        (true, Some(images)) => {
            db.migrate(VOLUME.service_type, oxistack_volume::MIGRATIONS)?;
            let backend = host::volume_backend(&config)?;
            let volume = VolumeService::new(db.clone(), backend, images.clone(), &tasks);
            mounted.push(Mounted {
                kind: &VOLUME,
                router: oxistack_volume::router(volume.clone(), validator.clone()),
            });
            Some(volume)
        }
        _ => None,
    };
    let metadata = Arc::new(LateMetadata::default());
    let network = match services.network {
        true => {
            db.migrate(NETWORK.service_type, oxistack_network::MIGRATIONS)?;
            let dataplane = host::network_dataplane(&config, metadata.clone())?;
            let network = NetworkService::new(db.clone(), dataplane, &tasks);
            mounted.push(Mounted {
                kind: &NETWORK,
                router: oxistack_network::router(network.clone(), validator.clone()),
            });
            Some(network)
        }
        false => None,
    };
    let compute = match (services.compute, &network, &images) {
        (true, Some(network), Some(images)) => {
            db.migrate(COMPUTE.service_type, oxistack_compute::MIGRATIONS)?;
            let driver = host::compute_driver(&config).await?;
            // The providers implement compute's contracts themselves.
            let compute =
                ComputeService::new(db.clone(), driver, network.clone(), images.clone(), &tasks);
            // Its console URLs name the serial proxy where clients reach it.
            compute.set_public_url(&format!("{}{}", config.public_url(), COMPUTE.path));
            mounted.push(Mounted {
                kind: &COMPUTE,
                router: oxistack_compute::router(compute.clone(), validator.clone()),
            });
            metadata.set(compute.clone());
            if let Some(volume) = &volume {
                compute.set_volumes(volume.clone());
                volume.set_hosts(compute.clone());
            }
            Some(compute)
        }
        _ => None,
    };
    let load_balancer = match (services.load_balancer, &network) {
        (true, Some(network)) => {
            db.migrate(
                LOAD_BALANCER.service_type,
                oxistack_loadbalancer::MIGRATIONS,
            )?;
            let plane = host::load_balancer_plane(&config)?;
            let load_balancer =
                LoadBalancerService::new(db.clone(), network.clone(), plane, &tasks);
            mounted.push(Mounted {
                kind: &LOAD_BALANCER,
                router: oxistack_loadbalancer::router(load_balancer.clone(), validator.clone()),
            });
            Some(load_balancer)
        }
        _ => None,
    };

    let report = identity
        .bootstrap(&Bootstrap {
            admin_password: &password.password,
            region: &config.region,
            services: &catalog(&mounted, &config.public_url()),
        })
        .map_err(|e| anyhow::anyhow!("identity bootstrap failed: {e}"))?;
    if let (Some(images), Some(file)) = (&images, &config.cirros_image) {
        cirros::register(
            images,
            file,
            &report.admin_project_id,
            &config.state_dir.join("cirros-registered"),
        )
        .await?;
    }
    if let Some(network) = &network {
        network
            .bootstrap(&network_defaults(&config, &report))
            .map_err(|e| anyhow::anyhow!("network bootstrap failed: {e}"))?;
    }
    if let Some(volume) = &volume {
        volume
            .bootstrap()
            .map_err(|e| anyhow::anyhow!("volume bootstrap failed: {e}"))?;
    }
    if let Some(compute) = &compute {
        compute
            .bootstrap()
            .map_err(|e| anyhow::anyhow!("compute bootstrap failed: {e}"))?;
    }

    let api = routes(&mounted);
    // The dashboard is a client of the assembled APIs, called in-process.
    let router = match services.dashboard {
        true => api.clone().nest(
            oxistack_dashboard::MOUNT,
            oxistack_dashboard::router(
                api,
                oxistack_dashboard::Settings {
                    secure_cookies: config.public_url().starts_with("https:"),
                },
            ),
        ),
        false => api,
    };
    let router = router.layer(axum::middleware::from_fn(oxistack_http::request_id));
    // Clients differ on trailing slashes (`/identity/` versus `/identity`);
    // OpenStack services treat both alike, except where the slash ends an
    // empty id (Glance's `/v2/images/`), which the mark tells them.
    let app = tower::ServiceExt::map_request(
        NormalizePathLayer::trim_trailing_slash().layer(router),
        oxistack_http::mark_trailing_slash as MarkSlash,
    );

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let clouds_yaml = credentials::write_clouds_yaml(&config, &password.password)?;

    let pid_file = PidFile::create(host::pid_file(&config))?;
    control::serve(
        &control::socket_path(&config),
        control::Reconcilers {
            network: network.clone(),
            compute: compute.clone(),
            load_balancer: load_balancer.clone(),
        },
        &tasks,
    )?;

    tasks.spawn_until_stopped("token purge", purge_tokens(identity.clone()));
    let outside =
        host::sandbox_lan(&config).map(|namespace| (namespace, config.listen, app.clone()));
    let restore_tasks = tasks.clone();
    tasks.spawn("restore host", |stop| {
        restore_host(
            network.clone(),
            volume.clone(),
            compute.clone(),
            load_balancer.clone(),
            outside,
            restore_tasks,
            stop,
        )
    });
    let (failed, server_failure) = tokio::sync::oneshot::channel();
    tasks.spawn("API server", |stop| async move {
        let served = axum::serve(listener, into_service(app))
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
        if let Err(error) = served {
            let _ = failed.send(error);
        }
    });
    print_summary(&config, &mounted, &password, &clouds_yaml, started);

    let outcome = tokio::select! {
        () = shutdown_signal() => Ok(()),
        Ok(error) = server_failure => Err(error).context("the API server failed"),
    };
    let overran = tasks.shutdown(SHUTDOWN_GRACE).await;
    if !overran.is_empty() {
        tracing::warn!(tasks = ?overran, "stopped without waiting for them");
    }
    drop(pid_file);
    tracing::info!("oxistack stopped");
    outcome
}

/// What the network service creates on its first start: the external
/// network of the configuration, and the admin and demo projects' own.
fn network_defaults(config: &Config, report: &BootstrapReport) -> NetworkDefaults {
    let external = &config.external_network;
    NetworkDefaults {
        admin_project_id: report.admin_project_id.clone(),
        demo_project_id: report.demo_project_id.clone(),
        floating_range: external.floating_range.to_string(),
        pool_start: external.pool_start,
        pool_end: external.pool_end,
        gateway: external.gateway,
    }
}

type MarkSlash = fn(axum::extract::Request) -> axum::extract::Request;
type App = tower::util::MapRequest<tower_http::normalize_path::NormalizePath<Router>, MarkSlash>;

/// Brings the host back in line with the database after a start: the
/// network first (so instances' taps and load balancers' namespaces
/// exist), then the load balancers' proxies (adopted where they still
/// run), then the servers a previous run left unfinished or the host
/// lost. In sandbox mode the API is also
/// served inside the LAN namespace, at the same address, so clients
/// there (`oxistack outside -- openstack ...`) reach it as people on the
/// LAN reach a DevStack host. A shutdown interrupts it between steps, and
/// during the resume, which the next start re-drives.
async fn restore_host(
    network: Option<Arc<NetworkService>>,
    volume: Option<Arc<VolumeService>>,
    compute: Option<Arc<ComputeService>>,
    load_balancer: Option<Arc<LoadBalancerService>>,
    outside: Option<(String, std::net::SocketAddr, App)>,
    tasks: Supervisor,
    stop: CancellationToken,
) {
    if let Some(network) = &network
        && let Err(error) = network.reconcile_now().await
    {
        tracing::warn!(%error, "the first network reconciliation failed; it is retried on the next change or `oxistack reconcile`");
    }
    if let Some(load_balancer) = &load_balancer
        && !stop.is_cancelled()
        && let Err(error) = load_balancer.reconcile_now().await
    {
        tracing::warn!(%error, "the first load-balancer reconciliation failed; it is retried");
    }
    if let Some((namespace, address, app)) = outside
        && !stop.is_cancelled()
    {
        let bound = oxistack_netns::run_in(&namespace, || std::net::TcpListener::bind(address))
            .map_err(|e| e.to_string())
            .and_then(|bound| bound.map_err(|e| e.to_string()));
        match bound {
            Ok(listener) => tasks.spawn("LAN-namespace API server", |stop| {
                serve_outside(listener, app, stop)
            }),
            Err(error) => {
                tracing::warn!(%namespace, %error, "cannot serve the API inside the LAN namespace")
            }
        }
    }
    // Volumes before servers: a volume a crash left half-made is settled
    // before a server that maps it is resumed.
    if let Some(volume) = &volume
        && !stop.is_cancelled()
        && let Err(error) = volume.recover().await
    {
        tracing::warn!(%error, "recovering the volumes after a start failed");
    }
    if let Some(compute) = compute {
        tokio::select! {
            () = stop.cancelled() => tracing::info!("shutting down before the servers were resumed"),
            resumed = compute.resume() => if let Err(error) = resumed {
                tracing::warn!(%error, "resuming servers failed");
            },
        }
    }
}

async fn serve_outside(listener: std::net::TcpListener, app: App, stop: CancellationToken) {
    let listener = match listener
        .set_nonblocking(true)
        .and_then(|()| tokio::net::TcpListener::from_std(listener))
    {
        Ok(listener) => listener,
        Err(error) => {
            tracing::warn!(%error, "cannot serve the API inside the LAN namespace");
            return;
        }
    };
    let served = axum::serve(listener, into_service(app))
        .with_graceful_shutdown(stop.cancelled_owned())
        .await;
    if let Err(error) = served {
        tracing::warn!(%error, "the API server inside the LAN namespace failed");
    }
}

fn into_service(app: App) -> axum::routing::IntoMakeService<App> {
    axum::ServiceExt::<axum::extract::Request>::into_make_service(app)
}

/// The running cloud's pid, for `oxistack teardown`; removed on a clean
/// exit (a stale one after a crash names a dead or foreign process, which
/// `host::running_cloud` recognises).
struct PidFile(std::path::PathBuf);

impl PidFile {
    fn create(path: std::path::PathBuf) -> anyhow::Result<PidFile> {
        std::fs::write(&path, format!("{}\n", std::process::id()))
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(PidFile(path))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn create_state_dir(config: &Config) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&config.state_dir)
        .with_context(|| {
            format!(
                "cannot create the state directory {}",
                config.state_dir.display()
            )
        })
}

async fn purge_tokens(identity: Arc<IdentityService>) {
    let mut interval = tokio::time::interval(TOKEN_PURGE_INTERVAL);
    loop {
        interval.tick().await;
        match identity.purge_expired_tokens().await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "purged expired tokens"),
            Err(error) => tracing::warn!(%error, "purging expired tokens failed"),
        }
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(%error, "cannot watch SIGTERM");
                let _ = interrupt.await;
                return;
            }
        };
    tokio::select! {
        _ = interrupt => tracing::info!("SIGINT received, shutting down"),
        _ = terminate.recv() => tracing::info!("SIGTERM received, shutting down"),
    }
}

/// What stack.sh prints when it is done: where everything is and how to
/// log in.
fn print_summary(
    config: &Config,
    mounted: &[Mounted],
    password: &credentials::AdminPassword,
    clouds_yaml: &std::path::Path,
    started: Instant,
) {
    let url = config.public_url();
    let mut text = String::new();
    text.push_str("\n=========================\n");
    text.push_str(&format!(
        "oxistack is up ({:.1} s)\n",
        started.elapsed().as_secs_f64()
    ));
    text.push_str("=========================\n\n");
    text.push_str(&format!(
        "This is your host IP address: {}\n",
        config.public_address
    ));
    for service in mounted {
        text.push_str(&format!(
            "{} is serving at {url}{}{}/\n",
            service.product, service.path, service.catalog_suffix
        ));
    }
    if config.services.dashboard {
        text.push_str(&format!(
            "Horizon is now available at {url}{}/\n",
            oxistack_dashboard::MOUNT
        ));
    }
    text.push_str("The default users are: admin and demo\n");
    if password.generated {
        text.push_str(&format!(
            "The password: {}   (generated now and shown only once; kept in {})\n",
            password.password,
            config.state_dir.join("admin-password").display()
        ));
    } else if config.admin_password.is_some() {
        text.push_str("The password: the admin_password of your configuration\n");
    } else {
        text.push_str(&format!(
            "The password: kept in {}\n",
            config.state_dir.join("admin-password").display()
        ));
    }
    // The exact commands that reach this cloud: its config file and
    // overrides included, and `oxistack` by its path unless PATH has it.
    let launch = crate::launch::Launch::current(config).ok();
    let command = |subcommand: &str, args: &[&str]| match &launch {
        Some(launch) => launch.client_command(subcommand, args),
        None => format!("oxistack {subcommand} {}", args.join(" ")),
    };
    text.push_str("\nTo use it from a shell (as DevStack's `source openrc admin admin`):\n\n");
    text.push_str(&format!(
        "    source <({})\n    openstack server list\n\n",
        command("openrc", &["admin", "admin"])
    ));
    if std::env::var_os(crate::config::ENV_ADMIN_PASSWORD).is_some() {
        text.push_str(
            "  (with OXISTACK_ADMIN_PASSWORD set, as for this `oxistack up`, or OS_PASSWORD)\n",
        );
    }
    if !crate::launch::on_path("openstack") {
        text.push_str(
            "  (no `openstack` command on PATH: scripts/up.sh installs the pinned client and links it into /usr/local/bin)\n",
        );
    }
    text.push_str(&format!(
        "or: export OS_CLOUD=admin OS_CLIENT_CONFIG_FILE={}\n",
        clouds_yaml.display()
    ));
    let floating = config.external_network.floating_range;
    match (
        config.dataplane,
        &config.external_network.physical_interface,
    ) {
        (DataPlaneKind::Fake, _) => {}
        (DataPlaneKind::Linux, Some(interface)) => text.push_str(&format!(
            "Floating IPs ({floating}) are bridged onto {interface}\n"
        )),
        (DataPlaneKind::Linux, None) => text.push_str(&format!(
            "Floating IPs ({floating}) are on a sandbox LAN: {} ssh|curl|openstack ...\n",
            command("outside", &["--"])
        )),
    }
    text.push_str(&format!(
        "State directory: {}   Region: {}\n",
        config.state_dir.display(),
        config.region
    ));
    println!("{text}");
}
