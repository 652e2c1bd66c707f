//! The secrets a function declares it reads at init.

/// A secret some function needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretName {
    /// HS256 key of user and notification tokens.
    JwtSecret,
    /// `cloudinary://<api_key>:<api_secret>@<cloud_name>`.
    CloudinaryUrl,
}

impl SecretName {
    /// The variable holding the value itself (local runs).
    pub fn var(self) -> &'static str {
        match self {
            Self::JwtSecret => "JWT_SECRET",
            Self::CloudinaryUrl => "CLOUDINARY_URL",
        }
    }

    /// The variable holding the ARN of the Secrets Manager secret (a stack).
    pub fn arn_var(self) -> &'static str {
        match self {
            Self::JwtSecret => "JWT_SECRET_ARN",
            Self::CloudinaryUrl => "CLOUDINARY_URL_SECRET_ARN",
        }
    }
}

/// The secrets a function reads at init, declared by its `main`: what the
/// template grants it and nothing more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Needs {
    /// Verifies or signs tokens (every HTTP function).
    pub jwt: bool,
    /// Signs upload forms and image URLs, or checks Cloudinary's signature.
    pub cloudinary: bool,
}

impl Needs {
    /// No secret (the worker, scheduled duplications).
    pub const NONE: Self = Self {
        jwt: false,
        cloudinary: false,
    };
    /// Tokens only (delete image).
    pub const JWT: Self = Self {
        jwt: true,
        cloudinary: false,
    };
    /// Tokens and Cloudinary (the functions that answer with albums or images, the webhook).
    pub const JWT_AND_CLOUDINARY: Self = Self {
        jwt: true,
        cloudinary: true,
    };

    /// The secrets named, in a fixed order.
    pub fn names(self) -> impl Iterator<Item = SecretName> {
        [
            (self.jwt, SecretName::JwtSecret),
            (self.cloudinary, SecretName::CloudinaryUrl),
        ]
        .into_iter()
        .filter_map(|(needed, name)| needed.then_some(name))
    }
}
