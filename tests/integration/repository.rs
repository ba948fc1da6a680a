//! The repository stands alone: a clone from a public host has everything it refers to. Nothing
//! names a path outside it, every relative Markdown link lands on a file (and heading) inside it,
//! and the README stays short enough to read (issue 22).

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

/// The README is the newcomer's page; what is longer belongs in `docs/`.
const README_LIMIT_BYTES: usize = 8 * 1024;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_owned()
}

/// Every file git would commit: tracked, plus new files not ignored (so a file added but not yet
/// committed is checked too). Without git the test fails: it cannot say which files are the
/// repository's.
fn repository_files() -> Vec<PathBuf> {
    let root = root();
    let output = Command::new("git")
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .current_dir(&root)
        .output()
        .expect("git ls-files (git is needed to list the repository's files)");
    assert!(output.status.success(), "git ls-files failed: {}", String::from_utf8_lossy(&output.stderr));
    let files: BTreeSet<PathBuf> = output
        .stdout
        .split(|b| *b == 0)
        .filter(|name| !name.is_empty())
        .map(|name| root.join(String::from_utf8_lossy(name).as_ref()))
        .filter(|path| path.is_file())
        .collect();
    assert!(files.len() > 100, "git listed only {} files under {}", files.len(), root.display());
    files.into_iter().collect()
}

/// `a/b/../c` → `a/c`, without touching the file system (the target may not exist).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Where `relative`, written in `file`, points: inside the repository and existing, or not.
fn resolves_inside(file: &Path, relative: &str) -> bool {
    let root = normalize(&root());
    let target = normalize(&file.parent().expect("a file's folder").join(relative));
    target.starts_with(&root) && target.exists()
}

/// Each `../…/shared` written in `text`: the whole run of `../` before `shared`.
fn parent_shared_paths(text: &str) -> Vec<String> {
    let needle = concat!("..", "/shared");
    let mut found = Vec::new();
    for (at, _) in text.match_indices(needle) {
        let mut start = at;
        while start >= 3 && &text[start - 3..start] == "../" {
            start -= 3;
        }
        found.push(text[start..at + needle.len()].to_owned());
    }
    found
}

#[test]
fn the_parent_shared_finder_takes_the_whole_path() {
    let text = concat!("path = \"..", "/shared\" and ../..", "/shared/src");
    assert_eq!(parent_shared_paths(text), vec![concat!("..", "/shared"), concat!("../..", "/shared")]);
}

#[test]
fn no_file_refers_to_a_shared_folder_outside_the_repository() {
    let mut outside = Vec::new();
    for file in repository_files() {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        for path in parent_shared_paths(&text) {
            if !resolves_inside(&file, &path) {
                outside.push(format!("{}: {path}", file.strip_prefix(root()).unwrap_or(&file).display()));
            }
        }
    }
    assert!(
        outside.is_empty(),
        "these files refer to a shared/ outside the repository (a clone has none): {outside:#?}"
    );
}

#[test]
fn a_path_to_shared_outside_the_repository_is_caught() {
    let root = root();
    assert!(resolves_inside(&root.join("bench/floor/Cargo.toml"), concat!("../..", "/shared")));
    assert!(!resolves_inside(&root.join("README.md"), concat!("..", "/shared")));
    assert!(!resolves_inside(&root.join("docs/ARCHITECTURE.md"), concat!("../..", "/shared/x.md")));
    assert!(!resolves_inside(&root.join("tests/integration/main.rs"), concat!("..", "/shared")));
}

/// The links of a Markdown text outside code: `[text](target)` targets.
fn markdown_links(text: &str) -> Vec<String> {
    let mut links = Vec::new();
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        // Inline code spans hold examples, not links.
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            let target = after[..end].split_whitespace().next().unwrap_or("").to_owned();
            links.push(target);
            rest = &after[end..];
        }
    }
    links
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens.
fn anchor_of(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    let mut in_fence = false;
    let mut found = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        } else if !in_fence && line.starts_with('#') {
            found.insert(anchor_of(line.trim_start_matches('#').replace('`', "").as_str()));
        }
    }
    found
}

#[test]
fn every_relative_markdown_link_resolves_inside_the_repository() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in repository_files().into_iter().filter(|f| f.extension().is_some_and(|e| e == "md")) {
        let text = std::fs::read_to_string(&file).expect("read a Markdown file");
        let name = file.strip_prefix(root()).unwrap_or(&file).display().to_string();
        for link in markdown_links(&text) {
            if link.is_empty() || link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, anchor) = link.split_once('#').map_or((link.as_str(), None), |(p, a)| (p, Some(a)));
            let target = if path.is_empty() { file.clone() } else { file.parent().unwrap().join(path) };
            if !path.is_empty() && !resolves_inside(&file, path) {
                broken.push(format!("{name}: {link} (no such file in the repository)"));
                continue;
            }
            if let Some(anchor) = anchor.filter(|_| target.extension().is_some_and(|e| e == "md")) {
                let text = std::fs::read_to_string(&target).unwrap_or_default();
                if !anchors(&text).contains(anchor) {
                    broken.push(format!("{name}: {link} (no such heading)"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links: {broken:#?}");
    assert!(checked > 20, "only {checked} relative links found: is the link finder broken?");
}

#[test]
fn the_link_finder_sees_links_outside_code_only() {
    let text = "See [a](docs/A.md) and `[b](nope.md)`.\n```\n[c](nope.md)\n```\n[d](../x.md#y) [e](https://x)";
    assert_eq!(markdown_links(text), vec!["docs/A.md", "../x.md#y", "https://x"]);
    assert!(anchors("# Deploying a region\n## `scripts/test` times").contains("deploying-a-region"));
    assert!(anchors("## `scripts/test` times").contains("scriptstest-times"));
}

#[test]
fn the_readme_is_short() {
    let readme = std::fs::read(root().join("README.md")).expect("README.md");
    assert!(
        readme.len() < README_LIMIT_BYTES,
        "README.md is {} bytes, over {README_LIMIT_BYTES}: move detail to docs/",
        readme.len()
    );
}
