//! `frontdesk doctor`: checks the configuration, the database, the keys, the providers,
//! the sentence model and a running server's counters, without writing anything.

use super::prelude::*;

/// What a frontdesk already serving at `bind` has counted, read from its `/metrics` (the
/// same numbers `GET /api/agents/status` shows); nothing when none answers.
async fn print_live_counters(bind: &str) {
    let url = format!("http://{bind}/metrics");
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(2))
        .build();
    let text = match http {
        Ok(http) => match http.get(&url).send().await {
            Ok(r) if r.status().is_success() => r.text().await.ok(),
            _ => None,
        },
        Err(_) => None,
    };
    let Some(text) = text else {
        println!(
            "server      none answering at {bind} (start `frontdesk serve` for live counters)"
        );
        return;
    };
    let live = frontdesk::telemetry::metrics::LiveSummary::parse(&text);
    let platforms: Vec<String> = live
        .platforms
        .iter()
        .map(|(p, (inn, out))| format!("{p} {inn} in / {out} out"))
        .collect();
    let errors: u64 = live.errors.values().sum();
    println!(
        "server      running at {bind}: {}; {errors} error(s) since start",
        if platforms.is_empty() {
            "no messages yet".to_owned()
        } else {
            platforms.join(", ")
        }
    );
    for (kind, n) in live.errors.iter().filter(|(_, n)| **n > 0) {
        println!("            {kind}: {n}");
    }
}

pub async fn run_doctor(settings: &Settings) -> Result<()> {
    let mut problems = 0;
    println!(
        "config      ok (database {:?}, planner {:?})",
        settings.database.name, settings.llm.planner
    );
    let url = match (&settings.database.url, running_localdb()) {
        (Some(url), _) => Some(url.expose().to_owned()),
        (None, Some((url, _))) => Some(url),
        (None, None) => {
            println!("database    MONGODB_URL unset: demo and tests start a local server");
            None
        }
    };
    // Read the key, never make one: doctor writes no files.
    let keys = match &url {
        Some(url) => app::existing_keyring(settings, app::is_loopback_url(url)),
        None => app::existing_keyring(settings, true),
    };
    // Whether the clients can be checked against the current key (there is one).
    let mut key_known = true;
    let keys = match keys {
        Ok(Some((keys, _, source))) => {
            match source {
                app::KeySource::Environment => {
                    let old = keys.old_ids();
                    let old = if old.is_empty() {
                        "none".to_owned()
                    } else {
                        old.join(", ")
                    };
                    println!(
                        "encryption  FRONTDESK_ENCRYPTION_KEY set (key {}, older keys: {old})",
                        keys.current_id()
                    );
                }
                app::KeySource::LocalFile(path) => println!(
                    "encryption  FRONTDESK_ENCRYPTION_KEY unset: the local development key {} ({}) is used for a database on this machine; `serve` needs the variable",
                    keys.current_id(),
                    path.display()
                ),
            }
            Some(keys)
        }
        Ok(None) => {
            println!(
                "encryption  FRONTDESK_ENCRYPTION_KEY unset and no local development key yet ({} is made by `frontdesk demo` or another local command); `serve` needs the variable",
                app::local_key_file().display()
            );
            // The connection checks below need a keyring; a throwaway one, kept in memory.
            key_known = false;
            Some(Keyring::new(Key::generate().0, Vec::new()))
        }
        Err(e) => {
            problems += 1;
            println!("encryption  FAILED: {e}");
            None
        }
    };
    if let (Some(url), Some(keys)) = (url, keys.clone()) {
        match frontdesk::store::Store::connect(&url, &settings.database.name, keys).await {
            Ok(store) => {
                println!("database    ok ({})", frontdesk::store::redact_url(&url));
                if key_known {
                    match store.foreign_key_id().await {
                        Ok(Some(theirs)) => {
                            problems += 1;
                            let ours = store.keys().current_id();
                            let why = frontdesk::store::foreign_key_warning(&theirs, ours);
                            println!("keys        FAILED: {why}");
                        }
                        Ok(None) => match store.clients_to_rotate().await {
                            Ok(0) => {}
                            Ok(n) => println!("            {n} client(s) not under the current key: run `frontdesk rotate-key`"),
                            Err(e) => println!("            clients unreadable: {e}"),
                        },
                        Err(e) => println!("            clients unreadable: {e}"),
                    }
                }
                match store.outbox_stats().await {
                    Ok(o) => {
                        println!(
                            "outbox      {} waiting, {} being delivered, {} delivered, {} dead",
                            o.pending, o.in_flight, o.done, o.dead
                        );
                        if o.dead > 0 {
                            problems += 1;
                            println!("            {} dead item(s): see last_error in the outbox collection; `frontdesk outbox requeue` retries them", o.dead);
                        }
                    }
                    Err(e) => println!("outbox      unreadable: {e}"),
                }
            }
            Err(e) => {
                problems += 1;
                println!("database    FAILED: {e}");
            }
        }
    }
    match (&settings.database.readonly_url, keys) {
        (None, _) => println!(
            "read-only   MONGODB_READONLY_URL unset: the Dashboard reads with the main connection"
        ),
        (Some(ro), Some(keys)) => {
            let redacted = frontdesk::store::redact_url(ro.expose());
            match frontdesk::store::Store::connect(ro.expose(), &settings.database.name, keys).await
            {
                Ok(_) => println!("read-only   ok ({redacted}): the Dashboard reads through it"),
                Err(e) => {
                    problems += 1;
                    println!("read-only   FAILED: {e}");
                }
            }
        }
        (Some(_), None) => println!("read-only   MONGODB_READONLY_URL set, not checked (no key)"),
    }
    match Providers::from_settings(settings, ChatRoutes::default()) {
        Ok(providers) => {
            for (what, state) in providers.summary() {
                println!("{what:<11} {state}");
            }
            for (what, checked) in providers.check_credentials().await {
                match checked {
                    Ok(()) => println!("{what:<11} credentials accepted"),
                    Err(e) => {
                        problems += 1;
                        println!("{what:<11} FAILED: {e}");
                    }
                }
            }
            for why in &settings.providers.half_set {
                problems += 1;
                println!("providers   HALF SET: {why}");
            }
        }
        Err(e) => {
            problems += 1;
            println!("providers   FAILED: {e}");
        }
    }
    match frontdesk::nlu::check(&settings.nlu) {
        Ok(state) => println!("nlu         {state}"),
        Err(e) => {
            problems += 1;
            println!("nlu         FAILED: {e}");
        }
    }
    match llm_check(&settings.llm).await {
        Ok(state) => println!("llm         {state}"),
        Err(e) => {
            problems += 1;
            println!("llm         FAILED: {e}");
        }
    }
    if settings.jwt_secret.is_none() {
        println!("rest api    JWT_SECRET_KEY unset: `serve` needs it (`demo` makes one)");
    }
    print_live_counters(&settings.bind).await;
    for line in frontdesk::gateway::platforms::check_tokens(settings).await {
        if matches!(line.state, AdapterState::Failed(_)) {
            problems += 1;
        }
        println!("{line}");
    }
    if problems > 0 {
        bail!("{problems} problem(s) found");
    }
    Ok(())
}

/// Asks the LLM server for its models (`GET {base}/models`, 5 s at most) when one is
/// configured: is it there, does it take the key, does it have the model.
async fn llm_check(llm: &frontdesk::config::LlmSettings) -> Result<String> {
    if !llm.configured() {
        return Ok(
            "OPENAI_API_KEY and OPENAI_BASE_URL unset: rules and the sentence model answer alone"
                .into(),
        );
    }
    let base = llm
        .own_server()
        .unwrap_or(async_openai::config::OPENAI_API_BASE);
    let mut request = reqwest::Client::new()
        .get(format!("{base}/models"))
        .timeout(std::time::Duration::from_secs(5));
    if let Some(key) = &llm.api_key {
        request = request.bearer_auth(key.expose());
    }
    let response = request.send().await.map_err(|e| {
        let cause = std::error::Error::source(&e).map_or_else(String::new, |c| format!(": {c}"));
        anyhow::anyhow!("{base}/models unreachable: {e}{cause}")
    })?;
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        bail!("{base} refused the key (HTTP {status}): check OPENAI_API_KEY");
    }
    if !status.is_success() {
        bail!("{base}/models answered HTTP {status}");
    }
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let models: Vec<&str> = body["data"]
        .as_array()
        .map(|list| list.iter().filter_map(|m| m["id"].as_str()).collect())
        .unwrap_or_default();
    let listed = if models.is_empty() || models.contains(&llm.model.as_str()) {
        String::new()
    } else {
        format!(
            "; {} is not among its {} models (OPENAI_MODEL)",
            llm.model,
            models.len()
        )
    };
    Ok(format!(
        "{base} answers (model {}, planner {:?}){listed}",
        llm.model, llm.planner
    ))
}
