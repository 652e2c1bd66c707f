//! The secrets a function declares it reads at init.

/// A secret some function needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretName {
    /// HS256 key of user tokens; cursors' key derives from it.
    JwtSecret,
    /// `cloudinary://<api_key>:<api_secret>@<cloud_name>`.
    CloudinaryUrl,
    /// The secret notification tokens' key derives from: apart from
    /// `JWT_SECRET` so the webhook, which must verify notification tokens,
    /// holds no key that signs user tokens (decision 0016).
    NotificationSecret,
}

impl SecretName {
    /// The variable holding the value itself (local runs).
    pub fn var(self) -> &'static str {
        match self {
            Self::JwtSecret => "JWT_SECRET",
            Self::CloudinaryUrl => "CLOUDINARY_URL",
            Self::NotificationSecret => "NOTIFICATION_SECRET",
        }
    }

    /// Whether the secret signs tokens, so its previous version verifies
    /// during a rotation's overlap (decision 0018).
    pub fn signs(self) -> bool {
        matches!(self, Self::JwtSecret | Self::NotificationSecret)
    }

    /// The variable holding the ARN of the Secrets Manager secret (a stack).
    pub fn arn_var(self) -> &'static str {
        match self {
            Self::JwtSecret => "JWT_SECRET_ARN",
            Self::CloudinaryUrl => "CLOUDINARY_URL_SECRET_ARN",
            Self::NotificationSecret => "NOTIFICATION_SECRET_ARN",
        }
    }
}

/// The secrets a function reads at init, declared by its `main`: what the
/// template grants it and nothing more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Needs {
    /// Verifies or signs user tokens and cursors (every API function).
    pub jwt: bool,
    /// Signs upload forms and image URLs, or checks Cloudinary's signature.
    pub cloudinary: bool,
    /// Signs (upload forms) or verifies (the webhook) notification tokens.
    pub notification: bool,
}

impl Needs {
    /// No secret (the worker, scheduled duplications).
    pub const NONE: Self = Self {
        jwt: false,
        cloudinary: false,
        notification: false,
    };
    /// Tokens only (delete image).
    pub const JWT: Self = Self {
        jwt: true,
        cloudinary: false,
        notification: false,
    };
    /// Tokens and Cloudinary (the functions that answer with images).
    pub const JWT_AND_CLOUDINARY: Self = Self {
        jwt: true,
        cloudinary: true,
        notification: false,
    };
    /// Tokens, Cloudinary and the notification secret: the functions that
    /// answer album JSON, whose upload form carries a notification token.
    pub const ALBUMS: Self = Self {
        jwt: true,
        cloudinary: true,
        notification: true,
    };
    /// The webhook: Cloudinary's signature and notification tokens, and
    /// no `JWT_SECRET`, so it cannot mint user tokens (decision 0016).
    pub const WEBHOOK: Self = Self {
        jwt: false,
        cloudinary: true,
        notification: true,
    };

    /// The secrets named, in a fixed order.
    pub fn names(self) -> impl Iterator<Item = SecretName> {
        [
            (self.jwt, SecretName::JwtSecret),
            (self.cloudinary, SecretName::CloudinaryUrl),
            (self.notification, SecretName::NotificationSecret),
        ]
        .into_iter()
        .filter_map(|(needed, name)| needed.then_some(name))
    }
}
