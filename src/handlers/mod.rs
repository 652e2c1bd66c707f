//! One module per Lambda function: each adapts its event to the library and
//! back. The binaries in `src/bin` only wire them to the runtime.

pub mod cloudinary_notification;
pub mod create_album;
pub mod create_import;
pub mod create_tag;
pub mod delete_image;
pub mod delete_images;
pub mod delete_tag_image;
mod deleting;
pub mod duplicate_album;
pub mod duplicate_image;
pub mod duplication_worker;
pub mod embed_image;
pub mod get_album;
pub mod get_duplication;
pub mod get_image;
pub mod get_import;
pub mod get_usage;
pub mod list_albums;
pub mod list_images;
pub mod list_tag_images;
pub mod list_tags;
pub mod list_trashed_images;
pub mod move_images;
pub mod query_tag_images;
pub mod restore_trashed_image;
pub mod rotate_secret;
pub mod scheduled_duplicate;
pub mod tag_images;
pub mod update_album;
pub mod update_image;
