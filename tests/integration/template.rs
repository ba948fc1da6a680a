//! Promises the deployment must keep, read from `template.yaml`: every function logs to a group
//! of its own, and every log group keeps 14 days (IP addresses in logs are kept no longer).

fn template() -> String {
    support::repo::read("template.yaml")
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

/// A resource's block with its indentation (the lines under `  <name>:`).
fn block(text: &str, name: &str) -> Vec<String> {
    let header = format!("  {name}:");
    let mut lines = text.lines().skip_while(|l| *l != header);
    assert!(lines.next().is_some(), "template.yaml has no resource {name}");
    lines.take_while(|l| l.is_empty() || l.starts_with("   ")).map(str::to_owned).collect()
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// One IAM statement of a function's `Policies`, as written (intrinsics kept as text).
#[derive(Debug, Default)]
struct Statement {
    effect: String,
    actions: Vec<String>,
    resources: Vec<String>,
    condition: Vec<String>,
}

/// The statements of a function's `Policies` (those inside `!If` alternatives too). Every
/// statement of this template starts with `- Effect:`; anything else fails the parse.
fn statements(function: &[String]) -> Vec<Statement> {
    let start = function.iter().position(|l| l == "      Policies:").expect("the function has Policies");
    let policy_lines: Vec<&String> = function[start + 1..]
        .iter()
        .take_while(|l| l.trim().is_empty() || indent(l) > 6)
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect();
    let mut out: Vec<Statement> = Vec::new();
    let mut dash = 0;
    let mut list: Option<(usize, &str)> = None;
    for line in policy_lines {
        let trimmed = line.trim_start();
        if let Some(effect) = trimmed.strip_prefix("- Effect: ") {
            dash = indent(line);
            out.push(Statement { effect: effect.to_owned(), ..Default::default() });
            list = None;
            continue;
        }
        let Some(current) = out.last_mut().filter(|_| indent(line) > dash) else { continue };
        if let Some((at, field)) = list
            && indent(line) > at
            && let Some(item) = trimmed.strip_prefix("- ")
        {
            match field {
                "Action" => current.actions.push(item.to_owned()),
                "Resource" => current.resources.push(item.to_owned()),
                _ => current.condition.push(item.to_owned()),
            }
            continue;
        }
        list = None;
        let (key, value) = trimmed.split_once(':').map(|(k, v)| (k, v.trim())).unwrap_or((trimmed, ""));
        match (key, value) {
            ("Action" | "Resource", "") => {
                list = Some((indent(line), if key == "Action" { "Action" } else { "Resource" }))
            }
            ("Action", v) => current.actions.push(v.to_owned()),
            ("Resource", v) => current.resources.push(v.to_owned()),
            ("Condition", _) => list = Some((indent(line), "Condition")),
            _ if indent(line) > dash + 2 => current.condition.push(trimmed.trim_start_matches("- ").to_owned()),
            (other, _) => panic!("unexpected statement key {other:?} in {line:?}"),
        }
    }
    assert!(!out.is_empty(), "no statement parsed");
    out
}

const ITEMS_RW: &[&str] = &["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem"];
const CHECK: &str = "dynamodb:ConditionCheckItem";
const BATCH: &str = "dynamodb:BatchWriteItem";
const OBJECTS_RW: &[&str] = &["s3:GetObject", "s3:PutObject", "s3:DeleteObject"];
/// Also what makes S3 answer 404, not 403, to a GET or HEAD of a missing key.
const LIST: &str = "s3:ListBucket";
const OPEN_SECRET: &str = "kms:Decrypt";
const SEAL_SECRET: &str = "kms:GenerateDataKey";

/// What each function's code calls, and nothing else (the policy must grant exactly this).
/// Transactions are authorised per contained action (PutItem, DeleteItem, ConditionCheckItem).
fn needed() -> Vec<(&'static str, Vec<&'static str>)> {
    let with = |base: &[&[&'static str]]| base.concat();
    vec![
        ("LifecycleFunction", with(&[ITEMS_RW, &[CHECK, OPEN_SECRET, SEAL_SECRET]])),
        ("ContentFunction", with(&[ITEMS_RW, &[CHECK, OPEN_SECRET]])),
        // CHECK: the residency write fence's condition on every tenant write.
        ("MediaFunction", with(&[ITEMS_RW, OBJECTS_RW, &[CHECK, OPEN_SECRET, LIST]])),
        ("FeedbackFunction", with(&[ITEMS_RW, &[CHECK, OPEN_SECRET]])),
        ("OpsFunction", vec!["dynamodb:GetItem", "dynamodb:Query"]),
        ("UsageFunction", vec!["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"]),
        ("PrivacyFunction", with(&[ITEMS_RW, &[CHECK, OPEN_SECRET]])),
        ("RetentionFunction", with(&[ITEMS_RW, &[BATCH, CHECK, LIST, "s3:DeleteObject", OPEN_SECRET, SEAL_SECRET]])),
        ("ResidencyFunction", with(&[ITEMS_RW, &[CHECK, BATCH], OBJECTS_RW, &[OPEN_SECRET, LIST]])),
        ("ResidencyWorkerFunction", with(&[ITEMS_RW, &[CHECK, BATCH], OBJECTS_RW, &[LIST]])),
    ]
}

/// Functions serving tenants' requests: refused the operator partition by a LeadingKeys deny.
const TENANT_FACING: &[&str] = &["LifecycleFunction", "ContentFunction", "MediaFunction", "FeedbackFunction"];
/// Cross-tenant jobs and operator routes limited to the operator partition for these actions.
const OPERATOR_ONLY: &[(&str, &str)] =
    &[("OpsFunction", "dynamodb:GetItem"), ("OpsFunction", "dynamodb:Query"), ("UsageFunction", "dynamodb:PutItem")];

fn function_names(text: &str) -> Vec<String> {
    resources(text)
        .into_iter()
        .filter(|(_, l)| l.contains(&"Type: AWS::Serverless::Function".to_owned()))
        .map(|(n, _)| n)
        .collect()
}

#[test]
fn every_function_is_granted_exactly_the_actions_its_code_uses_on_named_resources() {
    let text = template();
    let functions = function_names(&text);
    let needed = needed();
    let mut listed: Vec<&str> = needed.iter().map(|(n, _)| *n).collect();
    listed.sort_unstable();
    let mut found: Vec<&str> = functions.iter().map(String::as_str).collect();
    found.sort_unstable();
    assert_eq!(found, listed, "every function has its needs listed here, and only functions of the template");
    for (name, needed) in &needed {
        let statements = statements(&block(&text, name));
        let mut granted: Vec<&str> = statements
            .iter()
            .filter(|s| s.effect == "Allow")
            .flat_map(|s| s.actions.iter().map(String::as_str))
            .collect();
        granted.sort_unstable();
        granted.dedup();
        let mut expected = needed.to_vec();
        expected.sort_unstable();
        assert_eq!(granted, expected, "{name}: granted actions differ from what it uses");
        for statement in &statements {
            for action in &statement.actions {
                assert!(!action.contains('*'), "{name}: wildcard action {action}");
            }
            assert!(!statement.resources.is_empty(), "{name}: a statement without Resource: {statement:?}");
            for resource in &statement.resources {
                let named = ["!GetAtt ", "!Ref ", "!Sub "].iter().any(|p| resource.starts_with(p));
                assert!(named && resource != "\"*\"", "{name}: resource {resource} is not a named ARN");
                assert!(!resource.contains("/index/*"), "{name}: every index, not the one it reads: {resource}");
            }
            if statement.actions.iter().any(|a| a.starts_with("kms:")) {
                assert!(
                    statement
                        .resources
                        .iter()
                        .all(|r| r == "!GetAtt SecretsKey.Arn" || r == "!Ref OtherRegionSecretsKeyArn"),
                    "{name}: KMS only on the secrets keys: {statement:?}"
                );
            }
        }
    }
}

#[test]
fn tenant_facing_functions_never_reach_the_operator_partition_and_operator_actions_stay_in_it() {
    let text = template();
    let leading_operator = |s: &Statement| {
        s.condition.iter().any(|c| c.starts_with("dynamodb:LeadingKeys"))
            && s.condition.iter().any(|c| c == "\"T#_operator\"")
    };
    for name in TENANT_FACING {
        let statements = statements(&block(&text, name));
        let deny = statements.iter().find(|s| s.effect == "Deny").unwrap_or_else(|| panic!("{name} has no Deny"));
        assert!(leading_operator(deny), "{name}: the deny names the operator partition: {deny:?}");
        assert!(deny.condition.iter().any(|c| c == "ForAnyValue:StringEquals:"), "{name}: {deny:?}");
        let allowed_on_table: Vec<&String> = statements
            .iter()
            .filter(|s| s.effect == "Allow" && s.resources.contains(&"!GetAtt Table.Arn".to_owned()))
            .flat_map(|s| &s.actions)
            .collect();
        for action in allowed_on_table {
            assert!(
                deny.actions.contains(action),
                "{name}: {action} is allowed but not denied on the operator partition"
            );
        }
    }
    for (name, action) in OPERATOR_ONLY {
        let statements = statements(&block(&text, name));
        for statement in statements.iter().filter(|s| s.actions.iter().any(|a| a == action)) {
            let on_index_only = statement.resources.iter().all(|r| r.contains("/index/"));
            assert!(
                on_index_only || leading_operator(statement),
                "{name}: {action} must be limited to T#_operator: {statement:?}"
            );
        }
    }
}

fn has(lines: &[String], wanted: &str) -> bool {
    lines.iter().any(|l| l.trim() == wanted)
}

#[test]
fn data_is_encrypted_with_own_keys_recoverable_to_the_minute_and_backed_up_daily_for_35_days() {
    let text = template();
    let table = block(&text, "Table");
    for wanted in [
        "PointInTimeRecoveryEnabled: true",
        "DeletionProtectionEnabled: true",
        "SSEType: KMS",
        "KMSMasterKeyId: !Ref TableKey",
        "DeletionPolicy: Retain",
        "AttributeName: ttl",
        "- IndexName: due",
    ] {
        assert!(has(&table, wanted), "Table: {wanted}");
    }
    for key in ["TableKey", "SecretsKey"] {
        assert!(has(&block(&text, key), "EnableKeyRotation: true"), "{key} rotates");
    }
    let plan = block(&text, "BackupPlan");
    assert!(has(&plan, "DeleteAfterDays: 35"), "backups kept 35 days");
    assert!(has(&plan, "ScheduleExpression: cron(0 3 * * ? *)"), "daily backups");
    assert!(has(&block(&text, "BackupSelection"), "- !GetAtt Table.Arn"), "the table is selected");
    assert!(has(&block(&text, "BackupVault"), "EncryptionKeyArn: !GetAtt TableKey.Arn"));

    let bucket = block(&text, "MediaBucket");
    for wanted in ["Status: Enabled", "NoncurrentDays: 7", "RestrictPublicBuckets: true", "BlockPublicPolicy: true"] {
        assert!(has(&bucket, wanted), "MediaBucket: {wanted}");
    }
    let policy = block(&text, "MediaBucketPolicy");
    assert!(has(&policy, "Effect: Deny") && has(&policy, "aws:SecureTransport: \"false\""), "TLS-only bucket");
}

#[test]
fn every_function_is_traced_and_alarmed_and_every_schedule_has_a_dead_letter_queue() {
    let text = template();
    assert!(text.contains("\n    Tracing: Active\n"), "X-Ray tracing for every function (Globals)");
    for name in function_names(&text) {
        let short = name.trim_end_matches("Function");
        for alarm in ["ErrorsAlarm", "ThrottlesAlarm"] {
            let lines = block(&text, &format!("{short}{alarm}"));
            assert!(has(&lines, &format!("Value: !Ref {name}")), "{short}{alarm} watches {name}");
            assert!(has(&lines, "AlarmActions: [!Ref AlarmTopic]"), "{short}{alarm} notifies");
        }
        let lines = block(&text, &name);
        let schedules = lines.iter().filter(|l| l.trim() == "Type: Schedule").count();
        let dead_letters = lines.iter().filter(|l| l.trim() == "Arn: !GetAtt JobsDeadLetterQueue.Arn").count();
        assert_eq!(schedules, dead_letters, "{name}: every schedule sends undeliverable events to the DLQ");
    }
    for alarm in ["SweepBehindAlarm", "SweepNotRunningAlarm", "JobsDeadLetterAlarm", "ApiServerErrorsAlarm"] {
        assert!(has(&block(&text, alarm), "AlarmActions: [!Ref AlarmTopic]"), "{alarm}");
    }
    let api = block(&text, "HttpApi");
    assert!(
        has(&api, "ThrottlingRateLimit: !Ref ApiThrottleRate")
            && has(&api, "ThrottlingBurstLimit: !Ref ApiThrottleBurst")
    );
}

/// The sweep-behind metric filter reads the log line `retention::on_schedule` writes; if either
/// side is renamed the alarm would silently never fire.
#[test]
fn the_sweep_backlog_filter_matches_the_sweeps_log_line() {
    let text = template();
    let filter = block(&text, "SweepBacklogMetric");
    assert!(has(&filter, r#"FilterPattern: '{ $.fields.message = "retention sweep" && $.fields.more IS TRUE }'"#));
    // Wherever the sweep lives in shared/src (files are being moved), one file writes the line.
    let writes = |code: &String| code.contains("more = report.more,") && code.contains("\"retention sweep\"");
    assert!(library_sources().iter().any(|(_, code)| writes(code)), "the log line changed");
}

/// `Globals.Function.Environment.Variables` merged with a function's own `Environment.Variables`
/// (the function's value wins, as in SAM), as written (intrinsics kept as text).
fn environment(text: &str, function: &str) -> std::collections::BTreeMap<String, String> {
    let variables = |lines: &[&str], header: &str| -> Vec<(String, String)> {
        let Some(at) = lines.iter().position(|l| *l == header) else { return Vec::new() };
        let depth = indent(header);
        lines[at + 1..]
            .iter()
            .take_while(|l| l.trim().is_empty() || indent(l) > depth)
            .filter(|l| indent(l) == depth + 2 && !l.trim_start().starts_with('#'))
            .filter_map(|l| l.trim().split_once(':').map(|(k, v)| (k.to_owned(), v.trim().to_owned())))
            .collect()
    };
    let globals: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "Globals:")
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .collect();
    let own = block(text, function);
    let own: Vec<&str> = own.iter().map(String::as_str).collect();
    let mut env: std::collections::BTreeMap<String, String> =
        variables(&globals, "      Variables:").into_iter().collect();
    env.extend(variables(&own, "        Variables:"));
    env
}

/// Every `CANOPY_*` variable the library reads with `var("…")`, with where (path:line), found
/// by walking `shared/src` (whatever its layout).
fn variables_read_by_the_code() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, code) in library_sources() {
        for (n, line) in code.lines().enumerate() {
            let mut rest = line;
            while let Some(at) = rest.find("var(\"CANOPY_") {
                let name: String = rest[at + 5..]
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || *c == '_' || c.is_ascii_digit())
                    .collect();
                out.push((name, format!("{}:{}", path.display(), n + 1)));
                rest = &rest[at + 5..];
            }
        }
    }
    out
}

/// Every `.rs` file under `shared/src` with its text, in path order (whatever the layout: the
/// tests must not break when files move).
fn library_sources() -> Vec<(std::path::PathBuf, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<(std::path::PathBuf, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).expect("shared/src").flatten().map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let code = std::fs::read_to_string(&path).expect("source");
                out.push((path, code));
            }
        }
    }
    let mut out = Vec::new();
    walk(&support::repo::root().join("shared/src"), &mut out);
    out
}

/// Read by the code but deliberately left unset on Lambda: the built-in default is the product's
/// value, or the variable only points a local run at local servers.
const DEFAULTED_ON_LAMBDA: &[&str] = &[
    "CANOPY_PURGE_AFTER_DAYS",    // 30 days: the deletion promise
    "CANOPY_LIVENESS_GRACE_DAYS", // retention's default grace
    "CANOPY_ADMIN_CACHE_SECS",    // the admin-answer cache's default
    "CANOPY_DYNAMODB_ENDPOINT",   // DynamoDB Local
    "CANOPY_S3_ENDPOINT",         // a local S3
];

/// A moved clock (`kernel::clock::clock_offset_from`) is honoured only beside a loopback store
/// endpoint: no function of the template may get either, so no deployed stack runs with one.
#[test]
fn no_function_gets_the_rehearsal_clock_or_a_local_endpoint() {
    let text = template();
    for name in function_names(&text) {
        let env = environment(&text, &name);
        for variable in
            [canopy_shared::kernel::clock::TEST_CLOCK_OFFSET_VAR, "CANOPY_DYNAMODB_ENDPOINT", "CANOPY_S3_ENDPOINT"]
        {
            assert!(!env.contains_key(variable), "{name} gets {variable}");
        }
    }
}

/// Every function starts through `bootstrap::lambda_state`, which reads the whole configuration:
/// each variable the code reads is given to every function (from Globals, so none is forgotten),
/// and the ones that must be the stack's own values are. A missing `CANOPY_APP_KEY` makes a job
/// sign as the default `canopy` (Atlassian answers 401, the liveness check uninstalls every
/// tenant); missing region variables leave a function without the other region's KMS client.
#[test]
fn every_function_gets_every_variable_its_code_reads() {
    let text = template();
    let read = variables_read_by_the_code();
    assert!(read.iter().any(|(n, _)| n == "CANOPY_APP_KEY"), "the scan finds the config reads: {read:?}");
    let expected: &[(&str, &str)] = &[
        ("CANOPY_TABLE", "!Ref Table"),
        ("CANOPY_MEDIA_BUCKET", "!Ref MediaBucket"),
        ("CANOPY_SECRETS_KEY_ARN", "!GetAtt SecretsKey.Arn"),
        ("CANOPY_BASE_URL", "!Ref AppBaseUrl"),
        ("CANOPY_APP_KEY", "!Ref AppKey"),
        ("CANOPY_CONNECT_KEYS_URL", "!Ref ConnectKeysUrl"),
        ("CANOPY_HOME_REGION", "!Ref HomeRegion"),
        ("CANOPY_REGION_BASE_URLS", "!Ref RegionBaseUrls"),
        ("CANOPY_REGIONS", "!Ref Regions"),
        ("CANOPY_REGION_TABLES", "!Ref RegionTables"),
        ("CANOPY_REGION_BUCKETS", "!Ref RegionBuckets"),
        ("CANOPY_FORGE_APP_ID", "!Ref ForgeAppId"),
        ("CANOPY_FORGE_ENVIRONMENT", "!Ref ForgeEnvironment"),
        ("CANOPY_FORGE_JWKS_URL", "!Ref ForgeJwksUrl"),
        ("CANOPY_FORGE_API_BASE_URL", "!Ref ForgeApiBaseUrl"),
        ("CANOPY_PRODUCT_HOSTS", "!Ref ProductHosts"),
    ];
    let mut missing = Vec::new();
    for name in function_names(&text) {
        let env = environment(&text, &name);
        for (variable, at) in &read {
            if !DEFAULTED_ON_LAMBDA.contains(&variable.as_str()) && !env.contains_key(variable) {
                missing.push(format!("{name} does not get {variable} ({at})"));
            }
        }
        for (variable, value) in expected {
            assert_eq!(env.get(*variable).map(String::as_str).unwrap_or(value), *value, "{name}: {variable}");
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// A tenant that moved here from the other region keeps the envelope its secret was sealed in
/// there: every function that opens secrets needs a KMS client of that AWS region (built from the
/// region list, `bootstrap::lambda_state`) and `kms:Decrypt` on `OtherRegionSecretsKeyArn` once
/// it is set. `CANOPY_REGION_AWS` names the AWS region of every Canopy region: the home one is
/// this stack's own (`AWS::Region`), the others a parameter (the code only knows `us` and `eu`).
#[test]
fn every_function_that_opens_secrets_can_open_the_other_regions_envelopes() {
    let text = template();
    for name in function_names(&text) {
        let lines = block(&text, &name);
        let opens = statements(&lines).iter().any(|s| {
            s.effect == "Allow"
                && s.actions.iter().any(|a| a == OPEN_SECRET)
                && s.resources.contains(&"!GetAtt SecretsKey.Arn".to_owned())
        });
        if !opens {
            continue;
        }
        let at = lines.iter().position(|l| l.trim() == "- HasOtherRegionKey");
        let grant = at.map(|at| lines[at..].iter().take(8).map(|l| l.trim()).collect::<Vec<_>>()).unwrap_or_default();
        assert!(
            grant.contains(&"Action: kms:Decrypt") && grant.contains(&"Resource: !Ref OtherRegionSecretsKeyArn"),
            "{name} opens secrets but may not Decrypt with OtherRegionSecretsKeyArn (under HasOtherRegionKey)"
        );
        let env = environment(&text, &name);
        for variable in ["CANOPY_REGIONS", "CANOPY_REGION_TABLES", "CANOPY_REGION_BUCKETS", "CANOPY_REGION_AWS"] {
            assert!(env.contains_key(variable), "{name} opens secrets but gets no {variable}");
        }
        let aws = &env["CANOPY_REGION_AWS"];
        assert!(
            aws.contains("!Ref RegionAwsRegions") && aws.contains("${HomeRegion}=${AWS::Region}"),
            "{name}: CANOPY_REGION_AWS = {aws}"
        );
    }
    let conditions: Vec<&str> =
        text.lines().skip_while(|l| *l != "Conditions:").take_while(|l| !l.starts_with("Resources:")).collect();
    assert!(
        conditions.contains(&"  HasOtherRegionKey: !Not [!Equals [!Ref OtherRegionSecretsKeyArn, \"\"]]"),
        "the grant exists exactly when the ARN is set"
    );
}

/// S3 answers a GET or HEAD of a missing key with 404 only to a caller that may list the bucket;
/// otherwise 403, which the media adapter (`head`, `get_object`: `Ok(None)` on 404 only) turns
/// into a 500. So every role that reads objects that may be missing (media's `complete`, the
/// residency copy's `get_object`/`head` on both sides) may list each bucket it reads. The grant
/// carries no `s3:prefix` condition: the implicit list check of a GET/HEAD has no prefix in its
/// request context, so a prefix-conditioned grant would keep the 403 (and every object of the
/// bucket is under `tenants/` anyway). Retention, which really lists, keeps its prefix condition.
#[test]
fn every_role_reading_possibly_missing_objects_may_list_that_bucket() {
    let text = template();
    let mut readers = 0;
    for name in function_names(&text) {
        let statements = statements(&block(&text, &name));
        let reads = |s: &&Statement| s.effect == "Allow" && s.actions.iter().any(|a| a == "s3:GetObject");
        for read in statements.iter().filter(reads) {
            for objects in &read.resources {
                let bucket = match objects.as_str() {
                    r#"!Sub "${MediaBucket.Arn}/tenants/*""# => "!GetAtt MediaBucket.Arn",
                    r#"!Sub "${OtherRegionBucketArn}/tenants/*""# => "!Ref OtherRegionBucketArn",
                    other => panic!("{name}: reads objects of an unknown bucket: {other}"),
                };
                readers += 1;
                let list = statements.iter().find(|s| {
                    s.effect == "Allow"
                        && s.actions.iter().any(|a| a == LIST)
                        && s.resources.iter().any(|r| r == bucket)
                });
                let list = list.unwrap_or_else(|| panic!("{name} reads {objects} but may not list {bucket}"));
                assert!(
                    !list.condition.iter().any(|c| c.starts_with("s3:prefix")),
                    "{name}: a prefix-conditioned ListBucket does not turn the 403 into 404: {list:?}"
                );
            }
        }
    }
    assert!(readers >= 5, "media, residency and its worker read objects in both regions' buckets: {readers}");
}

/// CloudWatch cannot publish to a topic encrypted with the AWS managed key `alias/aws/sns` (its
/// key policy cannot be changed to let CloudWatch use it): every alarm would fail silently. The
/// topic is encrypted with a key of its own whose policy lets CloudWatch encrypt for it.
#[test]
fn the_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use() {
    let text = template();
    let topic = block(&text, "AlarmTopic");
    assert!(
        !text.lines().any(|l| l.trim().starts_with("KmsMasterKeyId: alias/aws/")),
        "an AWS managed key (alias/aws/sns) refuses CloudWatch"
    );
    let key = topic
        .iter()
        .find_map(|l| l.trim().strip_prefix("KmsMasterKeyId: !GetAtt ").and_then(|k| k.strip_suffix(".Arn")))
        .expect("AlarmTopic names its key: KmsMasterKeyId: !GetAtt <Key>.Arn");
    let key = block(&text, key);
    assert!(has(&key, "Type: AWS::KMS::Key") && has(&key, "EnableKeyRotation: true"), "{key:?}");
    let at =
        key.iter().position(|l| l.trim() == "Service: cloudwatch.amazonaws.com").expect("CloudWatch in the key policy");
    let statement: Vec<&str> = key[at..].iter().take(8).map(|l| l.trim()).collect();
    for action in ["- kms:Decrypt", "- kms:GenerateDataKey*"] {
        assert!(statement.contains(&action), "CloudWatch may {action}: {statement:?}");
    }
}

/// `ApiUrl` is what a first deployment puts into `AppBaseUrl`, which both CORS configurations
/// compare with the browser's `Origin` (never a trailing slash): it has none, and `AppBaseUrl`
/// refuses one (or any path). The other region's stack takes this one's table and bucket ARNs.
#[test]
fn outputs_give_an_origin_and_what_the_other_regions_stack_needs() {
    let text = template();
    let outputs: Vec<&str> = text.lines().skip_while(|l| *l != "Outputs:").collect();
    let value = |name: &str| {
        let header = format!("  {name}:");
        let at = outputs.iter().position(|l| *l == header).unwrap_or_else(|| panic!("no output {name}"));
        outputs[at + 1..]
            .iter()
            .take_while(|l| l.starts_with("    "))
            .find_map(|l| l.trim().strip_prefix("Value: "))
            .unwrap_or_else(|| panic!("{name} has no Value"))
            .to_owned()
    };
    let api = value("ApiUrl");
    assert!(api.starts_with("!Sub https://") && !api.ends_with('/'), "ApiUrl is an origin: {api}");
    assert_eq!(value("TableArn"), "!GetAtt Table.Arn");
    assert_eq!(value("MediaBucketArn"), "!GetAtt MediaBucket.Arn");
    let app = block(&text, "AppBaseUrl");
    assert!(has(&app, r"AllowedPattern: ^https://[^/\s]+$"), "AppBaseUrl must be an origin: {app:?}");
}

/// A resource's `Type:` line.
fn resource_type(text: &str, name: &str) -> String {
    block(text, name).iter().find_map(|l| l.strip_prefix("    Type: ")).unwrap_or_default().to_owned()
}

/// Two worker runs at once would race; a reservation of 1 fails on a new account (quota 10). The
/// worker runs on its schedule and takes a lease in the store (`domain::lease`), a lease that
/// outlives its longest invocation.
#[test]
fn the_residency_worker_runs_one_at_a_time_without_reserved_concurrency() {
    let text = template();
    assert!(!text.contains("ReservedConcurrentExecutions"), "no reservation: a new account's quota refuses it");
    let worker = block(&text, "ResidencyWorkerFunction");
    assert!(has(&worker, "Type: Schedule") && has(&worker, "Schedule: rate(1 minute)"));
    let timeout: i64 = worker
        .iter()
        .find_map(|l| l.trim().strip_prefix("Timeout: "))
        .and_then(|t| t.parse().ok())
        .expect("the worker's Timeout");
    assert!(
        canopy_shared::jobs::residency::LEASE_SECS >= timeout + 60,
        "a lease of {} s ends before a {timeout} s invocation",
        canopy_shared::jobs::residency::LEASE_SECS
    );
}

/// Lambda keeps an asynchronous event it could not run (throttled, or failed) for 6 hours and
/// retries it, beside the runs scheduled since. Every scheduled job bounds both, at most its
/// schedule rule's own bounds, and ends in the dead-letter queue; every schedule rule does too.
#[test]
fn scheduled_events_are_neither_retried_nor_kept_for_hours_and_end_in_the_dead_letter_queue() {
    let text = template();
    let number = |lines: &[String], key: &str| -> Vec<u64> {
        lines.iter().filter_map(|l| l.trim().strip_prefix(key)).filter_map(|v| v.parse().ok()).collect()
    };
    let mut scheduled = 0;
    for (name, _) in resources(&text) {
        let kind = resource_type(&text, &name);
        if kind != "AWS::Serverless::Function" {
            continue;
        }
        let lines = block(&text, &name);
        let rules = lines.iter().filter(|l| l.trim() == "Type: Schedule").count();
        if rules == 0 {
            continue;
        }
        scheduled += 1;
        let ages = number(&lines, "MaximumEventAgeInSeconds: ");
        let retries = number(&lines, "MaximumRetryAttempts: ");
        let expected = if kind == "AWS::Serverless::Function" { rules + 1 } else { rules };
        assert_eq!(ages.len(), expected, "{name}: every rule (and the function's own queue) bounds the event's age");
        assert_eq!(retries.len(), expected, "{name}: every rule (and the function's own queue) bounds retries");
        assert!(ages.iter().all(|a| *a < 21600 || (*a == 21600 && name == "UsageFunction")), "{name}: {ages:?}");
        assert!(retries.iter().all(|r| *r <= 2), "{name}: {retries:?}");
        if kind == "AWS::Serverless::Function" {
            assert!(has(&lines, "EventInvokeConfig:"), "{name}: Lambda's own queue is bounded");
            assert!(has(&lines, "TargetArn: !GetAtt JobsDeadLetterQueue.Arn"), "{name}: failed runs are kept");
            // The function's own bounds are no looser than its rule's.
            let (own_age, rule_ages) = (ages[0], &ages[1..]);
            assert!(rule_ages.iter().all(|a| own_age <= *a), "{name}: {ages:?}");
        }
        let dead_letters = lines.iter().filter(|l| l.trim() == "Arn: !GetAtt JobsDeadLetterQueue.Arn").count();
        assert_eq!(dead_letters, rules, "{name}: every rule sends what it could not deliver to the DLQ");
    }
    assert_eq!(scheduled, 4, "retention, privacy, usage and the residency worker's state machine");
    let worker = block(&text, "ResidencyWorkerFunction");
    assert!(has(&worker, "MaximumRetryAttempts: 0") && has(&worker, "MaximumEventAgeInSeconds: 60"));
}

/// Every scheduled function (and the worker its state machine runs) has a sample of the
/// EventBridge "Scheduled Event" it receives: `events/<binary>/scheduled.json`, for
/// `sam local invoke` and `cargo lambda invoke` (events/README.md).
#[test]
fn every_scheduled_function_has_a_scheduled_event_sample() {
    let text = template();
    let mut checked = Vec::new();
    for name in function_names(&text) {
        let lines = block(&text, &name);
        let scheduled = has(&lines, "Type: Schedule")
            || (text.contains(&format!("FunctionArn: !GetAtt {name}.Arn"))
                && has(&block(&text, &format!("{}Schedule", name.trim_end_matches("Function"))), "Type: Schedule"));
        if !scheduled {
            continue;
        }
        let binary = lines.iter().find_map(|l| l.trim().strip_prefix("Binary: ")).expect("the function's binary");
        let path = support::repo::root().join(format!("events/{binary}/scheduled.json")).display().to_string();
        let sample: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{name}: no {path}")))
                .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(sample["detail-type"], "Scheduled Event", "{path}");
        assert_eq!(sample["source"], "aws.events", "{path}");
        assert!(sample["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{path}: time");
        assert!(sample["resources"][0].as_str().is_some_and(|r| r.contains(":rule/")), "{path}: the rule");
        checked.push(binary.to_owned());
    }
    checked.sort();
    assert_eq!(checked, ["privacy", "residency-worker", "retention", "usage"]);
}

/// `samconfig.toml` as (section, key, value) for `key = value` lines; list items of
/// `parameter_overrides` come as ("<section>", "parameter_overrides", "<item>").
fn samconfig() -> Vec<(String, String, String)> {
    let text = support::repo::read("samconfig.toml");
    let (mut section, mut list) = (String::new(), None::<String>);
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
        } else if let Some(key) = &list {
            if line == "]" {
                list = None;
            } else {
                out.push((section.clone(), key.clone(), line.trim_end_matches(',').trim_matches('"').to_owned()));
            }
        } else if let Some((key, value)) = line.split_once(" = ") {
            if value == "[" {
                list = Some(key.to_owned());
            } else if let Some(items) = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
                for item in items.split("\", \"") {
                    out.push((section.clone(), key.to_owned(), item.trim_matches('"').to_owned()));
                }
            } else {
                out.push((section.clone(), key.to_owned(), value.trim_matches('"').to_owned()));
            }
        }
    }
    out
}

/// Three SAM config environments: `us` and `eu` (arm64, the production stacks) and `scratch` (a
/// throwaway x86_64 stack in one region). Each builds with the beta opt-in rust-cargolambda
/// needs, and deploys its own stack in its region with a parameter set the template accepts.
#[test]
fn samconfig_has_us_eu_and_scratch_environments_that_build_and_deploy() {
    let config = samconfig();
    let get = |section: &str, key: &str| -> Vec<&str> {
        config.iter().filter(|(s, k, _)| s == section && k == key).map(|(_, _, v)| v.as_str()).collect()
    };
    for (env, stack, region, home, architecture) in [
        ("us", "canopy-us", "us-east-1", "us", "arm64"),
        ("eu", "canopy-eu", "eu-central-1", "eu", "arm64"),
        ("scratch", "canopy-scratch", "us-east-1", "us", "x86_64"),
    ] {
        let build = format!("{env}.build.parameters");
        assert_eq!(get(&build, "beta_features"), ["true"], "{build}: rust-cargolambda is a SAM CLI beta");
        let arch = format!("Architecture={architecture}");
        assert_eq!(get(&build, "parameter_overrides"), [arch.as_str()], "{build}");
        let deploy = format!("{env}.deploy.parameters");
        assert_eq!(get(&deploy, "stack_name"), [stack], "{deploy}");
        assert_eq!(get(&deploy, "region"), [region], "{deploy}");
        assert_eq!(get(&deploy, "capabilities"), ["CAPABILITY_IAM"], "{deploy}");
        let overrides = get(&deploy, "parameter_overrides");
        assert!(overrides.contains(&arch.as_str()), "{deploy}: deploys what the build built: {overrides:?}");
        assert!(overrides.contains(&format!("HomeRegion={home}").as_str()), "{deploy}: {overrides:?}");
        let app = overrides.iter().find_map(|o| o.strip_prefix("AppBaseUrl=")).expect("AppBaseUrl");
        let host = app.strip_prefix("https://").expect("https");
        assert!(!host.is_empty() && !host.contains('/'), "{deploy}: AppBaseUrl is an origin: {app}");
    }
}

/// Every function reads the region list, and `bootstrap::lambda_state` refuses to start when a
/// listed region lacks its table or bucket, or when a table, bucket or AWS region names a region
/// the list lacks: CloudFormation refuses such a parameter set before anything changes.
#[test]
fn region_parameters_that_would_fail_every_cold_start_are_refused_at_deploy() {
    let text = template();
    let rules: Vec<&str> =
        text.lines().skip_while(|l| *l != "Rules:").skip(1).take_while(|l| l.starts_with(' ')).collect();
    let rule = |name: &str| -> Vec<&str> {
        let at = rules.iter().position(|l| *l == format!("  {name}:")).unwrap_or_else(|| panic!("no rule {name}"));
        rules[at + 1..].iter().take_while(|l| l.starts_with("    ")).map(|l| l.trim()).collect()
    };
    let together = rule("RegionListsGoTogether");
    assert!(together.contains(&"RuleCondition: !Not [!Equals [!Ref Regions, \"\"]]"), "{together:?}");
    for parameter in ["RegionTables", "RegionBuckets"] {
        let assert = format!("- Assert: !Not [!Equals [!Ref {parameter}, \"\"]]");
        assert!(together.contains(&assert.as_str()), "{parameter}: {together:?}");
    }
    let needs = rule("RegionDetailsNeedRegions");
    for parameter in ["RegionTables", "RegionBuckets", "RegionAwsRegions", "OtherRegionTableArn"] {
        let condition = format!("- !Not [!Equals [!Ref {parameter}, \"\"]]");
        assert!(needs.contains(&condition.as_str()), "{parameter}: {needs:?}");
    }
    assert!(needs.contains(&"- Assert: !Not [!Equals [!Ref Regions, \"\"]]"), "{needs:?}");
}

/// The template's product hosts are the code's default (Atlassian's domains, https only), and no
/// stack's parameters widen them: loopback is for the rehearsal, which says so in its own
/// parameters (`scripts/lib/rehearse/run.py`).
#[test]
fn deployed_stacks_trust_atlassian_product_sites_only() {
    let text = template();
    let parameter = block(&text, "ProductHosts");
    let default = parameter
        .iter()
        .find_map(|l| l.trim().strip_prefix("Default: "))
        .expect("ProductHosts has a default")
        .to_owned();
    assert_eq!(default, canopy_shared::kernel::product_url::DEFAULT_PRODUCT_HOST_SUFFIXES.join(","));
    let hosts = canopy_shared::kernel::product_url::ProductHosts::parse(&default).expect("the default parses");
    assert!(!hosts.allows_loopback_http());
    for stack in ["us", "eu"] {
        let params = support::repo::read(&format!("infra/params/{stack}.json"));
        assert!(!params.contains("ProductHosts"), "{stack}: the deployed stacks keep the default product hosts");
        let env = support::repo::read(&format!("infra/env/{stack}.json"));
        assert!(env.contains(&format!("\"CANOPY_PRODUCT_HOSTS\": \"{default}\"")), "{stack}: infra/env is current");
    }
}
