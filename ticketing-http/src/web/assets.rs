//! The pages' static files, compiled into the binary and served under fingerprinted names
//! (`site.3fa9c01b2d.css`): a file's name changes with its content, so browsers keep it for a
//! year (`immutable`) and never run a stale one. Each file is also kept gzip-compressed (made
//! once, at first use) and sent so to a browser that accepts it.
//!
//! | file | what |
//! |---|---|
//! | `site.css` | the public pages' and the staff pages' stylesheet |
//! | `vue.js` | Vue 3's runtime-only build (`web/vendor/vue`, MIT, pinned by `scripts/vendor-web-assets`) |
//! | `staff.js` | the staff pages' sign-in and API calls |
//! | `scan.js` | the scanner |
//! | `admin.js` | the organiser's dashboard |
//! | `scan-worker.js` | the scanner's QR decoder thread: jsQR (`web/vendor/jsqr`, Apache-2.0) and the glue |

use std::io::Write;
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// Each file: its name, its content type, its parts (joined in order).
const SOURCES: &[(&str, &str, &[&[u8]])] = &[
    ("site.css", CSS, &[include_bytes!("../../web/assets/site.css")]),
    ("vue.js", JS, &[include_bytes!("../../web/vendor/vue/vue.runtime.global.prod.js")]),
    ("staff.js", JS, &[include_bytes!("../../web/assets/staff.js")]),
    ("scan.js", JS, &[include_bytes!("../../web/assets/scan.js")]),
    ("admin.js", JS, &[include_bytes!("../../web/assets/admin.js")]),
    (
        "scan-worker.js",
        JS,
        &[include_bytes!("../../web/vendor/jsqr/jsQR.js"), b"\n", include_bytes!("../../web/assets/scan-worker.js")],
    ),
];

/// A file as served.
struct Asset {
    /// Its fingerprinted name: `{stem}.{first 10 hex of its SHA-256}.{extension}`.
    name: String,
    content_type: &'static str,
    bytes: Vec<u8>,
    gzip: Vec<u8>,
}

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|(name, content_type, parts)| {
            let bytes = parts.concat();
            let digest = Sha256::digest(&bytes);
            let hex = hex::encode(&digest[..5]);
            let name = match name.rsplit_once('.') {
                Some((stem, ext)) => format!("{stem}.{hex}.{ext}"),
                None => format!("{name}.{hex}"),
            };
            let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
            // Writing to a Vec cannot fail.
            let gzip = encoder.write_all(&bytes).and_then(|()| encoder.finish()).unwrap_or_default();
            Asset { name, content_type, bytes, gzip }
        })
        .collect()
});

/// Where `name` (one of the files) is served: `/assets/{fingerprinted name}`.
pub fn url(name: &str) -> String {
    let index = SOURCES.iter().position(|(n, _, _)| *n == name).unwrap_or(0);
    format!("/assets/{}", ASSETS[index].name)
}

/// Compresses the files now (at the server's start) rather than on the first page's request.
pub fn prepare() {
    LazyLock::force(&ASSETS);
}

/// The weight `headers` give gzip (RFC 9110 §12.5.3): its own `q`, else the wildcard's, else 0.
fn gzip_weight(headers: &HeaderMap) -> f32 {
    let (mut own, mut any) = (None, None);
    for value in headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()) {
        for coding in value.split(',') {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let q = parts
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                .map_or(Some(1.0), |(_, v)| v.trim().parse::<f32>().ok().filter(|q| (0.0..=1.0).contains(q)))
                .unwrap_or(0.0);
            if name.eq_ignore_ascii_case("gzip") {
                own = Some(q);
            } else if name == "*" {
                any = Some(q);
            }
        }
    }
    own.or(any).unwrap_or(0.0)
}

/// Whether `headers` accept a gzip-encoded answer.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    gzip_weight(headers) > 0.0
}

/// A static file of the pages.
#[utoipa::path(
    get,
    operation_id = "pages_asset",
    path = "/assets/{file}",
    tag = "pages",
    params(("file" = String, Path, description = "The file's fingerprinted name, as the pages link it")),
    responses(
        (status = 200, description = "The file, cacheable for a year (gzip-encoded when accepted)", content_type = "text/css"),
        (status = 404, description = "No such file (or an old fingerprint)", content_type = "text/plain"),
    )
)]
pub async fn file(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == file) else {
        let response = (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "not found\n");
        return super::protect(response.into_response());
    };
    let gzip = accepts_gzip(&headers);
    let mut response = if gzip { asset.gzip.clone() } else { asset.bytes.clone() }.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if gzip {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    super::protect(response)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn a_files_name_carries_its_contents_fingerprint() {
        let url = url("site.css");
        assert!(
            url.starts_with("/assets/site.") && url.ends_with(".css") && url.len() == "/assets/site..css".len() + 10
        );
        assert_eq!(ASSETS.len(), SOURCES.len());
    }

    #[test]
    fn the_compressed_form_is_the_file() {
        for asset in ASSETS.iter() {
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(&asset.gzip[..]).read_to_end(&mut plain).expect("gzip");
            assert_eq!(plain, asset.bytes, "{}", asset.name);
            assert!(asset.gzip.len() < asset.bytes.len(), "{} does not shrink", asset.name);
        }
    }

    #[test]
    fn gzip_is_sent_only_when_accepted() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(value));
            accepts_gzip(&headers)
        };
        assert!(with("gzip, deflate, br"));
        assert!(with("br;q=1.0, GZIP;q=0.5"));
        assert!(with("*"));
        assert!(!with("gzip;q=0"));
        assert!(!with("gzip; Q=0.000"));
        assert!(!with("gzip;q=0, *"), "gzip's own weight wins over the wildcard's");
        assert!(with("br;q=1, *;q=0.1"));
        assert!(!with("*;q=0"));
        assert!(!with("br, zstd"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
