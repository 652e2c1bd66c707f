//! The HTTP handler of each binary the template routes to.

use std::future::Future;
use std::pin::Pin;

use album_api::App;
use album_api::handlers::*;
use lambda_http::{Body, Request, Response};

/// The boxed future of an HTTP handler.
pub(super) type HttpFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Response<Body>, lambda_http::Error>> + Send + 'a>>;

/// An HTTP function's handler.
pub(super) type HttpHandler = for<'a> fn(&'a App, Request) -> HttpFuture<'a>;

/// The HTTP handler of a binary, by its name (as in the template's
/// `BuildProperties.Binary`): what the local dev server dispatches to.
pub(super) fn http_handler(binary: &str) -> Option<HttpHandler> {
    macro_rules! h {
        ($m:ident) => {{
            fn f(app: &App, req: Request) -> HttpFuture<'_> {
                Box::pin($m::handle(app, req))
            }
            Some(f as HttpHandler)
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
        "update_album" => h!(update_album),
        "create_tag" => h!(create_tag),
        "list_tags" => h!(list_tags),
        "tag_images" => h!(tag_images),
        "list_tag_images" => h!(list_tag_images),
        "delete_tag_image" => h!(delete_tag_image),
        "get_usage" => h!(get_usage),
        "get_image" => h!(get_image),
        "update_image" => h!(update_image),
        "delete_images" => h!(delete_images),
        "list_trashed_images" => h!(list_trashed_images),
        "restore_trashed_image" => h!(restore_trashed_image),
        "query_tag_images" => h!(query_tag_images),
        "duplicate_image" => h!(duplicate_image),
        "move_images" => h!(move_images),
        "embed_image" => h!(embed_image),
        "create_import" => h!(create_import),
        "get_import" => h!(get_import),
        _ => None,
    }
}
