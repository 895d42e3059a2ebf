//! `kinedesk dataset delete-episodes|split|merge|trim|retask` on LeRobot v3.0 datasets, ours and one the `lerobot` package
//! wrote: the outputs load in the real `lerobot` with the expected episodes, frames and tasks, every kept frame as it
//! was, and the input is never touched.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn kinedesk() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kinedesk"))
}

/// Runs `kinedesk dataset ARGS`; its stdout on success, its stderr on failure.
fn dataset(args: &[&str]) -> Result<String, String> {
    let run = kinedesk().arg("dataset").args(args).output().unwrap();
    if run.status.success() {
        Ok(String::from_utf8_lossy(&run.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&run.stderr).into_owned())
    }
}

/// Every file under `root` with its bytes.
fn contents(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut folders = vec![root.to_owned()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                files.push((path, bytes));
            }
        }
    }
    files.sort();
    files
}

/// What the real lerobot reads from each dataset (sessions/tests/python/check_edited.py), if it is installed.
fn lerobot_reads(datasets: &[&Path]) -> Option<Vec<Value>> {
    let Ok(python) = std::env::var("KINEDESK_LEROBOT_PYTHON") else {
        assert!(std::env::var("KINEDESK_REQUIRE_LEROBOT").as_deref() != Ok("1"), "lerobot is required");
        eprintln!(
            "SKIPPED: no Python with lerobot (scripts/test.sh installs it) — the edited datasets were not loaded"
        );
        return None;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../sessions/tests/python/check_edited.py");
    let run = Command::new(python).arg(script).args(datasets).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let found: Value = serde_json::from_slice(&run.stdout).unwrap();
    Some(found.as_array().unwrap().clone())
}

/// Episode `e` of a dataset as lerobot read it.
fn episode(dataset: &Value, e: usize) -> &Value {
    &dataset["per_episode"][e]
}

/// The episode as it was, but for its task.
fn same_frames(a: &Value, b: &Value) {
    for key in ["states", "actions", "timestamps", "first_image", "last_image"] {
        assert_eq!(a[key], b[key], "{key}");
    }
}

/// Records a 2-second synthetic episode per task into `session` with `cameras` cameras (96×72) and exports the
/// session as the LeRobot v3.0 dataset `dataset`.
fn recorded_dataset(session: &Path, tasks: &[&str], cameras: &str, dataset: &Path) {
    for task in tasks {
        let record = kinedesk()
            .args(["record", "--synthetic", "--seconds", "2", "--cameras", cameras, "--width", "96", "--height", "72"])
            .args(["--task", task, "--out"])
            .arg(session)
            .output()
            .unwrap();
        assert!(record.status.success(), "{}", String::from_utf8_lossy(&record.stderr));
    }
    let export = kinedesk().args(["export", "--format", "lerobot-v3"]).arg(session).arg(dataset).output().unwrap();
    assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
}

const TASKS: [&str; 4] = ["move left 5 cm", "move up 3 cm", "move right 4 cm", "move down 2 cm"];

#[test]
fn edited_datasets_load_in_lerobot_with_the_expected_episodes_and_unchanged_frames() {
    let root = std::env::temp_dir().join(format!("kinedesk-dataset-edit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let source = root.join("source");
    recorded_dataset(&root.join("session"), &TASKS, "2", &source);
    let before = contents(&source);
    let src = source.to_str().unwrap();
    let out = |name: &str| root.join(name).to_str().unwrap().to_owned();

    dataset(&["delete-episodes", src, "--episodes", "1,2", "--out", &out("deleted")]).unwrap();
    let split =
        dataset(&["split", src, "--fractions", "train=0.75,val=0.25", "--out", &out("split"), "--json"]).unwrap();
    let split: Value = serde_json::from_str(&split).unwrap();
    assert_eq!((split[0]["episodes"].as_u64(), split[1]["episodes"].as_u64()), (Some(3), Some(1)), "{split}");
    dataset(&["trim", src, "--episode", "2", "--from-s", "0.5", "--to-s", "1.5", "--out", &out("trimmed")]).unwrap();
    dataset(&["retask", src, "--episode", "0", "--task", "lift the mug", "--out", &out("retasked")]).unwrap();

    // Bad requests get a clear error and write nothing.
    let (x, deleted_out, session_path) = (out("x"), out("deleted"), out("session"));
    let refused = [
        (vec!["delete-episodes", src, "--episodes", "9", "--out", &x], "no episode 9"),
        (vec!["delete-episodes", src, "--episodes", "0,1,2,3", "--out", &x], "keeps no episode"),
        (vec!["delete-episodes", src, "--episodes", "0", "--out", &deleted_out], "exists"),
        (vec!["split", src, "--fractions", "train=0.8,val=0.3", "--out", &x], "add up to 1"),
        (vec!["split", src, "--fractions", "train", "--out", &x], "NAME=FRACTION"),
        (vec!["trim", src, "--episode", "1", "--from-s", "1.5", "--to-s", "0.5", "--out", &x], "keeps nothing"),
        (vec!["trim", src, "--episode", "1", "--from-s", "30", "--to-s", "40", "--out", &x], "no frame between"),
        (vec!["retask", src, "--episode", "1", "--task", " ", "--out", &x], "empty"),
        (vec!["retask", &session_path, "--episode", "1", "--task", "a", "--out", &x], "not a LeRobot dataset"),
    ];
    for (args, says) in refused {
        let error = dataset(&args).unwrap_err();
        assert!(error.contains(says), "{args:?}: {error}");
    }
    assert!(!root.join("x").exists());
    assert!(contents(&source) == before, "the input dataset was changed");

    let paths: Vec<PathBuf> =
        ["source", "deleted", "split/train", "split/val", "trimmed", "retasked"].iter().map(|p| root.join(p)).collect();
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let Some(read) = lerobot_reads(&refs) else { return };
    let [source_read, deleted, train, val, trimmed, retasked] = &read[..] else { panic!("{read:?}") };
    // Each episode has the task it was recorded with (row order of tasks.parquet is what lerobot goes by).
    let tasks: Vec<&str> = (0..4).map(|e| episode(source_read, e)["task"].as_str().unwrap()).collect();
    assert_eq!(tasks, TASKS);
    let total = |d: &Value| d["frames"].as_u64().unwrap();
    let length = |d: &Value, e: usize| episode(d, e)["states"].as_array().unwrap().len() as u64;

    assert_eq!(
        (deleted["episodes"].as_u64(), total(deleted)),
        (Some(2), length(source_read, 0) + length(source_read, 3))
    );
    for (kept, from) in [(0, 0), (1, 3)] {
        same_frames(episode(deleted, kept), episode(source_read, from));
        assert_eq!(episode(deleted, kept)["task"], TASKS[from]);
    }
    assert_eq!(train["episodes"], 3);
    assert_eq!(val["episodes"], 1);
    for e in 0..3 {
        same_frames(episode(train, e), episode(source_read, e));
    }
    same_frames(episode(val, 0), episode(source_read, 3));
    assert_eq!(episode(val, 0)["task"], TASKS[3]);

    // The trimmed episode: the source's frames from 0.5 s to 1.5 s, its clock from 0; the others as they were.
    let source_times = episode(source_read, 2)["timestamps"].as_array().unwrap();
    let kept: Vec<usize> =
        (0..source_times.len()).filter(|i| (0.5..=1.5).contains(&source_times[*i].as_f64().unwrap())).collect();
    let trimmed_episode = episode(trimmed, 2);
    assert_eq!(length(trimmed, 2), kept.len() as u64);
    for (k, i) in kept.iter().enumerate() {
        assert_eq!(trimmed_episode["states"][k], episode(source_read, 2)["states"][*i], "frame {k}");
        assert_eq!(trimmed_episode["actions"][k], episode(source_read, 2)["actions"][*i], "frame {k}");
        let expected = source_times[*i].as_f64().unwrap() - source_times[kept[0]].as_f64().unwrap();
        assert!((trimmed_episode["timestamps"][k].as_f64().unwrap() - expected).abs() < 1e-3, "frame {k}");
    }
    for e in [0, 1, 3] {
        same_frames(episode(trimmed, e), episode(source_read, e));
    }
    assert_eq!(episode(retasked, 0)["task"], "lift the mug");
    for e in 0..4 {
        same_frames(episode(retasked, e), episode(source_read, e));
    }
    for (e, task) in TASKS.iter().enumerate().skip(1) {
        assert_eq!(episode(retasked, e)["task"], *task);
    }

    // A dataset the lerobot package wrote itself (PNG frames, its own metadata and statistics) is edited the same way.
    let python = std::env::var("KINEDESK_LEROBOT_PYTHON").unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../sessions/tests/python/lerobot_write_same_episodes.py");
    let written = root.join("written-by-lerobot");
    let run = Command::new(&python).arg(script).arg(&source).arg(&written).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let theirs = written.to_str().unwrap();
    dataset(&["delete-episodes", theirs, "--episodes", "0", "--out", &out("theirs-deleted")]).unwrap();
    dataset(&["trim", theirs, "--episode", "1", "--from-s", "0.5", "--to-s", "1.0", "--out", &out("theirs-trimmed")])
        .unwrap();
    let paths = [written.clone(), root.join("theirs-deleted"), root.join("theirs-trimmed")];
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let read = lerobot_reads(&refs).unwrap();
    let [theirs_read, theirs_deleted, theirs_trimmed] = &read[..] else { panic!("{read:?}") };
    assert_eq!(theirs_deleted["episodes"], 3);
    for e in 0..3 {
        same_frames(episode(theirs_deleted, e), episode(theirs_read, e + 1));
        assert_eq!(episode(theirs_deleted, e)["task"], episode(theirs_read, e + 1)["task"]);
    }
    assert_eq!(theirs_trimmed["episodes"], 4);
    let times = episode(theirs_read, 1)["timestamps"].as_array().unwrap();
    let kept = times.iter().filter(|t| (0.5..=1.0).contains(&t.as_f64().unwrap())).count() as u64;
    assert_eq!(length(theirs_trimmed, 1), kept);
    // Statistics were recomputed from what was kept: the state's frame count is the dataset's.
    let stats: Value =
        serde_json::from_slice(&std::fs::read(root.join("theirs-trimmed/meta/stats.json")).unwrap()).unwrap();
    assert_eq!(stats["observation.state"]["count"][0].as_u64(), Some(total(theirs_trimmed)), "{stats}");
    std::fs::remove_dir_all(&root).unwrap();
}

/// The findings of `kinedesk dataset doctor --json` and whether it passed.
fn doctor(dataset: &Path) -> (Value, bool) {
    let run = kinedesk().args(["dataset", "doctor", "--json"]).arg(dataset).output().unwrap();
    let report = serde_json::from_slice(&run.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", String::from_utf8_lossy(&run.stderr)));
    (report, run.status.success())
}

/// Whether the report has a finding of `check` (for `episode`, when given) whose message contains `says`.
fn finds(report: &Value, check: &str, episode: Option<i64>, says: &str) -> bool {
    report["findings"].as_array().unwrap().iter().any(|f| {
        f["check"] == check
            && episode.is_none_or(|e| f["episode"] == e)
            && f["message"].as_str().unwrap().contains(says)
    })
}

#[test]
fn the_doctor_finds_timestamp_gaps_jumps_and_constant_dimensions_as_lerobot_doctor_does() {
    let root = std::env::temp_dir().join(format!("kinedesk-dataset-doctor-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let good = root.join("good");
    recorded_dataset(&root.join("session"), &TASKS[..2], "1", &good);

    // An export as recorded: nothing that breaks training; the gripper never moved in these tasks, which it says.
    let (report, passed) = doctor(&good);
    assert!(passed, "{report:#}");
    assert_eq!(report["episodes"], 2);
    assert!(finds(&report, "constant_dimension", None, "observation.state[7]"), "{report:#}");
    assert!(!finds(&report, "timestamp_gap", None, "") && !finds(&report, "joint_jump", None, ""), "{report:#}");

    let Ok(python) = std::env::var("KINEDESK_LEROBOT_PYTHON") else {
        assert!(std::env::var("KINEDESK_REQUIRE_LEROBOT").as_deref() != Ok("1"), "lerobot is required");
        eprintln!("SKIPPED: no Python with lerobot — the damaged dataset and lerobot-doctor were not checked");
        return;
    };
    // The same dataset damaged: a timestamp gap in episode 1, a joint jump in episode 0.
    let broken = root.join("broken");
    let copy = Command::new("cp").arg("-r").arg(&good).arg(&broken).status().unwrap();
    assert!(copy.success());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../sessions/tests/python/damage_dataset.py");
    let damage = Command::new(&python).arg(script).arg(&broken).output().unwrap();
    assert!(damage.status.success(), "{}", String::from_utf8_lossy(&damage.stderr));
    let (report, passed) = doctor(&broken);
    assert!(!passed, "a timestamp gap is an error: {report:#}");
    assert!(finds(&report, "timestamp_gap", Some(1), "at frame 10"), "{report:#}");
    assert!(finds(&report, "joint_jump", Some(0), "frame 20, dimension 0"), "{report:#}");
    assert!(!finds(&report, "timestamp_gap", Some(0), ""), "{report:#}");

    // lerobot-doctor (nobody here wrote it) on both: what it finds, the doctor finds.
    let bin = Path::new(&python).parent().unwrap().join("lerobot-doctor");
    for (dataset, ours) in [(&good, doctor(&good).0), (&broken, report)] {
        let run = Command::new(&bin).arg("check").arg(dataset).arg("--json").output().unwrap();
        let theirs: Value = serde_json::from_slice(&run.stdout)
            .unwrap_or_else(|e| panic!("lerobot-doctor said no JSON ({e}): {}", String::from_utf8_lossy(&run.stderr)));
        for check in theirs["checks"].as_array().unwrap() {
            for message in check["messages"].as_array().unwrap().iter().filter(|m| m["severity"] != "PASS") {
                let text = message["message"].as_str().unwrap();
                // Their zero-variance dimensions of state and action are our constant dimensions.
                for feature in ["observation.state", "action"] {
                    if let Some(rest) = text.strip_prefix(&format!("{feature}["))
                        && text.contains("zero variance")
                    {
                        let dimension = rest.split(']').next().unwrap();
                        let name = format!("{feature}[{dimension}]");
                        assert!(finds(&ours, "constant_dimension", None, &name), "{text}: {ours:#}");
                    }
                }
                // Their dropped-frame gaps are our timestamp gaps, in the same episode.
                if text.contains("dropped frame gap") && text.starts_with("Episode ") {
                    let episode: i64 = text["Episode ".len()..].split(':').next().unwrap().parse().unwrap();
                    assert!(finds(&ours, "timestamp_gap", Some(episode), ""), "{text}: {ours:#}");
                }
            }
        }
        let temporal = theirs["checks"].as_array().unwrap().iter().find(|c| c["name"] == "Temporal Consistency");
        let gap_seen = temporal.is_some_and(|c| c["severity"] != "PASS");
        assert_eq!(gap_seen, finds(&ours, "timestamp_gap", None, ""), "{theirs:#}");
    }
    std::fs::remove_dir_all(&root).unwrap();
}

/// `kinedesk dataset split` into parts named `names`, each `1/len` of the episodes (rounded as the tool does).
fn split_evenly(dataset: &Path, names: &[&str], out: &Path) {
    let fraction = 1.0 / names.len() as f64;
    let fractions: Vec<String> = names.iter().map(|n| format!("{n}={fraction}")).collect();
    let fractions = fractions.join(",");
    dataset_cmd_ok(&["split", dataset.to_str().unwrap(), "--fractions", &fractions, "--out", out.to_str().unwrap()]);
}

fn dataset_cmd_ok(args: &[&str]) -> String {
    dataset(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

#[test]
fn merged_datasets_load_in_lerobot_with_every_episode_and_frame_of_their_sources() {
    let root = std::env::temp_dir().join(format!("kinedesk-dataset-merge-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let session = root.join("session");
    let images = root.join("images");
    recorded_dataset(&session, &TASKS[..3], "2", &images);
    let path = |p: &Path| p.to_str().unwrap().to_owned();
    let out = |name: &str| path(&root.join(name));

    // Split and merged back: the source again, episode by episode. Merged with a part of itself: all of both.
    split_evenly(&images, &["a", "b"], &root.join("parts"));
    let before = contents(&images);
    let merged = dataset_cmd_ok(&["merge", &out("parts/a"), &out("parts/b"), "--out", &out("rejoined"), "--json"]);
    let merged: Value = serde_json::from_str(&merged).unwrap();
    assert_eq!(merged[0]["episodes"], 3, "{merged}");
    dataset_cmd_ok(&["delete-episodes", &path(&images), "--episodes", "0", "--out", &out("later")]);
    dataset_cmd_ok(&["merge", &path(&images), &out("later"), "--out", &out("doubled")]);

    // Bad merges get a clear error and write nothing: another frame rate, other features, one dataset.
    let slower = root.join("slower");
    assert!(Command::new("cp").arg("-r").arg(root.join("later")).arg(&slower).status().unwrap().success());
    let info_path = slower.join("meta/info.json");
    let mut info: Value = serde_json::from_slice(&std::fs::read(&info_path).unwrap()).unwrap();
    info["fps"] = serde_json::json!(15);
    std::fs::write(&info_path, info.to_string()).unwrap();
    let one_camera = root.join("one-camera");
    recorded_dataset(&root.join("session-1"), &TASKS[3..], "1", &one_camera);
    for (inputs, says) in [
        (vec![path(&images), path(&slower)], "fps is 15"),
        (vec![path(&images), path(&one_camera)], "observation.images"),
        (vec![path(&images)], "2 values"),
        (vec![path(&images), out("nowhere")], "not a LeRobot dataset"),
    ] {
        let mut args = vec!["merge".to_owned()];
        args.extend(inputs);
        args.extend(["--out".to_owned(), out("x")]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let error = dataset(&args).unwrap_err();
        assert!(error.contains(says), "{args:?}: {error}");
    }
    assert!(!root.join("x").exists());
    assert!(contents(&images) == before, "an input dataset was changed");

    // The cameras as MP4 video: each source's video files are numbered after the previous source's.
    let video = root.join("video");
    let export = kinedesk().args(["export", "--video"]).arg(&session).arg(&video).output().unwrap();
    let video_too = kinedesk_sessions::video::find_ffmpeg().is_some();
    if video_too {
        assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
        split_evenly(&video, &["a", "b"], &root.join("video-parts"));
        dataset_cmd_ok(&["merge", &out("video-parts/a"), &out("video-parts/b"), "--out", &out("video-rejoined")]);
        assert!(root.join("video-rejoined/videos/observation.images.pattern1/chunk-000/file-001.mp4").is_file());
        // MP4 files roll over between episodes past --video-file-mb (here every episode: 0 MB).
        let rolled = root.join("video-rolled");
        let export =
            kinedesk().args(["export", "--video", "--video-file-mb", "0"]).arg(&session).arg(&rolled).output().unwrap();
        assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
        assert!(rolled.join("videos/observation.images.arm/chunk-000/file-002.mp4").is_file());
    } else {
        assert!(std::env::var("KINEDESK_REQUIRE_FFMPEG").as_deref() != Ok("1"), "ffmpeg is required");
        eprintln!("SKIPPED: no ffmpeg — merging video datasets was not checked");
    }

    let mut paths = vec![images.clone(), root.join("later"), root.join("rejoined"), root.join("doubled")];
    if video_too {
        paths.extend([video.clone(), root.join("video-rejoined"), root.join("video-rolled")]);
    }
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let Some(read) = lerobot_reads(&refs) else { return };
    let (source, later, rejoined, doubled) = (&read[0], &read[1], &read[2], &read[3]);
    assert_eq!((rejoined["episodes"].as_u64(), rejoined["frames"].as_u64()), (Some(3), source["frames"].as_u64()));
    for (e, task) in TASKS[..3].iter().enumerate() {
        same_frames(episode(rejoined, e), episode(source, e));
        assert_eq!(episode(rejoined, e)["task"], *task);
    }
    let total = |d: &Value| d["frames"].as_u64().unwrap();
    assert_eq!((doubled["episodes"].as_u64(), total(doubled)), (Some(5), total(source) + total(later)));
    for e in 0..3 {
        same_frames(episode(doubled, e), episode(source, e));
    }
    for e in 0..2 {
        same_frames(episode(doubled, 3 + e), episode(later, e));
        assert_eq!(episode(doubled, 3 + e)["task"], TASKS[1 + e]);
    }
    if video_too {
        let (video_read, video_rejoined, video_rolled) = (&read[4], &read[5], &read[6]);
        assert_eq!((video_rejoined["episodes"].as_u64(), video_rolled["episodes"].as_u64()), (Some(3), Some(3)));
        for e in 0..3 {
            same_frames(episode(video_rejoined, e), episode(video_read, e));
            // Encoded apart, the rolled files' frames are not bit-identical to the single file's.
            let (a, b) = (episode(video_rolled, e), episode(video_read, e));
            for key in ["states", "actions", "timestamps"] {
                assert_eq!(a[key], b[key], "{key}");
            }
            for key in ["first_image", "last_image"] {
                for (x, y) in a[key].as_array().unwrap().iter().zip(b[key].as_array().unwrap()) {
                    assert!((x.as_f64().unwrap() - y.as_f64().unwrap()).abs() < 0.03, "{key}: {x} vs {y}");
                }
            }
        }
    }

    // A dataset the lerobot package wrote itself, split and merged back.
    let python = std::env::var("KINEDESK_LEROBOT_PYTHON").unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../sessions/tests/python/lerobot_write_same_episodes.py");
    let theirs = root.join("written-by-lerobot");
    let run = Command::new(&python).arg(script).arg(&images).arg(&theirs).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    split_evenly(&theirs, &["a", "b", "c"], &root.join("their-parts"));
    dataset_cmd_ok(&[
        "merge",
        &out("their-parts/a"),
        &out("their-parts/b"),
        &out("their-parts/c"),
        "--out",
        &out("theirs-rejoined"),
    ]);
    let read = lerobot_reads(&[theirs.as_path(), &root.join("theirs-rejoined")]).unwrap();
    assert_eq!(read[1]["episodes"], 3);
    for e in 0..3 {
        same_frames(episode(&read[1], e), episode(&read[0], e));
        assert_eq!(episode(&read[1], e)["task"], episode(&read[0], e)["task"]);
    }
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn the_doctor_checks_a_session_as_its_export_would_be_and_names_unconfirmed_stages() {
    let root = std::env::temp_dir().join(format!("kinedesk-session-doctor-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let session = root.join("session");
    for task in &TASKS[..2] {
        let record = kinedesk()
            .args(["record", "--synthetic", "--seconds", "2", "--cameras", "1", "--width", "96", "--height", "72"])
            .args(["--task", task, "--out"])
            .arg(&session)
            .output()
            .unwrap();
        assert!(record.status.success(), "{}", String::from_utf8_lossy(&record.stderr));
    }
    // Episode 1: one stage an operator drew, one nobody confirmed (an annotation saved before stage sources).
    let annotation = serde_json::json!({
        "instruction": TASKS[1],
        "stages": [
            {"stage": "approach", "start_s": 0.0, "end_s": 0.8, "source": "operator"},
            {"stage": "lift", "start_s": 0.8, "end_s": 1.8},
        ],
    });
    std::fs::write(session.join("episodes/episode_000001.annotation.json"), annotation.to_string()).unwrap();
    let before = contents(&session);
    let scratch = || -> std::collections::BTreeSet<std::ffi::OsString> {
        let entries = std::fs::read_dir(std::env::temp_dir()).unwrap().filter_map(Result::ok);
        entries.map(|e| e.file_name()).filter(|n| n.to_string_lossy().starts_with("kinedesk-doctor-")).collect()
    };
    let scratch_before = scratch();

    let (report, passed) = doctor(&session);
    assert!(passed, "{report:#}");
    assert_eq!((report["episodes"].as_u64(), report["fps"].as_f64()), (Some(2), Some(30.0)), "{report:#}");
    assert!(finds(&report, "no_annotation", Some(0), "episode_000000.kdlog: not annotated"), "{report:#}");
    assert!(finds(&report, "unconfirmed_stages", Some(1), "1 of 2 stage segments are unconfirmed"), "{report:#}");
    assert!(!finds(&report, "unconfirmed_stages", Some(0), ""), "{report:#}");
    // What the export will carry is checked as for a dataset: the gripper never moved.
    assert!(finds(&report, "constant_dimension", None, "observation.state[7]"), "{report:#}");
    assert!(!finds(&report, "timestamp_gap", None, ""), "{report:#}");
    // Checking reads the session and leaves nothing behind.
    assert!(contents(&session) == before, "the session was changed");
    assert_eq!(scratch(), scratch_before, "the doctor left its scratch export behind");

    // An episode the export would leave out is named.
    std::fs::write(session.join("episodes/episode_000000.annotation.json"), "{ not json").unwrap();
    let (report, _) = doctor(&session);
    assert!(finds(&report, "left_out", None, "episode_000000.kdlog: not exported"), "{report:#}");
    assert_eq!(report["episodes"], 1, "{report:#}");
    let text = kinedesk().args(["dataset", "doctor"]).arg(&session).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Warning [left_out]") && text.contains("Warning [unconfirmed_stages] episode 0:"), "{text}");
    std::fs::remove_dir_all(&root).unwrap();
}
