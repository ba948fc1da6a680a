//! `scripts/deploy`: the exact SAM commands of a dry run, the same architecture for build and
//! deploy, the refusal of a dirty tree, and samconfig.toml kept in step with the rehearsal's
//! parameters (infra/params). Each case runs the real script in a scratch git repository holding
//! a copy of the files it reads, so the outcome does not depend on this work tree's state.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_owned()
}

const FILES: [&str; 5] =
    ["scripts/deploy", "scripts/lib/tools.sh", "samconfig.toml", "infra/params/us.json", "infra/params/eu.json"];

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.name=canopy-test", "-c", "user.email=test@canopy.invalid", "-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(status.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&status.stderr));
}

/// A committed repository with the script and its inputs; `edit` changes a copy before the commit.
fn repository(edit: impl FnOnce(&Path)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for file in FILES {
        let to = dir.path().join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(root().join(file), &to).unwrap_or_else(|e| panic!("copy {file}: {e}"));
    }
    edit(dir.path());
    git(dir.path(), &["init", "--quiet"]);
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "--quiet", "-m", "deploy test"]);
    dir
}

fn deploy(repo: &Path, args: &[&str]) -> Output {
    Command::new("bash")
        .arg(repo.join("scripts/deploy"))
        .args(args)
        .env("CANOPY_TOOLS_DIR", repo.join(".tools"))
        .current_dir(repo)
        .output()
        .expect("run scripts/deploy")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn head(repo: &Path) -> String {
    let out = Command::new("git").args(["rev-parse", "--short", "HEAD"]).current_dir(repo).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn a_dry_run_of_scratch_prints_the_exact_sam_commands() {
    let repo = repository(|_| {});
    let output = deploy(repo.path(), &["scratch", "--dry-run", "--arch", "x86_64"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let expected = format!(
        "# scratch: stack canopy-scratch in us-east-1, x86_64, commit {}\n\
         sam build --config-env scratch --parameter-overrides Architecture=x86_64\n\
         sam deploy --config-env scratch --parameter-overrides Architecture=x86_64 HomeRegion=us AppBaseUrl=https://scratch.canopy.example.com\n\
         sam list stack-outputs --stack-name canopy-scratch --region us-east-1 --output json\n\
         # then: ApiUrl, TableArn, MediaBucketArn, SecretsKeyArn, AlarmTopicArn, BackupVaultName and the next steps\n",
        head(repo.path())
    );
    assert_eq!(stdout(&output), expected);
}

#[test]
fn by_default_the_build_and_the_deploy_are_arm64_alike() {
    let repo = repository(|_| {});
    for env in ["scratch", "us", "eu"] {
        let output = deploy(repo.path(), &[env, "--dry-run"]);
        assert!(output.status.success(), "{env}: {}", String::from_utf8_lossy(&output.stderr));
        let text = stdout(&output);
        let build = text.lines().find(|l| l.starts_with("sam build")).expect("a build line");
        let deploy = text.lines().find(|l| l.starts_with("sam deploy")).expect("a deploy line");
        assert!(build.ends_with("Architecture=arm64"), "{env}: {build}");
        assert!(deploy.contains(&format!("--config-env {env} --parameter-overrides Architecture=arm64 ")), "{deploy}");
        assert_eq!(deploy.matches("Architecture=").count(), 1, "{env}: one Architecture: {deploy}");
    }
}

#[test]
fn a_dirty_tree_is_refused_before_anything_runs() {
    let repo = repository(|_| {});
    std::fs::write(repo.path().join("uncommitted.txt"), "x").unwrap();
    let output = deploy(repo.path(), &["scratch", "--arch", "x86_64"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("uncommitted changes"), "{output:?}");
    assert!(!stdout(&output).contains("sam "), "nothing ran: {}", stdout(&output));
    assert!(!repo.path().join(".tools").exists(), "no tool was installed");
    // A dry run says so and still shows the plan.
    let dry = deploy(repo.path(), &["scratch", "--dry-run", "--arch", "x86_64"]);
    assert!(stdout(&dry).starts_with("# the work tree has uncommitted changes: a real deploy stops here\n"));
}

#[test]
fn an_unknown_environment_names_the_known_ones() {
    let repo = repository(|_| {});
    let output = deploy(repo.path(), &["staging", "--dry-run"]);
    assert_ne!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no environment 'staging'") && stderr.contains("eu, scratch, us"), "{stderr}");
}

#[test]
fn samconfig_and_the_rehearsal_parameters_must_agree() {
    let repo = repository(|dir| {
        let path = dir.join("infra/params/eu.json");
        let text = std::fs::read_to_string(&path).unwrap().replace("eu-central-1", "eu-west-1");
        std::fs::write(path, text).unwrap();
    });
    let agreeing = deploy(repo.path(), &["us", "--dry-run", "--arch", "arm64"]);
    assert!(agreeing.status.success(), "{}", String::from_utf8_lossy(&agreeing.stderr));
    let differing = deploy(repo.path(), &["eu", "--dry-run", "--arch", "arm64"]);
    assert_ne!(differing.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&differing.stderr);
    assert!(
        stderr.contains("infra/params/eu.json and samconfig.toml [eu] differ: region eu-west-1 / eu-central-1"),
        "{stderr}"
    );
}
