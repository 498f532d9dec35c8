//! DevStack uploads a CirrOS image while it stacks; oxistack registers the
//! project's own test image (built by `images/cirros/build.sh`) as the
//! public image `cirros` on first start, so the seed's commands that boot
//! `--image cirros` run verbatim.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use oxistack_auth::AuthContext;
use oxistack_image::{ImageError, ImageService, ImageStatus};

/// The image's id: fixed, so a start interrupted between creating the
/// image and uploading its data finds it and finishes the upload.
pub const CIRROS_IMAGE_ID: &str = "c1a0e5b0-0000-4000-8000-000000c1a05b";

/// Registers `file` as the public image `cirros` once per cloud: the
/// marker file records that it was done, so an image an administrator
/// deleted stays deleted.
pub async fn register(
    images: &ImageService,
    file: &Path,
    admin_project_id: &str,
    marker: &Path,
) -> anyhow::Result<()> {
    if marker.exists() {
        return Ok(());
    }
    if !file.is_file() {
        bail!(
            "the cirros image {} does not exist (build it with images/cirros/build.sh, or scripts/up.sh does)",
            file.display()
        );
    }
    let admin = Arc::new(AuthContext::cloud_administrator(admin_project_id));
    let status = match images.show(&admin, CIRROS_IMAGE_ID).await {
        Ok(image) => image.status,
        Err(ImageError::NotFound(_)) => {
            let body = serde_json::json!({
                "id": CIRROS_IMAGE_ID,
                "name": "cirros",
                "disk_format": "qcow2",
                "container_format": "bare",
                "visibility": "public",
            });
            let serde_json::Value::Object(body) = body else {
                unreachable!("a JSON object literal");
            };
            images
                .create(&admin, body)
                .await
                .map_err(|e| anyhow::anyhow!("creating the cirros image: {e}"))?
                .status
        }
        Err(error) => bail!("looking up the cirros image: {error}"),
    };
    if status == ImageStatus::Queued {
        let data = tokio::fs::File::open(file)
            .await
            .with_context(|| format!("cannot open {}", file.display()))?;
        let size = data.metadata().await?.len() as i64;
        let stream = tokio_util::io::ReaderStream::new(data);
        images
            .upload(&admin, CIRROS_IMAGE_ID, Some(size), stream)
            .await
            .map_err(|e| anyhow::anyhow!("uploading the cirros image: {e}"))?;
        tracing::info!(file = %file.display(), "registered the public image cirros");
    }
    std::fs::write(marker, b"registered\n")
        .with_context(|| format!("cannot write {}", marker.display()))?;
    Ok(())
}
