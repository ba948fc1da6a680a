//! Promises the deployment must keep, read from `template.yaml`: every function logs to a group
//! of its own, and every log group keeps 14 days (IP addresses in logs are kept no longer).

fn template() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).expect("template.yaml")
}

/// Top-level resources as (name, lines of its block).
fn resources(text: &str) -> Vec<(String, Vec<String>)> {
    let mut in_resources = false;
    let mut resources: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            in_resources = line.starts_with("Resources:");
            continue;
        }
        if !in_resources || line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix("  ").filter(|l| !l.starts_with(' ')).and_then(|l| l.strip_suffix(':')) {
            resources.push((name.to_owned(), Vec::new()));
        } else if let Some((_, lines)) = resources.last_mut() {
            lines.push(line.trim().to_owned());
        }
    }
    resources
}

#[test]
fn every_log_group_keeps_14_days_and_every_function_has_one() {
    let text = template();
    let all = resources(&text);
    let groups: Vec<&(String, Vec<String>)> =
        all.iter().filter(|(_, l)| l.contains(&"Type: AWS::Logs::LogGroup".to_owned())).collect();
    let functions: Vec<&(String, Vec<String>)> =
        all.iter().filter(|(_, l)| l.contains(&"Type: AWS::Serverless::Function".to_owned())).collect();
    assert!(functions.len() >= 5, "found {} functions", functions.len());
    assert!(groups.len() >= functions.len(), "{} log groups for {} functions", groups.len(), functions.len());
    for (name, lines) in &groups {
        assert!(lines.contains(&"RetentionInDays: 14".to_owned()), "{name} must keep logs exactly 14 days");
    }
    let group_names: Vec<&str> = groups.iter().map(|(n, _)| n.as_str()).collect();
    for (name, lines) in &functions {
        let group = lines
            .iter()
            .find_map(|l| l.strip_prefix("LogGroup: !Ref "))
            .unwrap_or_else(|| panic!("{name} has no log group"));
        assert!(group_names.contains(&group), "{name} logs to {group}, which is not a log group of this template");
    }
}
