//! The pages' static files, compiled into the binary and served under fingerprinted names
//! (`site.3fa9c01b2d.css`): a file's name changes with its content, so browsers keep it for a
//! year (`immutable`) and never run a stale one.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// Each file: its name, its content type, its bytes.
const FILES: &[(&str, &str, &[u8])] =
    &[("site.css", "text/css; charset=utf-8", include_bytes!("../../web/assets/site.css"))];

/// Each file's fingerprinted name: `{stem}.{first 10 hex of its SHA-256}.{extension}`.
static NAMES: LazyLock<Vec<String>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(name, _, bytes)| {
            let digest = Sha256::digest(bytes);
            let hex: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
            match name.rsplit_once('.') {
                Some((stem, ext)) => format!("{stem}.{hex}.{ext}"),
                None => format!("{name}.{hex}"),
            }
        })
        .collect()
});

/// Where `name` (one of the files) is served: `/assets/{fingerprinted name}`.
pub fn url(name: &str) -> String {
    let index = FILES.iter().position(|(n, _, _)| *n == name).unwrap_or(0);
    format!("/assets/{}", NAMES[index])
}

/// A static file of the pages.
#[utoipa::path(
    get,
    operation_id = "pages_asset",
    path = "/assets/{file}",
    tag = "pages",
    params(("file" = String, Path, description = "The file's fingerprinted name, as the pages link it")),
    responses(
        (status = 200, description = "The file, cacheable for a year", content_type = "text/css"),
        (status = 404, description = "No such file (or an old fingerprint)", content_type = "text/plain"),
    )
)]
pub async fn file(Path(file): Path<String>) -> Response {
    let Some(index) = NAMES.iter().position(|n| *n == file) else {
        let response = (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "not found\n");
        return super::protect(response.into_response());
    };
    let (_, content_type, bytes) = FILES[index];
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
    ];
    super::protect((headers, bytes).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_files_name_carries_its_contents_fingerprint() {
        let url = url("site.css");
        assert!(
            url.starts_with("/assets/site.") && url.ends_with(".css") && url.len() == "/assets/site..css".len() + 10
        );
        assert_eq!(NAMES.len(), FILES.len());
    }
}
