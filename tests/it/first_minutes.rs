//! A newcomer's first commands, each a process of its own as typed in a terminal: the
//! demo (its chat fed from a pipe), then `ask` and `ask --chart-out` in new processes,
//! answering from the demo's data in the shared local database; `localdb stop` last.

use std::process::{Command, Output, Stdio};

/// Runs `frontdesk args…` with `state` as its state folder and no database configured.
fn frontdesk(state: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    frontdesk_with(state, args, stdin, &[])
}

/// [`frontdesk`] with more environment variables.
fn frontdesk_with(
    state: &std::path::Path,
    args: &[&str],
    stdin: &str,
    vars: &[(&str, &str)],
) -> Output {
    let mut child = newcomer(state, "first_minutes")
        .args(args)
        .envs(vars.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

/// `frontdesk` as a newcomer runs it: `state` as its state folder, no database or key
/// configured, the demo's clock, database `database`.
fn newcomer(state: &std::path::Path, database: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_frontdesk"));
    command
        .env_remove("MONGODB_URL")
        .env_remove("FRONTDESK_ENCRYPTION_KEY")
        .env("XDG_STATE_HOME", state)
        .env("DATABASE_NAME", database)
        .env("FRONTDESK_NOW", "2026-11-25T10:00:00Z")
        .env("FRONTDESK_BIND", "127.0.0.1:0")
        .env("FRONTDESK_NLU", "off")
        .env("RUST_LOG", "warn");
    command
}

fn text(out: &Output) -> String {
    format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn ask_after_the_demo_answers_from_the_demos_data() {
    let state = tempfile::tempdir().unwrap();
    let demo = frontdesk(state.path(), &["demo"], "what classes are on tomorrow?\n");
    assert!(demo.status.success(), "demo: {}", text(&demo));
    assert!(text(&demo).contains("clients"), "{}", text(&demo));

    let asked = frontdesk(
        state.path(),
        &[
            "ask",
            "--agent",
            "dashboard",
            "--as",
            "manager",
            "--json",
            "how many clients do we have?",
        ],
        "",
    );
    assert!(asked.status.success(), "ask: {}", text(&asked));
    assert!(!text(&asked).contains("is empty"), "{}", text(&asked));
    let reply: serde_json::Value = serde_json::from_slice(&asked.stdout).unwrap();
    let clients = reply["tool_calls"][0]["result"]["total"]
        .as_u64()
        .unwrap_or(0);
    assert!(clients > 0, "no clients: {reply}");

    let chart = state.path().join("revenue.png");
    let charted = frontdesk(
        state.path(),
        &[
            "ask",
            "--agent",
            "dashboard",
            "--as",
            "manager",
            "--chart-out",
            chart.to_str().unwrap(),
            "revenue by month this year",
        ],
        "",
    );
    assert!(
        charted.status.success(),
        "ask --chart-out: {}",
        text(&charted)
    );
    let png = std::fs::read(&chart).unwrap_or_default();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 1000,
        "{}",
        text(&charted)
    );

    // A new shell with another key: refused, naming both keys, instead of finding nobody.
    let other_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let refused = frontdesk_with(
        state.path(),
        &["ask", "--as", "staff", "find client priya@example.com"],
        "",
        &[("FRONTDESK_ENCRYPTION_KEY", other_key)],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("sealed with key") && said.contains("FRONTDESK_ENCRYPTION_KEY"),
        "{said}"
    );
    assert!(refused.stdout.is_empty(), "{}", text(&refused));

    let empty = frontdesk(state.path(), &["ask", ""], "");
    assert_eq!(empty.status.code(), Some(2), "{}", text(&empty));

    let stopped = frontdesk(state.path(), &["localdb", "stop"], "");
    assert!(stopped.status.success(), "{}", text(&stopped));
    let again = frontdesk(state.path(), &["localdb", "url"], "");
    assert!(!again.status.success(), "still running: {}", text(&again));
}

/// The REST recipe of the README, as written there (only the port changed to a free one),
/// run by bash line by line in a shell with nothing exported: a 200 with the figures.
#[test]
fn the_readme_rest_recipe_works_as_typed() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let recipe = readme
        .split("```sh\n")
        .map(|block| block.split("```").next().unwrap_or_default())
        .find(|block| block.contains("/readyz"))
        .expect("the README's REST recipe")
        .to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = recipe.replace("127.0.0.1:8000", &format!("127.0.0.1:{port}"));
    let state = tempfile::tempdir().unwrap();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_frontdesk"))
        .parent()
        .unwrap()
        .to_owned();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // Each run is a process group of its own: what it leaves in the background (the
    // recipe's `serve`) is stopped with the group, nothing else on the machine.
    let out_path = state.path().join("recipe.out");
    let err_path = state.path().join("recipe.err");
    let run = |script: &str| {
        use std::os::unix::process::CommandExt;
        let mut child = Command::new("timeout")
            .args(["180", "bash", "-e", "-c", script])
            .env_clear()
            .env("PATH", &path)
            .env("HOME", state.path())
            .env("XDG_CACHE_HOME", dirs_cache())
            .env("DATABASE_NAME", "readme_recipe")
            .env("FRONTDESK_BIND", format!("127.0.0.1:{port}"))
            .env("FRONTDESK_NLU", "off")
            .env("RUST_LOG", "warn")
            // Files, not pipes: the recipe's `serve` inherits them and keeps running.
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .process_group(0)
            .spawn()
            .unwrap();
        let group = i32::try_from(child.id()).unwrap();
        let status = child.wait().unwrap();
        // SAFETY: signalling the process group this test made.
        unsafe {
            libc::kill(-group, libc::SIGTERM);
        }
        Output {
            status,
            stdout: std::fs::read(&out_path).unwrap_or_default(),
            stderr: std::fs::read(&err_path).unwrap_or_default(),
        }
    };
    let out = run(&script);
    let stopped = run("frontdesk localdb stop");
    assert!(
        out.status.success(),
        "the recipe failed:\n{script}\n{}",
        text(&out)
    );
    let body = String::from_utf8_lossy(&out.stdout);
    let figures: serde_json::Value = serde_json::from_str(body.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    assert!(figures.get("period").is_some(), "{figures}");
    assert!(stopped.status.success(), "{}", text(&stopped));
}

/// The cache folder the harness fills (SecantusDB, the emulator): shared, not refetched.
fn dirs_cache() -> String {
    std::env::var("XDG_CACHE_HOME")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| format!("{}/.cache", std::env::var("HOME").unwrap_or_default()))
}

/// Ctrl-C in the demo, as a terminal sends it (SIGINT to the foreground process group):
/// the demo exits 0 within seconds and leaves no process of its group behind. The shared
/// local database runs in its own group and stays for the next command, by design, until
/// `localdb stop`.
#[test]
fn ctrl_c_ends_the_demo_cleanly() {
    use std::io::BufRead;
    use std::os::unix::process::CommandExt;
    use std::time::{Duration, Instant};

    let state = tempfile::tempdir().unwrap();
    let mut child = newcomer(state.path(), "first_minutes_ctrl_c")
        .arg("demo")
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let group = i32::try_from(child.id()).unwrap();
    // Ready once it offers questions to try; the console then waits on stdin (kept open).
    let stdout = child.stdout.take().unwrap();
    let (ready, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if line.starts_with("try:") {
                let _ = ready.send(());
            }
        }
    });
    seen.recv_timeout(Duration::from_secs(120))
        .expect("the demo never became ready");
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: a signal to the process group this test started.
    assert_eq!(unsafe { libc::kill(-group, libc::SIGINT) }, 0);
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the demo did not end within 15 s of Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    // Nothing of its process group is left.
    // SAFETY: signal 0 only asks whether any process of the group exists.
    let left = unsafe { libc::kill(-group, 0) } == 0;
    assert!(!left, "a process of the demo's group outlived it");
    drop(child.stdin.take());

    let stopped = frontdesk(state.path(), &["localdb", "stop"], "");
    assert!(stopped.status.success(), "{}", text(&stopped));
}

/// `eval --json` prints JSON alone on stdout (what it says besides goes to stderr), so
/// its output can be piped into a JSON reader, with per-intent precision and recall; the
/// exit code says whether every case passed.
#[test]
fn eval_json_is_json_alone() {
    let state = tempfile::tempdir().unwrap();
    let cases = state.path().join("cases.jsonl");
    std::fs::write(
        &cases,
        concat!(
            r#"{"id":"a","agent":"support","as":"staff","text":"Find client by email priya@example.com","expect":{"intent":"find_client","args":{"email":"priya@example.com"}}}"#,
            "\n",
            r#"{"id":"b","agent":"dashboard","as":"manager","text":"revenue this month","expect":{"intent":"new_clients"}}"#,
            "\n",
        ),
    )
    .unwrap();
    let out = frontdesk(
        state.path(),
        &["eval", "--json", cases.to_str().unwrap()],
        "",
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON alone ({e}): {}", text(&out)));
    assert_eq!(
        (report["passed"].as_u64(), report["failed"].as_u64()),
        (Some(1), Some(1))
    );
    let per_intent = &report["scores"]["per_intent"];
    assert_eq!(per_intent["find_client"]["recall"], 1.0, "{report}");
    assert_eq!(per_intent["new_clients"]["recall"], 0.0, "{report}");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("1 passed, 1 failed"), "{}", text(&out));

    let stopped = frontdesk(state.path(), &["localdb", "stop"], "");
    assert!(stopped.status.success(), "{}", text(&stopped));
}
