//! `kinedesk-tests`: workspace-level integration tests (whole-app `egui_kittest` runs and end-to-end flows).
//!
//! The tests live in `tests/tests/*.rs`; this library holds helpers they share.

use std::collections::HashMap;

/// An in-memory stand-in for eframe's on-disk storage, to test what the app saves and restores.
#[derive(Default, Debug, Clone)]
pub struct MemoryStorage {
    pub values: HashMap<String, String>,
}

impl eframe::Storage for MemoryStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.values.get(key).cloned()
    }

    fn set_string(&mut self, key: &str, value: String) {
        self.values.insert(key.to_owned(), value);
    }

    fn remove_string(&mut self, key: &str) {
        self.values.remove(key);
    }

    fn flush(&mut self) {}
}
