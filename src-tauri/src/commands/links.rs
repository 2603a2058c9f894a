//! Links in the preview: an external one opens in the system's browser or
//! mail app (after the UI asked). The opener plugin is called from here
//! only, with the URL checked first; the window has no opener permission,
//! so it cannot open files or other schemes.

use tauri::AppHandle;
use tauri_plugin_opener::OpenerExt;

use crate::error::{IpcError, IpcResult};

/// `url` if it is an `http`, `https` or `mailto` URL a browser can take;
/// anything else (files, other apps' schemes, `javascript:`) is refused.
pub fn external_url(url: &str) -> IpcResult<String> {
    let refused = || IpcError::new("invalid", format!("only web and mail links open outside the app, not {url:?}"));
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(refused());
    }
    let (scheme, rest) = url.split_once(':').ok_or_else(refused)?;
    match scheme.to_ascii_lowercase().as_str() {
        // A web link names a host.
        "http" | "https" if rest.len() > 2 && rest.starts_with("//") && !rest[2..].starts_with('/') => {}
        "mailto" if !rest.is_empty() => {}
        _ => return Err(refused()),
    }
    Ok(url.to_owned())
}

/// Open a web or mail link in the system's browser or mail app.
#[tauri::command]
#[specta::specta]
pub async fn open_external(app: AppHandle, url: String) -> IpcResult<()> {
    let url = external_url(&url)?;
    app.opener()
        .open_url(url, None::<&str>)
        .map_err(|e| IpcError::new("open_failed", format!("the link could not be opened: {e}")))
}

#[cfg(test)]
mod tests {
    use super::external_url;

    #[test]
    fn only_web_and_mail_links_open() {
        for ok in
            ["https://example.org/a?b=c#d", "http://localhost:8080", "HTTPS://EXAMPLE.ORG", "mailto:a@example.org"]
        {
            assert_eq!(external_url(ok).expect(ok), ok);
        }
        for bad in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "https:///etc",
            "https:",
            "mailto:",
            "outpost://note",
            "/home/me/notes.md",
            "https://example.org/a b",
            "https://example.org/\n",
            "",
        ] {
            assert_eq!(external_url(bad).expect_err(bad).code, "invalid", "{bad}");
        }
    }
}
