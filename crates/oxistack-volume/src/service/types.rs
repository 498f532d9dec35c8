//! Volume types: Cinder's default `__DEFAULT__` and DevStack's
//! `lvmdriver-1` and `multiattach`, made at the first start; extra specs
//! (`multiattach="<is> True"` makes a type's volumes multi-attach) and
//! which projects may use a private type. Reading is for everyone who
//! may read volumes, writing for administrators, as Cinder's defaults.

use oxistack_auth::{Action, AuthContext};
use oxistack_db::rusqlite::Connection;

use super::common::Change;
use super::common::remove_key;
use super::{VolumeError, VolumeService, authorize, is_admin};
use crate::model::{
    DEFAULT_TYPE, MULTIATTACH_ON, MULTIATTACH_SPEC, Metadata, VolumeType, new_id, now,
};
use crate::store;

/// The types made at the first start: name, description, extra specs.
/// A type made at the first start: name, description, extra specs.
type Seed = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const BOOTSTRAP: &[Seed] = &[
    (DEFAULT_TYPE, "Default Volume Type", &[]),
    ("lvmdriver-1", "", &[("volume_backend_name", "lvmdriver-1")]),
    ("multiattach", "", &[(MULTIATTACH_SPEC, MULTIATTACH_ON)]),
];

pub(super) fn bootstrap(conn: &Connection) -> Result<(), VolumeError> {
    for (name, description, specs) in BOOTSTRAP {
        if store::type_by_name(conn, name)?.is_some() {
            continue;
        }
        store::put_type(
            conn,
            &VolumeType {
                id: new_id(),
                name: (*name).to_owned(),
                description: (!description.is_empty()).then(|| (*description).to_owned()),
                is_public: true,
                extra_specs: specs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                created_at: now(),
            },
        )?;
    }
    Ok(())
}

/// A type to create.
#[derive(Debug, Clone, Default)]
pub struct NewType {
    pub name: String,
    pub description: Option<String>,
    pub is_public: bool,
    pub extra_specs: Metadata,
}

/// A change of a type's name, description or visibility.
#[derive(Debug, Clone, Default)]
pub struct TypeUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub is_public: Option<bool>,
}

/// Whether `caller` may use type `t`: a public one, a private one its
/// project was given, or any for an administrator.
pub(super) fn may_use(
    conn: &Connection,
    caller: &AuthContext,
    t: &VolumeType,
) -> Result<bool, VolumeError> {
    if t.is_public || is_admin(caller) {
        return Ok(true);
    }
    let project = caller.project_id().unwrap_or_default();
    Ok(store::type_access(conn, &t.id)?
        .iter()
        .any(|p| p == project))
}

/// The type named by id or name, as `caller` may use it.
pub(super) fn resolve(
    conn: &Connection,
    caller: &AuthContext,
    id_or_name: &str,
) -> Result<VolumeType, VolumeError> {
    let found = match store::volume_type(conn, id_or_name)? {
        Some(t) => Some(t),
        None => store::type_by_name(conn, id_or_name)?,
    };
    match found {
        Some(t) if may_use(conn, caller, &t)? => Ok(t),
        _ => Err(VolumeError::TypeNotFound(id_or_name.to_owned())),
    }
}

pub(super) fn default_type(conn: &Connection) -> Result<VolumeType, VolumeError> {
    store::type_by_name(conn, DEFAULT_TYPE)?
        .ok_or_else(|| VolumeError::TypeNotFound(DEFAULT_TYPE.to_owned()))
}

impl VolumeService {
    pub async fn list_types(&self, caller: &AuthContext) -> Result<Vec<VolumeType>, VolumeError> {
        authorize(caller, Action::ReadVolumes)?;
        let caller = caller.clone();
        self.db()
            .read(move |conn| {
                let mut out = Vec::new();
                for (_, t) in store::types(conn)? {
                    if may_use(conn, &caller, &t)? {
                        out.push(t);
                    }
                }
                Ok(out)
            })
            .await
    }

    /// Type `id` (or `default` for the default type).
    pub async fn show_type(
        &self,
        caller: &AuthContext,
        id: &str,
    ) -> Result<VolumeType, VolumeError> {
        self.run_as(caller, Action::ReadVolumes, id, |conn, caller, id| {
            if id == "default" {
                return default_type(conn);
            }
            match store::volume_type(conn, id)? {
                Some(t) if may_use(conn, caller, &t)? => Ok(t),
                _ => Err(VolumeError::TypeNotFound(id.to_owned())),
            }
        })
        .await
    }

    pub async fn create_type(
        &self,
        caller: &AuthContext,
        new: NewType,
    ) -> Result<VolumeType, VolumeError> {
        authorize(caller, Action::ManageVolumeTypes)?;
        let name = new.name.trim().to_owned();
        if name.is_empty() || name.len() > 255 {
            return Err(VolumeError::InvalidType(
                "name must be a non-empty string of at most 255 characters".into(),
            ));
        }
        let t = VolumeType {
            id: new_id(),
            name,
            description: new.description,
            is_public: new.is_public,
            extra_specs: new.extra_specs,
            created_at: now(),
        };
        self.db()
            .write(move |tx| {
                if !store::put_type(tx, &t)? {
                    return Err(VolumeError::Conflict(format!(
                        "Volume Type {} already exists.",
                        t.name
                    )));
                }
                Ok(t)
            })
            .await
    }

    /// Changes a type with `f`, as an administrator.
    async fn change_type<T: Send + 'static>(
        &self,
        caller: &AuthContext,
        id: &str,
        f: impl Change<VolumeType, T>,
    ) -> Result<T, VolumeError> {
        authorize(caller, Action::ManageVolumeTypes)?;
        let id = id.to_owned();
        self.db()
            .write(move |tx| {
                let mut t = store::volume_type(tx, &id)?
                    .ok_or_else(|| VolumeError::TypeNotFound(id.clone()))?;
                let value = f(tx, &mut t)?;
                if !store::put_type(tx, &t)? {
                    return Err(VolumeError::Conflict(format!(
                        "Volume Type {} already exists.",
                        t.name
                    )));
                }
                Ok(value)
            })
            .await
    }

    pub async fn update_type(
        &self,
        caller: &AuthContext,
        id: &str,
        update: TypeUpdate,
    ) -> Result<VolumeType, VolumeError> {
        self.change_type(caller, id, move |_, t| {
            if let Some(name) = update.name {
                if t.name == DEFAULT_TYPE && name != DEFAULT_TYPE {
                    return Err(VolumeError::BadRequest(
                        "The default volume type cannot be renamed.".into(),
                    ));
                }
                t.name = name;
            }
            if let Some(description) = update.description {
                t.description = Some(description);
            }
            if let Some(is_public) = update.is_public {
                t.is_public = is_public;
            }
            Ok(t.clone())
        })
        .await
    }

    pub async fn delete_type(&self, caller: &AuthContext, id: &str) -> Result<(), VolumeError> {
        authorize(caller, Action::ManageVolumeTypes)?;
        let id = id.to_owned();
        self.db()
            .write(move |tx| {
                let t = store::volume_type(tx, &id)?
                    .ok_or_else(|| VolumeError::TypeNotFound(id.clone()))?;
                if t.name == DEFAULT_TYPE {
                    return Err(VolumeError::BadRequest(
                        "Default volume type can not be deleted.".into(),
                    ));
                }
                let used = store::volumes(tx, None)?
                    .iter()
                    .any(|(_, v)| v.volume_type_id == t.id);
                if used {
                    return Err(VolumeError::BadRequest(format!(
                        "Target volume type is still in use. Volume Type {} deletion is not \
                         allowed with volumes present with the type.",
                        t.id
                    )));
                }
                store::delete_type(tx, &t.id)
            })
            .await
    }

    /// Merges `specs` into type `id`'s extra specs; the whole set after.
    pub async fn set_extra_specs(
        &self,
        caller: &AuthContext,
        id: &str,
        specs: Metadata,
    ) -> Result<Metadata, VolumeError> {
        self.change_type(caller, id, move |_, t| {
            t.extra_specs.extend(specs);
            Ok(t.extra_specs.clone())
        })
        .await
    }

    pub async fn delete_extra_spec(
        &self,
        caller: &AuthContext,
        id: &str,
        key: &str,
    ) -> Result<(), VolumeError> {
        let key = key.to_owned();
        self.change_type(caller, id, move |_, t| {
            let id = &t.id;
            remove_key(&mut t.extra_specs, &key, || {
                format!("Volume Type {id} has no extra specs with key {key}.")
            })
        })
        .await
    }

    /// The projects given private type `id`; Cinder refuses the list for
    /// a public type.
    pub async fn type_access(
        &self,
        caller: &AuthContext,
        id: &str,
    ) -> Result<Vec<String>, VolumeError> {
        authorize(caller, Action::ManageVolumeTypes)?;
        let id = id.to_owned();
        self.db()
            .read(move |conn| {
                let t = store::volume_type(conn, &id)?
                    .ok_or_else(|| VolumeError::TypeNotFound(id.clone()))?;
                if t.is_public {
                    return Err(VolumeError::Missing(
                        "Access list not available for public volume types.".into(),
                    ));
                }
                store::type_access(conn, &t.id)
            })
            .await
    }

    /// Gives (or takes back) a private type to `project`.
    pub async fn set_type_access(
        &self,
        caller: &AuthContext,
        id: &str,
        project: &str,
        granted: bool,
    ) -> Result<(), VolumeError> {
        let project = project.to_owned();
        self.change_type(caller, id, move |tx, t| {
            if t.is_public {
                return Err(VolumeError::InvalidType(
                    "Type access modification is not applicable to public volume type.".into(),
                ));
            }
            if !store::set_type_access(tx, &t.id, &project, granted)? {
                let text = format!("{} / {project} combination", t.id);
                return Err(if granted {
                    VolumeError::Conflict(format!("Volume type access for {text} already exists."))
                } else {
                    VolumeError::Missing(format!("Volume type access not found for {text}."))
                });
            }
            Ok(())
        })
        .await
    }
}
