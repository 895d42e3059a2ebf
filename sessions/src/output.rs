//! Where an export writes. Everything goes into a hidden sibling of the output (`.NAME.partial-PID`) that is
//! renamed into place only when the export has finished, so a failed or interrupted export never leaves something
//! that looks like a dataset. An existing output is replaced only when asked (`--force`), and never by a path that
//! points into the session being exported, or through a symbolic link.

use std::path::{Path, PathBuf};

/// An output being written: write into [`StagedOutput::path`], then [`StagedOutput::commit`]. Dropped without a
/// commit, the partial output is removed.
#[derive(Debug)]
pub struct StagedOutput {
    target: PathBuf,
    staging: PathBuf,
    committed: bool,
}

fn absolute(path: &Path) -> Result<PathBuf, String> {
    std::path::absolute(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The path with every existing ancestor resolved (symbolic links followed), the rest appended as written.
fn resolved(path: &Path) -> Result<PathBuf, String> {
    let path = absolute(path)?;
    let mut existing = path.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return Ok(rest.iter().rev().fold(real, |acc, part| acc.join(part)));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return Ok(path),
        }
    }
}

impl StagedOutput {
    /// Checks `out` as the output of exporting `sources` (sessions; none for outputs made from nothing read) and
    /// prepares its staging path (its parent folders are created). `overwrite`: an existing `out` is replaced at
    /// commit.
    pub fn prepare(sources: &[&Path], out: &Path, overwrite: bool) -> Result<Self, String> {
        let name = out
            .file_name()
            .filter(|name| !name.is_empty())
            .ok_or_else(|| format!("{} does not name a file or folder to create", out.display()))?
            .to_string_lossy()
            .into_owned();
        if let Ok(meta) = std::fs::symlink_metadata(out)
            && meta.file_type().is_symlink()
        {
            return Err(format!("{} is a symbolic link; name the real path to write", out.display()));
        }
        let exists = std::fs::symlink_metadata(out).is_ok();
        if exists && !overwrite {
            return Err(format!(
                "{} exists; choose a new name (on the command line, --force replaces it)",
                out.display()
            ));
        }
        let target = resolved(out)?;
        for source in sources {
            let source = resolved(source)?;
            if target.starts_with(&source) {
                return Err(format!(
                    "{} is inside the session {} being exported; write it elsewhere",
                    out.display(),
                    source.display()
                ));
            }
            if exists && source.starts_with(&target) {
                return Err(format!("replacing {} would delete the session being exported", out.display()));
            }
        }
        let parent = target.parent().ok_or_else(|| format!("{} has no parent folder", out.display()))?.to_owned();
        std::fs::create_dir_all(&parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        let staging = parent.join(format!(".{name}.partial-{}", std::process::id()));
        remove_any(&staging)?;
        Ok(Self { target, staging, committed: false })
    }

    /// Where to write.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// Puts the finished output in place (replacing the old one, when allowed at `prepare`).
    pub fn commit(mut self) -> Result<(), String> {
        let replaced = std::fs::symlink_metadata(&self.target).is_ok().then(|| {
            let name = self.target.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            self.target.with_file_name(format!(".{name}.replaced-{}", std::process::id()))
        });
        if let Some(old) = &replaced {
            remove_any(old)?;
            std::fs::rename(&self.target, old).map_err(|e| format!("{}: {e}", self.target.display()))?;
        }
        if let Err(error) = std::fs::rename(&self.staging, &self.target) {
            if let Some(old) = &replaced {
                let _ = std::fs::rename(old, &self.target);
            }
            return Err(format!("{}: {error}", self.target.display()));
        }
        self.committed = true;
        if let Some(old) = &replaced {
            remove_any(old)?;
        }
        Ok(())
    }
}

impl Drop for StagedOutput {
    fn drop(&mut self) {
        if !self.committed {
            let _ = remove_any(&self.staging);
        }
    }
}

/// Removes a file or a folder tree, if there is one.
fn remove_any(path: &Path) -> Result<(), String> {
    let result = match std::fs::symlink_metadata(path) {
        Err(_) => return Ok(()),
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
    };
    result.map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kinedesk-output-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("session/episodes")).unwrap();
        dir
    }

    #[test]
    fn outputs_appear_only_when_committed_and_replace_only_when_asked() {
        let dir = scratch("commit");
        let (session, out) = (dir.join("session"), dir.join("sub/dataset"));
        let staged = StagedOutput::prepare(&[&session], &out, false).unwrap();
        std::fs::create_dir_all(staged.path().join("meta")).unwrap();
        assert!(!out.exists(), "nothing at the output until commit");
        drop(staged);
        assert_eq!(std::fs::read_dir(dir.join("sub")).unwrap().count(), 0, "a dropped export leaves nothing");

        let staged = StagedOutput::prepare(&[&session], &out, false).unwrap();
        std::fs::write(staged.path(), b"first").unwrap();
        staged.commit().unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"first");
        let error = StagedOutput::prepare(&[&session], &out, false).unwrap_err();
        assert!(error.contains("--force"), "{error}");
        let staged = StagedOutput::prepare(&[&session], &out, true).unwrap();
        std::fs::create_dir_all(staged.path().join("meta")).unwrap();
        staged.commit().unwrap();
        assert!(out.join("meta").is_dir(), "replaced (a file by a folder even)");
        assert_eq!(std::fs::read_dir(dir.join("sub")).unwrap().count(), 1, "no leftovers");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn outputs_inside_the_source_through_links_or_over_it_are_refused() {
        let dir = scratch("refuse");
        let session = dir.join("session");
        let error = StagedOutput::prepare(&[&session], &session.join("episodes/out"), false).unwrap_err();
        assert!(error.contains("inside the session"), "{error}");
        // Through a relative path with `..` as well.
        let sneaky = session.join("episodes/../export");
        assert!(StagedOutput::prepare(&[&session], &sneaky, false).unwrap_err().contains("inside the session"));
        let error = StagedOutput::prepare(&[&session], &dir, true).unwrap_err();
        assert!(error.contains("would delete the session"), "{error}");
        #[cfg(unix)]
        {
            let link = dir.join("dangling");
            std::os::unix::fs::symlink(dir.join("nowhere"), &link).unwrap();
            let error = StagedOutput::prepare(&[&session], &link, true).unwrap_err();
            assert!(error.contains("symbolic link"), "{error}");
            let into = dir.join("into-session");
            std::os::unix::fs::symlink(&session, &into).unwrap();
            let error = StagedOutput::prepare(&[&session], &into.join("out"), false).unwrap_err();
            assert!(error.contains("inside the session"), "{error}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
