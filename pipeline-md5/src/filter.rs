//! Which files below a root the walk yields: `--exclude` and `--include`
//! globs, `--max-depth`, `--one-file-system`, and `--ignore-vcs`
//! (`.gitignore` files and `.git` directories).
//!
//! Globs follow `.gitignore` syntax (the `ignore` crate's matcher, the one
//! ripgrep uses): a pattern without a `/` matches a name at any depth
//! (`*.tmp`, `.git`), one with a `/` matches paths relative to the root
//! (`build/*.o`, `/notes`), `**` spans directories, a trailing `/` matches
//! only directories. An excluded directory is not entered, so nothing
//! below it is read. `--include` keeps only the files that match one of
//! its globs (directories are still entered). The roots themselves, named
//! on the command line, are never filtered.

use std::path::Path;

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::Match;

/// The walk's filters; the default keeps everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    exclude: Option<Gitignore>,
    include: Option<Gitignore>,
    /// The globs as given, for equality.
    globs: (Vec<String>, Vec<String>),
    max_depth: Option<usize>,
    one_file_system: bool,
    vcs: bool,
}

/// Two filters are equal when they were given the same settings.
impl PartialEq for Filter {
    fn eq(&self, other: &Filter) -> bool {
        (self.globs == other.globs)
            && (self.max_depth, self.one_file_system, self.vcs)
                == (other.max_depth, other.one_file_system, other.vcs)
    }
}

impl Eq for Filter {}

/// A glob that is not valid `.gitignore` syntax.
#[derive(Debug, thiserror::Error)]
#[error("invalid glob '{glob}': {reason}")]
pub struct BadGlob {
    glob: String,
    reason: String,
}

fn matcher(globs: &[String]) -> Result<Option<Gitignore>, BadGlob> {
    if globs.is_empty() {
        return Ok(None);
    }
    let mut b = GitignoreBuilder::new("");
    for glob in globs {
        b.add_line(None, glob).map_err(|e| BadGlob {
            glob: glob.clone(),
            reason: e.to_string(),
        })?;
    }
    b.build().map(Some).map_err(|e| BadGlob {
        glob: globs.join(" "),
        reason: e.to_string(),
    })
}

impl Filter {
    /// Files and directories matching any of `globs` are skipped.
    ///
    /// # Errors
    ///
    /// A glob that is not valid.
    pub fn exclude(mut self, globs: &[String]) -> Result<Filter, BadGlob> {
        self.exclude = matcher(globs)?;
        self.globs.0 = globs.to_vec();
        Ok(self)
    }

    /// Only files matching one of `globs` are kept.
    ///
    /// # Errors
    ///
    /// A glob that is not valid.
    pub fn include(mut self, globs: &[String]) -> Result<Filter, BadGlob> {
        self.include = matcher(globs)?;
        self.globs.1 = globs.to_vec();
        Ok(self)
    }

    /// Files deeper than `depth` below the root are skipped (1: only the
    /// root's own files).
    pub fn max_depth(mut self, depth: usize) -> Filter {
        self.max_depth = Some(depth);
        self
    }

    /// Directories on another file system than the root's are not
    /// entered.
    pub fn one_file_system(mut self, yes: bool) -> Filter {
        self.one_file_system = yes;
        self
    }

    /// Honour `.gitignore` files and skip `.git` directories.
    pub fn ignore_vcs(mut self, yes: bool) -> Filter {
        self.vcs = yes;
        self
    }

    /// Whether this filter keeps everything (the walk then asks nothing).
    pub fn is_empty(&self) -> bool {
        self.exclude.is_none()
            && self.include.is_none()
            && self.max_depth.is_none()
            && !self.one_file_system
            && !self.vcs
    }

    pub(crate) fn crosses_devices(&self) -> bool {
        !self.one_file_system
    }

    pub(crate) fn reads_vcs_rules(&self) -> bool {
        self.vcs
    }

    /// Whether the walk skips `rel` (relative to the root; `depth` its
    /// number of parts), a directory if `is_dir`; `rules` are the
    /// `.gitignore` matchers of the directories above it, nearest last.
    pub(crate) fn skips(&self, rel: &Path, is_dir: bool, rules: &[&Gitignore]) -> bool {
        let depth = rel.components().count();
        if let Some(max) = self.max_depth {
            if depth > max || (is_dir && depth >= max) {
                return true;
            }
        }
        if self
            .exclude
            .as_ref()
            .is_some_and(|m| m.matched(rel, is_dir).is_ignore())
        {
            return true;
        }
        if self.vcs {
            if is_dir && rel.file_name().is_some_and(|n| n == ".git") {
                return true;
            }
            // The deepest `.gitignore` that says something of `rel` itself
            // decides, as in git. Its parent directories were decided when
            // the walk came to them: an ignored one is not entered, and a
            // `.gitignore` never speaks of its own directory. (Asking of
            // the parents here, as `matched_path_or_any_parents` does, let
            // a `!*/` of a deeper file take back a file a `*.t` above
            // ignored, and took a `*/` for a rule on the file's own
            // directory, the empty path: every file below was dropped.)
            for rule in rules.iter().rev() {
                // Each rule is rooted at its directory's path below the
                // walk's root, an ancestor of `rel`.
                match rule.matched(rel, is_dir) {
                    Match::Ignore(_) => return true,
                    Match::Whitelist(_) => break,
                    Match::None => {}
                }
            }
        }
        !is_dir
            && self
                .include
                .as_ref()
                .is_some_and(|m| !m.matched(rel, false).is_ignore())
    }
}

/// The `.gitignore` rules of the directory `dir` (on disk), rooted at
/// `rel` (the directory relative to the walk's root); `None` without a
/// readable `.gitignore` there.
pub(crate) fn vcs_rules(dir: &Path, rel: &Path) -> Option<Gitignore> {
    let file = dir.join(".gitignore");
    if !file.is_file() {
        return None;
    }
    let mut b = GitignoreBuilder::new(rel);
    let text = std::fs::read(&file).ok()?;
    for line in text.split(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(line);
        let _ = b.add_line(Some(file.clone()), line.trim_end_matches('\r'));
    }
    b.build().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn globs(g: &[&str]) -> Vec<String> {
        g.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn excludes_follow_gitignore_syntax() {
        let f = Filter::default()
            .exclude(&globs(&["*.tmp", "/notes", "build/", "a/**/z"]))
            .unwrap();
        let skips = |p: &str, dir: bool| f.skips(Path::new(p), dir, &[]);
        assert!(skips("x.tmp", false));
        assert!(skips("d/e/x.tmp", false));
        assert!(skips("notes", false));
        assert!(!skips("d/notes", false));
        assert!(skips("build", true));
        assert!(!skips("build", false));
        assert!(skips("a/b/c/z", false));
        assert!(!skips("keep.txt", false));
    }

    #[test]
    fn includes_keep_only_matching_files_and_every_directory() {
        let f = Filter::default().include(&globs(&["*.jpg"])).unwrap();
        assert!(!f.skips(Path::new("a/b.jpg"), false, &[]));
        assert!(f.skips(Path::new("a/b.png"), false, &[]));
        assert!(!f.skips(Path::new("a"), true, &[]));
    }

    #[test]
    fn max_depth_counts_parts_below_the_root() {
        let f = Filter::default().max_depth(1);
        assert!(!f.skips(Path::new("a"), false, &[]));
        assert!(f.skips(Path::new("d"), true, &[]));
        let f = Filter::default().max_depth(2);
        assert!(!f.skips(Path::new("d"), true, &[]));
        assert!(!f.skips(Path::new("d/a"), false, &[]));
        assert!(f.skips(Path::new("d/e"), true, &[]));
    }

    #[test]
    fn vcs_rules_apply_below_their_directory_nearest_first() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("sub")).unwrap();
        std::fs::write(t.path().join(".gitignore"), "*.log\n/top\n").unwrap();
        std::fs::write(t.path().join("sub/.gitignore"), "!keep.log\n").unwrap();
        let root = vcs_rules(t.path(), Path::new("")).unwrap();
        let sub = vcs_rules(&t.path().join("sub"), Path::new("sub")).unwrap();
        let f = Filter::default().ignore_vcs(true);
        assert!(f.skips(Path::new("x.log"), false, &[&root]));
        assert!(f.skips(Path::new("top"), false, &[&root]));
        assert!(!f.skips(Path::new("sub/top"), false, &[&root, &sub]));
        assert!(f.skips(Path::new("sub/x.log"), false, &[&root, &sub]));
        assert!(!f.skips(Path::new("sub/keep.log"), false, &[&root, &sub]));
        assert!(f.skips(Path::new("sub/.git"), true, &[&root, &sub]));
        assert!(vcs_rules(&t.path().join("sub/none"), Path::new("sub/none")).is_none());
    }
}
