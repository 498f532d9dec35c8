//! The compute API's microversions: the range served and the versions at
//! which the behaviours this cloud implements changed, named after what
//! changed so handlers read `version.at_least(EMBEDDED_FLAVOR)`.

use axum::http::HeaderName;
use oxistack_http::microversion::{Microversion, MicroversionPolicy};

const fn v(minor: u32) -> Microversion {
    Microversion::new(2, minor)
}

pub const MIN: Microversion = v(1);
/// Nova's current maximum: what openstacksdk 4.22 asks for servers.
pub const MAX: Microversion = v(100);

pub static POLICY: MicroversionPolicy = MicroversionPolicy {
    service_type: "compute",
    legacy_header: Some(HeaderName::from_static("x-openstack-nova-api-version")),
    min: MIN,
    max: MAX,
};

/// Key pairs have a `type`; create answers 201 and delete 204.
pub const KEYPAIR_TYPE: Microversion = v(2);
/// More `OS-EXT-SRV-ATTR:*` attributes for administrators.
pub const EXTENDED_ATTRIBUTES: Microversion = v(3);
/// `POST /servers/{id}/remote-consoles` replaces the `os-get*Console` actions.
pub const REMOTE_CONSOLES: Microversion = v(6);
/// `mks`/`webmks` remote consoles.
pub const MKS_CONSOLES: Microversion = v(8);
pub const LOCKED: Microversion = v(9);
/// Administrators name the user whose key pairs they act on.
pub const KEYPAIR_USER_ID: Microversion = v(10);
/// Services show `forced_down`.
pub const FORCED_DOWN: Microversion = v(11);
/// Server groups show their project and user.
pub const GROUP_OWNERS: Microversion = v(13);
pub const SOFT_GROUP_POLICIES: Microversion = v(15);
pub const HOST_STATUS: Microversion = v(16);
pub const DESCRIPTION: Microversion = v(19);
pub const TAGS: Microversion = v(26);
/// Hypervisors show `cpu_info` as an object rather than a JSON string.
pub const CPU_INFO_OBJECT: Microversion = v(28);
/// `tag` on requested networks, first accepted (2.32 to 2.36)...
pub const NETWORK_TAGS: Microversion = v(32);
/// Key pair lists are paginated.
pub const KEYPAIR_PAGINATION: Microversion = v(35);
/// The proxies to the network service and network quotas are gone.
pub const NETWORK_PROXIES_REMOVED: Microversion = v(36);
/// `networks` is required at create, `auto` or `none` or a list.
pub const NETWORKS_REQUIRED: Microversion = v(37);
/// An unknown status filter is a 400 rather than an empty list.
pub const STRICT_STATUS_FILTER: Microversion = v(38);
pub const IMAGE_METADATA_LIMIT_REMOVED: Microversion = v(39);
/// ...and accepted again (restored in 2.42).
pub const NETWORK_TAGS_RESTORED: Microversion = v(42);
/// addFloatingIp, removeFloatingIp and their fixed-IP siblings are gone.
pub const NETWORK_ACTIONS_REMOVED: Microversion = v(44);
pub const EMBEDDED_FLAVOR: Microversion = v(47);
/// Interfaces and volumes can be tagged when attached.
pub const TAGGED_ATTACH: Microversion = v(49);
/// Multi-attach volumes may be attached.
pub const MULTIATTACH: Microversion = v(60);
pub const TAGS_AT_CREATE: Microversion = v(52);
/// Services and hypervisors are identified by UUIDs.
pub const SERVICE_UUIDS: Microversion = v(53);
pub const FLAVOR_DESCRIPTION: Microversion = v(55);
/// Personality files and their quotas and limits are gone.
pub const PERSONALITY_REMOVED: Microversion = v(57);
pub const FLAVOR_EXTRA_SPECS: Microversion = v(61);
pub const TRUSTED_CERTIFICATES: Microversion = v(63);
/// Server groups have one `policy` and `rules` instead of `policies`.
pub const GROUP_POLICY: Microversion = v(64);
pub const CHANGES_BEFORE: Microversion = v(66);
/// Interfaces and volume attachments show their tags.
pub const INTERFACE_TAGS: Microversion = v(70);
/// Volume attachments show and take `delete_on_termination`.
pub const ATTACHMENT_DELETE_ON_TERMINATION: Microversion = v(79);
/// A volume attachment's `delete_on_termination` can be changed.
pub const ATTACHMENT_UPDATE: Microversion = v(85);
/// Volume attachments show their attachment and mapping ids, not `id`.
pub const ATTACHMENT_IDS: Microversion = v(89);
pub const SERVER_GROUPS_IN_SERVER: Microversion = v(71);
pub const LOCKED_REASON: Microversion = v(73);
/// Administrators may name the host to boot on.
pub const REQUESTED_HOST: Microversion = v(74);
/// Unknown list parameters are refused, updates answer the full server,
/// flavors show `swap` as 0 rather than "", hypervisors always show
/// `servers` when asked for.
pub const API_CLEANUP: Microversion = v(75);
/// Hypervisors no longer show their resources; `uptime` is in show.
pub const LEAN_HYPERVISORS: Microversion = v(88);
/// `hostname` can be set at create and update and everyone sees it.
pub const HOSTNAME: Microversion = v(90);
/// Key pairs are no longer generated: `public_key` is required.
pub const KEYPAIR_GENERATION_REMOVED: Microversion = v(92);
/// `hostname` may be a fully qualified domain name.
pub const FQDN_HOSTNAME: Microversion = v(94);
pub const PINNED_AVAILABILITY_ZONE: Microversion = v(96);
pub const IMAGE_PROPERTIES: Microversion = v(98);
/// The `spice-direct` remote console type.
pub const SPICE_DIRECT: Microversion = v(99);
pub const SCHEDULER_HINTS: Microversion = v(100);
