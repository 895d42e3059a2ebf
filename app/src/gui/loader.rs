//! The file loader: a named worker thread that reads URDFs (with their meshes) and trajectory files, so the UI
//! thread never waits on the disk or a mesh parser.

use std::path::PathBuf;
use std::time::Duration;

use kinedesk_models::channel::Waker;
use kinedesk_models::robot::{LoadedUrdf, Trajectory, UrdfOptions, load_urdf};
use kinedesk_models::{Worker, WorkerContext};

use crate::gui::arm_state::load_trajectory;

/// What to load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadJob {
    Urdf { path: PathBuf, tip: Option<String> },
    Trajectory(PathBuf),
}

/// What came back.
#[derive(Debug)]
pub enum LoadResult {
    Urdf { path: PathBuf, tip: Option<String>, result: Result<Box<LoadedUrdf>, String> },
    Trajectory { path: PathBuf, result: Result<Trajectory, String> },
}

/// How many jobs may wait; more are refused with a message rather than queued without bound.
const QUEUE: usize = 8;

/// Starts the loader thread. `waker` is called when a result is ready (the UI passes `request_repaint`).
pub fn spawn_loader(waker: Waker) -> std::io::Result<Worker<LoadJob, LoadResult>> {
    Worker::spawn("kinedesk-loader", QUEUE, QUEUE, Some(waker), |ctx| run(&ctx))
}

fn run(ctx: &WorkerContext<LoadJob, LoadResult>) {
    while !ctx.should_stop() {
        let Some(job) = ctx.commands.recv_timeout(Duration::from_millis(100)) else { continue };
        let result = match job {
            LoadJob::Urdf { path, tip } => {
                let options = UrdfOptions { package_root: None, tip_link: tip.clone(), load_meshes: true };
                let result = load_urdf(&path, &options).map(Box::new).map_err(|error| error.to_string());
                LoadResult::Urdf { path, tip, result }
            }
            LoadJob::Trajectory(path) => {
                let result = load_trajectory(&path);
                LoadResult::Trajectory { path, result }
            }
        };
        // The result queue is as deep as the job queue, so this only fails if the app is gone.
        let _ = ctx.events.try_send(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn jobs_are_answered_on_the_loader_thread() {
        let mut loader = spawn_loader(Arc::new(|| {})).unwrap();
        loader.send(LoadJob::Trajectory(PathBuf::from("/no/such/trajectory.json"))).unwrap();
        let Some(LoadResult::Trajectory { result, .. }) = loader.events().recv_timeout(Duration::from_secs(10)) else {
            panic!("no answer");
        };
        assert!(result.unwrap_err().contains("cannot read"));
        assert!(loader.shutdown_within(Duration::from_secs(5)).is_some());
    }
}
