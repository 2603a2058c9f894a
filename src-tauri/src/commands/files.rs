//! Attached files in the app: a file pasted or dropped into the editor
//! arrives here as bytes and is sealed into the store by the core
//! (`Vault::attach_file`); the editor inserts the reference this returns
//! at its cursor. Saving a file goes only to a path the app's own picker
//! returned (as import and export do, [`Picked`]). The preview reads
//! images through the `outpost-file` protocol ([`serve_file`]), never
//! through a command: decrypted bytes go from the store to the webview's
//! memory and nowhere else.

use std::path::PathBuf;

use outpost_core::files::{self, FileCounts, FileId, FileInfo, MAX_FILE_BYTES};
use outpost_core::{SharedVault, Vault};
use serde::Serialize;
use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;

use super::transfer::{Picked, PICK_ENV};
use crate::error::{IpcError, IpcResult};
use crate::state::AppState;

/// The URI scheme the preview loads images from (`outpost-file://localhost/ID`
/// on Linux and macOS, `http://outpost-file.localhost/ID` on Windows).
pub const PROTOCOL: &str = "outpost-file";

/// A file as the app lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct NoteFile {
    /// 64 hex digits.
    pub id: String,
    pub name: String,
    pub mime: String,
    /// Plaintext bytes.
    pub size: u64,
    /// `upload`, `synced`, `remote` (on the server only) or `removing`.
    pub state: String,
    /// Every chunk is on this device: it can be shown or saved offline.
    pub local: bool,
    pub chunk_count: u32,
    pub sent_chunks: u32,
    /// The Markdown that shows it in a note (`![name](outpost-file:ID)`
    /// for an image, a link otherwise).
    pub reference: String,
}

impl From<FileInfo> for NoteFile {
    fn from(f: FileInfo) -> Self {
        Self {
            id: f.id.hex(),
            reference: files::reference(&f.id, &f.name, &f.mime),
            local: f.local_chunks >= f.chunk_count,
            name: f.name,
            mime: f.mime,
            size: f.size,
            state: f.state.as_str().to_owned(),
            chunk_count: f.chunk_count,
            sent_chunks: f.sent_chunks,
        }
    }
}

/// Files waiting to move, for the status bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
pub struct FileProgress {
    pub upload_files: u64,
    pub upload_bytes: u64,
    pub download_files: u64,
    pub download_bytes: u64,
    pub cached_bytes: u64,
}

impl From<FileCounts> for FileProgress {
    fn from(c: FileCounts) -> Self {
        Self {
            upload_files: c.upload_files,
            upload_bytes: c.upload_bytes,
            download_files: c.download_files,
            download_bytes: c.download_bytes,
            cached_bytes: c.cached_bytes,
        }
    }
}

fn parse_file_id(id: &str) -> IpcResult<FileId> {
    FileId::parse(id).ok_or_else(|| IpcError::new("invalid", "that is not a file id (64 hex digits)"))
}

/// The size check, before the bytes go anywhere.
fn check_size(len: usize) -> IpcResult<()> {
    if len as u64 > MAX_FILE_BYTES {
        return Err(IpcError::new(
            "too_large",
            format!(
                "the file is {:.1} MiB; a file can be at most {} MiB. Nothing was added.",
                len as f64 / (1024.0 * 1024.0),
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        ));
    }
    Ok(())
}

/// Seal `bytes` into the store and attach them to `note_id`, leaving its
/// body alone (the editor inserts the reference).
pub fn attach(vault: &mut Vault, note_id: &str, name: &str, bytes: &[u8]) -> IpcResult<NoteFile> {
    check_size(bytes.len())?;
    let note_id = Vault::parse_id(note_id)?;
    Ok(vault.attach_file(note_id, name, bytes)?.into())
}

/// Attach a pasted or dropped file to a note; its reference is in the
/// answer, for the editor to insert. Over 100 MiB: refused, nothing written.
#[tauri::command]
#[specta::specta]
pub async fn add_file(
    state: State<'_, AppState>,
    note_id: String,
    name: String,
    bytes: Vec<u8>,
) -> IpcResult<NoteFile> {
    check_size(bytes.len())?;
    let vault = state.vault()?;
    let file = tauri::async_runtime::spawn_blocking(move || attach(&mut vault.lock(), &note_id, &name, &bytes))
        .await
        .map_err(|e| IpcError::new("internal", format!("adding the file stopped: {e}")))??;
    state.changed().await;
    Ok(file)
}

/// The files a note references.
#[tauri::command]
#[specta::specta]
pub async fn note_files(state: State<'_, AppState>, note_id: String) -> IpcResult<Vec<NoteFile>> {
    let id = Vault::parse_id(&note_id)?;
    state.with_vault(|v| Ok(v.files_of_note(id)?.into_iter().map(NoteFile::from).collect()))
}

/// One file, by id.
#[tauri::command]
#[specta::specta]
pub async fn file_info(state: State<'_, AppState>, id: String) -> IpcResult<NoteFile> {
    let id = parse_file_id(&id)?;
    state.with_vault(|v| Ok(v.file_info(&id)?.into()))
}

/// Files waiting to upload or download, with bytes.
#[tauri::command]
#[specta::specta]
pub async fn file_counts(state: State<'_, AppState>) -> IpcResult<FileProgress> {
    state.with_vault(|v| Ok(v.file_counts()?.into()))
}

#[tauri::command]
#[specta::specta]
pub async fn get_keep_all_files(state: State<'_, AppState>) -> IpcResult<bool> {
    state.with_vault(|v| v.keep_all_files())
}

/// "Keep all files on this device": every file is downloaded at sync.
#[tauri::command]
#[specta::specta]
pub async fn set_keep_all_files(state: State<'_, AppState>, keep: bool) -> IpcResult<()> {
    state.with_vault(|v| v.set_keep_all_files(keep))?;
    state.changed().await;
    Ok(())
}

/// Ask the picker where to save file `id`; `None` when the user cancelled.
/// The path it returns is the only one [`save_file`] accepts.
#[tauri::command]
#[specta::specta]
pub async fn pick_save_path(app: AppHandle, picked: State<'_, Picked>, name: String) -> IpcResult<Option<String>> {
    let path = match std::env::var_os(PICK_ENV) {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            let dialog = app.dialog().file().set_title("Save the file").set_file_name(files::clean_name(&name));
            let chosen = tauri::async_runtime::spawn_blocking(move || dialog.blocking_save_file())
                .await
                .map_err(|e| IpcError::new("internal", format!("the picker stopped: {e}")))?;
            chosen
                .map(|f| f.into_path())
                .transpose()
                .map_err(|e| IpcError::new("invalid", format!("that choice is not a local path: {e}")))?
        }
    };
    Ok(path.map(|p| {
        let text = p.to_string_lossy().into_owned();
        picked.allow(p);
        text
    }))
}

/// Write file `id` to `path` (one the picker returned): into a temporary
/// file beside it, renamed into place only once the whole file checked
/// out. A file not on this device yet is asked for (code
/// `file_not_downloaded`; try again once it arrived).
pub fn save_to(vault: &SharedVault, id: &FileId, path: &std::path::Path) -> IpcResult<u64> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| IpcError::new("io", format!("cannot write in {}: {e}", dir.display())))?;
    let written = vault.with(|v| {
        let r = v.write_file_to(id, tmp.as_file_mut());
        if let Err(outpost_core::Error::FileNotDownloaded { .. }) = &r {
            v.want_file(id)?;
        }
        r
    })?;
    tmp.as_file().sync_all().map_err(|e| IpcError::new("io", format!("writing the file: {e}")))?;
    tmp.persist(path).map_err(|e| IpcError::new("io", format!("cannot save to {}: {}", path.display(), e.error)))?;
    Ok(written)
}

#[tauri::command]
#[specta::specta]
pub async fn save_file(
    state: State<'_, AppState>,
    picked: State<'_, Picked>,
    id: String,
    path: String,
) -> IpcResult<u64> {
    let id = parse_file_id(&id)?;
    let path = picked.check(&path)?;
    let vault = state.vault()?;
    let r = tauri::async_runtime::spawn_blocking(move || save_to(&vault, &id, &path))
        .await
        .map_err(|e| IpcError::new("internal", format!("saving stopped: {e}")))?;
    if matches!(&r, Err(e) if e.code == "file_not_downloaded") {
        state.changed().await;
    }
    r
}

/// Media types the preview may show, as the protocol answers them. SVG is
/// left out: it can carry script and links, and the preview has no need
/// for it.
pub fn image_type(mime: &str) -> Option<&'static str> {
    match mime {
        "image/png" => Some("image/png"),
        "image/jpeg" => Some("image/jpeg"),
        "image/gif" => Some("image/gif"),
        "image/webp" => Some("image/webp"),
        "image/avif" => Some("image/avif"),
        _ => None,
    }
}

/// The file id in a request to the protocol: the path's last segment
/// (`outpost-file://localhost/ID`, `http://outpost-file.localhost/ID`), or
/// the host (`outpost-file://ID`).
pub fn id_in_uri(uri: &tauri::http::Uri) -> Option<FileId> {
    let path = uri.path().trim_matches('/');
    if !path.is_empty() {
        return FileId::parse(path);
    }
    uri.host().and_then(FileId::parse)
}

/// What the protocol answers: status, content type, body.
#[derive(Debug, PartialEq, Eq)]
pub struct Served {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Served {
    fn text(status: u16, body: &str) -> Self {
        Self { status, content_type: "text/plain; charset=utf-8", body: body.as_bytes().to_vec() }
    }
}

/// Answer a request of the `outpost-file` protocol from `vault`: the
/// decrypted bytes of an image on this device (checked whole), 503 with
/// the download asked for when it is not here yet (the preview retries),
/// 404 for an unknown id, 415 for a file that is not an image. The second
/// value says the engine should be woken (a download was asked for).
pub fn serve_file(vault: &mut Vault, uri: &tauri::http::Uri) -> (Served, bool) {
    let Some(id) = id_in_uri(uri) else { return (Served::text(400, "not a file id"), false) };
    let info = match vault.file_info(&id) {
        Ok(i) if i.state != files::FileState::Removing => i,
        Ok(_) | Err(outpost_core::Error::FileNotFound(_)) => return (Served::text(404, "no such file"), false),
        Err(e) => {
            tracing::warn!(error = %e, "file protocol");
            return (Served::text(500, "the file could not be read"), false);
        }
    };
    let Some(content_type) = image_type(&info.mime) else {
        return (Served::text(415, "only images are shown in the preview"), false);
    };
    if info.local_chunks < info.chunk_count {
        return match vault.want_file(&id) {
            Ok(()) => (Served::text(503, "downloading"), true),
            Err(e) => {
                tracing::warn!(error = %e, "file protocol");
                (Served::text(500, "the file could not be asked for"), false)
            }
        };
    }
    match vault.read_file(&id) {
        Ok(body) => (Served { status: 200, content_type, body }, false),
        Err(outpost_core::Error::FileNotDownloaded { .. }) => {
            let _ = vault.want_file(&id);
            (Served::text(503, "downloading"), true)
        }
        Err(e) => {
            tracing::warn!(error = %e, "file protocol");
            (Served::text(500, "the file could not be read"), false)
        }
    }
}

/// The `outpost-file` protocol handler: the vault's work on a blocking
/// thread, the answer with no caching and no sniffing.
pub fn protocol_handler(
    ctx: tauri::UriSchemeContext<'_, tauri::Wry>,
    request: tauri::http::Request<Vec<u8>>,
    responder: tauri::UriSchemeResponder,
) {
    use tauri::Manager;
    let app = ctx.app_handle().clone();
    let uri = request.uri().clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        let served = match state.vault() {
            Err(_) => (Served::text(503, "locked"), false),
            Ok(vault) => tauri::async_runtime::spawn_blocking(move || serve_file(&mut vault.lock(), &uri))
                .await
                .unwrap_or_else(|_| (Served::text(500, "the file could not be read"), false)),
        };
        let (served, wake) = served;
        if wake {
            state.changed().await;
        }
        let response = tauri::http::Response::builder()
            .status(served.status)
            .header("Content-Type", served.content_type)
            .header("X-Content-Type-Options", "nosniff")
            .header("Cache-Control", "no-store")
            .body(served.body);
        match response {
            Ok(r) => responder.respond(r),
            Err(e) => tracing::warn!(error = %e, "file protocol response"),
        }
    });
}

#[cfg(test)]
mod tests {
    use outpost_core::keys::MemoryStore;
    use outpost_core::{NoteDraft, Vault};

    use super::*;

    const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3];

    fn vault(dir: &std::path::Path) -> (Vault, String) {
        let mut v = Vault::open(&dir.join("store"), &MemoryStore::new()).expect("open");
        let n = v.create(NoteDraft { title: "pics".into(), body: "before".into(), ..Default::default() }).expect("n");
        (v, n.id.to_string())
    }

    #[test]
    fn attach_leaves_the_body_and_returns_the_reference() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut v, note) = vault(dir.path());
        let f = attach(&mut v, &note, "shot.png", PNG).expect("attach");
        assert_eq!(f.mime, "image/png");
        assert_eq!(f.size, PNG.len() as u64);
        assert!(f.local);
        assert_eq!(f.reference, format!("![shot.png](outpost-file:{})", f.id));
        let id = Vault::parse_id(&note).expect("id");
        assert_eq!(v.get(id).expect("note").body, "before", "the editor inserts the reference");
        assert_eq!(v.files_of_note(id).expect("files").len(), 1);
        assert_eq!(v.file_counts().expect("counts").upload_files, 1);
    }

    #[test]
    fn a_file_over_the_limit_is_refused_before_anything_is_written() {
        assert_eq!(check_size(MAX_FILE_BYTES as usize + 1).expect_err("too large").code, "too_large");
        assert!(check_size(MAX_FILE_BYTES as usize).is_ok());
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut v, note) = vault(dir.path());
        let big = vec![0u8; MAX_FILE_BYTES as usize + 1];
        let e = attach(&mut v, &note, "big.bin", &big).expect_err("too large");
        assert_eq!(e.code, "too_large");
        assert!(e.message.contains("100 MiB"), "{}", e.message);
        assert_eq!(v.file_counts().expect("counts"), FileCounts::default());
        assert_eq!(attach(&mut v, "nope", "a.png", PNG).expect_err("bad note").code, "invalid_note_id");
    }

    #[test]
    fn the_protocol_serves_images_only_and_checks_ids() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut v, note) = vault(dir.path());
        let img = attach(&mut v, &note, "a.png", PNG).expect("png");
        let doc = attach(&mut v, &note, "a.pdf", b"%PDF-1.4").expect("pdf");
        let svg = attach(&mut v, &note, "a.svg", b"<svg onload='x()'/>").expect("svg");
        let uri = |s: String| s.parse::<tauri::http::Uri>().expect("uri");
        let (ok, wake) = serve_file(&mut v, &uri(format!("outpost-file://localhost/{}", img.id)));
        assert_eq!((ok.status, ok.content_type, ok.body.as_slice(), wake), (200, "image/png", PNG, false));
        let (win, _) = serve_file(&mut v, &uri(format!("http://outpost-file.localhost/{}", img.id)));
        assert_eq!(win.status, 200);
        let (host, _) = serve_file(&mut v, &uri(format!("outpost-file://{}", img.id)));
        assert_eq!(host.status, 200);
        assert_eq!(serve_file(&mut v, &uri(format!("outpost-file://localhost/{}", doc.id))).0.status, 415);
        assert_eq!(serve_file(&mut v, &uri(format!("outpost-file://localhost/{}", svg.id))).0.status, 415);
        assert_eq!(serve_file(&mut v, &uri("outpost-file://localhost/..%2Fetc".into())).0.status, 400);
        let unknown = "ab".repeat(32);
        assert_eq!(serve_file(&mut v, &uri(format!("outpost-file://localhost/{unknown}"))).0.status, 404);
    }

    /// The CSP lets the protocol's images in and nothing else of it: not
    /// as a fetch, a frame or a script.
    #[test]
    fn the_csp_allows_the_protocol_for_images_only() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let conf: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root.join("tauri.conf.json")).expect("conf")).expect("json");
        let csp = conf["app"]["security"]["csp"].as_object().expect("csp");
        for (directive, value) in csp {
            let value = value.as_str().expect("string");
            let has = value.contains("outpost-file");
            assert_eq!(has, directive == "img-src", "{directive}: {value}");
        }
        let img = csp["img-src"].as_str().expect("img-src");
        assert!(img.contains("outpost-file:") && img.contains("http://outpost-file.localhost"), "{img}");
    }

    #[test]
    fn save_writes_the_whole_file_to_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut v, note) = vault(dir.path());
        let f = attach(&mut v, &note, "a.png", PNG).expect("png");
        let shared = SharedVault::new(v);
        let out = dir.path().join("out.png");
        let id = FileId::parse(&f.id).expect("id");
        assert_eq!(save_to(&shared, &id, &out).expect("save"), PNG.len() as u64);
        assert_eq!(std::fs::read(&out).expect("read"), PNG);
        let unknown = FileId([7; 32]);
        assert_eq!(save_to(&shared, &unknown, &dir.path().join("x")).expect_err("unknown").code, "file_not_found");
        assert!(!dir.path().join("x").exists());
    }
}
