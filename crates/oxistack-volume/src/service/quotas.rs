//! Cinder's quotas: per project, falling back to the `default` quota
//! class, falling back to Cinder's defaults. Usage is counted from the
//! records (every volume and snapshot of the project counts until it is
//! gone, as Cinder's reservations do), so it never drifts. Snapshots
//! count into `gigabytes`, as with Cinder's `no_snapshot_gb_quota=False`.

use std::collections::BTreeMap;

use oxistack_auth::{Action, AuthContext};
use oxistack_db::rusqlite::Connection;

use super::{VolumeError, VolumeService, authorize};
use crate::model::VolumeType;
use crate::store::{self, QuotaTable};

/// Cinder's default limits (`quota_volumes` etc.).
const DEFAULTS: &[(&str, i64)] = &[
    ("volumes", 10),
    ("snapshots", 10),
    ("gigabytes", 1000),
    ("backups", 10),
    ("backup_gigabytes", 1000),
    ("groups", 10),
    ("per_volume_gigabytes", -1),
];

/// The per-type resources, `<resource>_<type name>`, unlimited by default.
const PER_TYPE: &[&str] = &["volumes", "snapshots", "gigabytes"];

/// One resource's limit and, when asked, usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub limit: i64,
    pub in_use: i64,
}

/// A project's (or class's) quotas by resource name.
pub type QuotaSet = BTreeMap<String, Usage>;

/// Every resource name with its default, types included.
pub fn quota_resources(types: &[VolumeType]) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = DEFAULTS
        .iter()
        .map(|(k, v)| ((*k).to_owned(), *v))
        .collect();
    for t in types {
        for resource in PER_TYPE {
            out.push((format!("{resource}_{}", t.name), -1));
        }
    }
    out
}

fn all_types(conn: &Connection) -> Result<Vec<VolumeType>, VolumeError> {
    Ok(store::types(conn)?.into_iter().map(|(_, t)| t).collect())
}

/// The limits that apply to `project` (`None`: the defaults).
pub(super) fn limits(
    conn: &Connection,
    project: Option<&str>,
) -> Result<BTreeMap<String, i64>, VolumeError> {
    let mut limits: BTreeMap<String, i64> =
        quota_resources(&all_types(conn)?).into_iter().collect();
    let mut apply = |set: Vec<(String, i64)>| {
        for (resource, limit) in set {
            if let Some(slot) = limits.get_mut(&resource) {
                *slot = limit;
            }
        }
    };
    apply(store::limits(conn, QuotaTable::Class, "default")?);
    if let Some(project) = project {
        apply(store::limits(conn, QuotaTable::Project, project)?);
    }
    Ok(limits)
}

/// What `project` uses of every resource.
pub(super) fn usage(
    conn: &Connection,
    project: &str,
) -> Result<BTreeMap<String, i64>, VolumeError> {
    let types: BTreeMap<String, String> = all_types(conn)?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    let mut used: BTreeMap<String, i64> = BTreeMap::new();
    let mut add = |key: String, n: i64| *used.entry(key).or_default() += n;
    for (_, v) in store::volumes(conn, Some(project))? {
        add("volumes".into(), 1);
        add("gigabytes".into(), v.size as i64);
        if let Some(name) = types.get(&v.volume_type_id) {
            add(format!("volumes_{name}"), 1);
            add(format!("gigabytes_{name}"), v.size as i64);
        }
    }
    let volume_types: BTreeMap<String, String> = store::volumes(conn, Some(project))?
        .into_iter()
        .map(|(_, v)| (v.id, v.volume_type_id))
        .collect();
    for (_, s) in store::snapshots(conn, Some(project))? {
        add("snapshots".into(), 1);
        add("gigabytes".into(), s.size as i64);
        if let Some(name) = volume_types.get(&s.volume_id).and_then(|t| types.get(t)) {
            add(format!("snapshots_{name}"), 1);
            add(format!("gigabytes_{name}"), s.size as i64);
        }
    }
    Ok(used)
}

/// What a change would add to a project's usage.
pub(super) struct Delta<'a> {
    pub volumes: i64,
    pub snapshots: i64,
    pub gigabytes: u64,
    pub type_name: &'a str,
    /// The size of a new volume, checked against `per_volume_gigabytes`.
    pub volume_size: Option<u64>,
}

/// Refuses `delta` with Cinder's 413s if it would exceed a limit.
pub(super) fn enforce(
    conn: &Connection,
    project: &str,
    delta: Delta<'_>,
) -> Result<(), VolumeError> {
    let limits = limits(conn, Some(project))?;
    let used = usage(conn, project)?;
    let limit = |k: &str| limits.get(k).copied().unwrap_or(-1);
    let in_use = |k: &str| used.get(k).copied().unwrap_or(0);
    if let Some(size) = delta.volume_size {
        let max = limit("per_volume_gigabytes");
        if max >= 0 && size as i64 > max {
            return Err(VolumeError::OverQuota(format!(
                "Requested volume size {size}G is larger than maximum allowed limit {max}G."
            )));
        }
    }
    let t = delta.type_name;
    for name in ["volumes".to_owned(), format!("volumes_{t}")] {
        let max = limit(&name);
        if delta.volumes > 0 && max >= 0 && in_use(&name) + delta.volumes > max {
            return Err(VolumeError::OverQuota(format!(
                "Maximum number of volumes allowed ({max}) exceeded for quota '{name}'."
            )));
        }
    }
    for name in ["snapshots".to_owned(), format!("snapshots_{t}")] {
        let max = limit(&name);
        if delta.snapshots > 0 && max >= 0 && in_use(&name) + delta.snapshots > max {
            return Err(VolumeError::OverQuota(format!(
                "Maximum number of snapshots allowed ({max}) exceeded"
            )));
        }
    }
    for name in ["gigabytes".to_owned(), format!("gigabytes_{t}")] {
        let max = limit(&name);
        let consumed = in_use(&name);
        if delta.gigabytes > 0 && max >= 0 && consumed + delta.gigabytes as i64 > max {
            return Err(VolumeError::size_quota(
                &name,
                delta.gigabytes,
                max,
                consumed as u64,
            ));
        }
    }
    Ok(())
}

impl VolumeService {
    /// Project `project`'s quotas (with usage if `with_usage`): the
    /// caller's own project, or any for an administrator.
    pub async fn quotas(
        &self,
        caller: &AuthContext,
        project: &str,
        with_usage: bool,
    ) -> Result<QuotaSet, VolumeError> {
        authorize(caller, Action::ReadVolumes)?;
        if caller.project_id() != Some(project) {
            authorize(caller, Action::ManageVolumeQuotas)?;
        }
        let project = project.to_owned();
        self.db()
            .read(move |conn| {
                let used = if with_usage {
                    usage(conn, &project)?
                } else {
                    BTreeMap::new()
                };
                Ok(limits(conn, Some(&project))?
                    .into_iter()
                    .map(|(k, limit)| {
                        let in_use = used.get(&k).copied().unwrap_or(0);
                        (k, Usage { limit, in_use })
                    })
                    .collect())
            })
            .await
    }

    /// The defaults (the `default` class over Cinder's own).
    pub async fn default_quotas(&self, caller: &AuthContext) -> Result<QuotaSet, VolumeError> {
        authorize(caller, Action::ReadVolumes)?;
        self.db()
            .read(|conn| {
                Ok(limits(conn, None)?
                    .into_iter()
                    .map(|(k, limit)| (k, Usage { limit, in_use: 0 }))
                    .collect())
            })
            .await
    }

    /// Sets limits of `project` (or of the `default` class when `class`).
    pub async fn set_quotas(
        &self,
        caller: &AuthContext,
        owner: &str,
        class: bool,
        values: BTreeMap<String, i64>,
    ) -> Result<QuotaSet, VolumeError> {
        authorize(caller, Action::ManageVolumeQuotas)?;
        let owner = owner.to_owned();
        self.db()
            .write(move |tx| {
                let known = limits(tx, None)?;
                let bad: Vec<&str> = values
                    .keys()
                    .filter(|k| !known.contains_key(*k))
                    .map(String::as_str)
                    .collect();
                if !bad.is_empty() {
                    return Err(VolumeError::BadRequest(format!(
                        "Bad key(s) in quota set: {}",
                        bad.join(",")
                    )));
                }
                if let Some((k, v)) = values.iter().find(|(_, v)| **v < -1) {
                    return Err(VolumeError::BadRequest(format!(
                        "Invalid input for field/attribute {k}. Value: {v}. {v} is less than the minimum of -1"
                    )));
                }
                let table = if class { QuotaTable::Class } else { QuotaTable::Project };
                for (resource, limit) in &values {
                    store::set_limit(tx, table, &owner, resource, *limit)?;
                }
                let project = (!class).then_some(owner.as_str());
                let set = if class { limits(tx, None)? } else { limits(tx, project)? };
                Ok(set
                    .into_iter()
                    .map(|(k, limit)| (k, Usage { limit, in_use: 0 }))
                    .collect())
            })
            .await
    }

    /// Back to the defaults.
    pub async fn reset_quotas(
        &self,
        caller: &AuthContext,
        project: &str,
    ) -> Result<(), VolumeError> {
        authorize(caller, Action::ManageVolumeQuotas)?;
        let project = project.to_owned();
        self.db()
            .write(move |tx| store::clear_limits(tx, QuotaTable::Project, &project))
            .await
    }

    /// The caller's project's limits and usage, for `GET /limits`.
    pub async fn absolute_limits(&self, caller: &AuthContext) -> Result<QuotaSet, VolumeError> {
        authorize(caller, Action::ReadVolumes)?;
        let project = caller.project_id().unwrap_or_default().to_owned();
        self.quotas(caller, &project, true).await
    }
}
