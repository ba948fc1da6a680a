//! `canopy-local --help` and docs/CONFIGURATION.md say the same: every setting with its flag,
//! variable and default, and every command with its flags, both ways (a row the binary no longer
//! has fails as much as a flag the table lacks).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// One option of `--help`: `--flag`, its variable and its default, as printed.
#[derive(Debug)]
struct HelpOption {
    flag: String,
    variable: Option<String>,
    default: Option<String>,
}

/// `canopy-local <args> --help`, with none of the caller's settings (clap prints a set
/// variable's value beside its name).
fn help(args: &[&str]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_canopy-local"));
    command.args(args).arg("--help");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CANOPY_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    let output = command.output().expect("run canopy-local --help");
    assert!(output.status.success(), "--help failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8 help")
}

/// Everything between `[label: ` and its `]`, the last one on the line.
fn bracketed(text: &str, label: &str) -> Option<String> {
    let start = text.rfind(&format!("[{label}: "))? + label.len() + 3;
    let end = start + text[start..].find(']')?;
    Some(text[start..end].trim_end_matches('=').to_owned())
}

/// The options of a help text, optionally only those listed before `stop_at` (a heading).
fn options(help: &str, stop_at: Option<&str>) -> Vec<HelpOption> {
    let mut found = Vec::new();
    for line in help.lines() {
        if stop_at.is_some_and(|heading| line.starts_with(heading)) {
            break;
        }
        let trimmed = line.trim_start();
        let flag_part = trimmed.strip_prefix("-h, ").or_else(|| trimmed.strip_prefix("-V, ")).unwrap_or(trimmed);
        let Some(rest) = flag_part.strip_prefix("--") else { continue };
        let flag = format!("--{}", rest.split([' ', '=']).next().unwrap_or_default());
        found.push(HelpOption {
            flag,
            variable: bracketed(line, "env").map(|v| v.split('=').next().unwrap_or_default().to_owned()),
            // clap quotes a default that has spaces.
            default: bracketed(line, "default").map(|d| d.trim_matches('"').to_owned()),
        });
    }
    found.into_iter().filter(|o| o.flag != "--help" && o.flag != "--version").collect()
}

/// The commands `--help` lists (less `help`).
fn commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .filter(|name| name != "help")
        .collect()
}

/// The rows of the first table after `heading` in CONFIGURATION.md, as cells with backticks
/// dropped, keyed by the first cell.
fn table(doc: &str, heading: &str) -> BTreeMap<String, Vec<String>> {
    doc.lines()
        .skip_while(|line| *line != heading)
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .map(|line| {
            let cells: Vec<String> =
                line.trim_matches('|').split('|').map(|cell| cell.replace('`', "").trim().to_owned()).collect();
            (cells[0].clone(), cells)
        })
        .collect()
}

fn configuration_doc() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/CONFIGURATION.md");
    std::fs::read_to_string(&path).expect("docs/CONFIGURATION.md")
}

#[test]
fn the_configuration_table_matches_help() {
    let help = help(&[]);
    let options = options(&help, None);
    let rows = table(&configuration_doc(), "## Settings");
    assert!(options.len() >= 20 && rows.len() >= 20, "{} options, {} rows: a parser broke", options.len(), rows.len());
    let mut problems = Vec::new();
    for option in &options {
        match &option.variable {
            Some(variable) => match rows.get(variable) {
                None => problems.push(format!("{variable} ({}) has no row", option.flag)),
                Some(row) => {
                    if !row[1].split(", ").any(|flag| flag == option.flag) {
                        problems.push(format!("{variable}: the row's flags {:?} lack {}", row[1], option.flag));
                    }
                    if let Some(default) = &option.default
                        && !row[2].contains(default.as_str())
                    {
                        problems.push(format!("{variable}: the row's default {:?} lacks --help's {default:?}", row[2]));
                    }
                }
            },
            None if !rows.values().any(|row| row[1].split(", ").any(|flag| flag == option.flag)) => {
                problems.push(format!("{} is in no row's flags", option.flag));
            }
            None => {}
        }
    }
    for (variable, row) in &rows {
        let in_help = options.iter().any(|o| o.variable.as_deref() == Some(variable));
        match (row[1].is_empty(), in_help) {
            (true, true) => problems.push(format!("{variable}: --help has a flag for it, the row has none")),
            (false, false) => problems.push(format!("{variable}: a row with flags {:?}, but not in --help", row[1])),
            _ => {}
        }
        for flag in row[1].split(", ").filter(|f| !f.is_empty()) {
            if !options.iter().any(|o| o.flag == flag) {
                problems.push(format!("{variable}: the row's flag {flag} is not in --help"));
            }
        }
    }
    assert!(problems.is_empty(), "docs/CONFIGURATION.md and --help differ:\n{}", problems.join("\n"));
}

#[test]
fn the_commands_table_matches_help() {
    let help = help(&[]);
    let commands = commands(&help);
    let rows = table(&configuration_doc(), "## Commands");
    assert!(commands.len() >= 5, "commands found: {commands:?}");
    let mut problems = Vec::new();
    for command in &commands {
        let Some(row) = rows.get(command) else {
            problems.push(format!("{command} has no row"));
            continue;
        };
        // Its own flags come before the server's headings, which every command shares.
        for option in options(&help_of(command), Some("Local server:")) {
            if !row[1].contains(&option.flag) {
                problems.push(format!("{command}: the row's flags {:?} lack {}", row[1], option.flag));
            }
        }
    }
    for name in rows.keys().filter(|name| !commands.contains(name)) {
        problems.push(format!("{name}: a row, but not a command of --help"));
    }
    assert!(problems.is_empty(), "docs/CONFIGURATION.md's commands and --help differ:\n{}", problems.join("\n"));
}

fn help_of(command: &str) -> String {
    help(&[command])
}

#[test]
fn help_names_each_settings_variable_and_default() {
    let help = help(&[]);
    for expected in [
        "[env: CANOPY_LISTEN=] [default: 127.0.0.1:8080]",
        "[env: CANOPY_DATA_DIR=] [default: .canopy-data]",
        "[env: CANOPY_STORE=] [default: embedded]",
        "[env: RUST_LOG=] [default: info]",
        "[env: CANOPY_TWO_REGIONS=] [default: true]",
    ] {
        assert!(help.contains(expected), "--help lacks {expected:?}:\n{help}");
    }
}

#[test]
fn a_flag_and_its_variable_set_the_same_setting_and_a_blank_variable_is_unset() {
    // The descriptor shows the app key the server took.
    use crate::support;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    for (how, expected) in [("flag", "canopy-by-flag"), ("variable", "canopy-by-flag"), ("blank", "canopy")] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut command = support::command(dir.path());
        command.arg("--one-region");
        match how {
            "flag" => command.args(["--app-key", "canopy-by-flag"]),
            "variable" => command.env("CANOPY_APP_KEY", "canopy-by-flag"),
            _ => command.env("CANOPY_APP_KEY", " ").env("CANOPY_TABLE", ""),
        };
        let server = support::start(command);
        let descriptor: serde_json::Value = rt.block_on(async {
            reqwest::get(format!("{}/atlassian-connect.json", server.base)).await.unwrap().json().await.unwrap()
        });
        assert_eq!(descriptor["key"], expected, "set by {how}");
    }
}

#[test]
fn an_unknown_flag_is_refused_with_a_pointer_to_help() {
    let output =
        Command::new(env!("CARGO_BIN_EXE_canopy-local")).arg("--no-such-flag").output().expect("run canopy-local");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--no-such-flag") && stderr.contains("--help"), "{stderr}");
}

/// Every variable `AppConfig` reads is a flag of the local server: a setting added to the
/// configuration without one would be silently ignored locally (the server passes its parsed
/// command line, not the environment).
#[test]
fn every_variable_the_configuration_reads_has_a_flag() {
    let help = help(&[]);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut read = Vec::new();
    for file in ["shared/src/kernel/config/mod.rs", "shared/src/kernel/config/regions.rs"] {
        let text = std::fs::read_to_string(root.join(file)).expect("config source");
        for (at, _) in text.match_indices("var(\"CANOPY_") {
            let name = text[at + 5..].split('"').next().unwrap_or_default().to_owned();
            read.push(name);
        }
    }
    assert!(read.len() >= 10, "variables found: {read:?}");
    let missing: Vec<_> = read.iter().filter(|name| !help.contains(&format!("[env: {name}="))).collect();
    assert!(
        missing.is_empty(),
        "read by AppConfig but not a flag of canopy-local (cli.rs, AppArgs::lookup): {missing:?}"
    );
}
