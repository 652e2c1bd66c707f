//! One module per Lambda function: each adapts its event to the library and
//! back. The binaries in `src/bin` only wire them to the runtime.

pub mod cloudinary_notification;
pub mod create_album;
pub mod delete_image;
pub mod duplicate_album;
pub mod duplication_worker;
pub mod get_album;
pub mod get_duplication;
pub mod list_albums;
pub mod list_images;
pub mod scheduled_duplicate;

use std::future::Future;
use std::pin::Pin;

use lambda_http::{Body, Request, Response};

use crate::service::App;

/// The boxed future of an HTTP handler.
pub type HttpFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Response<Body>, lambda_http::Error>> + Send + 'a>>;

/// The HTTP handler of a binary, by its name (as in the template's
/// `BuildProperties.Binary`): what the local dev server dispatches to.
pub fn http_handler(binary: &str) -> Option<for<'a> fn(&'a App, Request) -> HttpFuture<'a>> {
    macro_rules! h {
        ($m:ident) => {{
            fn f(app: &App, req: Request) -> HttpFuture<'_> {
                Box::pin($m::handle(app, req))
            }
            Some(f as for<'a> fn(&'a App, Request) -> HttpFuture<'a>)
        }};
    }
    match binary {
        "duplicate_album" => h!(duplicate_album),
        "create_album" => h!(create_album),
        "get_album" => h!(get_album),
        "list_albums" => h!(list_albums),
        "list_images" => h!(list_images),
        "delete_image" => h!(delete_image),
        "cloudinary_notification" => h!(cloudinary_notification),
        "get_duplication" => h!(get_duplication),
        _ => None,
    }
}
