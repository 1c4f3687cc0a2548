//! The files operators deploy from stay in step with the code: every variable the
//! settings read is in `.env.example`, and the licence file is the one Cargo.toml names.

use std::collections::BTreeSet;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every upper-case string literal with an underscore in the configuration's source
/// outside its tests (`"MONGODB_URL"`): the environment variables the settings read.
fn variables_read() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("src/config")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let code = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or_default();
        for (at, _) in code.match_indices('"') {
            let rest = &code[at + 1..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            let env_like = name.len() > 3
                && name.contains('_')
                && name.starts_with(|c: char| c.is_ascii_uppercase())
                && rest[name.len()..].starts_with('"');
            if env_like {
                names.insert(name);
            }
        }
    }
    names
}

#[test]
fn every_variable_the_settings_read_is_in_the_env_example() {
    let example = std::fs::read_to_string(root().join(".env.example")).unwrap();
    let listed: BTreeSet<String> = example
        .lines()
        .map(|l| l.trim_start_matches('#').trim())
        .filter_map(|l| l.split_once('=').map(|(name, _)| name.to_owned()))
        .filter(|name| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .collect();
    let read = variables_read();
    assert!(read.len() > 40, "the source scan found only {read:?}");
    for must in [
        "MONGODB_URL",
        "JWT_SECRET_KEY",
        "TELEGRAM_BOT_TOKEN",
        "SENDGRID_API_URL",
    ] {
        assert!(read.contains(must), "the source scan missed {must}");
    }
    let missing: Vec<&String> = read.difference(&listed).collect();
    assert!(missing.is_empty(), ".env.example lacks {missing:?}");
}

#[test]
fn the_licence_file_is_the_one_cargo_names() {
    let cargo = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    assert!(
        cargo.contains("license = \"MIT\""),
        "Cargo.toml's licence changed"
    );
    let licence = std::fs::read_to_string(root().join("LICENSE")).unwrap();
    assert!(licence.starts_with("MIT License"));
}

/// The `frontdesk_…` names in a file.
fn metric_names(text: &str) -> BTreeSet<String> {
    text.match_indices("frontdesk_")
        .map(|(at, _)| {
            text[at..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect::<String>()
        })
        .collect()
}

#[test]
fn the_alerts_and_the_dashboard_name_only_series_frontdesk_serves_from_the_start() {
    let served = frontdesk::telemetry::metrics::Metrics::new()
        .render()
        .unwrap();
    let series: BTreeSet<&str> = served
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    for file in [
        "deploy/prometheus-alerts.yml",
        "deploy/grafana-dashboard.json",
    ] {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        let names = metric_names(&text);
        assert!(names.len() >= 5, "{file}: {names:?}");
        let unknown: Vec<&String> = names
            .iter()
            .filter(|n| !series.contains(n.as_str()))
            .collect();
        assert!(unknown.is_empty(), "{file} names {unknown:?}, not served");
    }
}
