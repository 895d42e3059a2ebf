//! One registry for the window's background work (after rerun's `background_tasks`): listing a session's
//! episodes, finishing a recording, exports and imports each run on their own named thread, report progress through
//! shared counters, and hand their result back as a message the app applies in its logic pass. Nothing here blocks
//! the UI thread, and the panes draw progress from it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError, sync_channel};
use std::time::{Duration, Instant};

use kinedesk_models::channel::Waker;

/// What a task is (at most one of each kind runs at a time, except where noted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskKind {
    /// Reading the episode list of the open session (headers and footers only).
    ListEpisodes,
    /// Writing out a recording's last frames and its end record.
    FinishEpisode,
    Export,
    Import,
    /// The dataset doctor on what an export of the session would write.
    Check,
    /// Splitting an episode in two (copies its log).
    Split,
    /// Pushing the session to object storage (exported as a dataset, or as it is).
    Push,
    /// Pulling a session from object storage.
    Pull,
}

impl TaskKind {
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::ListEpisodes => "listing episodes",
            Self::FinishEpisode => "finishing the episode",
            Self::Export => "exporting",
            Self::Import => "importing",
            Self::Check => "checking the session",
            Self::Split => "splitting the episode",
            Self::Push => "pushing to object storage",
            Self::Pull => "pulling from object storage",
        }
    }
}

/// Progress a task reports: `done` of `total` units.
#[derive(Debug, Default)]
pub struct TaskProgress {
    done: AtomicUsize,
    total: AtomicUsize,
}

impl TaskProgress {
    pub fn set(&self, done: usize, total: usize) {
        self.done.store(done, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
    }

    #[must_use]
    pub fn get(&self) -> (usize, usize) {
        (self.done.load(Ordering::Relaxed), self.total.load(Ordering::Relaxed))
    }
}

/// A running task as the panes see it.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskView {
    pub kind: TaskKind,
    pub name: String,
    pub done: usize,
    pub total: usize,
    pub elapsed: Duration,
}

struct Task<T> {
    kind: TaskKind,
    name: String,
    started: Instant,
    progress: Arc<TaskProgress>,
    result: Receiver<T>,
}

/// The registry. `T` is what tasks hand back (the app's `TaskOutput`).
pub struct BackgroundTasks<T> {
    tasks: Vec<Task<T>>,
    waker: Option<Waker>,
}

impl<T> Default for BackgroundTasks<T> {
    fn default() -> Self {
        Self { tasks: Vec::new(), waker: None }
    }
}

impl<T: Send + 'static> BackgroundTasks<T> {
    #[must_use]
    pub fn new(waker: Option<Waker>) -> Self {
        Self { tasks: Vec::new(), waker }
    }

    /// Runs `work` on a thread named `kinedesk-<kind>`; its result arrives through [`Self::poll`]. Refused when a
    /// task of the same kind is still running (listing excepted: a newer listing simply follows the older one).
    pub fn spawn(
        &mut self,
        kind: TaskKind,
        name: impl Into<String>,
        work: impl FnOnce(&TaskProgress) -> T + Send + 'static,
    ) -> Result<(), String> {
        if kind != TaskKind::ListEpisodes && self.is_running(kind) {
            return Err(format!("{} is already under way", kind.label()));
        }
        let (tx, rx) = sync_channel(1);
        let progress = Arc::new(TaskProgress::default());
        let shared = progress.clone();
        let waker = self.waker.clone();
        let thread = format!("kinedesk-{}", kind.label().replace(' ', "-"));
        std::thread::Builder::new()
            .name(thread)
            .spawn(move || {
                let result = work(&shared);
                let _ = tx.send(result);
                if let Some(waker) = waker {
                    waker();
                }
            })
            .map_err(|error| format!("could not start {}: {error}", kind.label()))?;
        self.tasks.push(Task { kind, name: name.into(), started: Instant::now(), progress, result: rx });
        Ok(())
    }

    /// The results of the tasks that finished since the last call, in the order they were started.
    pub fn poll(&mut self) -> Vec<T> {
        let mut finished = Vec::new();
        self.tasks.retain(|task| match task.result.try_recv() {
            Ok(result) => {
                finished.push(result);
                false
            }
            Err(TryRecvError::Empty) => true,
            // The thread panicked: nothing will come; the app learns of it through the missing result.
            Err(TryRecvError::Disconnected) => false,
        });
        finished
    }

    #[must_use]
    pub fn is_running(&self, kind: TaskKind) -> bool {
        self.tasks.iter().any(|task| task.kind == kind)
    }

    /// The running task of `kind`, if any.
    #[must_use]
    pub fn view(&self, kind: TaskKind) -> Option<TaskView> {
        self.views().into_iter().find(|view| view.kind == kind)
    }

    /// Every running task.
    #[must_use]
    pub fn views(&self) -> Vec<TaskView> {
        self.tasks
            .iter()
            .map(|task| {
                let (done, total) = task.progress.get();
                TaskView { kind: task.kind, name: task.name.clone(), done, total, elapsed: task.started.elapsed() }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_run_off_the_calling_thread_and_report_back() {
        let mut tasks: BackgroundTasks<(String, usize)> = BackgroundTasks::new(None);
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        tasks
            .spawn(TaskKind::Export, "out", move |progress| {
                progress.set(1, 3);
                let _ = go_rx.recv();
                (std::thread::current().name().unwrap_or_default().to_owned(), 42)
            })
            .unwrap();
        // While it runs: a second export is refused, progress shows, nothing has finished.
        assert!(tasks.spawn(TaskKind::Export, "again", |_| (String::new(), 0)).is_err());
        let deadline = Instant::now() + Duration::from_secs(5);
        while tasks.view(TaskKind::Export).is_some_and(|v| v.done == 0) && Instant::now() < deadline {
            std::thread::yield_now();
        }
        assert_eq!(tasks.view(TaskKind::Export).map(|v| (v.done, v.total)), Some((1, 3)));
        assert!(tasks.poll().is_empty());
        go_tx.send(()).unwrap();
        let mut finished = Vec::new();
        while finished.is_empty() && Instant::now() < deadline {
            finished = tasks.poll();
        }
        assert_eq!(finished, [("kinedesk-exporting".to_owned(), 42)]);
        assert!(!tasks.is_running(TaskKind::Export));
    }
}
