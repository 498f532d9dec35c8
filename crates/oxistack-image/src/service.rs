//! The image service's operations: each looks the image up as the caller
//! may see it, enforces who may do what, and makes its database change in
//! one transaction, deciding every refusal before anything is written.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::ImageError;
use crate::error::authorize;
use bytes::Bytes;
use chrono::Utc;
use futures_util::Stream;
use oxistack_auth::{Action, AuthContext};
use oxistack_db::Db;
use oxistack_db::rusqlite::Connection;
use serde_json::{Map, Value};

use crate::access::{self, image_not_found};
use crate::files::{ImageFiles, ReceiveError};
use crate::model::{self, Image, ImageStatus, Key, Member, MemberStatus, Visibility};
use crate::page_cache::{PageCache, PageKey};
use crate::patch::{self, Change, Dialect};
use crate::query::ListQuery;
use crate::store::{self, Lister};

pub struct ImageService {
    db: Db,
    files: ImageFiles,
    pages: Arc<PageCache>,
}

/// What a download finds.
pub enum Download {
    /// The image has no data (yet).
    Empty,
    Data {
        file: tokio::fs::File,
        size: Option<i64>,
        checksum: Option<String>,
    },
}

impl ImageService {
    /// Runs an image change in one transaction; cached list pages go stale.
    async fn write<T, F>(&self, f: F) -> Result<T, ImageError>
    where
        F: FnOnce(&oxistack_db::rusqlite::Transaction) -> Result<T, ImageError> + Send + 'static,
        T: Send + 'static,
    {
        let result = self.db.write(f).await;
        self.pages.invalidate();
        result
    }

    /// A rendered list page still valid for `key`, and otherwise the
    /// generation to [`ImageService::remember_page`] a fresh one under.
    pub(crate) fn cached_page(&self, key: &PageKey) -> Result<bytes::Bytes, u64> {
        let generation = self.pages.generation();
        self.pages.get(key).ok_or(generation)
    }

    pub(crate) fn remember_page(&self, key: PageKey, generation: u64, body: bytes::Bytes) {
        self.pages.put(key, generation, body);
    }

    /// The image service over `db`, whose image tables must already be
    /// migrated, keeping image data in `store_dir` (created if missing).
    /// Uploads cut short by a crash are rolled back: their images return to
    /// `queued` and their partial data is removed.
    pub fn new(db: Db, store_dir: PathBuf) -> std::io::Result<Arc<Self>> {
        let files = ImageFiles::open(store_dir)?;
        let interrupted = db
            .write_blocking(|tx| {
                let ids = store::images_in_status(tx, ImageStatus::Saving)?;
                for id in &ids {
                    if let Some(mut image) = store::find_image(tx, id)? {
                        clear_data(&mut image);
                        store::save_image(tx, &image)?;
                    }
                }
                Ok::<_, ImageError>(ids)
            })
            .map_err(|e: ImageError| {
                std::io::Error::other(format!(
                    "recovering interrupted image uploads failed (are the image migrations applied?): {e}"
                ))
            })?;
        for id in interrupted {
            tracing::warn!(image = %id, "upload interrupted by a restart; image returned to queued");
            std::fs::remove_file(files.data_path(&id)).or_else(ignore_missing)?;
        }
        Ok(Arc::new(ImageService {
            db,
            files,
            pages: Arc::default(),
        }))
    }

    /// Where image `id`'s data is on this host, if it has been uploaded.
    pub fn data_file(&self, id: &str) -> Option<PathBuf> {
        if !model::is_image_id(id) {
            return None;
        }
        Some(self.files.data_path(id)).filter(|path| path.is_file())
    }

    pub async fn create(
        &self,
        caller: &Arc<AuthContext>,
        body: Map<String, Value>,
    ) -> Result<Image, ImageError> {
        authorize(caller, Action::CreateImage)?;
        let id = match body.get("id") {
            None | Some(Value::Null) => uuid::Uuid::new_v4().to_string(),
            Some(Value::String(id)) if model::is_image_id(id) => id.clone(),
            Some(other) => {
                return Err(ImageError::invalid(format!(
                    "Invalid value for 'id': {other} is not a UUID such as 0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9."
                )));
            }
        };
        let mut image = Image::new(id, caller.project_id().map(str::to_owned), Utc::now());
        for (key, value) in body.iter().filter(|(key, _)| *key != "id") {
            match model::classify(key) {
                Key::Settable(attribute) => model::set_attribute(&mut image, attribute, value)?,
                Key::Property(name) => model::set_property(&mut image, name, value)?,
                refused @ (Key::ReadOnly | Key::Reserved) => {
                    return Err(model::refuse_key(key, refused));
                }
            }
        }
        match image.owner.as_deref() {
            None => {
                return Err(ImageError::invalid(
                    "An image needs an owner: use a project-scoped token or give 'owner'.",
                ));
            }
            Some(owner) if !caller.is_admin() && caller.project_id() != Some(owner) => {
                return Err(ImageError::forbidden(format!(
                    "You are not permitted to create images owned by '{owner}'."
                )));
            }
            Some(_) => {}
        }
        access::require_publicize(caller, image.visibility)?;
        self.write(move |tx| {
            store::insert_image(tx, &image)?;
            Ok::<_, ImageError>(image)
        })
        .await
    }

    pub async fn show(&self, caller: &Arc<AuthContext>, id: &str) -> Result<Image, ImageError> {
        self.find(caller, id)
            .await?
            .ok_or_else(|| image_not_found(id))
    }

    /// The image `id` if it exists and the caller may see it.
    pub async fn find(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
    ) -> Result<Option<Image>, ImageError> {
        authorize(caller, Action::GetImage)?;
        let (caller, id) = (caller.clone(), id.to_owned());
        self.db
            .read(move |conn| find_visible(conn, &caller, &id))
            .await
    }

    pub async fn list(
        &self,
        caller: &Arc<AuthContext>,
        query: ListQuery,
    ) -> Result<Vec<Image>, ImageError> {
        authorize(caller, Action::ListImages)?;
        let caller = caller.clone();
        self.db
            .read(move |conn| {
                let marker = match &query.marker {
                    Some(id) => Some(find_visible(conn, &caller, id)?.ok_or_else(|| {
                        ImageError::invalid(format!(
                            "Invalid marker: there is no image {id} you can see."
                        ))
                    })?),
                    None => None,
                };
                let lister = Lister {
                    admin: caller.is_admin(),
                    project: caller.project_id(),
                };
                store::list_images(conn, &query, lister, marker.as_ref())
            })
            .await
    }

    pub async fn update(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        changes: Vec<Change>,
        dialect: Dialect,
    ) -> Result<Image, ImageError> {
        self.modify(caller, id, "modify", move |image, caller| {
            patch::apply(image, &changes, dialect, caller)
        })
        .await
    }

    pub async fn add_tag(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        tag: String,
    ) -> Result<(), ImageError> {
        model::validate_tag(&tag)?;
        self.modify(caller, id, "tag", move |image, _| {
            image.tags.insert(tag);
            Ok(())
        })
        .await
        .map(drop)
    }

    pub async fn remove_tag(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        tag: String,
    ) -> Result<(), ImageError> {
        self.modify(caller, id, "untag", move |image, _| {
            if image.tags.remove(&tag) {
                Ok(())
            } else {
                Err(ImageError::not_found(format!(
                    "Image {} has no tag '{tag}'.",
                    image.id
                )))
            }
        })
        .await
        .map(drop)
    }

    /// Deactivates (`active == false`) or reactivates an image: a
    /// deactivated image's data can be downloaded by the administrator only.
    pub async fn set_active(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        active: bool,
    ) -> Result<(), ImageError> {
        let (from, to, verb) = match active {
            true => (ImageStatus::Deactivated, ImageStatus::Active, "reactivate"),
            false => (ImageStatus::Active, ImageStatus::Deactivated, "deactivate"),
        };
        self.modify(caller, id, verb, move |image, _| {
            if image.status == from {
                image.status = to;
            } else if image.status != to {
                return Err(ImageError::forbidden(format!(
                    "Image {} is {}: only {} images can be {verb}d.",
                    image.id,
                    image.status.as_str(),
                    from.as_str()
                )));
            }
            Ok(())
        })
        .await
        .map(drop)
    }

    pub async fn delete(&self, caller: &Arc<AuthContext>, id: &str) -> Result<(), ImageError> {
        let (caller, owned_id) = (caller.clone(), id.to_owned());
        self.write(move |tx| {
            let image = load_visible(tx, &caller, &owned_id)?;
            access::require_owner(&caller, &image, Action::DeleteImage, "delete")?;
            if image.protected {
                return Err(ImageError::forbidden(format!(
                    "Image {owned_id} is protected and cannot be deleted."
                )));
            }
            store::delete_image(tx, &owned_id)
        })
        .await?;
        // The record is gone, so a leftover file is only wasted space.
        if let Err(e) = self.files.remove(id).await {
            tracing::error!(image = %id, error = %e, "could not remove the data of a deleted image");
        }
        Ok(())
    }

    /// Receives image data from `body`: the image goes from `queued` to
    /// `saving` while the data streams to disk, then to `active`. If the
    /// upload fails or is abandoned it returns to `queued` without data.
    pub async fn upload<S, E>(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        announced_size: Option<i64>,
        body: S,
    ) -> Result<(), ImageError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let claim_caller = caller.clone();
        let claim_id = id.to_owned();
        let disk_format = self
            .write(move |tx| {
                let mut image = load_visible(tx, &claim_caller, &claim_id)?;
                access::require_owner(&claim_caller, &image, Action::ModifyImage, "upload data to")?;
                if image.status != ImageStatus::Queued {
                    return Err(ImageError::conflict(format!(
                        "Image {claim_id} is {}: data can only be uploaded to a queued image.",
                        image.status.as_str()
                    )));
                }
                if image.disk_format.is_none() || image.container_format.is_none() {
                    return Err(ImageError::invalid(
                        "Set the image's disk_format and container_format before uploading its data.",
                    ));
                }
                image.status = ImageStatus::Saving;
                image.updated_at = Utc::now();
                store::save_image(tx, &image)?;
                Ok::<_, ImageError>(image.disk_format)
            })
            .await?;
        let claim = SavingClaim {
            db: self.db.clone(),
            pages: self.pages.clone(),
            data_path: self.files.data_path(id),
            id: id.to_owned(),
            armed: true,
        };

        let received = match self.files.receive(id, body, disk_format.as_deref()).await {
            Ok(received) => received,
            Err(failure) => {
                claim.release().await;
                return Err(match failure {
                    ReceiveError::Body(detail) => ImageError::invalid(format!(
                        "The image data could not be received: {detail}"
                    )),
                    ReceiveError::Disk(e) => ImageError::internal(format!("writing image {id}"), e),
                });
            }
        };
        let data = received.data.clone();
        if let Some(announced) = announced_size.filter(|announced| *announced != data.size) {
            claim.release().await;
            return Err(ImageError::invalid(format!(
                "The request announced {announced} bytes of image data (x-openstack-image-size) but sent {}.",
                data.size
            )));
        }
        if let Err(e) = self.files.install(received, id).await {
            claim.release().await;
            return Err(ImageError::internal(
                format!("installing data of image {id}"),
                e,
            ));
        }

        let activate_id = id.to_owned();
        let activated = self
            .write(move |tx| {
                let Some(mut image) = store::find_image(tx, &activate_id)? else {
                    return Ok(false);
                };
                if image.status != ImageStatus::Saving {
                    return Ok(false);
                }
                image.status = ImageStatus::Active;
                image.size = Some(data.size);
                image.virtual_size = data.virtual_size;
                image.checksum = Some(data.md5);
                image.os_hash_algo = Some(model::HASH_ALGO.to_owned());
                image.os_hash_value = Some(data.sha512);
                image.updated_at = Utc::now();
                store::save_image(tx, &image)?;
                Ok::<_, ImageError>(true)
            })
            .await;
        match activated {
            Ok(true) => {
                claim.keep();
                Ok(())
            }
            Ok(false) => {
                claim.keep();
                self.files.remove(id).await.map_err(|e| {
                    ImageError::internal(format!("discarding data of deleted image {id}"), e)
                })?;
                Err(ImageError::Gone(format!(
                    "Image {id} was deleted during the upload; its data was discarded."
                )))
            }
            Err(failure) => {
                claim.release().await;
                Err(failure)
            }
        }
    }

    /// [`ImageService::upload`] with `file`'s contents as the body: the
    /// same claim, checksums and activation as an upload over the API.
    pub async fn upload_file(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        file: &Path,
    ) -> Result<Image, ImageError> {
        let data = tokio::fs::File::open(file)
            .await
            .map_err(|e| ImageError::internal(format!("opening data for image {id}"), e))?;
        let size = data
            .metadata()
            .await
            .map_err(|e| ImageError::internal(format!("reading data for image {id}"), e))?
            .len();
        let size = i64::try_from(size).ok();
        self.upload(caller, id, size, tokio_util::io::ReaderStream::new(data))
            .await?;
        self.show(caller, id).await
    }

    /// Removes image `id` if it is still `queued`, i.e. its data never
    /// arrived: what a service that reserved it does after a failed
    /// import. Its protection does not hold, as it protects data the image
    /// never had. An active or missing image is left alone.
    pub async fn discard_queued(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
    ) -> Result<(), ImageError> {
        let (caller, owned_id) = (caller.clone(), id.to_owned());
        let removed = self
            .write(move |tx| {
                let Some(image) = find_visible(tx, &caller, &owned_id)? else {
                    return Ok(false);
                };
                access::require_owner(&caller, &image, Action::DeleteImage, "delete")?;
                if image.status != ImageStatus::Queued {
                    return Ok(false);
                }
                store::delete_image(tx, &owned_id)?;
                Ok::<_, ImageError>(true)
            })
            .await?;
        if removed && let Err(e) = self.files.remove(id).await {
            tracing::error!(image = %id, error = %e, "could not remove the data of a discarded image");
        }
        Ok(())
    }

    pub async fn download(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
    ) -> Result<Download, ImageError> {
        let image = self.show(caller, id).await?;
        match image.status {
            ImageStatus::Deactivated if !caller.is_admin() => Err(ImageError::forbidden(format!(
                "Image {id} is deactivated: its data cannot be downloaded."
            ))),
            ImageStatus::Active | ImageStatus::Deactivated => match self.files.read(id).await {
                Ok(Some(file)) => Ok(Download::Data {
                    file,
                    size: image.size,
                    checksum: image.checksum,
                }),
                Ok(None) => Ok(Download::Empty),
                Err(e) => Err(ImageError::internal(
                    format!("opening data of image {id}"),
                    e,
                )),
            },
            ImageStatus::Queued | ImageStatus::Saving => Ok(Download::Empty),
        }
    }

    pub async fn members(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
    ) -> Result<Vec<Member>, ImageError> {
        authorize(caller, Action::GetImage)?;
        let (caller, id) = (caller.clone(), id.to_owned());
        self.db
            .read(move |conn| {
                let image = load_shared(conn, &caller, &id)?;
                let mut members = store::members(conn, &id)?;
                if !manages_members(&caller, &image) {
                    members.retain(|member| caller.project_id() == Some(member.member_id.as_str()));
                }
                Ok::<_, ImageError>(members)
            })
            .await
    }

    pub async fn add_member(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        member_id: String,
    ) -> Result<Member, ImageError> {
        if member_id.trim().is_empty() || member_id.chars().count() > 255 {
            return Err(ImageError::invalid(
                "Invalid 'member': give a project id of 1 to 255 characters.",
            ));
        }
        let (caller, id) = (caller.clone(), id.to_owned());
        self.write(move |tx| {
            let image = load_shared(tx, &caller, &id)?;
            access::require_owner(&caller, &image, Action::AddImageMember, "share")?;
            let now = Utc::now();
            let member = Member {
                image_id: id,
                member_id,
                status: MemberStatus::Pending,
                created_at: now,
                updated_at: now,
            };
            store::insert_member(tx, &member)?;
            Ok::<_, ImageError>(member)
        })
        .await
    }

    pub async fn member(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        member_id: &str,
    ) -> Result<Member, ImageError> {
        authorize(caller, Action::GetImage)?;
        let (caller, id, member_id) = (caller.clone(), id.to_owned(), member_id.to_owned());
        self.db
            .read(move |conn| {
                // Outside of sharing, "not shared" is just "no such member".
                let image = load_shared(conn, &caller, &id).map_err(|e| match e {
                    ImageError::Forbidden(_) => member_not_found(&id, &member_id),
                    other => other,
                })?;
                load_member(conn, &caller, &image, &member_id)
            })
            .await
    }

    pub async fn update_member(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        member_id: &str,
        status: MemberStatus,
    ) -> Result<Member, ImageError> {
        let (caller, id, member_id) = (caller.clone(), id.to_owned(), member_id.to_owned());
        self.write(move |tx| {
            let image = load_shared(tx, &caller, &id)?;
            let mut member = load_member(tx, &caller, &image, &member_id)?;
            authorize(&caller, Action::ModifyImageMember)?;
            if caller.project_id() != Some(member_id.as_str()) && !caller.is_admin() {
                return Err(ImageError::forbidden(
                    "Only the project an image is shared with may accept or reject it.",
                ));
            }
            member.status = status;
            member.updated_at = Utc::now();
            store::save_member(tx, &member)?;
            Ok::<_, ImageError>(member)
        })
        .await
    }

    pub async fn remove_member(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        member_id: &str,
    ) -> Result<(), ImageError> {
        let (caller, id, member_id) = (caller.clone(), id.to_owned(), member_id.to_owned());
        self.write(move |tx| {
            let image = load_shared(tx, &caller, &id)?;
            access::require_owner(&caller, &image, Action::DeleteImageMember, "unshare")?;
            load_member(tx, &caller, &image, &member_id)?;
            store::delete_member(tx, &id, &member_id)
        })
        .await
    }

    /// Changes an image the caller owns (or administers) with `change`, in
    /// one transaction; `verb` names the change in a refusal.
    async fn modify<F>(
        &self,
        caller: &Arc<AuthContext>,
        id: &str,
        verb: &'static str,
        change: F,
    ) -> Result<Image, ImageError>
    where
        F: FnOnce(&mut Image, &AuthContext) -> Result<(), ImageError> + Send + 'static,
    {
        let (caller, id) = (caller.clone(), id.to_owned());
        self.write(move |tx| {
            let mut image = load_visible(tx, &caller, &id)?;
            access::require_owner(&caller, &image, Action::ModifyImage, verb)?;
            change(&mut image, &caller)?;
            image.updated_at = Utc::now();
            store::save_image(tx, &image)?;
            Ok::<_, ImageError>(image)
        })
        .await
    }
}

/// The image `id` if it exists and the caller may see it.
fn find_visible(
    conn: &Connection,
    caller: &AuthContext,
    id: &str,
) -> Result<Option<Image>, ImageError> {
    let Some(image) = store::find_image(conn, id)? else {
        return Ok(None);
    };
    let membership = store::membership(conn, id, caller.project_id())?;
    Ok(access::can_see(caller, &image, membership).then_some(image))
}

fn load_visible(conn: &Connection, caller: &AuthContext, id: &str) -> Result<Image, ImageError> {
    find_visible(conn, caller, id)?.ok_or_else(|| image_not_found(id))
}

/// A visible image that can have members: only shared ones do.
fn load_shared(conn: &Connection, caller: &AuthContext, id: &str) -> Result<Image, ImageError> {
    let image = load_visible(conn, caller, id)?;
    if image.visibility != Visibility::Shared {
        return Err(ImageError::forbidden(format!(
            "Image {id} is {}: only shared images have members.",
            image.visibility.as_str()
        )));
    }
    Ok(image)
}

/// Whether the caller sees all of an image's members, not only its own.
fn manages_members(caller: &AuthContext, image: &Image) -> bool {
    caller.is_admin() || access::owns(caller, image)
}

/// Member `member_id` of `image`, if the caller may see it: the owner sees
/// every member, a member project only itself.
fn load_member(
    conn: &Connection,
    caller: &AuthContext,
    image: &Image,
    member_id: &str,
) -> Result<Member, ImageError> {
    let visible = manages_members(caller, image) || caller.project_id() == Some(member_id);
    match store::find_member(conn, &image.id, member_id)? {
        Some(member) if visible => Ok(member),
        _ => Err(member_not_found(&image.id, member_id)),
    }
}

fn member_not_found(image_id: &str, member_id: &str) -> ImageError {
    ImageError::not_found(format!(
        "Project {member_id} is not a member of image {image_id}."
    ))
}

/// Forgets an image's data: what an interrupted upload leaves behind.
fn clear_data(image: &mut Image) {
    image.status = ImageStatus::Queued;
    image.size = None;
    image.virtual_size = None;
    image.checksum = None;
    image.os_hash_algo = None;
    image.os_hash_value = None;
    image.updated_at = Utc::now();
}

fn ignore_missing(e: std::io::Error) -> std::io::Result<()> {
    if e.kind() == std::io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(e)
    }
}

/// An upload's hold on an image in `saving`. Unless the upload completes
/// ([`SavingClaim::keep`]), the image goes back to `queued` without data:
/// at once through [`SavingClaim::release`] on a failure the handler sees,
/// or from `Drop` when the request is cancelled (the client went away).
struct SavingClaim {
    db: Db,
    pages: Arc<PageCache>,
    data_path: PathBuf,
    id: String,
    armed: bool,
}

impl SavingClaim {
    fn keep(mut self) {
        self.armed = false;
    }

    async fn release(mut self) {
        self.armed = false;
        revert_upload(
            self.db.clone(),
            self.pages.clone(),
            self.data_path.clone(),
            self.id.clone(),
        )
        .await;
    }
}

impl Drop for SavingClaim {
    fn drop(&mut self) {
        if self.armed
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(revert_upload(
                self.db.clone(),
                self.pages.clone(),
                self.data_path.clone(),
                self.id.clone(),
            ));
        }
    }
}

/// Returns an image whose upload failed to `queued`. Any data file goes
/// first: while the image is still `saving` no other upload can install one.
async fn revert_upload(db: Db, pages: Arc<PageCache>, data_path: PathBuf, id: String) {
    if let Err(e) = tokio::fs::remove_file(&data_path)
        .await
        .or_else(ignore_missing)
    {
        tracing::error!(image = %id, error = %e, "could not remove data of a failed upload");
    }
    let reverted = db
        .write(move |tx| {
            if let Some(mut image) = store::find_image(tx, &id)?
                && image.status == ImageStatus::Saving
            {
                clear_data(&mut image);
                store::save_image(tx, &image)?;
            }
            Ok::<_, ImageError>(())
        })
        .await;
    pages.invalidate();
    if let Err(e) = reverted {
        tracing::error!(error = %e, "could not return an image to queued after a failed upload");
    }
}
