//! Sessions (raw episode logs and their annotations) to and from object storage, so that an annotator on another
//! machine can open what a desk recorded, and the desk gets the annotations back.
//!
//! Layout under the prefix:
//!
//! ```text
//! kinedesk-session.json     the session: name, robot, and every file (path → size, SHA-256); written last, with a
//!                           conditional write (another machine's push in between is re-read, never overwritten)
//! objects/<sha256>          the files' contents, named by their hash (an upload never replaces anything)
//! ```
//!
//! Both ends remember what they last exchanged with a remote (`.kinedesk-sync.json` in the session folder), so a
//! push or pull is a three-way comparison per file: changed here only → sent (push) or kept (pull); changed there
//! only → kept there (push) or fetched (pull); changed on both sides → a conflict, reported, and nothing is
//! overwritten (a pull puts the other side's version beside the file as `FILE.remote-<hash>`). An episode log that
//! only grew (pushed while it was still being recorded) is not a conflict. Nothing is ever deleted by a push or pull.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use object_store::{ObjectStoreExt as _, PutMode, UpdateVersion};
use sha2::Digest as _;

use crate::{
    FileEntry, Journal, Progress, PushOptions, Remote, RemoteOptions, StorageError, desk_name, download, hash_file, io,
    list_files, runtime, upload_file, write_conditionally,
};

/// The session manifest's name under the prefix.
pub const SESSION_MANIFEST: &str = "kinedesk-session.json";
/// Its format.
pub const SESSION_FORMAT: &str = "kinedesk-remote-session/1";
/// What a session folder remembers of its remotes.
pub const SYNC_FILE: &str = ".kinedesk-sync.json";

/// A file's content.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Blob {
    pub size: u64,
    pub sha256: String,
}

/// The remote session.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SessionManifest {
    pub format: String,
    pub name: String,
    pub robot: String,
    /// Path inside the session (`/`-separated) → content.
    pub files: BTreeMap<String, Blob>,
    /// The machine that wrote it last, and when.
    pub updated_by: String,
    pub updated_unix_s: f64,
}

/// What a session folder last exchanged with each remote: path → SHA-256.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct SyncState {
    remotes: BTreeMap<String, BTreeMap<String, String>>,
}

fn load_sync(session: &Path) -> SyncState {
    std::fs::read(session.join(SYNC_FILE)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

fn save_sync(session: &Path, state: &SyncState) -> Result<(), StorageError> {
    let path = session.join(SYNC_FILE);
    let temporary = session.join(format!("{SYNC_FILE}.tmp"));
    std::fs::write(&temporary, serde_json::to_vec_pretty(state).unwrap_or_default()).map_err(|e| io(&temporary, &e))?;
    std::fs::rename(&temporary, &path).map_err(|e| io(&path, &e))
}

/// The files of a session that travel: `session.json` and everything under `episodes/` (logs, annotations), not
/// the trash, exports, or files being written.
pub fn session_files(session: &Path) -> Result<Vec<FileEntry>, StorageError> {
    kinedesk_sessions::episode::SessionDir::open(session).map_err(|e| StorageError::Dataset(e.to_string()))?;
    Ok(list_files(session)?
        .into_iter()
        .filter(|f| f.path == "session.json" || f.path.starts_with("episodes/"))
        .filter(|f| !(f.path.ends_with(".tmp") || f.path.ends_with(".partial") || f.path.contains(".remote-")))
        .collect())
}

/// The source name of a session's dataset pushes ([`crate::PushOptions::source`]): its folder name, this desk, and
/// a short hash of its full path — the same session on the same desk is the same source.
#[must_use]
pub fn source_of(session: &Path) -> String {
    let canonical = std::fs::canonicalize(session).unwrap_or_else(|_| session.to_owned());
    let digest = sha2::Sha256::digest(canonical.to_string_lossy().as_bytes());
    format!(
        "session {} on {} ({})",
        session.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        desk_name(),
        &crate::hex(&digest)[..12]
    )
}

fn is_log(path: &str) -> bool {
    path.ends_with(".kdlog")
}

/// Whether the first `prefix.size` bytes of `local` hash to `prefix.sha256` (a log that only grew).
fn starts_with(local: &Path, prefix: &Blob) -> bool {
    crate::hash_prefix(local, prefix.size).is_ok_and(|(size, sha)| size == prefix.size && sha == prefix.sha256)
}

fn object_key(sha256: &str) -> String {
    format!("objects/{sha256}")
}

async fn read_session_manifest(remote: &Remote) -> Result<Option<(SessionManifest, Option<String>)>, StorageError> {
    crate::read_json(remote, SESSION_MANIFEST, "a KineDesk session").await
}

/// What a session push did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct SessionPushSummary {
    pub remote: String,
    pub files: usize,
    /// Files sent (new or changed here).
    pub uploaded: Vec<String>,
    /// Files already the same there.
    pub unchanged: usize,
    /// Files changed there and not here (left as they are there: pull to get them).
    pub newer_there: Vec<String>,
    /// Files changed on both sides (left as they are on both: nothing overwritten).
    pub conflicts: Vec<String>,
    pub bytes_sent: u64,
    pub manifest_attempts: usize,
    pub seconds: f64,
}

/// Pushes the session folder `session` to `url`.
pub fn push_session(
    session: &Path,
    url: &str,
    remote: &RemoteOptions,
    options: &PushOptions,
    progress: Progress<'_>,
) -> Result<SessionPushSummary, StorageError> {
    let started = Instant::now();
    let files = session_files(session)?;
    let info: kinedesk_sessions::episode::SessionInfo = std::fs::read(session.join("session.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| kinedesk_sessions::episode::SessionInfo {
            name: session.file_name().map_or_else(|| "session".into(), |n| n.to_string_lossy().into_owned()),
            robot: String::new(),
            created_unix_s: 0,
        });
    let remote = Remote::open(url, remote)?;
    let mut sync = load_sync(session);
    let base = sync.remotes.get(&remote.display).cloned().unwrap_or_default();
    let mut summary = SessionPushSummary { remote: remote.display.clone(), files: files.len(), ..Default::default() };
    let journal_name = format!("session-{}.json", &crate::hex(&sha2::Sha256::digest(remote.display.as_bytes()))[..16]);
    let mut journal = Journal::load(&options.journal_dir.join(journal_name), &remote.display)?;
    let sent = AtomicU64::new(0);
    let synced = runtime()?.block_on(async {
        for attempt in 1..=30 {
            let current = read_session_manifest(&remote).await?;
            let (mut manifest, mode) = match current {
                Some((manifest, e_tag)) => (manifest, PutMode::Update(UpdateVersion { e_tag, version: None })),
                None => (
                    SessionManifest {
                        format: SESSION_FORMAT.into(),
                        name: info.name.clone(),
                        robot: info.robot.clone(),
                        ..SessionManifest::default()
                    },
                    PutMode::Create,
                ),
            };
            let (mut uploads, mut unchanged, mut newer_there, mut conflicts) = (Vec::new(), 0, Vec::new(), Vec::new());
            for file in &files {
                let there = manifest.files.get(&file.path);
                let last = base.get(&file.path);
                match there {
                    Some(blob) if blob.sha256 == file.sha256 => unchanged += 1,
                    None => uploads.push(file),
                    Some(blob) if last == Some(&blob.sha256) => uploads.push(file),
                    Some(_) if last == Some(&file.sha256) => newer_there.push(file.path.clone()),
                    Some(blob)
                        if is_log(&file.path)
                            && file.size > blob.size
                            && starts_with(&session.join(&file.path), blob) =>
                    {
                        uploads.push(file);
                    }
                    Some(_) => conflicts.push(file.path.clone()),
                }
            }
            let total: u64 = uploads.iter().map(|f| f.size).sum();
            let done = AtomicU64::new(0);
            for file in &uploads {
                if options.interrupted() {
                    return Err(crate::interrupted(&remote, &sent));
                }
                let object = object_key(&file.sha256);
                let key = remote.key(&object);
                let there = remote.store.head(&key).await;
                if !there.is_ok_and(|meta| meta.size == file.size) {
                    let entry = FileEntry { path: object.clone(), size: file.size, sha256: file.sha256.clone() };
                    let before = done.load(Ordering::Relaxed);
                    upload_file(&remote, &key, &session.join(&file.path), &entry, options, &mut journal, &sent, &|s| {
                        progress(before + s, total);
                    })
                    .await?;
                    journal.forget(&object);
                }
                done.fetch_add(file.size, Ordering::Relaxed);
                progress(done.load(Ordering::Relaxed), total);
            }
            for file in &uploads {
                manifest.files.insert(file.path.clone(), Blob { size: file.size, sha256: file.sha256.clone() });
            }
            manifest.updated_by = desk_name();
            manifest.updated_unix_s =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
            // Nothing new: the manifest stays as it is (no write, no conflict to lose).
            let unchanged_there = uploads.is_empty() && !matches!(mode, PutMode::Create);
            if !unchanged_there && !write_conditionally(&remote, SESSION_MANIFEST, &manifest, mode, attempt).await? {
                continue;
            }
            summary.manifest_attempts = attempt;
            summary.uploaded = uploads.iter().map(|f| f.path.clone()).collect();
            summary.unchanged = unchanged;
            summary.newer_there = newer_there;
            summary.conflicts = conflicts;
            return Ok(manifest);
        }
        Err(StorageError::Store {
            what: remote.display.clone(),
            message: "the session manifest kept changing: 30 tries".into(),
        })
    })?;
    // What is the same on both sides now is the new common ground.
    let mut common = base;
    for file in &files {
        if synced.files.get(&file.path).is_some_and(|b| b.sha256 == file.sha256) {
            common.insert(file.path.clone(), file.sha256.clone());
        }
    }
    sync.remotes.insert(remote.display.clone(), common);
    save_sync(session, &sync)?;
    journal.remove();
    summary.bytes_sent = sent.load(Ordering::Relaxed);
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// What a session pull did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct SessionPullSummary {
    pub remote: String,
    pub files: usize,
    /// Files fetched (new there, or changed there and not here).
    pub fetched: Vec<String>,
    pub unchanged: usize,
    /// Files changed here and not there (kept: push to send them).
    pub newer_here: Vec<String>,
    /// Files changed on both sides: the local file is kept, the remote one written beside it (`FILE.remote-<hash>`).
    pub conflicts: Vec<String>,
    pub bytes_received: u64,
    /// Whether the folder was created by this pull.
    pub created: bool,
    pub seconds: f64,
}

/// Pulls the session at `url` into `out`: a new folder, or a session folder that was pushed there or pulled from
/// there before (then only what changed there is fetched, and nothing changed here is overwritten).
pub fn pull_session(
    url: &str,
    out: &Path,
    remote: &RemoteOptions,
    progress: Progress<'_>,
) -> Result<SessionPullSummary, StorageError> {
    let started = Instant::now();
    let remote = Remote::open(url, remote)?;
    let created = !out.exists();
    if !created && kinedesk_sessions::episode::SessionDir::open(out).is_err() {
        return Err(StorageError::Refused(format!(
            "{} exists and is not a KineDesk session: pull into a new folder",
            out.display()
        )));
    }
    // A new session is pulled into a scratch folder first (kept if interrupted: the next pull resumes).
    let target: PathBuf = if created { out.with_extension("pulling") } else { out.to_owned() };
    let mut sync = load_sync(&target);
    let base = sync.remotes.get(&remote.display).cloned().unwrap_or_default();
    let mut summary = SessionPullSummary { remote: remote.display.clone(), created, ..Default::default() };
    let mut common = base.clone();
    runtime()?.block_on(async {
        let Some((manifest, _)) = read_session_manifest(&remote).await? else {
            return Err(StorageError::Dataset(format!(
                "no session at {} (no {SESSION_MANIFEST}: nothing was pushed there)",
                remote.display
            )));
        };
        summary.files = manifest.files.len();
        let total: u64 = manifest.files.values().map(|b| b.size).sum();
        let mut done = 0u64;
        for (path, blob) in &manifest.files {
            if path.split('/').any(|c| c == ".." || c.is_empty()) || path.starts_with('/') {
                return Err(StorageError::Dataset(format!("{}: refusing the file name {path:?}", remote.display)));
            }
            let local = target.join(path);
            let here = if local.is_file() { Some(hash_file(&local)?) } else { None };
            let entry = FileEntry { path: path.clone(), size: blob.size, sha256: blob.sha256.clone() };
            let object = object_key(&blob.sha256);
            match &here {
                Some((_, sha)) if *sha == blob.sha256 => {
                    summary.unchanged += 1;
                    common.insert(path.clone(), sha.clone());
                }
                Some(_) if !created && base.get(path) == Some(&blob.sha256) => summary.newer_here.push(path.clone()),
                // Unchanged here since the last exchange (or a scratch folder's leftover): the remote one replaces it.
                Some((_, sha)) if created || base.get(path) == Some(sha) => {
                    download(&remote, &object, &local, &entry).await?;
                    summary.bytes_received += blob.size;
                    summary.fetched.push(path.clone());
                    common.insert(path.clone(), blob.sha256.clone());
                }
                Some(_) => {
                    let beside = PathBuf::from(format!("{}.remote-{}", local.display(), &blob.sha256[..8]));
                    if !beside.is_file() {
                        download(&remote, &object, &beside, &entry).await?;
                        summary.bytes_received += blob.size;
                    }
                    summary.conflicts.push(path.clone());
                }
                None => {
                    download(&remote, &object, &local, &entry).await?;
                    summary.bytes_received += blob.size;
                    summary.fetched.push(path.clone());
                    common.insert(path.clone(), blob.sha256.clone());
                }
            }
            done += blob.size;
            progress(done, total);
        }
        Ok(())
    })?;
    sync.remotes.insert(remote.display.clone(), common);
    save_sync(&target, &sync)?;
    if created {
        std::fs::create_dir_all(target.join("episodes")).map_err(|e| io(&target, &e))?;
        std::fs::rename(&target, out).map_err(|e| io(out, &e))?;
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}
