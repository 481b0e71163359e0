//! The operator web console at `/ui`: a fixed table of static files
//! compiled into the binary (`include_str!` of `crates/weir-api/ui/`),
//! served with strict security headers. The console itself is plain
//! HTML, CSS and JavaScript modules that call the native `/v1` API with a
//! bearer token the browser keeps in `sessionStorage`; nothing here reads
//! a token or the store.
//!
//! Why a table and not a directory: a request path is only ever compared
//! with the names below, so `..`, encoded dots or slashes, and absolute
//! paths have nothing to walk; anything else under `/ui` is 404.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

/// Every file the console has; `index.html` is also `/ui` and `/ui/`.
const ASSETS: &[Asset] = &[
    Asset {
        name: "index.html",
        content_type: "text/html; charset=utf-8",
        body: include_str!("../ui/index.html"),
    },
    Asset {
        name: "console.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../ui/console.css"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../ui/app.js"),
    },
    Asset {
        name: "api.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../ui/api.js"),
    },
    Asset {
        name: "dom.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../ui/dom.js"),
    },
    Asset {
        name: "chart.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../ui/chart.js"),
    },
    Asset {
        name: "watch.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../ui/watch.js"),
    },
    Asset {
        name: "admin.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../ui/admin.js"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_str!("../ui/favicon.svg"),
    },
];

/// The console's Content-Security-Policy: its own files only, no inline
/// script or style (so a tenant string that reached the page as markup
/// could still not run), no frames, no plugins, no `<base>` rewrites,
/// API calls to this origin only.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'none'; frame-ancestors 'none'";

/// What every other answer on the API address carries: it is data (JSON,
/// XML, text) and never a page, so a browser shown one directly runs and
/// loads nothing from it. The console shares this origin, and its token
/// sits in the origin's `sessionStorage`: a tenant string that some
/// answer echoed unescaped must not become script here.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Middleware for the whole API address (native, dialects, console):
/// answers that set no policy of their own get [`API_CSP`], and all get
/// `nosniff`.
pub async fn harden(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(API_CSP),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The routes of the console: `/ui`, `/ui/` and `/ui/{file}`.
pub fn router() -> Router {
    Router::new()
        .route("/ui", get(index))
        .route("/ui/", get(index))
        .route("/ui/{*path}", get(asset))
}

async fn index() -> Response {
    serve(&ASSETS[0])
}

/// The name is the raw request path after `/ui/`, never percent-decoded:
/// an encoded name matches nothing, so it cannot spell a way out either.
async fn asset(uri: Uri) -> Response {
    let name = uri.path().strip_prefix("/ui/").unwrap_or_default();
    match ASSETS.iter().find(|a| a.name == name) {
        Some(a) => serve(a),
        None => not_found(),
    }
}

fn serve(a: &Asset) -> Response {
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(a.content_type),
        )],
        a.body,
    )
        .into_response();
    secure(response.headers_mut());
    response
}

fn not_found() -> Response {
    let mut response = (
        StatusCode::NOT_FOUND,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        "no such file in the console\n",
    )
        .into_response();
    secure(response.headers_mut());
    response
}

/// The headers every `/ui` answer carries, 404s included.
fn secure(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // The files change only with the binary; revalidating each load keeps
    // an upgraded server from running a cached older script against a
    // newer API, and a shared cache never keeps a copy.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
}
