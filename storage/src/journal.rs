//! The push journal: which files of a part are up, and for a multipart upload in progress its id and the parts
//! done (with their ETags). Written (to a temporary file, then renamed) after every change, so a push killed at any
//! point continues from the last part it finished.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::{StorageError, io};

#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct FileState {
    done: bool,
    upload: Option<String>,
    /// Part index → ETag (content id).
    parts: BTreeMap<usize, String>,
    count: usize,
}

#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct State {
    remote: String,
    files: BTreeMap<String, FileState>,
}

/// The most parts of `file` that any push journal in `dir` records as confirmed by the store — what a push that
/// stopped now would not send again (for measurements and tests that stop a push part way).
#[must_use]
pub fn confirmed_parts(dir: &Path, file: &str) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .filter_map(|bytes| serde_json::from_slice::<State>(&bytes).ok())
        .filter_map(|state| state.files.get(file).map(|f| f.parts.len()))
        .max()
        .unwrap_or(0)
}

/// A push's journal on disk.
pub struct Journal {
    path: PathBuf,
    state: State,
}

impl Journal {
    /// Loads the journal of a push to `remote` (a journal for another destination, or an unreadable one, starts
    /// afresh: the worst case is sending again).
    pub fn load(path: &Path, remote: &str) -> Result<Self, StorageError> {
        let state = std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<State>(&bytes).ok())
            .filter(|s| s.remote == remote)
            .unwrap_or_else(|| State { remote: remote.to_owned(), files: BTreeMap::new() });
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, &e))?;
        }
        Ok(Self { path: path.to_owned(), state })
    }

    fn save(&self) -> Result<(), StorageError> {
        let temporary = self.path.with_extension("json.tmp");
        let bytes = serde_json::to_vec(&self.state).unwrap_or_default();
        std::fs::write(&temporary, bytes).map_err(|e| io(&temporary, &e))?;
        std::fs::rename(&temporary, &self.path).map_err(|e| io(&self.path, &e))
    }

    #[must_use]
    pub fn file_done(&self, file: &str) -> bool {
        self.state.files.get(file).is_some_and(|f| f.done)
    }

    pub fn forget(&mut self, file: &str) {
        self.state.files.remove(file);
        let _ = self.save();
    }

    pub fn mark_done(&mut self, file: &str) -> Result<(), StorageError> {
        self.state.files.insert(file.to_owned(), FileState { done: true, ..FileState::default() });
        self.save()
    }

    #[must_use]
    pub fn upload(&self, file: &str) -> Option<String> {
        self.state.files.get(file).and_then(|f| f.upload.clone())
    }

    pub fn start_upload(&mut self, file: &str, upload: &str, count: usize) -> Result<(), StorageError> {
        self.state.files.insert(
            file.to_owned(),
            FileState { done: false, upload: Some(upload.to_owned()), parts: BTreeMap::new(), count },
        );
        self.save()
    }

    #[must_use]
    pub fn parts_done(&self, file: &str) -> Vec<usize> {
        self.state.files.get(file).map(|f| f.parts.keys().copied().collect()).unwrap_or_default()
    }

    pub fn part_done(&mut self, file: &str, index: usize, e_tag: &str) -> Result<(), StorageError> {
        if let Some(state) = self.state.files.get_mut(file) {
            state.parts.insert(index, e_tag.to_owned());
        }
        self.save()
    }

    /// The ETags of parts `0..count`, if every one is done.
    #[must_use]
    pub fn part_ids(&self, file: &str, count: usize) -> Option<Vec<String>> {
        let state = self.state.files.get(file)?;
        (0..count).map(|i| state.parts.get(&i).cloned()).collect()
    }

    /// The push finished: the journal goes.
    pub fn remove(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
