//! Who may see and who may change an image. Roles come from the cloud's one
//! policy ([`oxistack_auth::policy`]); what is decided here is ownership and
//! visibility, which the policy leaves to the services.

use crate::ImageError;
use crate::error::authorize;
use oxistack_auth::policy::allows;
use oxistack_auth::{Action, AuthContext};

use crate::model::{Image, MemberStatus, Visibility};

/// Whether `caller` may see `image` at all. `membership` is the caller's
/// project's membership of the image, if it has one: a shared image is
/// visible to its members whatever their answer, so that they can accept it.
/// Images the caller may not see are answered with 404, never 403.
pub fn can_see(caller: &AuthContext, image: &Image, membership: Option<MemberStatus>) -> bool {
    caller.is_admin()
        || matches!(image.visibility, Visibility::Public | Visibility::Community)
        || owns(caller, image)
        || (image.visibility == Visibility::Shared && membership.is_some())
}

/// Whether the image belongs to the caller's project.
pub fn owns(caller: &AuthContext, image: &Image) -> bool {
    caller.project_id().is_some() && caller.project_id() == image.owner.as_deref()
}

/// Enforces that `caller` may perform `action` on an image it can see: the
/// role first (a 403 naming the policy rule), then ownership, which only the
/// administrator may do without. `verb` completes the refusal, as in
/// "You are not permitted to delete this image."
pub fn require_owner(
    caller: &AuthContext,
    image: &Image,
    action: Action,
    verb: &str,
) -> Result<(), ImageError> {
    authorize(caller, action)?;
    if owns(caller, image) || allows(caller, Action::ModifyOthersImage.rule()) {
        Ok(())
    } else {
        Err(ImageError::forbidden(format!(
            "You are not permitted to {verb} this image."
        )))
    }
}

/// Making an image public takes its own policy rule.
pub fn require_publicize(caller: &AuthContext, visibility: Visibility) -> Result<(), ImageError> {
    match visibility {
        Visibility::Public => authorize(caller, Action::PublicizeImage),
        _ => Ok(()),
    }
}

/// The 404 for an image that does not exist or that the caller may not see.
pub fn image_not_found(id: &str) -> ImageError {
    ImageError::not_found(format!("No image found with ID {id}."))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use oxistack_auth::{NamedRef, Scope};
    use oxistack_http::ApiError;

    pub fn caller(project: &str, roles: &[&str]) -> AuthContext {
        let named = |n: &str| NamedRef {
            id: n.into(),
            name: n.into(),
        };
        AuthContext {
            user: named("user"),
            user_domain: named("default"),
            scope: Scope::Project {
                project: named(project),
                domain: named("default"),
            },
            roles: roles.iter().map(|r| named(r)).collect(),
            methods: vec!["password".into()],
            issued_at: chrono::Utc::now(),
            expires_at: chrono::Utc::now(),
            audit_id: "audit".into(),
            application_credential: None,
        }
    }

    fn image(visibility: Visibility) -> Image {
        let mut image = Image::new("id".into(), Some("owner".into()), chrono::Utc::now());
        image.visibility = visibility;
        image
    }

    #[test]
    fn visibility_decides_who_sees() {
        let stranger = caller("other", &["member", "reader"]);
        let owner = caller("owner", &["member", "reader"]);
        let admin = caller("other", &["admin", "member", "reader"]);
        for (visibility, stranger_sees) in [
            (Visibility::Public, true),
            (Visibility::Community, true),
            (Visibility::Private, false),
            (Visibility::Shared, false),
        ] {
            let img = image(visibility);
            assert_eq!(
                can_see(&stranger, &img, None),
                stranger_sees,
                "{visibility:?}"
            );
            assert!(can_see(&owner, &img, None));
            assert!(can_see(&admin, &img, None));
        }
        assert!(can_see(
            &stranger,
            &image(Visibility::Shared),
            Some(MemberStatus::Pending)
        ));
        assert!(!can_see(
            &stranger,
            &image(Visibility::Private),
            Some(MemberStatus::Accepted)
        ));
    }

    #[test]
    fn only_owner_members_and_admins_change_images() {
        let img = image(Visibility::Public);
        // Deleting `img` as `project` with `roles`, answered as Glance would.
        let delete = |project: &str, roles: &[&str]| {
            require_owner(&caller(project, roles), &img, Action::DeleteImage, "delete")
                .map_err(ApiError::from)
        };
        let err = delete("other", &["member"]).unwrap_err();
        assert_eq!(
            (err.status.as_u16(), err.message.as_str()),
            (403, "You are not permitted to delete this image.")
        );
        let err = delete("owner", &["reader"]).unwrap_err();
        assert!(
            err.message.contains("image:delete_image"),
            "{}",
            err.message
        );
        assert!(delete("owner", &["member"]).is_ok());
        assert!(delete("other", &["admin"]).is_ok());
    }
}
