//! The cloud's authorization policy, in one place.
//!
//! Every API operation is an [`Action`], and every action maps to one
//! [`Rule`] in [`Action::rule`]. Roles follow Keystone's defaults: `admin`
//! implies `member`, which implies `reader`, so a token for a member carries
//! `reader` too. Resource ownership is not decided here: handlers hide other
//! projects' resources with [`AuthContext::can_see_project`] (404), and use
//! these rules for what a caller may do with what they can see (403).

use oxistack_http::ApiError;

use crate::AuthContext;

/// Who may perform an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Any valid token.
    Authenticated,
    /// A role that allows reading in the token's scope: reader or above.
    Reader,
    /// A role that allows changing things in the token's scope: member or above.
    Member,
    /// The cloud administrator.
    Admin,
    /// Octavia's `load-balancer:read`: its observer or member roles, a
    /// global observer, its admin, or the default `reader`/`member`/`admin`
    /// roles (Octavia's defaults allow them too).
    LoadBalancerRead,
    /// Octavia's `load-balancer:write`: its member or admin roles, or the
    /// default `member`/`admin`.
    LoadBalancerWrite,
    /// Octavia's `load-balancer:read-global`: every project's load
    /// balancers, for its global observer and admins.
    LoadBalancerReadGlobal,
    /// Octavia's `load-balancer:read-quota`: readers, and its quota admin.
    LoadBalancerReadQuota,
    /// Octavia's `load-balancer:write-quota`: its quota admin and admins.
    LoadBalancerWriteQuota,
    /// Octavia's `context_is_admin`: `admin` or `load-balancer_admin`
    /// (flavors, availability zones, other projects' quotas).
    LoadBalancerAdmin,
}

/// Every operation the APIs perform that policy decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    // Identity
    ListDomains,
    ManageDomains,
    ListProjects,
    ManageProjects,
    ListUsers,
    ManageUsers,
    ManageGroups,
    ListRoles,
    ManageRoles,
    ManageRoleAssignments,
    ListRoleAssignments,
    ReadCatalog,
    ValidateAnyToken,
    /// Act on another user's application credentials, tokens or projects.
    ActOnOtherUsers,
    // Image
    ListImages,
    /// Show an image the caller can see, download its data, list its members.
    GetImage,
    CreateImage,
    /// Change an image's record or tags, upload its data, (de)activate it.
    ModifyImage,
    DeleteImage,
    /// Make an image public. Glance reserves this for admins by default; the
    /// seed's preparation flow creates its public CentOS image as a project
    /// member, so members may do it here too.
    PublicizeImage,
    /// Act on images of other projects that are visible (public, shared or
    /// community) to the caller.
    ModifyOthersImage,
    /// Share an image with another project.
    AddImageMember,
    /// Stop sharing an image with a project.
    DeleteImageMember,
    /// Accept or reject an image shared with the caller's project.
    ModifyImageMember,
    // Compute
    /// List and show flavors.
    ReadFlavors,
    /// Read flavors' extra specs, alone or embedded in flavors and servers.
    ReadFlavorExtraSpecs,
    /// Create and delete flavors, change their description, extra specs
    /// and which projects may use a private one.
    ManageFlavors,
    /// List and show the caller's own key pairs.
    ReadKeypairs,
    /// Import, generate and delete the caller's own key pairs.
    ManageKeypairs,
    /// Act on another user's key pairs (`user_id`, from microversion 2.10).
    ManageOtherUsersKeypairs,
    /// List and show servers and what belongs to them: addresses,
    /// metadata, tags, interfaces.
    ReadServers,
    /// Read a server's console log.
    ReadServerConsole,
    /// Get a URL to a server's interactive (serial) console.
    ConnectServerConsole,
    CreateServer,
    /// Change, act on (start, stop, reboot, lock...) and delete a server.
    ModifyServer,
    /// List every project's servers (`all_tenants`).
    ListAllProjectsServers,
    /// List every project's server groups (`all_projects`).
    ListAllProjectsServerGroups,
    /// See where servers run: the `OS-EXT-SRV-ATTR:*` attributes and
    /// `host_status`.
    ShowServerHostDetails,
    /// Unlock a server someone else locked as administrator.
    UnlockOverride,
    ReadServerGroups,
    ManageServerGroups,
    /// Show the caller's project's quotas and limits.
    ReadQuotas,
    /// Change or reset a project's quotas, or read another project's.
    ManageQuotas,
    ListAvailabilityZones,
    /// Describe the compute host: hypervisors, services and the detailed
    /// availability zone listing.
    ReadComputeHosts,
    // Network
    /// List and show the networking resources the caller can see.
    ReadNetworking,
    CreateNetworking,
    UpdateNetworking,
    DeleteNetworking,
    /// Create networking resources for another project, change or delete
    /// another project's shared or external networks and their subnets,
    /// and pick addresses, MACs or device owners on another project's
    /// network.
    ActOnOtherProjectsNetworking,
    /// Make a network external (router gateways and floating IPs come
    /// from it).
    CreateExternalNetwork,
    /// Share a network with every project.
    ShareNetwork,
    /// Choose a network's segment (`provider:*` attributes).
    SetNetworkProvider,
    /// Bind a port to a host (`binding:host_id`, `binding:profile`).
    SetPortBinding,
    /// Choose a router gateway's SNAT mode or external addresses.
    SetRouterGatewayDetails,
    /// Choose whether a router is distributed or highly available.
    SetRouterMode,
    /// Change or reset a project's networking quotas.
    ManageNetworkQuotas,
    // Load balancer
    /// List and show load balancers and everything under them, their
    /// statuses and statistics; list providers, flavors and zones.
    ReadLoadBalancers,
    /// Create, change, fail over and delete load balancers and everything
    /// under them.
    WriteLoadBalancers,
    /// See every project's load balancers.
    ReadAllLoadBalancers,
    /// Show a project's load-balancer quotas.
    ReadLoadBalancerQuotas,
    /// Change or reset load-balancer quotas.
    WriteLoadBalancerQuotas,
    /// Manage flavors, flavor profiles, availability zones and their
    /// profiles; list amphorae.
    ManageLoadBalancing,
    // Volume
    /// List and show volumes, snapshots, attachments, volume types, the
    /// caller's project's quotas and limits.
    ReadVolumes,
    /// Create, change, act on (extend, attach, snapshot...) and delete the
    /// caller's project's volumes, snapshots and attachments.
    WriteVolumes,
    /// List every project's volumes and snapshots (`all_tenants`).
    ListAllProjectsVolumes,
    /// Reset a volume's or snapshot's status, force-delete them.
    ManageVolumeStatus,
    /// See where volumes live: `os-vol-host-attr:host`, `provider_id`,
    /// `cluster_name`, attachments' `host_name`, and the volume services.
    ShowVolumeHosts,
    /// Create, change and delete volume types, their extra specs and
    /// which projects may use a private one.
    ManageVolumeTypes,
    /// Change or reset a project's volume quotas, or read another's.
    ManageVolumeQuotas,
    /// Upload a volume to a public image (`os-volume_upload_image` with
    /// `visibility: public`).
    UploadVolumeToPublicImage,
}

impl Action {
    pub fn rule(self) -> Rule {
        use Action::*;
        match self {
            ListDomains | ManageDomains => Rule::Admin,
            ListProjects | ManageProjects => Rule::Admin,
            ListUsers | ManageUsers => Rule::Admin,
            ManageGroups => Rule::Admin,
            ListRoles | ManageRoles => Rule::Admin,
            ManageRoleAssignments | ListRoleAssignments => Rule::Admin,
            ReadCatalog => Rule::Authenticated,
            ValidateAnyToken => Rule::Admin,
            ActOnOtherUsers => Rule::Admin,
            ListImages | GetImage => Rule::Reader,
            CreateImage | ModifyImage | DeleteImage | PublicizeImage => Rule::Member,
            AddImageMember | DeleteImageMember | ModifyImageMember => Rule::Member,
            ModifyOthersImage => Rule::Admin,
            // Compute
            ReadFlavors | ListAvailabilityZones => Rule::Authenticated,
            ReadFlavorExtraSpecs => Rule::Reader,
            ManageFlavors => Rule::Admin,
            ReadKeypairs => Rule::Reader,
            ManageKeypairs => Rule::Member,
            ManageOtherUsersKeypairs => Rule::Admin,
            ReadServers | ReadServerGroups | ReadQuotas => Rule::Reader,
            ReadServerConsole | CreateServer | ModifyServer | ManageServerGroups => Rule::Member,
            ConnectServerConsole => Rule::Member,
            ListAllProjectsServers | ListAllProjectsServerGroups => Rule::Admin,
            ShowServerHostDetails | UnlockOverride => Rule::Admin,
            ManageQuotas | ReadComputeHosts => Rule::Admin,
            // Network
            ReadNetworking => Rule::Reader,
            CreateNetworking | UpdateNetworking | DeleteNetworking => Rule::Member,
            ActOnOtherProjectsNetworking | CreateExternalNetwork | ShareNetwork => Rule::Admin,
            SetNetworkProvider | SetPortBinding | SetRouterGatewayDetails | SetRouterMode => {
                Rule::Admin
            }
            ManageNetworkQuotas => Rule::Admin,
            // Load balancer
            ReadLoadBalancers => Rule::LoadBalancerRead,
            WriteLoadBalancers => Rule::LoadBalancerWrite,
            ReadAllLoadBalancers => Rule::LoadBalancerReadGlobal,
            ReadLoadBalancerQuotas => Rule::LoadBalancerReadQuota,
            WriteLoadBalancerQuotas => Rule::LoadBalancerWriteQuota,
            ManageLoadBalancing => Rule::LoadBalancerAdmin,
            // Volume
            ReadVolumes => Rule::Reader,
            WriteVolumes => Rule::Member,
            ListAllProjectsVolumes | ManageVolumeStatus | ShowVolumeHosts => Rule::Admin,
            ManageVolumeTypes | ManageVolumeQuotas => Rule::Admin,
            UploadVolumeToPublicImage => Rule::Admin,
        }
    }

    /// The name in Keystone/Glance policy terms, for error messages.
    pub fn name(self) -> &'static str {
        use Action::*;
        match self {
            ListDomains => "identity:list_domains",
            ManageDomains => "identity:manage_domains",
            ListProjects => "identity:list_projects",
            ManageProjects => "identity:manage_projects",
            ListUsers => "identity:list_users",
            ManageUsers => "identity:manage_users",
            ManageGroups => "identity:manage_groups",
            ListRoles => "identity:list_roles",
            ManageRoles => "identity:manage_roles",
            ManageRoleAssignments => "identity:manage_grants",
            ListRoleAssignments => "identity:list_role_assignments",
            ReadCatalog => "identity:get_catalog",
            ValidateAnyToken => "identity:validate_token",
            ActOnOtherUsers => "identity:act_on_other_users",
            ListImages => "image:get_images",
            GetImage => "image:get_image",
            CreateImage => "image:add_image",
            ModifyImage => "image:modify_image",
            DeleteImage => "image:delete_image",
            PublicizeImage => "image:publicize_image",
            ModifyOthersImage => "image:modify_others_image",
            AddImageMember => "image:add_member",
            DeleteImageMember => "image:delete_member",
            ModifyImageMember => "image:modify_member",
            // Compute
            ReadFlavors => "os_compute_api:flavors:index",
            ReadFlavorExtraSpecs => "os_compute_api:os-flavor-extra-specs:index",
            ManageFlavors => "os_compute_api:os-flavor-manage",
            ReadKeypairs => "os_compute_api:os-keypairs:index",
            ManageKeypairs => "os_compute_api:os-keypairs:create",
            ManageOtherUsersKeypairs => "os_compute_api:os-keypairs:other_users",
            ReadServers => "os_compute_api:servers:show",
            ReadServerConsole => "os_compute_api:os-console-output",
            ConnectServerConsole => "os_compute_api:os-remote-consoles",
            CreateServer => "os_compute_api:servers:create",
            ModifyServer => "os_compute_api:servers:update",
            ListAllProjectsServers => "os_compute_api:servers:index:get_all_tenants",
            ListAllProjectsServerGroups => "os_compute_api:os-server-groups:index:all_projects",
            ShowServerHostDetails => "os_compute_api:os-extended-server-attributes",
            UnlockOverride => "os_compute_api:os-lock-server:unlock:unlock_override",
            ReadServerGroups => "os_compute_api:os-server-groups:index",
            ManageServerGroups => "os_compute_api:os-server-groups:create",
            ReadQuotas => "os_compute_api:os-quota-sets:show",
            ManageQuotas => "os_compute_api:os-quota-sets:update",
            ListAvailabilityZones => "os_compute_api:os-availability-zone:list",
            ReadComputeHosts => "os_compute_api:os-hypervisors",
            // Network
            ReadNetworking => "network:get",
            CreateNetworking => "network:create",
            UpdateNetworking => "network:update",
            DeleteNetworking => "network:delete",
            ActOnOtherProjectsNetworking => "network:act_on_other_projects",
            CreateExternalNetwork => "network:create_network:router:external",
            ShareNetwork => "network:create_network:shared",
            SetNetworkProvider => "network:create_network:provider",
            SetPortBinding => "network:create_port:binding",
            SetRouterGatewayDetails => "network:create_router:external_gateway_info:details",
            SetRouterMode => "network:create_router:distributed",
            ManageNetworkQuotas => "network:update_quota",
            // Load balancer
            ReadLoadBalancers => "os_load-balancer_api:loadbalancer:get_one",
            WriteLoadBalancers => "os_load-balancer_api:loadbalancer:post",
            ReadAllLoadBalancers => "os_load-balancer_api:loadbalancer:get_all-global",
            ReadLoadBalancerQuotas => "os_load-balancer_api:quota:get_one",
            WriteLoadBalancerQuotas => "os_load-balancer_api:quota:put",
            ManageLoadBalancing => "os_load-balancer_api:flavor:post",
            // Volume
            ReadVolumes => "volume:get",
            WriteVolumes => "volume:create",
            ListAllProjectsVolumes => "volume:get_all_for_all_projects",
            ManageVolumeStatus => "volume_extension:volume_admin_actions:reset_status",
            ShowVolumeHosts => "volume_extension:volume_host_attribute",
            ManageVolumeTypes => "volume_extension:types_manage",
            ManageVolumeQuotas => "volume_extension:quotas:update",
            UploadVolumeToPublicImage => "volume_extension:volume_actions:upload_public",
        }
    }
}

/// Whether `caller` satisfies `rule`.
pub fn allows(caller: &AuthContext, rule: Rule) -> bool {
    match rule {
        Rule::Authenticated => true,
        Rule::Reader => caller.has_role("reader") || caller.has_role("member") || caller.is_admin(),
        Rule::Member => caller.has_role("member") || caller.is_admin(),
        Rule::Admin => caller.is_admin(),
        Rule::LoadBalancerRead => {
            allows(caller, Rule::Reader)
                || allows(caller, Rule::LoadBalancerReadGlobal)
                || caller.has_role("load-balancer_observer")
                || caller.has_role("load-balancer_member")
        }
        Rule::LoadBalancerWrite => {
            allows(caller, Rule::Member)
                || allows(caller, Rule::LoadBalancerAdmin)
                || caller.has_role("load-balancer_member")
        }
        Rule::LoadBalancerReadGlobal => {
            allows(caller, Rule::LoadBalancerAdmin)
                || caller.has_role("load-balancer_global_observer")
        }
        Rule::LoadBalancerReadQuota => {
            allows(caller, Rule::LoadBalancerRead) || allows(caller, Rule::LoadBalancerWriteQuota)
        }
        Rule::LoadBalancerWriteQuota => {
            allows(caller, Rule::LoadBalancerAdmin) || caller.has_role("load-balancer_quota_admin")
        }
        Rule::LoadBalancerAdmin => caller.is_admin() || caller.has_role("load-balancer_admin"),
    }
}

/// Enforces `action` for `caller`: a 403 naming the action if refused.
pub fn authorize(caller: &AuthContext, action: Action) -> Result<(), ApiError> {
    if allows(caller, action.rule()) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "You are not authorized to perform the requested action: {}.",
            action.name()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NamedRef, Scope};

    fn caller(roles: &[&str]) -> AuthContext {
        let r = |n: &str| NamedRef {
            id: n.into(),
            name: n.into(),
        };
        AuthContext {
            user: r("u"),
            user_domain: r("default"),
            scope: Scope::Project {
                project: r("p"),
                domain: r("default"),
            },
            roles: roles.iter().map(|n| r(n)).collect(),
            methods: vec!["password".into()],
            issued_at: chrono::Utc::now(),
            expires_at: chrono::Utc::now(),
            audit_id: "a".into(),
            application_credential: None,
        }
    }

    #[test]
    fn reader_reads_but_does_not_write() {
        let reader = caller(&["reader"]);
        assert!(authorize(&reader, Action::ListImages).is_ok());
        let err = authorize(&reader, Action::CreateImage).unwrap_err();
        assert_eq!(err.status, 403);
        assert!(err.message.contains("image:add_image"));
    }

    #[test]
    fn only_admin_manages_identity() {
        assert!(authorize(&caller(&["member", "reader"]), Action::ListUsers).is_err());
        assert!(authorize(&caller(&["admin", "member", "reader"]), Action::ListUsers).is_ok());
    }

    #[test]
    fn octavia_roles_and_the_default_roles() {
        let may = |roles: &[&str], action| authorize(&caller(roles), action).is_ok();
        for reader in [
            &["reader"][..],
            &["load-balancer_observer"],
            &["load-balancer_global_observer"],
            &["load-balancer_member"],
        ] {
            assert!(may(reader, Action::ReadLoadBalancers), "{reader:?}");
        }
        assert!(!may(
            &["load-balancer_observer"],
            Action::WriteLoadBalancers
        ));
        assert!(!may(&["reader"], Action::WriteLoadBalancers));
        assert!(may(&["load-balancer_member"], Action::WriteLoadBalancers));
        assert!(may(&["member", "reader"], Action::WriteLoadBalancers));
        assert!(may(
            &["load-balancer_global_observer"],
            Action::ReadAllLoadBalancers
        ));
        assert!(!may(&["member", "reader"], Action::ReadAllLoadBalancers));
        assert!(may(
            &["load-balancer_quota_admin"],
            Action::WriteLoadBalancerQuotas
        ));
        assert!(!may(
            &["load-balancer_member"],
            Action::WriteLoadBalancerQuotas
        ));
        assert!(may(&["load-balancer_admin"], Action::ManageLoadBalancing));
        assert!(!may(
            &["load-balancer_quota_admin"],
            Action::ManageLoadBalancing
        ));
        let err = authorize(&caller(&["reader"]), Action::WriteLoadBalancers).unwrap_err();
        assert_eq!(err.status, 403);
    }

    #[test]
    fn cinder_members_own_volumes_and_admins_manage_them() {
        let may = |roles: &[&str], action| authorize(&caller(roles), action).is_ok();
        assert!(may(&["reader"], Action::ReadVolumes));
        assert!(!may(&["reader"], Action::WriteVolumes));
        assert!(may(&["member", "reader"], Action::WriteVolumes));
        for admin_only in [
            Action::ListAllProjectsVolumes,
            Action::ManageVolumeStatus,
            Action::ShowVolumeHosts,
            Action::ManageVolumeTypes,
            Action::ManageVolumeQuotas,
            Action::UploadVolumeToPublicImage,
        ] {
            assert!(!may(&["member", "reader"], admin_only), "{admin_only:?}");
            assert!(
                may(&["admin", "member", "reader"], admin_only),
                "{admin_only:?}"
            );
        }
    }

    #[test]
    fn other_projects_are_invisible_except_to_admin() {
        assert!(caller(&["member"]).can_see_project("p"));
        assert!(!caller(&["member"]).can_see_project("q"));
        assert!(caller(&["admin"]).can_see_project("q"));
    }
}
