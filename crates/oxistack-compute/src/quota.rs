//! Compute quotas: Nova's resources, their defaults, and which of them
//! each microversion still shows.

use std::collections::HashMap;

use crate::service::ComputeError;
use oxistack_db::rusqlite::Connection;
use oxistack_http::microversion::Microversion;

use crate::store;
use crate::versions::{NETWORK_PROXIES_REMOVED, PERSONALITY_REMOVED};

/// No limit.
pub const UNLIMITED: i64 = -1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    Instances,
    Cores,
    Ram,
    KeyPairs,
    MetadataItems,
    ServerGroups,
    ServerGroupMembers,
    InjectedFiles,
    InjectedFileContentBytes,
    InjectedFilePathBytes,
    FloatingIps,
    FixedIps,
    SecurityGroups,
    SecurityGroupRules,
}

impl Resource {
    pub const ALL: [Resource; 14] = [
        Resource::Instances,
        Resource::Cores,
        Resource::Ram,
        Resource::KeyPairs,
        Resource::MetadataItems,
        Resource::ServerGroups,
        Resource::ServerGroupMembers,
        Resource::InjectedFiles,
        Resource::InjectedFileContentBytes,
        Resource::InjectedFilePathBytes,
        Resource::FloatingIps,
        Resource::FixedIps,
        Resource::SecurityGroups,
        Resource::SecurityGroupRules,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Resource::Instances => "instances",
            Resource::Cores => "cores",
            Resource::Ram => "ram",
            Resource::KeyPairs => "key_pairs",
            Resource::MetadataItems => "metadata_items",
            Resource::ServerGroups => "server_groups",
            Resource::ServerGroupMembers => "server_group_members",
            Resource::InjectedFiles => "injected_files",
            Resource::InjectedFileContentBytes => "injected_file_content_bytes",
            Resource::InjectedFilePathBytes => "injected_file_path_bytes",
            Resource::FloatingIps => "floating_ips",
            Resource::FixedIps => "fixed_ips",
            Resource::SecurityGroups => "security_groups",
            Resource::SecurityGroupRules => "security_group_rules",
        }
    }

    pub fn parse(name: &str) -> Option<Resource> {
        Resource::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Nova's default limit.
    pub fn default_limit(self) -> i64 {
        match self {
            Resource::Instances => 10,
            Resource::Cores => 20,
            Resource::Ram => 51_200,
            Resource::KeyPairs => 100,
            Resource::MetadataItems => 128,
            Resource::ServerGroups => 10,
            Resource::ServerGroupMembers => 10,
            Resource::InjectedFiles => 5,
            Resource::InjectedFileContentBytes => 10_240,
            Resource::InjectedFilePathBytes => 255,
            Resource::FloatingIps => 10,
            Resource::FixedIps => UNLIMITED,
            Resource::SecurityGroups => 10,
            Resource::SecurityGroupRules => 20,
        }
    }

    /// Whether quota sets at `version` have this resource: network quotas
    /// went with 2.36, personality ones with 2.57.
    pub fn shown_at(self, version: Microversion) -> bool {
        match self {
            Resource::FloatingIps
            | Resource::FixedIps
            | Resource::SecurityGroups
            | Resource::SecurityGroupRules => !version.at_least(NETWORK_PROXIES_REMOVED),
            Resource::InjectedFiles
            | Resource::InjectedFileContentBytes
            | Resource::InjectedFilePathBytes => !version.at_least(PERSONALITY_REMOVED),
            _ => true,
        }
    }
}

/// A project's limits: its overrides over the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits(HashMap<Resource, i64>);

impl Limits {
    pub fn defaults() -> Self {
        Limits(
            Resource::ALL
                .into_iter()
                .map(|r| (r, r.default_limit()))
                .collect(),
        )
    }

    pub fn of(conn: &Connection, project: &str) -> Result<Self, ComputeError> {
        let mut limits = Limits::defaults();
        for (name, limit) in store::quotas::overrides(conn, project)? {
            if let Some(resource) = Resource::parse(&name) {
                limits.0.insert(resource, limit);
            }
        }
        Ok(limits)
    }

    pub fn get(&self, resource: Resource) -> i64 {
        self.0.get(&resource).copied().unwrap_or(UNLIMITED)
    }

    /// How many units of `each` fit in `resource` beside `used`; `None`
    /// when unlimited.
    pub fn room(&self, resource: Resource, used: u64, each: u64) -> Option<u64> {
        let limit = self.get(resource);
        if limit < 0 || each == 0 {
            return None;
        }
        Some((limit as u64).saturating_sub(used) / each)
    }
}

/// Nova's refusal when a request needs more than a quota leaves.
pub fn exceeded(resource: Resource, requested: u64, used: u64, limit: i64) -> ComputeError {
    ComputeError::forbidden(format!(
        "Quota exceeded for {name}: Requested {requested}, but already used {used} of {limit} {name}",
        name = resource.name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_counts_whole_units_and_unlimited_is_none() {
        let limits = Limits::defaults();
        assert_eq!(limits.room(Resource::Cores, 16, 4), Some(1));
        assert_eq!(limits.room(Resource::Cores, 21, 1), Some(0));
        assert_eq!(limits.room(Resource::FixedIps, 5, 1), None);
    }

    #[test]
    fn network_and_personality_quotas_go_with_their_versions() {
        let v = Microversion::new;
        assert!(Resource::FloatingIps.shown_at(v(2, 35)));
        assert!(!Resource::FloatingIps.shown_at(v(2, 36)));
        assert!(Resource::InjectedFiles.shown_at(v(2, 56)));
        assert!(!Resource::InjectedFiles.shown_at(v(2, 57)));
        assert!(Resource::Instances.shown_at(v(2, 100)));
    }
}
