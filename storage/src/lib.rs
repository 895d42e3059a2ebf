//! `kinedesk-storage`: LeRobot datasets (this file) and sessions ([`session`]) to and from object storage — AWS S3
//! and S3-compatible stores (MinIO, Ceph, R2…), Google Cloud Storage, Azure Blob Storage — through `object_store`.
//!
//! Layout under `s3://BUCKET/PREFIX/`:
//!
//! ```text
//! kinedesk-manifest.json            written last: the pushes ("parts") that make the dataset, with every file's
//!                                   size and SHA-256; a prefix without it holds no (finished) dataset
//! parts/<part-id>/…                 one pushed LeRobot v3.0 dataset, as it is on disk
//! ```
//!
//! - **Push** uploads a dataset as a part (`part-` + 16 hex digits of the hash of its file list: the same dataset is
//!   the same part, so pushing again is a no-op and two desks can never overwrite each other's files). Files larger
//!   than the part size go up as multipart uploads with bounded concurrency (memory: concurrency × part size).
//!   A journal beside the user's cache (`~/.cache/kinedesk/push/<part>.json`) records each part as the store
//!   confirms it and each finished file, so an interrupted push continues where it stopped; stopped through
//!   [`PushOptions::cancel`] (Ctrl+C, the window's Stop) the parts in flight finish first and nothing is sent twice,
//!   killed outright the parts in flight (at most the concurrency) go again.
//! - **Append** adds the part to an existing manifest with a conditional write (`If-Match` on its ETag; `If-None-Match`
//!   for the first), re-reading and retrying when another desk got there first: both sets of episodes end up listed.
//! - **Pull** downloads every part (each file checked against its size and hash; files already there and correct
//!   are kept, so a pull resumes too) and, for more than one part, merges them into one dataset (episodes, frames,
//!   tasks re-indexed, statistics recomputed: `kinedesk dataset merge`).
//! - Credentials come from the usual environment variables (`AWS_*`, `GOOGLE_*`, `AZURE_*`) or an AWS profile
//!   ([`profile`]); they are never written to logs, files or messages.

mod journal;
pub mod profile;
pub mod session;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, S3ConditionalPut};
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt as _, PutMode, PutOptions, PutPayload, UpdateVersion};
use sha2::Digest as _;

pub use journal::{Journal, confirmed_parts};

/// The manifest's name under the prefix.
pub const MANIFEST: &str = "kinedesk-manifest.json";
/// The manifest format written.
pub const FORMAT: &str = "kinedesk-remote-dataset/1";
/// Default multipart part size (S3's minimum is 5 MiB for all but the last part).
pub const PART_SIZE: usize = 8 << 20;
/// Default parts in flight.
pub const CONCURRENCY: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{0}")]
    Url(String),
    #[error(
        "{what}: permission denied — check the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) and the bucket's policy"
    )]
    Denied { what: String },
    #[error(
        "{what}: the credentials were not accepted (wrong or expired key: renew them and run the same command again; a push continues where it stopped)"
    )]
    Credentials { what: String },
    #[error("{what}: no such bucket")]
    NoBucket { what: String },
    #[error(
        "{what}: cannot reach the storage ({message}); run the same command again once it is back — a push continues where it stopped"
    )]
    Network { what: String, message: String },
    #[error("{what}: {message}")]
    Store { what: String, message: String },
    #[error("{0}")]
    Refused(String),
    #[error(
        "push to {what} interrupted after {sent_mb:.1} MB sent, every finished part journaled: push again (run the same command again) to continue"
    )]
    Interrupted { what: String, sent_mb: f64, sent_bytes: u64 },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{0}")]
    Dataset(String),
}

fn io(path: &Path, error: &dyn std::fmt::Display) -> StorageError {
    StorageError::Io { path: path.display().to_string(), message: error.to_string() }
}

/// Where to reach the store.
#[derive(Clone, Debug, Default)]
pub struct RemoteOptions {
    /// An S3-compatible or Azure endpoint (`https://…`, or `http://` on loopback; other `http://` needs
    /// `allow_http`).
    pub endpoint: Option<String>,
    pub allow_http: bool,
    /// The AWS profile (`~/.aws/credentials`, `~/.aws/config`) to take keys, region and endpoint from; without it
    /// `AWS_PROFILE` or `default`, used when the environment has no keys.
    pub profile: Option<String>,
}

/// A dataset or session location: `s3://BUCKET/PREFIX`, `gs://BUCKET/PREFIX` or `az://CONTAINER/PREFIX`.
pub struct Remote {
    store: Arc<dyn ObjectStore>,
    multipart: Arc<dyn MultipartStore>,
    prefix: ObjectPath,
    /// What messages call it (no credentials).
    pub display: String,
}

/// Removes any `user:password@` from a URL before it is shown.
#[must_use]
pub fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
            let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
            if path.is_empty() && !rest.contains('/') {
                format!("{scheme}://{host}")
            } else {
                format!("{scheme}://{host}/{path}")
            }
        }
        None => url.to_owned(),
    }
}

fn is_loopback(endpoint: &str) -> bool {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split(']').next().unwrap_or("").trim_start_matches('[')
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The kinds of store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// AWS S3 and S3-compatible stores (MinIO, Ceph, R2, …).
    S3,
    /// Google Cloud Storage.
    Gcs,
    /// Azure Blob Storage.
    Azure,
}

/// Splits `s3://BUCKET/PREFIX`, `gs://BUCKET/PREFIX` or `az://CONTAINER/PREFIX` (the prefix may be empty).
pub fn parse_url(url: &str) -> Result<(Scheme, String, String), StorageError> {
    let (scheme, rest) = url
        .split_once("://")
        .and_then(|(scheme, rest)| match scheme {
            "s3" | "s3a" => Some((Scheme::S3, rest)),
            "gs" => Some((Scheme::Gcs, rest)),
            "az" | "azure" => Some((Scheme::Azure, rest)),
            _ => None,
        })
        .ok_or_else(|| {
            StorageError::Url(format!(
                "{:?} is not s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or az://CONTAINER/PREFIX",
                redact(url)
            ))
        })?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() || bucket.contains('@') || bucket.contains(':') {
        return Err(StorageError::Url(format!(
            "{:?}: expected {}://BUCKET/PREFIX",
            redact(url),
            url.split("://").next().unwrap_or("s3")
        )));
    }
    Ok((scheme, bucket.to_owned(), prefix.trim_matches('/').to_owned()))
}

fn retry() -> object_store::RetryConfig {
    object_store::RetryConfig {
        max_retries: 3,
        retry_timeout: Duration::from_secs(30),
        ..object_store::RetryConfig::default()
    }
}

fn env_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

impl Remote {
    pub fn open(url: &str, options: &RemoteOptions) -> Result<Self, StorageError> {
        let (scheme, bucket, prefix) = parse_url(url)?;
        let display = format!("{}://{bucket}/{prefix}", url.split("://").next().unwrap_or("s3"));
        let check_http = |endpoint: &str| {
            if endpoint.starts_with("http://") && !is_loopback(endpoint) && !options.allow_http {
                return Err(StorageError::Refused(format!(
                    "{} is plain http to another machine: credentials and data would travel unencrypted (use https, \
                     or --allow-http if you accept that)",
                    redact(endpoint)
                )));
            }
            Ok(())
        };
        let built = |e: object_store::Error| StorageError::Url(format!("{display}: {}", short(&e.to_string())));
        let (store, multipart): (Arc<dyn ObjectStore>, Arc<dyn MultipartStore>) = match scheme {
            Scheme::S3 => {
                // Keys: an explicit --profile, else the environment's, else AWS_PROFILE or `default`.
                let profile = if options.profile.is_some() || !env_set("AWS_ACCESS_KEY_ID") {
                    profile::load(options.profile.as_deref())?
                } else {
                    None
                };
                let keys = profile.as_ref().and_then(|p| p.access_key_id.as_ref().zip(p.secret_access_key.as_ref()));
                // Everything the AWS_* variables say — but a profile's keys are not mixed with the environment's.
                let mut builder = AmazonS3Builder::new();
                for (name, value) in std::env::vars() {
                    let Some(key) = name
                        .strip_prefix("AWS_")
                        .and_then(|_| name.to_ascii_lowercase().parse::<AmazonS3ConfigKey>().ok())
                    else {
                        continue;
                    };
                    let credential = matches!(
                        key,
                        AmazonS3ConfigKey::AccessKeyId | AmazonS3ConfigKey::SecretAccessKey | AmazonS3ConfigKey::Token
                    );
                    if !(credential && keys.is_some()) {
                        builder = builder.with_config(key, value);
                    }
                }
                builder = builder
                    .with_bucket_name(&bucket)
                    .with_conditional_put(S3ConditionalPut::ETagMatch)
                    .with_retry(retry());
                if let Some((key, secret)) = keys {
                    builder = builder.with_access_key_id(key).with_secret_access_key(secret);
                    if let Some(token) = profile.as_ref().and_then(|p| p.session_token.as_ref()) {
                        builder = builder.with_token(token);
                    }
                }
                let region = std::env::var("AWS_REGION")
                    .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
                    .ok()
                    .filter(|r| !r.is_empty())
                    .or_else(|| profile.as_ref().and_then(|p| p.region.clone()))
                    .unwrap_or_else(|| "us-east-1".to_owned());
                builder = builder.with_region(region);
                let endpoint = options
                    .endpoint
                    .clone()
                    .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok().filter(|e| !e.is_empty()))
                    .or_else(|| profile.as_ref().and_then(|p| p.endpoint_url.clone()));
                if let Some(endpoint) = &endpoint {
                    check_http(endpoint)?;
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_virtual_hosted_style_request(false);
                }
                let store = Arc::new(builder.build().map_err(built)?);
                (store.clone(), store)
            }
            Scheme::Gcs => {
                if options.endpoint.is_some() {
                    return Err(StorageError::Url(format!(
                        "{display}: --endpoint is for S3-compatible and Azure stores; Google Cloud Storage is reached \
                         at its own address (credentials: GOOGLE_APPLICATION_CREDENTIALS or GOOGLE_SERVICE_ACCOUNT)"
                    )));
                }
                let store = Arc::new(
                    GoogleCloudStorageBuilder::from_env()
                        .with_bucket_name(&bucket)
                        .with_retry(retry())
                        .build()
                        .map_err(built)?,
                );
                (store.clone(), store)
            }
            Scheme::Azure => {
                if !env_set("AZURE_STORAGE_ACCOUNT_NAME") && !env_set("AZURE_STORAGE_ACCOUNT") {
                    return Err(StorageError::Url(format!(
                        "{display}: set AZURE_STORAGE_ACCOUNT_NAME (and AZURE_STORAGE_ACCOUNT_KEY, or a SAS token or \
                         service principal in the AZURE_* variables) to reach Azure Blob Storage"
                    )));
                }
                let mut builder = MicrosoftAzureBuilder::from_env().with_container_name(&bucket).with_retry(retry());
                if let Some(endpoint) = &options.endpoint {
                    check_http(endpoint)?;
                    builder = builder.with_endpoint(endpoint.clone()).with_allow_http(endpoint.starts_with("http://"));
                }
                let store = Arc::new(builder.build().map_err(built)?);
                (store.clone(), store)
            }
        };
        Ok(Self { store, multipart, prefix: ObjectPath::from(prefix), display })
    }

    fn key(&self, relative: &str) -> ObjectPath {
        let mut key = self.prefix.clone();
        for part in relative.split('/').filter(|p| !p.is_empty()) {
            key = key.join(part);
        }
        key
    }
}

/// Maps a store error to what the operator can act on.
#[allow(clippy::needless_pass_by_value)] // called as a map_err adapter
fn store_error(what: &str, error: object_store::Error) -> StorageError {
    let what = what.to_owned();
    let text = error.to_string();
    let credentials = [
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "AuthenticationFailed",
        "invalid_grant",
    ];
    if credentials.iter().any(|c| text.contains(c)) || matches!(error, object_store::Error::Unauthenticated { .. }) {
        return StorageError::Credentials { what };
    }
    match error {
        object_store::Error::PermissionDenied { .. } => StorageError::Denied { what },
        _ if ["NoSuchBucket", "bucket does not exist", "ContainerNotFound", "The specified bucket does not exist"]
            .iter()
            .any(|t| text.contains(t)) =>
        {
            StorageError::NoBucket { what }
        }
        _ if text.contains("AccessDenied") || text.contains("403 Forbidden") => StorageError::Denied { what },
        _ if text.contains("error sending request")
            || text.contains("Connection refused")
            || text.contains("connection closed")
            || text.contains("timed out")
            || text.contains("dns error") =>
        {
            StorageError::Network { what, message: short(&text) }
        }
        _ => StorageError::Store { what, message: short(&text) },
    }
}

fn short(text: &str) -> String {
    let text = text.replace('\n', " ");
    if text.len() > 300 { format!("{}…", &text[..text.floor_char_boundary(300)]) } else { text }
}

/// One file of a part.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileEntry {
    /// Path inside the dataset, `/`-separated.
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// One pushed dataset.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartEntry {
    pub id: String,
    pub episodes: i64,
    pub frames: i64,
    /// Who pushed it (host name), for people; ids do not depend on it.
    pub desk: String,
    pub pushed_unix_s: f64,
    pub files: Vec<FileEntry>,
    /// Where the dataset came from (e.g. a session on a desk): a later push from the same source replaces this part,
    /// so its episodes are never listed twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// The manifest: the parts that make the dataset.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub format: String,
    pub parts: Vec<PartEntry>,
}

impl Manifest {
    #[must_use]
    pub fn episodes(&self) -> i64 {
        self.parts.iter().map(|p| p.episodes).sum()
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, StorageError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| StorageError::Store { what: "tokio".into(), message: e.to_string() })
}

/// The files of a dataset folder, sorted, with sizes and SHA-256.
pub fn list_files(dataset: &Path) -> Result<Vec<FileEntry>, StorageError> {
    let mut paths = Vec::new();
    let mut stack = vec![dataset.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| io(&dir, &e))? {
            let path = entry.map_err(|e| io(&dir, &e))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.is_file() {
                paths.push(path);
            }
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let relative = path
                .strip_prefix(dataset)
                .map_err(|e| io(&path, &e))?
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let (size, sha256) = hash_file(&path)?;
            Ok(FileEntry { path: relative, size, sha256 })
        })
        .collect()
}

fn hash_file(path: &Path) -> Result<(u64, String), StorageError> {
    hash_prefix(path, u64::MAX)
}

/// The size and SHA-256 of the first `limit` bytes of a file (all of it when shorter).
fn hash_prefix(path: &Path, limit: u64) -> Result<(u64, String), StorageError> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path).map_err(|e| io(path, &e))?.take(limit);
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(|e| io(path, &e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
    Ok((size, hex(&hasher.finalize())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The part id of a file list: the same dataset is the same part.
#[must_use]
pub fn part_id(files: &[FileEntry]) -> String {
    let mut hasher = sha2::Sha256::new();
    for file in files {
        hasher.update(format!("{}\0{}\0{}\n", file.path, file.size, file.sha256).as_bytes());
    }
    format!("part-{}", &hex(&hasher.finalize())[..16])
}

/// How to push.
#[derive(Clone, Debug)]
pub struct PushOptions {
    /// Add to a dataset already there (without it, a prefix that holds one is refused).
    pub append: bool,
    pub part_size: usize,
    pub concurrency: usize,
    /// Where the resume journal lives.
    pub journal_dir: PathBuf,
    /// Where the dataset comes from (a session exported again after more episodes or new annotations): a push with
    /// the same source replaces that source's earlier part instead of adding its episodes a second time. `None`:
    /// every push adds.
    pub source: Option<String>,
    /// Set to stop the push early: nothing new starts, the parts in flight finish and are journaled, and the push
    /// returns [`StorageError::Interrupted`]; the same push run again continues from there.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Default for PushOptions {
    fn default() -> Self {
        Self {
            append: false,
            part_size: PART_SIZE,
            concurrency: CONCURRENCY,
            journal_dir: default_journal_dir(),
            source: None,
            cancel: None,
        }
    }
}

impl PushOptions {
    fn interrupted(&self) -> bool {
        self.cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed))
    }
}

fn interrupted(remote: &Remote, sent: &AtomicU64) -> StorageError {
    let sent_bytes = sent.load(Ordering::Relaxed);
    StorageError::Interrupted { what: remote.display.clone(), sent_mb: sent_bytes as f64 / 1e6, sent_bytes }
}

/// `$XDG_CACHE_HOME/kinedesk/push`, else `~/.cache/kinedesk/push`, else the temp folder.
#[must_use]
pub fn default_journal_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("kinedesk/push")
}

/// What a push did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct PushSummary {
    pub remote: String,
    pub part: String,
    pub files: usize,
    /// Files already up (from an earlier, interrupted push of the same dataset).
    pub files_skipped: usize,
    pub bytes_total: u64,
    /// Bytes sent by this run (a resumed push sends only what was missing).
    pub bytes_sent: u64,
    /// Multipart parts found done in the journal and not sent again.
    pub parts_resumed: usize,
    /// Whether the dataset was already complete remotely (nothing was sent).
    pub already_there: bool,
    pub episodes_added: i64,
    /// Earlier parts from the same source this push replaced, and their episodes (no longer listed).
    pub parts_replaced: usize,
    pub episodes_replaced: i64,
    /// Episodes the remote dataset has now.
    pub episodes_total: i64,
    /// Tries of the manifest's conditional write (more than 1: another desk wrote in between).
    pub manifest_attempts: usize,
    pub seconds: f64,
}

/// Progress of a transfer: bytes done and total.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Send + Sync);

/// Reads the JSON document `name` under the prefix with its ETag (`None` when there is none); `what` says what it
/// should have been when it is not.
async fn read_json<T: serde::de::DeserializeOwned>(
    remote: &Remote,
    name: &str,
    what: &str,
) -> Result<Option<(T, Option<String>)>, StorageError> {
    match remote.store.get(&remote.key(name)).await {
        Ok(result) => {
            let e_tag = result.meta.e_tag.clone();
            let bytes = result.bytes().await.map_err(|e| store_error(&remote.display, e))?;
            let value = serde_json::from_slice(&bytes)
                .map_err(|e| StorageError::Dataset(format!("{}/{name} is not {what}: {e}", remote.display)))?;
            Ok(Some((value, e_tag)))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(store_error(&remote.display, e)),
    }
}

/// Writes `value` as the JSON document `name` under the prefix with `mode` (`Create`: only if there is none;
/// `Update`: only if it is still the version read). `Ok(false)`: another writer got there first — read it again and
/// retry (this waits a short pause that varies by process and `attempt` first, so racing desks spread out).
async fn write_conditionally(
    remote: &Remote,
    name: &str,
    value: &impl serde::Serialize,
    mode: PutMode,
    attempt: usize,
) -> Result<bool, StorageError> {
    let bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    let options = PutOptions { mode, ..PutOptions::default() };
    match remote.store.put_opts(&remote.key(name), PutPayload::from(bytes), options).await {
        Ok(_) => Ok(true),
        Err(object_store::Error::Precondition { .. } | object_store::Error::AlreadyExists { .. }) => {
            let pause = 20 + (u64::from(std::process::id()) * 7 + attempt as u64 * 31) % 200;
            tokio::time::sleep(Duration::from_millis(pause)).await;
            Ok(false)
        }
        Err(e) => Err(store_error(&remote.display, e)),
    }
}

/// Reads the dataset manifest with its ETag (`None` when there is none).
async fn read_manifest(remote: &Remote) -> Result<Option<(Manifest, Option<String>)>, StorageError> {
    read_json(remote, MANIFEST, "a KineDesk manifest").await
}

/// Pushes the LeRobot v3.0 dataset at `dataset` to `url`.
pub fn push(
    dataset: &Path,
    url: &str,
    remote: &RemoteOptions,
    options: &PushOptions,
    progress: Progress<'_>,
) -> Result<PushSummary, StorageError> {
    let started = Instant::now();
    let opened =
        kinedesk_sessions::dataset_edit::Dataset::open(dataset).map_err(|e| StorageError::Dataset(e.to_string()))?;
    let episodes = opened.info["total_episodes"].as_i64().unwrap_or(0);
    let frames = opened.info["total_frames"].as_i64().unwrap_or(0);
    drop(opened);
    let files = list_files(dataset)?;
    let id = part_id(&files);
    let remote = Remote::open(url, remote)?;
    let bytes_total: u64 = files.iter().map(|f| f.size).sum();
    let mut summary = PushSummary {
        remote: remote.display.clone(),
        part: id.clone(),
        files: files.len(),
        bytes_total,
        episodes_added: episodes,
        ..PushSummary::default()
    };
    runtime()?.block_on(async {
        if let Some((manifest, _)) = read_manifest(&remote).await? {
            if manifest.parts.iter().any(|p| p.id == id) {
                summary.already_there = true;
                summary.episodes_added = 0;
                summary.episodes_total = manifest.episodes();
                return Ok(());
            }
            if !options.append && !only_from(&manifest, options.source.as_ref()) {
                return Err(StorageError::Refused(format!(
                    "{} already holds a dataset ({} episodes from {} push(es)); --append adds this one's episodes to \
                     it",
                    remote.display,
                    manifest.episodes(),
                    manifest.parts.len()
                )));
            }
        }
        let journal_path = options.journal_dir.join(format!("{id}.json"));
        let mut journal = Journal::load(&journal_path, &remote.display)?;
        let sent = AtomicU64::new(0);
        let done_before = AtomicU64::new(0);
        let report = |done: u64| progress(done, bytes_total);
        for file in &files {
            if options.interrupted() {
                return Err(interrupted(&remote, &sent));
            }
            let key = remote.key(&format!("parts/{id}/{}", file.path));
            if journal.file_done(&file.path) {
                let there = remote.store.head(&key).await;
                if there.is_ok_and(|meta| meta.size == file.size) {
                    summary.files_skipped += 1;
                    done_before.fetch_add(file.size, Ordering::Relaxed);
                    report(done_before.load(Ordering::Relaxed));
                    continue;
                }
                journal.forget(&file.path);
            }
            let local = dataset.join(&file.path);
            let base = done_before.load(Ordering::Relaxed);
            summary.parts_resumed +=
                upload_file(&remote, &key, &local, file, options, &mut journal, &sent, &|s| report(base + s)).await?;
            journal.mark_done(&file.path)?;
            done_before.fetch_add(file.size, Ordering::Relaxed);
            report(done_before.load(Ordering::Relaxed));
        }
        summary.bytes_sent = sent.load(Ordering::Relaxed);
        // The part is complete: now (and only now) the manifest lists it.
        let entry = PartEntry {
            id: id.clone(),
            episodes,
            frames,
            desk: desk_name(),
            pushed_unix_s: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            files: files.clone(),
            source: options.source.clone(),
        };
        let added = add_to_manifest(&remote, entry, options.append).await?;
        summary.manifest_attempts = added.attempts;
        summary.episodes_total = added.episodes_total;
        summary.parts_replaced = added.replaced.len();
        summary.episodes_replaced = added.replaced.iter().map(|p| p.episodes).sum();
        journal.remove();
        Ok(())
    })?;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// This machine's name (host name), as manifests record who pushed.
#[must_use]
pub fn desk_name() -> String {
    std::fs::read_to_string("/etc/hostname").map_or_else(|_| "desk".to_owned(), |h| h.trim().to_owned())
}

/// Sends one file to `key`: in one request up to the part size, as a journaled multipart upload above it. Returns
/// the multipart parts found done by an earlier run.
#[allow(clippy::too_many_arguments)]
async fn upload_file(
    remote: &Remote,
    key: &ObjectPath,
    local: &Path,
    file: &FileEntry,
    options: &PushOptions,
    journal: &mut Journal,
    sent: &AtomicU64,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<usize, StorageError> {
    let resumed = if (file.size as usize) <= options.part_size {
        let mut bytes = tokio::fs::read(local).await.map_err(|e| io(local, &e))?;
        if (bytes.len() as u64) < file.size {
            return Err(io(local, &format!("shrank while it was pushed ({} bytes, was {})", bytes.len(), file.size)));
        }
        // Only the file as it was listed (and hashed): a log still being written may have grown since. A file
        // rewritten since (an annotation saved again) is not sent under the old hash.
        bytes.truncate(file.size as usize);
        if hex(&sha2::Sha256::digest(&bytes)) != file.sha256 {
            return Err(io(local, &"changed while it was pushed: push again to send the new version"));
        }
        remote.store.put(key, PutPayload::from(bytes)).await.map_err(|e| store_error(&remote.display, e))?;
        sent.fetch_add(file.size, Ordering::Relaxed);
        progress(file.size);
        0
    } else {
        upload_multipart(remote, key, local, file, options, journal, sent, progress).await?
    };
    // Checked after the upload: the object the store now has is the file's size. (Its content was checked by the
    // store request by request: S3 refuses a body whose SHA-256 is not the signed one.)
    let stored = remote.store.head(key).await.map_err(|e| store_error(&remote.display, e))?;
    if stored.size != file.size {
        journal.forget(&file.path);
        return Err(StorageError::Store {
            what: remote.display.clone(),
            message: format!(
                "{}: the store has {} bytes after the upload, the file {}",
                file.path, stored.size, file.size
            ),
        });
    }
    Ok(resumed)
}

/// Uploads one large file in parts, continuing an upload the journal knows. Returns the parts found done.
#[allow(clippy::too_many_arguments)]
async fn upload_multipart(
    remote: &Remote,
    key: &ObjectPath,
    local: &Path,
    file: &FileEntry,
    options: &PushOptions,
    journal: &mut Journal,
    sent: &AtomicU64,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<usize, StorageError> {
    let part_size = options.part_size.max(5 << 20);
    let count = (file.size as usize).div_ceil(part_size);
    for attempt in 0..2 {
        let upload = match journal.upload(&file.path) {
            Some(id) => id,
            None => {
                let id = remote.multipart.create_multipart(key).await.map_err(|e| store_error(&remote.display, e))?;
                journal.start_upload(&file.path, &id, count)?;
                id
            }
        };
        let done_parts: Vec<usize> = journal.parts_done(&file.path);
        let resumed = done_parts.len();
        let missing: Vec<usize> = (0..count).filter(|i| !done_parts.contains(i)).collect();
        let file_sent = AtomicU64::new(done_parts.iter().map(|i| part_len(file.size, part_size, *i)).sum());
        // A failure stops new parts from starting; so does an interruption. Parts already in flight finish and are
        // journaled either way, so that the next run does not send them again.
        let failing = AtomicBool::new(false);
        let mut stream = futures::stream::iter(
            missing.into_iter().take_while(|_| !failing.load(Ordering::Relaxed) && !options.interrupted()).map(
                |index| {
                    let upload = upload.clone();
                    let (file_sent, failing) = (&file_sent, &failing);
                    async move {
                        let result = async {
                            let bytes = read_part(local, index, part_size, file.size).await?;
                            let length = bytes.len() as u64;
                            let part = remote
                                .multipart
                                .put_part(key, &upload, index, PutPayload::from(bytes))
                                .await
                                .map_err(|e| store_error(&remote.display, e))?;
                            sent.fetch_add(length, Ordering::Relaxed);
                            progress(file_sent.fetch_add(length, Ordering::Relaxed) + length);
                            Ok((index, part))
                        }
                        .await;
                        if result.is_err() {
                            failing.store(true, Ordering::Relaxed);
                        }
                        result
                    }
                },
            ),
        )
        .buffer_unordered(options.concurrency.max(1));
        let mut failed = None;
        while let Some(result) = stream.next().await {
            match result {
                Ok((index, part)) => journal.part_done(&file.path, index, &part.content_id)?,
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        drop(stream);
        if let Some(error) = failed {
            // An upload the store no longer knows (expired, or a store that lost its state) starts over once.
            if attempt == 0 && upload_gone(&error) {
                journal.forget(&file.path);
                continue;
            }
            return Err(error);
        }
        if options.interrupted() {
            return Err(interrupted(remote, sent));
        }
        let parts = journal.part_ids(&file.path, count).ok_or_else(|| StorageError::Store {
            what: remote.display.clone(),
            message: format!("{}: parts missing after upload", file.path),
        })?;
        match remote
            .multipart
            .complete_multipart(key, &upload, parts.into_iter().map(|content_id| PartId { content_id }).collect())
            .await
        {
            Ok(_) => return Ok(resumed),
            Err(e) => {
                let error = store_error(&remote.display, e);
                if attempt == 0 && upload_gone(&error) {
                    journal.forget(&file.path);
                    continue;
                }
                return Err(error);
            }
        }
    }
    Err(StorageError::Store {
        what: remote.display.clone(),
        message: format!("{}: the upload kept vanishing", file.path),
    })
}

/// An error that may mean the store no longer knows the upload the journal names (S3 says NoSuchUpload; some
/// S3-compatible stores answer 404 or even 500): the file starts over once. Network, permission and credential
/// errors are not that.
fn upload_gone(error: &StorageError) -> bool {
    matches!(error, StorageError::Store { .. })
}

fn part_len(size: u64, part_size: usize, index: usize) -> u64 {
    let start = (index * part_size) as u64;
    size.saturating_sub(start).min(part_size as u64)
}

async fn read_part(path: &Path, index: usize, part_size: usize, file_size: u64) -> Result<Vec<u8>, StorageError> {
    use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
    // Only the file as it was listed (and hashed): a log still being written may have grown since.
    let length = part_len(file_size, part_size, index);
    let mut file = tokio::fs::File::open(path).await.map_err(|e| io(path, &e))?;
    file.seek(std::io::SeekFrom::Start((index * part_size) as u64)).await.map_err(|e| io(path, &e))?;
    let mut buffer = Vec::with_capacity(length as usize);
    file.take(length).read_to_end(&mut buffer).await.map_err(|e| io(path, &e))?;
    if buffer.len() as u64 != length {
        return Err(io(path, &format!("shorter than when it was listed (part {index})")));
    }
    Ok(buffer)
}

/// Whether every part of the manifest comes from `source` (then a push from it replaces them and needs no
/// `--append`).
fn only_from(manifest: &Manifest, source: Option<&String>) -> bool {
    source.is_some() && manifest.parts.iter().all(|p| p.source.as_ref() == source)
}

/// What adding a part to the manifest did.
struct Added {
    attempts: usize,
    episodes_total: i64,
    /// Earlier parts from the same source, no longer listed.
    replaced: Vec<PartEntry>,
}

/// Adds `entry` to the manifest with a conditional write (replacing its source's earlier parts), re-reading and
/// retrying while other desks write it.
async fn add_to_manifest(remote: &Remote, entry: PartEntry, append: bool) -> Result<Added, StorageError> {
    for attempt in 1..=30 {
        let current = read_manifest(remote).await?;
        let (mut manifest, mode) = match current {
            Some((manifest, e_tag)) => {
                if manifest.parts.iter().any(|p| p.id == entry.id) {
                    return Ok(Added { attempts: attempt, episodes_total: manifest.episodes(), replaced: Vec::new() });
                }
                if !append && !only_from(&manifest, entry.source.as_ref()) {
                    return Err(StorageError::Refused(format!(
                        "{} got a dataset from another desk while this one was pushed; push again with --append",
                        remote.display
                    )));
                }
                (manifest, PutMode::Update(UpdateVersion { e_tag, version: None }))
            }
            None => (Manifest { format: FORMAT.into(), parts: Vec::new() }, PutMode::Create),
        };
        let mut replaced = Vec::new();
        if entry.source.is_some() {
            let (same, others): (Vec<_>, Vec<_>) = manifest.parts.into_iter().partition(|p| p.source == entry.source);
            manifest.parts = others;
            replaced = same;
        }
        manifest.parts.push(entry.clone());
        if write_conditionally(remote, MANIFEST, &manifest, mode, attempt).await? {
            return Ok(Added { attempts: attempt, episodes_total: manifest.episodes(), replaced });
        }
    }
    Err(StorageError::Store { what: remote.display.clone(), message: "the manifest kept changing: 30 tries".into() })
}

/// What a pull did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct PullSummary {
    pub remote: String,
    pub parts: usize,
    pub episodes: i64,
    pub files: usize,
    pub files_kept: usize,
    pub bytes: u64,
    pub bytes_received: u64,
    pub merged: bool,
    pub seconds: f64,
}

/// Pulls the dataset at `url` into the new folder `out`.
pub fn pull(
    url: &str,
    out: &Path,
    remote: &RemoteOptions,
    progress: Progress<'_>,
) -> Result<PullSummary, StorageError> {
    let started = Instant::now();
    if out.exists() {
        return Err(StorageError::Refused(format!("{} exists; pull into a new folder", out.display())));
    }
    let remote = Remote::open(url, remote)?;
    let scratch = out.with_extension("pulling");
    let mut summary = PullSummary { remote: remote.display.clone(), ..PullSummary::default() };
    let manifest = runtime()?.block_on(async {
        let Some((manifest, _)) = read_manifest(&remote).await? else {
            return Err(StorageError::Dataset(format!(
                "no dataset at {} (no {MANIFEST}: nothing was pushed there, or no push has finished)",
                remote.display
            )));
        };
        let total: u64 = manifest.parts.iter().flat_map(|p| &p.files).map(|f| f.size).sum();
        let mut done = 0u64;
        for part in &manifest.parts {
            for file in &part.files {
                let local = scratch.join(&part.id).join(&file.path);
                if local.is_file()
                    && hash_file(&local).is_ok_and(|(size, hash)| size == file.size && hash == file.sha256)
                {
                    summary.files_kept += 1;
                } else {
                    download(&remote, &format!("parts/{}/{}", part.id, file.path), &local, file).await?;
                    summary.bytes_received += file.size;
                }
                done += file.size;
                progress(done, total);
                summary.files += 1;
            }
        }
        summary.bytes = total;
        Ok(manifest)
    })?;
    summary.parts = manifest.parts.len();
    summary.episodes = manifest.episodes();
    if manifest.parts.len() == 1 {
        std::fs::rename(scratch.join(&manifest.parts[0].id), out).map_err(|e| io(out, &e))?;
    } else {
        let datasets = manifest
            .parts
            .iter()
            .map(|p| kinedesk_sessions::dataset_edit::Dataset::open(&scratch.join(&p.id)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StorageError::Dataset(e.to_string()))?;
        kinedesk_sessions::dataset_edit::write_merged(&datasets, out, false)
            .map_err(|e| StorageError::Dataset(e.to_string()))?;
        summary.merged = true;
    }
    let _ = std::fs::remove_dir_all(&scratch);
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Streams one object to `local` (written beside it, checked, then moved into place).
async fn download(remote: &Remote, relative: &str, local: &Path, file: &FileEntry) -> Result<(), StorageError> {
    use tokio::io::AsyncWriteExt as _;
    if let Some(parent) = local.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(|e| io(parent, &e))?;
    }
    let partial = local.with_extension("partial");
    let result = remote.store.get(&remote.key(relative)).await.map_err(|e| store_error(&remote.display, e))?;
    let mut stream = result.into_stream();
    let mut out = tokio::fs::File::create(&partial).await.map_err(|e| io(&partial, &e))?;
    let mut hasher = sha2::Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| store_error(&remote.display, e))?;
        hasher.update(&chunk);
        size += chunk.len() as u64;
        out.write_all(&chunk).await.map_err(|e| io(&partial, &e))?;
    }
    out.flush().await.map_err(|e| io(&partial, &e))?;
    let hash = hex(&hasher.finalize());
    if size != file.size || hash != file.sha256 {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(StorageError::Dataset(format!(
            "{}/{relative}: {size} bytes with SHA-256 {hash}, the manifest says {} bytes {}",
            remote.display, file.size, file.sha256
        )));
    }
    tokio::fs::rename(&partial, local).await.map_err(|e| io(local, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_credentials_never_show() {
        assert_eq!(parse_url("s3://bucket/a/b/").unwrap(), (Scheme::S3, "bucket".into(), "a/b".into()));
        assert_eq!(parse_url("s3://bucket").unwrap(), (Scheme::S3, "bucket".into(), String::new()));
        assert_eq!(parse_url("gs://bucket/x").unwrap(), (Scheme::Gcs, "bucket".into(), "x".into()));
        assert_eq!(parse_url("az://container/x/y").unwrap(), (Scheme::Azure, "container".into(), "x/y".into()));
        assert!(parse_url("ftp://bucket/x").is_err() && parse_url("gs:///x").is_err());
        assert!(parse_url("s3://key:secret@bucket/x").unwrap_err().to_string().contains("s3://bucket/x"));
        assert_eq!(redact("http://user:pass@127.0.0.1:9000/x"), "http://127.0.0.1:9000/x");
        assert_eq!(redact("https://minio.lab:9000"), "https://minio.lab:9000");
        assert!(
            is_loopback("http://127.0.0.1:5000") && is_loopback("http://localhost:9") && is_loopback("http://[::1]:9")
        );
        assert!(!is_loopback("http://10.0.0.5:9000") && !is_loopback("http://minio.lab"));
    }

    #[test]
    fn plain_http_to_another_machine_is_refused_unless_allowed() {
        let options = RemoteOptions { endpoint: Some("http://10.1.2.3:9000".into()), allow_http: false, profile: None };
        let Err(error) = Remote::open("s3://b/p", &options) else { panic!("opened") };
        assert!(error.to_string().contains("unencrypted"), "{error}");
        let allowed = RemoteOptions { allow_http: true, ..options };
        assert!(Remote::open("s3://b/p", &allowed).is_ok());
    }

    #[test]
    fn store_answers_become_what_the_operator_can_act_on() {
        let answer = |text: &str| object_store::Error::Generic { store: "S3", source: text.to_owned().into() };
        let expired = store_error(
            "s3://lab/x",
            answer(
                "Client error with status 400 Bad Request: <Code>ExpiredToken</Code><Message>The provided token has expired.</Message>",
            ),
        );
        assert!(matches!(expired, StorageError::Credentials { .. }), "{expired}");
        assert!(expired.to_string().contains("expired") && expired.to_string().contains("run the same command again"));
        let azure = store_error("az://c/x", answer("404 The specified container does not exist. ContainerNotFound"));
        assert!(matches!(azure, StorageError::NoBucket { .. }), "{azure}");
        let denied = store_error("s3://lab/x", answer("403 Forbidden: <Code>AccessDenied</Code>"));
        assert!(matches!(denied, StorageError::Denied { .. }), "{denied}");
        let network = store_error(
            "s3://lab/x",
            answer("error sending request for url (http://127.0.0.1:9/x): Connection refused"),
        );
        assert!(matches!(network, StorageError::Network { .. }), "{network}");
    }

    #[test]
    fn part_ids_follow_content() {
        let a = vec![FileEntry { path: "x".into(), size: 1, sha256: "00".into() }];
        let mut b = a.clone();
        assert_eq!(part_id(&a), part_id(&b));
        b[0].sha256 = "01".into();
        assert_ne!(part_id(&a), part_id(&b));
        assert_eq!(part_len(20, 8, 2), 4);
        assert_eq!(part_len(16, 8, 1), 8);
    }
}
