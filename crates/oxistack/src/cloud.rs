//! Wires the services together on one listener, the way DevStack lays
//! them out under one host: /identity, /image, /networking, /compute.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use axum::Router;
use oxistack_auth::TokenValidator;
use oxistack_compute::ComputeService;
use oxistack_db::Db;
use oxistack_identity::{Bootstrap, CatalogService, IdentityService};
use oxistack_image::ImageService;
use oxistack_network::{NetworkDefaults, NetworkService};
use tower::Layer;
use tower_http::normalize_path::NormalizePathLayer;

use crate::adapters::{ImagesAdapter, MetadataAdapter, NetworkingAdapter};
use crate::config::{Config, DataPlaneKind};
use crate::{cirros, control, credentials, host};

/// A service as it appears in the catalog and in the start-up summary.
struct Mounted {
    service_type: &'static str,
    name: &'static str,
    /// What DevStack calls it in stack.sh's closing lines.
    product: &'static str,
    /// Where its router is nested on the listener.
    path: &'static str,
    /// What the catalog URL adds to the path, e.g. Nova's `/v2.1`.
    catalog_suffix: &'static str,
}

const IDENTITY: Mounted = Mounted {
    service_type: "identity",
    name: "keystone",
    product: "Keystone",
    path: oxistack_identity::MOUNT,
    catalog_suffix: "",
};
const IMAGE: Mounted = Mounted {
    service_type: "image",
    name: "glance",
    product: "Glance",
    path: "/image",
    catalog_suffix: "",
};
const COMPUTE: Mounted = Mounted {
    service_type: "compute",
    name: "nova",
    product: "Nova",
    path: "/compute",
    catalog_suffix: "/v2.1",
};
const NETWORK: Mounted = Mounted {
    service_type: "network",
    name: "neutron",
    product: "Neutron",
    path: "/networking",
    catalog_suffix: "",
};

/// How often expired tokens are swept from the database.
const TOKEN_PURGE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(600);

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
    let services = &config.services;
    let mut mounted = vec![IDENTITY];
    db.migrate("identity", oxistack_identity::MIGRATIONS)?;
    if services.image {
        db.migrate("image", oxistack_image::MIGRATIONS)?;
        mounted.push(IMAGE);
    }
    if services.network {
        db.migrate("network", oxistack_network::MIGRATIONS)?;
        mounted.push(NETWORK);
    }
    if services.compute {
        db.migrate("compute", oxistack_compute::MIGRATIONS)?;
        mounted.push(COMPUTE);
    }
    let public_url = config.public_url();
    let catalog: Vec<CatalogService> = mounted
        .iter()
        .map(|m| CatalogService {
            service_type: m.service_type.to_owned(),
            name: m.name.to_owned(),
            url: format!("{public_url}{}{}", m.path, m.catalog_suffix),
        })
        .collect();

    let identity = IdentityService::new(db.clone(), config.token_expiration);
    let report = identity
        .bootstrap(&Bootstrap {
            admin_password: &password.password,
            region: &config.region,
            services: &catalog,
        })
        .map_err(|e| anyhow::anyhow!("identity bootstrap failed: {}", e.message))?;
    let validator: Arc<dyn TokenValidator> = identity.clone();
    let mut router = Router::new().nest(IDENTITY.path, oxistack_identity::router(identity.clone()));

    let images = match services.image {
        true => {
            let images = ImageService::new(db.clone(), config.state_dir.join("images"))
                .context("cannot prepare the image store")?;
            router = router.nest(
                IMAGE.path,
                oxistack_image::router(images.clone(), validator.clone()),
            );
            if let Some(file) = &config.cirros_image {
                cirros::register(
                    &images,
                    file,
                    &report.admin_project_id,
                    &config.state_dir.join("cirros-registered"),
                )
                .await?;
            }
            Some(images)
        }
        false => None,
    };
    let metadata = Arc::new(MetadataAdapter::default());
    let network = match services.network {
        true => {
            let dataplane = host::network_dataplane(&config, metadata.clone())?;
            let network = NetworkService::new(db.clone(), dataplane);
            let external = &config.external_network;
            network
                .bootstrap(&NetworkDefaults {
                    admin_project_id: report.admin_project_id.clone(),
                    demo_project_id: report.demo_project_id.clone(),
                    floating_range: external.floating_range.to_string(),
                    pool_start: external.pool_start,
                    pool_end: external.pool_end,
                    gateway: external.gateway,
                })
                .map_err(|e| anyhow::anyhow!("network bootstrap failed: {}", e.message))?;
            router = router.nest(
                NETWORK.path,
                oxistack_network::router(network.clone(), validator.clone()),
            );
            Some(network)
        }
        false => None,
    };
    let compute = match (services.compute, &network, &images) {
        (true, Some(network), Some(images)) => {
            let driver = host::compute_driver(&config).await?;
            let compute = ComputeService::new(
                db.clone(),
                driver,
                Arc::new(NetworkingAdapter(network.clone())),
                Arc::new(ImagesAdapter(images.clone())),
            );
            compute
                .bootstrap()
                .map_err(|e| anyhow::anyhow!("compute bootstrap failed: {}", e.message))?;
            router = router.nest(
                COMPUTE.path,
                oxistack_compute::router(compute.clone(), validator.clone()),
            );
            let _ = metadata.0.set(compute.clone());
            Some(compute)
        }
        _ => None,
    };
    let router = router.layer(axum::middleware::from_fn(oxistack_http::request_id));
    // Clients differ on trailing slashes (`/identity/` versus `/identity`);
    // OpenStack services treat both alike.
    let app = NormalizePathLayer::trim_trailing_slash().layer(router);

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
        },
    )
    .await?;

    tokio::spawn(purge_tokens(identity.clone()));
    tokio::spawn(restore_host(
        network.clone(),
        compute.clone(),
        host::sandbox_lan(&config).map(|namespace| (namespace, config.listen, app.clone())),
    ));
    print_summary(&config, &mounted, &password, &clouds_yaml, started);

    axum::serve(
        listener,
        axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("the API server failed")?;
    drop(pid_file);
    tracing::info!("oxistack stopped");
    Ok(())
}

type App = tower_http::normalize_path::NormalizePath<Router>;

/// Brings the host back in line with the database after a start: the
/// network first (so instances' taps exist), then the servers a previous
/// run left unfinished or the host lost. In sandbox mode the API is also
/// served inside the LAN namespace, at the same address, so clients
/// there (`oxistack outside -- openstack ...`) reach it as people on the
/// LAN reach a DevStack host.
async fn restore_host(
    network: Option<Arc<NetworkService>>,
    compute: Option<Arc<ComputeService>>,
    outside: Option<(String, std::net::SocketAddr, App)>,
) {
    if let Some(network) = &network
        && let Err(error) = network.reconcile_now().await
    {
        tracing::warn!(%error, "the first network reconciliation failed; it is retried on the next change or `oxistack reconcile`");
    }
    if let Some((namespace, address, app)) = outside {
        let bound = oxistack_netns::run_in(&namespace, || std::net::TcpListener::bind(address))
            .map_err(|e| e.to_string())
            .and_then(|bound| bound.map_err(|e| e.to_string()));
        match bound {
            Ok(listener) => {
                tokio::spawn(serve_outside(listener, app));
            }
            Err(error) => {
                tracing::warn!(%namespace, %error, "cannot serve the API inside the LAN namespace")
            }
        }
    }
    if let Some(compute) = compute
        && let Err(error) = compute.resume().await
    {
        tracing::warn!(error = %error.message, "resuming servers failed");
    }
}

async fn serve_outside(listener: std::net::TcpListener, app: App) {
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
    let service = axum::ServiceExt::<axum::extract::Request>::into_make_service(app);
    if let Err(error) = axum::serve(listener, service).await {
        tracing::warn!(%error, "the API server inside the LAN namespace failed");
    }
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
    text.push_str(&format!(
        "\nCredentials:  source <(oxistack openrc admin admin)   or   export OS_CLOUD=admin OS_CLIENT_CONFIG_FILE={}\n",
        clouds_yaml.display()
    ));
    let floating = config.external_network.floating_range;
    match (config.dataplane, &config.external_network.physical_interface) {
        (DataPlaneKind::Fake, _) => {}
        (DataPlaneKind::Linux, Some(interface)) => text.push_str(&format!(
            "Floating IPs ({floating}) are bridged onto {interface}\n"
        )),
        (DataPlaneKind::Linux, None) => text.push_str(&format!(
            "Floating IPs ({floating}) are on a sandbox LAN: oxistack outside -- ssh|curl|openstack ...\n"
        )),
    }
    text.push_str(&format!(
        "State directory: {}   Region: {}\n",
        config.state_dir.display(),
        config.region
    ));
    println!("{text}");
}
