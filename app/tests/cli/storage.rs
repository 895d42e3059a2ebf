//! `kinedesk dataset push|pull` against moto (PyPI `moto[server]`: a real S3-protocol server nobody here wrote) on
//! loopback: push, append from two desks at once, pull (merged) loaded by lerobot, resume after a killed push and
//! after Ctrl+C, keys from an AWS profile, sessions to an annotator and back, and the errors an operator meets.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Moto {
    child: Child,
    endpoint: String,
    python: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A moto S3 server on a free loopback port (`auth_after`: requests after that many are checked against moto's
/// IAM, so made-up keys are refused).
fn start_moto(auth_after: Option<u32>) -> Option<Moto> {
    start_moto_on(free_port(), auth_after)
}

fn start_moto_on(port: u16, auth_after: Option<u32>) -> Option<Moto> {
    let python = crate::ros2_peers::python_with("moto.server, boto3")?;
    let mut command = Command::new(&python);
    command.args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()]);
    if let Some(count) = auth_after {
        command.env("INITIAL_NO_AUTH_ACTION_COUNT", count.to_string());
    }
    let child = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}"), python };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(moto)
}

impl Moto {
    fn create_bucket(&self, name: &str) {
        let script = format!(
            "import boto3; boto3.client('s3', endpoint_url='{}', aws_access_key_id='testing', \
             aws_secret_access_key='testing', region_name='us-east-1').create_bucket(Bucket='{name}')",
            self.endpoint
        );
        let out = Command::new(&self.python).args(["-c", &script]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

fn kinedesk(cache: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kinedesk"));
    command
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_SESSION_TOKEN")
        .env("XDG_CACHE_HOME", cache);
    command
}

/// Records a session of one synthetic episode of `seconds` (one small camera) into `session`.
fn record(root: &Path, session: &Path, seconds: &str) {
    let recorded = kinedesk(root)
        .args(["record", "--synthetic", "--seconds", seconds, "--cameras", "1", "--width", "96", "--height", "72"])
        .arg("--out")
        .arg(session)
        .output()
        .unwrap();
    assert!(recorded.status.success(), "{}", String::from_utf8_lossy(&recorded.stderr));
}

/// `kinedesk dataset pull URL OUT --endpoint ENDPOINT` (add `--json` in `extra`), as it ended.
fn pull_dataset(root: &Path, endpoint: &str, url: &str, out: &Path, extra: &[&str]) -> std::process::Output {
    kinedesk(root).args(["dataset", "pull", url]).arg(out).args(["--endpoint", endpoint]).args(extra).output().unwrap()
}

/// A LeRobot v3 dataset of one synthetic episode of `seconds`.
fn dataset(root: &Path, name: &str, seconds: &str) -> PathBuf {
    let session = root.join(format!("{name}-session"));
    let out = root.join(name);
    record(root, &session, seconds);
    let export = kinedesk(root).args(["export", "--format", "lerobot-v3"]).arg(&session).arg(&out).output().unwrap();
    assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
    out
}

/// The parts of `extra/blob.bin` the push journals in `dir` record as confirmed.
fn journaled_parts(dir: &Path) -> usize {
    kinedesk_storage::confirmed_parts(dir, "extra/blob.bin")
}

/// Adds `extra/blob.bin` of `bytes` incompressible-looking bytes (different per `seed`) to a dataset; returns them.
fn add_blob(data: &Path, bytes: u32, seed: u32) -> Vec<u8> {
    let blob: Vec<u8> = (0..bytes).map(|i| (i.wrapping_mul(seed) >> 24) as u8).collect();
    std::fs::create_dir_all(data.join("extra")).unwrap();
    std::fs::write(data.join("extra/blob.bin"), &blob).unwrap();
    blob
}

fn json(output: &std::process::Output) -> serde_json::Value {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn temp(name: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("kinedesk-storage-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    root
}

#[test]
fn two_desks_append_at_once_and_the_pulled_dataset_has_every_episode() {
    let Some(moto) = start_moto(None) else { return };
    moto.create_bucket("lab");
    let root = temp("append");
    let (a, b, c) = (dataset(&root, "a", "1.5"), dataset(&root, "b", "2"), dataset(&root, "c", "2.5"));
    let url = "s3://lab/pick-and-place";
    let push = |dataset: &Path, append: bool| {
        let mut command = kinedesk(&root);
        command.args(["dataset", "push"]).arg(dataset).args([url, "--endpoint", &moto.endpoint, "--json"]);
        if append {
            command.arg("--append");
        }
        command
    };
    let first = json(&push(&a, false).output().unwrap());
    assert_eq!((first["episodes_added"].as_i64(), first["episodes_total"].as_i64()), (Some(1), Some(1)));
    assert_eq!(first["bytes_sent"], first["bytes_total"]);
    // The same dataset again: already there, nothing sent.
    let again = json(&push(&a, false).output().unwrap());
    assert_eq!((again["already_there"].as_bool(), again["bytes_sent"].as_u64()), (Some(true), Some(0)));
    // Another dataset without --append is refused: nothing is overwritten.
    let refused = push(&b, false).output().unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--append adds"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // Two desks append at the same time: both land.
    let desk_b = push(&b, true).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let desk_c = push(&c, true).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (b_done, c_done) = (json(&desk_b.wait_with_output().unwrap()), json(&desk_c.wait_with_output().unwrap()));
    let totals = [b_done["episodes_total"].as_i64().unwrap(), c_done["episodes_total"].as_i64().unwrap()];
    assert!(totals.contains(&3), "one of them saw all three: {totals:?}");
    // Pulled: one dataset with every episode (merged, re-indexed), as lerobot loads it.
    let out = root.join("pulled");
    let pulled = json(&pull_dataset(&root, &moto.endpoint, url, &out, &["--json"]));
    assert_eq!(
        (pulled["parts"].as_u64(), pulled["episodes"].as_u64(), pulled["merged"].as_bool()),
        (Some(3), Some(3), Some(true))
    );
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("meta/info.json")).unwrap()).unwrap();
    assert_eq!(info["total_episodes"], 3);
    let doctor = kinedesk(&root).args(["dataset", "doctor"]).arg(&out).output().unwrap();
    assert!(doctor.status.success(), "{}", String::from_utf8_lossy(&doctor.stdout));
    if let Ok(lerobot) = std::env::var("KINEDESK_LEROBOT_PYTHON") {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../sessions/tests/python/check_with_lerobot.py");
        let checked = Command::new(&lerobot).arg(script).arg(&out).output().unwrap();
        assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stderr));
        let found: serde_json::Value = serde_json::from_slice(&checked.stdout).unwrap();
        assert_eq!(found["episodes"], 3);
    } else {
        assert!(std::env::var("KINEDESK_REQUIRE_LEROBOT").as_deref() != Ok("1"), "lerobot is required");
        eprintln!("SKIPPED: no Python with lerobot — the pulled dataset was not loaded in lerobot");
    }
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_killed_push_resumes_without_sending_finished_parts_again_and_pulls_back_identical() {
    let Some(moto) = start_moto(None) else { return };
    moto.create_bucket("lab");
    let root = temp("resume");
    let data = dataset(&root, "big", "1");
    // A 60 MB file in the dataset: 12 parts of 5 MiB.
    let blob = add_blob(&data, 60_000_000, 2_654_435_761);
    let url = "s3://lab/resumed";
    let push = || {
        let mut command = kinedesk(&root);
        command.args(["dataset", "push"]).arg(&data).args([
            url,
            "--endpoint",
            &moto.endpoint,
            "--part-mb",
            "5",
            "--concurrency",
            "1",
            "--json",
        ]);
        command
    };
    let mut child = push().stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    // Killed outright once the journal shows three parts of the blob done.
    let journal_dir = root.join("kinedesk/push");
    signal_when_parts_done(&mut child, &journal_dir, 3, "-KILL");
    child.wait().unwrap();
    let acknowledged = journaled_parts(&journal_dir);
    // Nothing is listed until the push finishes: a pull now finds no dataset.
    let early = pull_dataset(&root, &moto.endpoint, url, &root.join("early"), &[]);
    assert!(
        String::from_utf8_lossy(&early.stderr).contains("no dataset at"),
        "{}",
        String::from_utf8_lossy(&early.stderr)
    );
    // Resumed: the parts the journal has are not sent again.
    let resumed = json(&push().output().unwrap());
    let part = 5u64 << 20;
    assert!(resumed["parts_resumed"].as_u64().unwrap() >= acknowledged as u64, "{resumed}");
    let total = resumed["bytes_total"].as_u64().unwrap();
    let sent = resumed["bytes_sent"].as_u64().unwrap();
    assert!(sent <= total - acknowledged as u64 * part, "sent {sent} of {total} with {acknowledged} parts done");
    // Pulled back byte for byte.
    let out = root.join("pulled");
    json(&pull_dataset(&root, &moto.endpoint, url, &out, &["--json"]));
    assert!(std::fs::read(out.join("extra/blob.bin")).unwrap() == blob);
    assert_eq!(std::fs::read(out.join("meta/info.json")).unwrap(), std::fs::read(data.join("meta/info.json")).unwrap());
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn wrong_keys_missing_buckets_empty_prefixes_dead_servers_and_plain_http_are_clear_errors() {
    let Some(moto) = start_moto(Some(1)) else { return };
    moto.create_bucket("guarded");
    let root = temp("errors");
    let data = dataset(&root, "d", "1");
    let fails = |args: &[&str], expected: &str| {
        let out = kinedesk(&root).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success() && stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("testing"), "a credential shows in the message: {stderr}");
    };
    let path = data.to_str().unwrap();
    // moto now checks keys: ours are made up.
    fails(&["dataset", "push", path, "s3://guarded/x", "--endpoint", &moto.endpoint], "credentials were not accepted");
    let Some(open) = start_moto(None) else { return };
    fails(&["dataset", "push", path, "s3://missing-bucket/x", "--endpoint", &open.endpoint], "no such bucket");
    open.create_bucket("lab");
    fails(
        &["dataset", "pull", "s3://lab/nothing", root.join("p").to_str().unwrap(), "--endpoint", &open.endpoint],
        "no dataset at",
    );
    let dead = format!("http://127.0.0.1:{}", free_port());
    fails(&["dataset", "push", path, "s3://lab/x", "--endpoint", &dead], "cannot reach the storage");
    fails(&["dataset", "push", path, "s3://lab/x", "--endpoint", "http://192.0.2.10:9000"], "unencrypted");
    fails(&["dataset", "push", path, "ftp://lab/x"], "is not s3://BUCKET/PREFIX");
    fails(&["dataset", "push", path, "gs://lab/x", "--endpoint", &open.endpoint], "--endpoint is for S3-compatible");
    let no_azure = kinedesk(&root)
        .args(["dataset", "push", path, "az://lab/x"])
        .env_remove("AZURE_STORAGE_ACCOUNT_NAME")
        .env_remove("AZURE_STORAGE_ACCOUNT")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&no_azure.stderr).contains("set AZURE_STORAGE_ACCOUNT_NAME"));
    fails(
        &["dataset", "push", path, "s3://lab/x", "--endpoint", &open.endpoint, "--profile", "nope"],
        "no AWS profile",
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_push_cut_off_by_the_server_dying_says_so_and_completes_once_a_server_is_back() {
    let port = free_port();
    let Some(moto) = start_moto_on(port, None) else { return };
    moto.create_bucket("lab");
    let root = temp("server-killed");
    let data = dataset(&root, "big", "1");
    let blob = add_blob(&data, 60_000_000, 2_246_822_519);
    let url = "s3://lab/after-outage";
    let push = |endpoint: &str| {
        let mut command = kinedesk(&root);
        command.args(["dataset", "push"]).arg(&data).args([
            url,
            "--endpoint",
            endpoint,
            "--part-mb",
            "5",
            "--concurrency",
            "1",
        ]);
        command
    };
    let child = push(&moto.endpoint).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let journal_dir = root.join("kinedesk/push");
    let deadline = Instant::now() + Duration::from_secs(60);
    while journaled_parts(&journal_dir) < 3 {
        assert!(Instant::now() < deadline, "the push never got three parts up");
        std::thread::sleep(Duration::from_millis(2));
    }
    // The server dies mid-upload (moto keeps everything in memory: it is all gone).
    let endpoint = moto.endpoint.clone();
    drop(moto);
    let failed = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success() && stderr.contains("cannot reach the storage"), "{stderr}");
    assert!(stderr.contains("run the same command again"), "{stderr}");
    // A server is back (empty): the same command finishes the push — the uploads the journal knew are gone, so those
    // files start over.
    let Some(again) = start_moto_on(port, None) else { return };
    again.create_bucket("lab");
    let done = push(&endpoint).arg("--json").output().unwrap();
    let summary = json(&done);
    assert_eq!(summary["bytes_sent"], summary["bytes_total"], "{summary}");
    let out = root.join("pulled");
    json(&pull_dataset(&root, &endpoint, url, &out, &["--json"]));
    assert!(std::fs::read(out.join("extra/blob.bin")).unwrap() == blob);
    drop(again);
    std::fs::remove_dir_all(&root).unwrap();
}

/// Sends `signal` to the push once the journal has `parts` confirmed parts of `extra/blob.bin`.
fn signal_when_parts_done(child: &mut Child, journal_dir: &Path, parts: usize, signal: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while journaled_parts(journal_dir) < parts {
        assert!(Instant::now() < deadline, "the push never got {parts} parts up");
        assert!(child.try_wait().unwrap().is_none(), "the push finished before it could be interrupted");
        std::thread::sleep(Duration::from_millis(2));
    }
    let sent = Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
    assert!(sent.success());
}

#[test]
fn ctrl_c_lets_the_parts_in_flight_finish_so_the_rerun_sends_nothing_twice() {
    let Some(moto) = start_moto(None) else { return };
    moto.create_bucket("lab");
    let root = temp("interrupt");
    let data = dataset(&root, "big", "1");
    // 80 MB: 16 parts of 5 MiB, four in flight at a time.
    let blob = add_blob(&data, 80_000_000, 3_266_489_917);
    let url = "s3://lab/interrupted";
    let push = || {
        let mut command = kinedesk(&root);
        command.args(["dataset", "push"]).arg(&data).args([url, "--endpoint", &moto.endpoint, "--part-mb", "5"]);
        command.args(["--concurrency", "4", "--json"]);
        command
    };
    let mut child = push().stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let journal_dir = root.join("kinedesk/push");
    signal_when_parts_done(&mut child, &journal_dir, 3, "-INT");
    let stopped = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&stopped.stderr);
    assert_eq!(stopped.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted") && stderr.contains("run the same command again"), "{stderr}");
    let acknowledged = journaled_parts(&journal_dir) as u64;
    assert!((3..16).contains(&acknowledged), "{acknowledged} parts journaled");
    // Every part that was sent is journaled: the rerun sends exactly the rest of the blob (and the small files that
    // come after it), nothing twice.
    let resumed = json(&push().output().unwrap());
    assert_eq!(resumed["parts_resumed"].as_u64(), Some(acknowledged), "{resumed}");
    let total = resumed["bytes_total"].as_u64().unwrap();
    let sent = resumed["bytes_sent"].as_u64().unwrap();
    let files_before_blob: u64 = kinedesk_storage::list_files(&data)
        .unwrap()
        .iter()
        .take_while(|f| f.path != "extra/blob.bin")
        .map(|f| f.size)
        .sum();
    assert_eq!(sent, total - files_before_blob - acknowledged * (5 << 20), "{resumed}");
    let out = root.join("pulled");
    json(&pull_dataset(&root, &moto.endpoint, url, &out, &["--json"]));
    assert!(std::fs::read(out.join("extra/blob.bin")).unwrap() == blob);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn keys_region_and_endpoint_come_from_an_aws_profile() {
    let Some(moto) = start_moto(None) else { return };
    moto.create_bucket("lab");
    let root = temp("profile");
    let data = dataset(&root, "d", "1");
    let home = root.join("home");
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::write(
        home.join(".aws/credentials"),
        "[lab]\naws_access_key_id = fromprofile\naws_secret_access_key = x\n",
    )
    .unwrap();
    std::fs::write(
        home.join(".aws/config"),
        format!("[profile lab]\nregion = eu-west-1\nendpoint_url = {}\n", moto.endpoint),
    )
    .unwrap();
    let with_profile = |args: &[&str]| {
        let mut command = kinedesk(&root);
        command.env_remove("AWS_ACCESS_KEY_ID").env_remove("AWS_SECRET_ACCESS_KEY").env_remove("AWS_PROFILE");
        command.env_remove("AWS_SHARED_CREDENTIALS_FILE").env_remove("AWS_CONFIG_FILE").env("HOME", &home);
        command.args(args);
        command.output().unwrap()
    };
    // No --endpoint, no keys in the environment: both come from the profile (AWS_PROFILE or --profile).
    let data_path = data.to_str().unwrap();
    let pushed = json(&with_profile(&["dataset", "push", data_path, "s3://lab/p", "--profile", "lab", "--json"]));
    assert_eq!(pushed["episodes_total"], 1);
    let out = root.join("pulled");
    let mut pull = kinedesk(&root);
    pull.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("HOME", &home)
        .env("AWS_PROFILE", "lab");
    json(&pull.args(["dataset", "pull", "s3://lab/p"]).arg(&out).arg("--json").output().unwrap());
    assert!(out.join("meta/info.json").is_file());
    // A profile that is not there is named, with those that are.
    let missing = with_profile(&["dataset", "push", data_path, "s3://lab/q", "--profile", "lba"]);
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success() && stderr.contains("\"lba\"") && stderr.contains("lab"), "{stderr}");
    std::fs::remove_dir_all(&root).unwrap();
}

fn session_json(output: &std::process::Output) -> serde_json::Value {
    json(output)
}

#[test]
fn a_session_goes_to_an_annotator_and_the_annotations_come_back_without_overwriting_anyone() {
    use kinedesk_sessions::annotation::{EpisodeAnnotation, read_annotation, save_annotation};
    let Some(moto) = start_moto(None) else { return };
    moto.create_bucket("lab");
    let root = temp("session");
    let desk = root.join("desk");
    record(&root, &desk, "1.5");
    let url = "s3://lab/sessions/monday";
    let run = |args: &[&str], folder: &Path, rest: &[&str]| {
        let mut command = kinedesk(&root);
        command.args(args).arg(folder).args(rest).args(["--endpoint", &moto.endpoint, "--json"]);
        command.output().unwrap()
    };
    let push = |folder: &Path| run(&["session", "push"], folder, &[url]);
    let pull = |folder: &Path| {
        let mut command = kinedesk(&root);
        command.args(["session", "pull", url]).arg(folder).args(["--endpoint", &moto.endpoint, "--json"]);
        command.output().unwrap()
    };
    let first = session_json(&push(&desk));
    assert_eq!(first["uploaded"].as_array().unwrap().len(), 2, "session.json and the log: {first}");
    assert_eq!(session_json(&push(&desk))["bytes_sent"], 0, "nothing changed: nothing sent");
    // The annotator pulls it: the same files, and the session opens.
    let annotator = root.join("annotator");
    let pulled = session_json(&pull(&annotator));
    assert_eq!(pulled["fetched"].as_array().unwrap().len(), 2, "{pulled}");
    let log = |folder: &Path| folder.join("episodes/episode_000000.kdlog");
    assert!(std::fs::read(log(&annotator)).unwrap() == std::fs::read(log(&desk)).unwrap());
    let info = kinedesk(&root).args(["session", "info", "--json"]).arg(&annotator).output().unwrap();
    assert!(info.status.success(), "{}", String::from_utf8_lossy(&info.stderr));
    // The desk's log grew (pushed while it was still being recorded): sent again, not a conflict, and the annotator's
    // next pull takes the longer log.
    let mut grown = std::fs::OpenOptions::new().append(true).open(log(&desk)).unwrap();
    std::io::Write::write_all(&mut grown, &[0u8; 4096]).unwrap();
    drop(grown);
    let grew = session_json(&push(&desk));
    assert_eq!(grew["uploaded"], serde_json::json!(["episodes/episode_000000.kdlog"]), "{grew}");
    let refreshed = session_json(&pull(&annotator));
    assert_eq!(refreshed["fetched"], serde_json::json!(["episodes/episode_000000.kdlog"]), "{refreshed}");
    assert!(std::fs::read(log(&annotator)).unwrap() == std::fs::read(log(&desk)).unwrap());
    // The annotator annotates and pushes: only the annotation travels.
    let annotation =
        EpisodeAnnotation { instruction: "lift the mug by its handle".into(), ..EpisodeAnnotation::default() };
    save_annotation(&log(&annotator), &annotation).unwrap();
    let back = session_json(&push(&annotator));
    assert_eq!(back["uploaded"], serde_json::json!(["episodes/episode_000000.annotation.json"]), "{back}");
    // Meanwhile the desk pushes again (its copy has no annotation): the annotator's work is not touched.
    session_json(&push(&desk));
    let at_desk = session_json(&pull(&desk));
    assert_eq!(at_desk["fetched"], serde_json::json!(["episodes/episode_000000.annotation.json"]), "{at_desk}");
    assert_eq!(read_annotation(&log(&desk)).unwrap().unwrap().instruction, "lift the mug by its handle");
    // Both change the same annotation: the second push leaves the first one's, says so, and fails; the pull puts the
    // other version beside the local one.
    let mut desk_edit = annotation.clone();
    desk_edit.notes = "desk: gripper slipped".into();
    save_annotation(&log(&desk), &desk_edit).unwrap();
    let mut annotator_edit = annotation;
    annotator_edit.notes = "annotator: fine".into();
    save_annotation(&log(&annotator), &annotator_edit).unwrap();
    session_json(&push(&annotator));
    let conflicted = push(&desk);
    let stderr = String::from_utf8_lossy(&conflicted.stderr);
    assert!(!conflicted.status.success() && stderr.contains("changed here and there"), "{stderr}");
    let pulled_conflict = pull(&desk);
    assert!(!pulled_conflict.status.success());
    assert_eq!(read_annotation(&log(&desk)).unwrap().unwrap().notes, "desk: gripper slipped", "kept");
    let beside: Vec<_> = std::fs::read_dir(desk.join("episodes"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".annotation.json.remote-"))
        .collect();
    assert_eq!(beside.len(), 1, "the annotator's version is beside the desk's");
    assert!(std::fs::read_to_string(beside[0].path()).unwrap().contains("annotator: fine"));
    // Another desk's session pushed to the same place: its episode of the same name is refused, not overwritten.
    let other = root.join("other");
    record(&root, &other, "1");
    let clash = push(&other);
    assert!(!clash.status.success() && String::from_utf8_lossy(&clash.stderr).contains("episode_000000.kdlog"));
    let fresh = root.join("fresh");
    session_json(&pull(&fresh));
    assert!(std::fs::read(log(&fresh)).unwrap() == std::fs::read(log(&desk)).unwrap(), "the first desk's episode");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn google_and_azure_urls_go_through_their_own_clients_up_to_the_network() {
    // No emulator for either among the peers: the requests go to closed loopback ports, which proves the URL, the
    // provider's client and its credentials are used and the failure is said plainly (no key in the message).
    let root = temp("providers");
    let data = dataset(&root, "d", "1");
    let dead = format!("http://127.0.0.1:{}", free_port());
    let gcs_key = format!(
        r#"{{"private_key":"","private_key_id":"","client_email":"desk@lab.iam","gcs_base_url":"{dead}","disable_oauth":true}}"#
    );
    let gcs = kinedesk(&root)
        .args(["dataset", "push"])
        .arg(&data)
        .arg("gs://lab-bucket/x")
        .env("GOOGLE_SERVICE_ACCOUNT_KEY", &gcs_key)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&gcs.stderr);
    assert!(!gcs.status.success() && stderr.contains("gs://lab-bucket/x: cannot reach the storage"), "{stderr}");
    let azure = kinedesk(&root)
        .args(["dataset", "push"])
        .arg(&data)
        .args(["az://container/x", "--endpoint", &dead])
        .env("AZURE_STORAGE_ACCOUNT_NAME", "devstoreaccount1")
        .env("AZURE_STORAGE_ACCOUNT_KEY", "c2VjcmV0LWtleS1mb3ItdGVzdHM=")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&azure.stderr);
    assert!(!azure.status.success() && stderr.contains("az://container/x: cannot reach the storage"), "{stderr}");
    assert!(!stderr.contains("c2VjcmV0"), "the key shows: {stderr}");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_push_from_the_same_source_replaces_its_earlier_episodes_instead_of_adding_them_twice() {
    let Some(moto) = start_moto(None) else { return };
    moto.create_bucket("lab");
    let root = temp("source");
    // The same session exported before and after more recording: different datasets, one source.
    let (before, after, other) =
        (dataset(&root, "before", "1"), dataset(&root, "after", "2"), dataset(&root, "o", "1.5"));
    let url = "s3://lab/replaced";
    let push = |data: &Path, extra: &[&str]| {
        let mut command = kinedesk(&root);
        command.args(["dataset", "push"]).arg(data).args([url, "--endpoint", &moto.endpoint, "--json"]).args(extra);
        command.output().unwrap()
    };
    json(&push(&before, &["--source", "desk1/monday"]));
    // Its own earlier push is replaced (no --append needed: nothing else is there).
    let replaced = json(&push(&after, &["--source", "desk1/monday"]));
    assert_eq!(
        (replaced["parts_replaced"].as_u64(), replaced["episodes_total"].as_i64()),
        (Some(1), Some(1)),
        "{replaced}"
    );
    // Another source still needs --append, and then adds.
    assert!(!push(&other, &["--source", "desk2/monday"]).status.success());
    let added = json(&push(&other, &["--source", "desk2/monday", "--append"]));
    assert_eq!((added["parts_replaced"].as_u64(), added["episodes_total"].as_i64()), (Some(0), Some(2)), "{added}");
    let out = root.join("pulled");
    let pulled = json(&pull_dataset(&root, &moto.endpoint, url, &out, &["--json"]));
    assert_eq!((pulled["parts"].as_u64(), pulled["episodes"].as_u64()), (Some(2), Some(2)), "{pulled}");
    // The replaced push's episode is not in the pulled dataset: the "after" episode (2 s) and the other desk's (1.5 s).
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("meta/info.json")).unwrap()).unwrap();
    let frames = |d: &Path| -> i64 {
        let i: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("meta/info.json")).unwrap()).unwrap();
        i["total_frames"].as_i64().unwrap()
    };
    assert_eq!(info["total_frames"].as_i64().unwrap(), frames(&after) + frames(&other));
    std::fs::remove_dir_all(&root).unwrap();
}
