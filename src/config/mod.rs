//! The one typed [`Settings`], layered: `config/default.toml` (built in) <
//! `config/local.toml` < the file named by `FRONTDESK_CONFIG` < environment variables
//! (a `.env` file is read with dotenvy). Nothing else in frontdesk reads the environment.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};
use serde::Deserialize;

use frontdesk_chat::Platform;

use crate::domain::{AgentKind, Currency, FixedClock, MovingClock, Role, SharedClock, SystemClock};

mod addresses;
pub mod gateway;
mod providers;

pub use addresses::AddressRange;
pub use gateway::{GatewaySettings, Person, RoleQuotas, Route};
pub use providers::{
    AdapterSettings, DiscordSettings, GoogleCalendarSettings, ProviderSettings, RazorpaySettings,
    SendgridSettings, SlackSettings, StripeSettings, TelegramSettings, TwilioSettings,
    WebhookSecrets,
};

const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {reason}")]
    Parse { path: String, reason: String },
    #[error("invalid setting {key}: {reason}")]
    Invalid { key: &'static str, reason: String },
    #[error(transparent)]
    Key(#[from] crate::protect::KeyError),
}

/// A secret string (token, key, password) that never appears in logs or `Debug` output.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that must send it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Which planner answers questions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlannerKind {
    Rules,
    Llm,
    Hybrid,
}

impl std::str::FromStr for PlannerKind {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_lowercase().as_str() {
            "rules" => Ok(Self::Rules),
            "llm" => Ok(Self::Llm),
            "hybrid" => Ok(Self::Hybrid),
            other => Err(ConfigError::Invalid {
                key: "FRONTDESK_PLANNER",
                reason: format!("{other:?}: choose rules, llm or hybrid"),
            }),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    database: DatabaseFile,
    studio: StudioFile,
    llm: LlmFile,
    server: ServerFile,
    api: ApiFile,
    memory: MemoryFile,
    nlu: NluFile,
    log: LogFile,
    gateway: GatewayFile,
    payments: PaymentsFile,
    outbox: OutboxFile,
    reminders: RemindersFile,
    handoff: HandoffFile,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PaymentsFile {
    provider: String,
    return_url: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutboxFile {
    max_attempts: u32,
    first_retry_secs: u64,
    max_retry_secs: u64,
    lease_secs: u64,
    poll_millis: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RemindersFile {
    class_lead_minutes: u32,
    payment_overdue_days: u32,
    digest_platform: String,
    digest_channel: String,
    digest_local_time: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct HandoffFile {
    platform: String,
    channel: String,
    remind_after_minutes: u32,
    mention: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct GatewayFile {
    per_user_per_minute: RoleQuotasFile,
    per_platform_per_minute: PerPlatform<u32>,
    default_agent: PerPlatform<String>,
    default_role: PerPlatform<String>,
    link_code_minutes: u32,
    dedupe_hours: u32,
    #[serde(default)]
    routes: Vec<RouteFile>,
    #[serde(default)]
    people: Vec<PersonFile>,
    #[serde(default)]
    platform_roles: PlatformRolesFile,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleQuotasFile {
    guest: u32,
    client: u32,
    staff: u32,
    manager: u32,
    admin: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PerPlatform<T> {
    telegram: T,
    slack: T,
    discord: T,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteFile {
    platform: String,
    #[serde(default)]
    workspace: Option<String>,
    channel: String,
    agent: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonFile {
    name: String,
    role: String,
    #[serde(default)]
    telegram: Option<String>,
    #[serde(default)]
    slack: Option<String>,
    #[serde(default)]
    discord: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlatformRolesFile {
    #[serde(default)]
    slack: BTreeMap<String, String>,
    #[serde(default)]
    discord: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct DatabaseFile {
    url: String,
    name: String,
    conflict_retry_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct StudioFile {
    name: String,
    currency: String,
    utc_offset: String,
    min_to_rank: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LlmFile {
    planner: String,
    base_url: String,
    model: String,
    timeout_secs: u64,
    max_tool_rounds: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerFile {
    bind: String,
    shutdown_grace_secs: u64,
    header_timeout_secs: u64,
    body_timeout_secs: u64,
    write_timeout_secs: u64,
    max_connections: usize,
    max_connections_per_address: usize,
    trusted_proxies: Vec<String>,
    shared_limits: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiFile {
    per_token_per_minute: u32,
    per_ip_per_minute: u32,
    max_token_days: TokenDaysFile,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenDaysFile {
    client: u32,
    staff: u32,
    manager: u32,
    admin: u32,
}

/// How the HTTP server treats slow, idle and too many connections (`[server]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// A request's head, and an idle keep-alive connection's next one, must arrive
    /// within this.
    pub header_timeout: std::time::Duration,
    /// A request's body must arrive within this of its first read (408 beyond).
    pub body_timeout: std::time::Duration,
    /// A write the client does not take for this long closes the connection.
    pub write_timeout: std::time::Duration,
    /// Connections open at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub max_connections_per_address: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_timeout: std::time::Duration::from_secs(20),
            body_timeout: std::time::Duration::from_secs(30),
            write_timeout: std::time::Duration::from_secs(30),
            max_connections: 4096,
            max_connections_per_address: 256,
        }
    }
}

/// The longest a token of each role may live (from its `iat` to its `exp`); a token
/// minted to live longer is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLifetimes {
    pub client_days: u32,
    pub staff_days: u32,
    pub manager_days: u32,
    pub admin_days: u32,
}

impl Default for TokenLifetimes {
    fn default() -> Self {
        Self {
            client_days: 90,
            staff_days: 30,
            manager_days: 30,
            admin_days: 7,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct MemoryFile {
    ttl_hours: u32,
    ticket_retention_days: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct NluFile {
    enabled: bool,
    model: String,
    examples: String,
    margin: f32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogFile {
    format: String,
    level: String,
}

/// MongoDB connection settings.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `None`: start or reuse the managed local database.
    pub url: Option<Secret>,
    pub name: String,
    /// `FRONTDESK_LOCALDB`: force `mongod`, `secantus-rs` or `secantus-py`.
    pub local_kind: Option<String>,
    /// `MONGODB_READONLY_URL`: a read-only database user for the Dashboard path.
    pub readonly_url: Option<Secret>,
    /// How long a write keeps retrying transient conflicts before it gives up (the API
    /// then answers 503 with `Retry-After`).
    pub conflict_retry: std::time::Duration,
}

/// The keys of clients' personal data at rest.
#[derive(Debug, Clone, Default)]
pub struct EncryptionSettings {
    /// `FRONTDESK_ENCRYPTION_KEY` and `FRONTDESK_ENCRYPTION_OLD_KEYS`, parsed; `None` when
    /// the key is unset (see `app::keyring` for what happens then).
    pub keys: Option<crate::protect::Keyring>,
    /// The current key as given (base64), for a `serve` the benchmark starts.
    pub key_text: Option<Secret>,
}

/// The studio itself: its name, currency and local time.
#[derive(Debug, Clone)]
pub struct StudioSettings {
    pub name: String,
    pub currency: Currency,
    pub utc_offset: FixedOffset,
    /// The payment provider that makes payment links ("Razorpay", "Stripe"), or `None`:
    /// clients pay at the desk. Chosen from `payments.provider` and the credentials set.
    pub online_payment: Option<PaymentProviderKind>,
    /// A course or instructor is ranked best or worst only over at least this many
    /// classes (fill rates) or bookings (attendance) in the period (fewer: shown, but
    /// not ranked).
    pub min_to_rank: u64,
}

/// The OpenAI-compatible LLM, if any.
#[derive(Debug, Clone)]
pub struct LlmSettings {
    pub api_key: Option<Secret>,
    pub base_url: Option<String>,
    pub model: String,
    pub planner: PlannerKind,
    pub timeout_secs: u64,
    pub max_tool_rounds: u32,
}

impl LlmSettings {
    /// `OPENAI_BASE_URL` without a trailing `/`, when set: a server of one's own (Ollama,
    /// vLLM), which needs no key.
    #[must_use]
    pub fn own_server(&self) -> Option<&str> {
        self.base_url
            .as_deref()
            .map(|u| u.trim().trim_end_matches('/'))
            .filter(|u| !u.is_empty())
    }

    /// Whether an LLM is configured: a key, or a server of one's own.
    #[must_use]
    pub fn configured(&self) -> bool {
        self.api_key.is_some() || self.own_server().is_some()
    }
}

/// The sentence model beside the rules (see `crate::nlu`).
#[derive(Debug, Clone, PartialEq)]
pub struct NluSettings {
    /// `FRONTDESK_NLU=off` turns the tier off: the rules (and an LLM) alone.
    pub enabled: bool,
    /// `FRONTDESK_NLU_MODEL`: a sentence-transformers BERT folder; else the packaged model.
    pub model_dir: Option<PathBuf>,
    /// A studio's own examples, added to the built-in ones.
    pub examples_file: Option<PathBuf>,
    /// How far the best intent must lead the runner-up to be taken.
    pub margin: f32,
}

impl Default for NluSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            model_dir: None,
            examples_file: Some(PathBuf::from("config/intents.local.toml")),
            margin: DEFAULT_NLU_MARGIN,
        }
    }
}

/// The lead over the runner-up below which a choice is not taken: on the eval corpus the
/// wrong choices had margins under about 0.02.
pub const DEFAULT_NLU_MARGIN: f32 = 0.03;

/// Log output.
#[derive(Debug, Clone)]
pub struct LogSettings {
    pub json: bool,
    pub level: String,
}

/// Everything frontdesk is configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub studio: StudioSettings,
    pub llm: LlmSettings,
    pub bind: String,
    /// How long shutdown waits for messages and requests in flight.
    pub shutdown_grace: std::time::Duration,
    /// Timeouts and connection caps of the HTTP server.
    pub http: HttpLimits,
    /// Peers whose `X-Forwarded-For` names the client (load balancers, proxies); from
    /// anyone else the header is ignored.
    pub trusted_proxies: Vec<AddressRange>,
    /// Rate limits counted in the database, across every instance, as well as in each.
    pub shared_limits: bool,
    /// REST API requests per minute per token and per client IP.
    pub api_per_token_per_minute: u32,
    pub api_per_ip_per_minute: u32,
    pub token_lifetimes: TokenLifetimes,
    pub memory_ttl_hours: u32,
    /// How long a hand-off ticket is kept, in days.
    pub ticket_retention_days: u32,
    pub nlu: NluSettings,
    pub log: LogSettings,
    pub gateway: GatewaySettings,
    pub integrations: IntegrationSettings,
    pub jwt_secret: Option<Secret>,
    pub encryption: EncryptionSettings,
    /// `FRONTDESK_NOW`: where the clock starts, for tests, evals and demos.
    pub now: Option<DateTime<Utc>>,
    /// `FRONTDESK_CLOCK=frozen`: the clock stays at `FRONTDESK_NOW` (tests); by default it
    /// moves on from there with real time.
    pub clock_frozen: bool,
    /// When the settings were loaded: a moving clock reads `now` at this instant, so
    /// every clock made from these settings reads the same time.
    pub clock_since: std::time::Instant,
    /// The providers' credentials and URLs (payments, email, SMS, calendar, webhooks).
    pub providers: ProviderSettings,
    /// The chat adapters' tokens and URLs.
    pub adapters: AdapterSettings,
    /// `HOSTNAME` (default `frontdesk`): names this process's leases.
    pub hostname: String,
}

impl Settings {
    /// Loads settings from the built-in defaults, `config/local.toml`, `FRONTDESK_CONFIG`
    /// and the process environment (after reading `.env`).
    ///
    /// # Errors
    /// An unreadable or invalid file, or an invalid value.
    pub fn load() -> Result<Self, ConfigError> {
        // A missing .env is normal; a broken one is reported when its values are used.
        let _ = dotenvy::dotenv();
        let env: HashMap<String, String> = std::env::vars().collect();
        Self::from_env(env)
    }

    /// Loads settings from the defaults, the files and the given environment.
    ///
    /// # Errors
    /// An unreadable or invalid file, or an invalid value.
    pub fn from_env(env: HashMap<String, String>) -> Result<Self, ConfigError> {
        let mut merged = parse_toml(DEFAULT_TOML, "config/default.toml (built in)")?;
        let local = Path::new("config/local.toml");
        if local.exists() {
            merge(&mut merged, read_toml(local)?);
        }
        if let Some(path) = env.get("FRONTDESK_CONFIG").filter(|p| !p.is_empty()) {
            merge(&mut merged, read_toml(Path::new(path))?);
        }
        let file: FileSettings =
            merged
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Parse {
                    path: "the merged configuration".into(),
                    reason: e.message().to_owned(),
                })?;
        Self::resolve(file, env)
    }

    fn resolve(file: FileSettings, env: HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |k: &str| {
            env.get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let url = get("MONGODB_URL")
            .or_else(|| Some(file.database.url.clone()).filter(|u| !u.is_empty()));
        if let Some(u) = &url {
            if !(u.starts_with("mongodb://") || u.starts_with("mongodb+srv://")) {
                return Err(ConfigError::Invalid {
                    key: "MONGODB_URL",
                    reason: "must start with mongodb:// or mongodb+srv://".into(),
                });
            }
        }
        let readonly_url = get("MONGODB_READONLY_URL");
        if let Some(u) = &readonly_url {
            if !(u.starts_with("mongodb://") || u.starts_with("mongodb+srv://")) {
                return Err(ConfigError::Invalid {
                    key: "MONGODB_READONLY_URL",
                    reason: "must start with mongodb:// or mongodb+srv://".into(),
                });
            }
        }
        let encryption = match (
            get("FRONTDESK_ENCRYPTION_KEY"),
            get("FRONTDESK_ENCRYPTION_OLD_KEYS"),
        ) {
            (Some(key), old) => EncryptionSettings {
                keys: Some(crate::protect::Keyring::parse(&key, old.as_deref())?),
                key_text: Some(Secret::new(key)),
            },
            (None, Some(_)) => {
                return Err(ConfigError::Invalid {
                    key: "FRONTDESK_ENCRYPTION_OLD_KEYS",
                    reason: "older keys need a current FRONTDESK_ENCRYPTION_KEY".into(),
                })
            }
            (None, None) => EncryptionSettings::default(),
        };
        let db_name = get("DATABASE_NAME").unwrap_or(file.database.name);
        if db_name.is_empty()
            || db_name.len() > 63
            || db_name.contains(['/', '\\', '.', ' ', '"', '$'])
        {
            return Err(ConfigError::Invalid {
                key: "DATABASE_NAME",
                reason: format!("{db_name:?} is not a MongoDB database name"),
            });
        }
        let currency =
            Currency::parse(&file.studio.currency).map_err(|e| ConfigError::Invalid {
                key: "studio.currency",
                reason: e.to_string(),
            })?;
        let utc_offset = parse_offset(&file.studio.utc_offset)?;
        let api_key = get("OPENAI_API_KEY").map(Secret::new);
        let llm_base_url = get("OPENAI_BASE_URL")
            .or(Some(file.llm.base_url))
            .filter(|u| !u.trim().is_empty());
        let planner_raw = get("FRONTDESK_PLANNER").unwrap_or(file.llm.planner);
        let planner = if planner_raw.is_empty() {
            // A key, or a server of one's own (Ollama, vLLM need no key).
            if api_key.is_some() || llm_base_url.is_some() {
                PlannerKind::Hybrid
            } else {
                PlannerKind::Rules
            }
        } else {
            planner_raw.parse()?
        };
        let nlu = NluSettings {
            enabled: providers::switch(&get, "FRONTDESK_NLU")?.unwrap_or(file.nlu.enabled),
            model_dir: get("FRONTDESK_NLU_MODEL")
                .or(Some(file.nlu.model).filter(|m| !m.is_empty()))
                .map(PathBuf::from),
            examples_file: get("FRONTDESK_NLU_EXAMPLES")
                .or(Some(file.nlu.examples).filter(|m| !m.is_empty()))
                .map(PathBuf::from),
            margin: if (0.0..=1.0).contains(&file.nlu.margin) {
                file.nlu.margin
            } else {
                return Err(ConfigError::Invalid {
                    key: "nlu.margin",
                    reason: format!("{} is not between 0 and 1", file.nlu.margin),
                });
            },
        };
        let now = match get("FRONTDESK_NOW") {
            Some(raw) => Some(
                DateTime::parse_from_rfc3339(&raw)
                    .map_err(|e| ConfigError::Invalid {
                        key: "FRONTDESK_NOW",
                        reason: format!("{raw:?} is not an RFC 3339 time ({e})"),
                    })?
                    .with_timezone(&Utc),
            ),
            None => None,
        };
        let clock_frozen = match get("FRONTDESK_CLOCK").as_deref() {
            None | Some("" | "moving") => false,
            Some("frozen") => true,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    key: "FRONTDESK_CLOCK",
                    reason: format!("{other:?} is neither \"moving\" nor \"frozen\""),
                })
            }
        };
        let log_format = get("FRONTDESK_LOG_FORMAT").unwrap_or(file.log.format);
        let json = match log_format.as_str() {
            "json" => true,
            "human" => false,
            other => {
                return Err(ConfigError::Invalid {
                    key: "log.format",
                    reason: format!("{other:?}: choose human or json"),
                })
            }
        };
        let mut gateway = resolve_gateway(file.gateway)?;
        let providers = providers::resolve_providers(&get)?;
        let adapters = providers::resolve_adapters(&get)?;
        let mut integrations = resolve_integrations(
            &file.payments,
            &file.outbox,
            &file.reminders,
            get("PAYMENT_PROVIDER"),
        )?;
        let handoff_channel = get("FRONTDESK_HANDOFF_CHANNEL").unwrap_or(file.handoff.channel);
        integrations.handoff = if handoff_channel.trim().is_empty() {
            None
        } else {
            Some(HandoffTarget {
                platform: parse_platform("handoff.platform", &file.handoff.platform)?,
                channel: handoff_channel.trim().to_owned(),
                remind_after: chrono::Duration::minutes(i64::from(
                    file.handoff.remind_after_minutes.max(1),
                )),
                mention: file.handoff.mention.trim().to_owned(),
            })
        };
        gateway.handoff = integrations.handoff.clone();
        let shared_limits = providers::switch(&get, "FRONTDESK_SHARED_LIMITS")?
            .unwrap_or(file.server.shared_limits);
        gateway.shared_limits = shared_limits;
        Ok(Self {
            database: DatabaseSettings {
                url: url.map(Secret::new),
                name: db_name,
                local_kind: get("FRONTDESK_LOCALDB"),
                readonly_url: readonly_url.map(Secret::new),
                conflict_retry: secs_within(file.database.conflict_retry_secs, 1, 120),
            },
            studio: StudioSettings {
                name: file.studio.name,
                currency,
                utc_offset,
                online_payment: online_payment(integrations.payment_provider, &providers),
                min_to_rank: file.studio.min_to_rank.max(1),
            },
            llm: LlmSettings {
                api_key,
                base_url: llm_base_url,
                model: get("OPENAI_MODEL").unwrap_or(file.llm.model),
                planner,
                timeout_secs: file.llm.timeout_secs.max(1),
                max_tool_rounds: file.llm.max_tool_rounds.clamp(1, 8),
            },
            bind: get("FRONTDESK_BIND").unwrap_or(file.server.bind),
            shutdown_grace: secs_within(file.server.shutdown_grace_secs, 1, 600),
            http: HttpLimits {
                header_timeout: secs_within(file.server.header_timeout_secs, 1, 3600),
                body_timeout: secs_within(file.server.body_timeout_secs, 1, 3600),
                write_timeout: secs_within(file.server.write_timeout_secs, 1, 3600),
                max_connections: file.server.max_connections.max(1),
                max_connections_per_address: file
                    .server
                    .max_connections_per_address
                    .clamp(1, file.server.max_connections.max(1)),
            },
            trusted_proxies: match get("FRONTDESK_TRUSTED_PROXIES") {
                Some(list) => list.split(',').map(str::to_owned).collect(),
                None => file.server.trusted_proxies,
            }
            .iter()
            .filter(|r| !r.trim().is_empty())
            .map(|r| {
                r.parse().map_err(|reason| ConfigError::Invalid {
                    key: "FRONTDESK_TRUSTED_PROXIES",
                    reason,
                })
            })
            .collect::<Result<_, _>>()?,
            shared_limits,
            api_per_token_per_minute: file.api.per_token_per_minute,
            api_per_ip_per_minute: file.api.per_ip_per_minute,
            token_lifetimes: TokenLifetimes {
                client_days: file.api.max_token_days.client.max(1),
                staff_days: file.api.max_token_days.staff.max(1),
                manager_days: file.api.max_token_days.manager.max(1),
                admin_days: file.api.max_token_days.admin.max(1),
            },
            memory_ttl_hours: file.memory.ttl_hours.max(1),
            ticket_retention_days: file.memory.ticket_retention_days.clamp(1, 36_500),
            nlu,
            log: LogSettings {
                json,
                level: file.log.level,
            },
            gateway,
            integrations,
            jwt_secret: get("JWT_SECRET_KEY").map(Secret::new),
            encryption,
            now,
            clock_frozen,
            clock_since: std::time::Instant::now(),
            providers,
            adapters,
            hostname: env
                .get("HOSTNAME")
                .cloned()
                .unwrap_or_else(|| "frontdesk".into()),
        })
    }

    /// The clock every part of the service uses: from `FRONTDESK_NOW` when set, moving
    /// on with real time unless `FRONTDESK_CLOCK=frozen`.
    #[must_use]
    pub fn clock(&self) -> SharedClock {
        match self.now {
            Some(t) if self.clock_frozen => Arc::new(FixedClock(t)),
            Some(t) => Arc::new(MovingClock::anchored(t, self.clock_since)),
            None => Arc::new(SystemClock),
        }
    }
}

/// Which payment provider makes payment links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentProviderKind {
    Razorpay,
    Stripe,
}

impl PaymentProviderKind {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Razorpay => "Razorpay",
            Self::Stripe => "Stripe",
        }
    }
}

/// The provider in use: the one chosen, if its credentials are set; with none chosen, the
/// first with credentials of Razorpay and Stripe.
fn online_payment(
    chosen: Option<PaymentProviderKind>,
    providers: &ProviderSettings,
) -> Option<PaymentProviderKind> {
    let razorpay = providers.razorpay.is_some();
    let stripe = providers.stripe.is_some();
    match chosen {
        Some(PaymentProviderKind::Razorpay) => razorpay.then_some(PaymentProviderKind::Razorpay),
        Some(PaymentProviderKind::Stripe) => stripe.then_some(PaymentProviderKind::Stripe),
        None if razorpay => Some(PaymentProviderKind::Razorpay),
        None if stripe => Some(PaymentProviderKind::Stripe),
        None => None,
    }
}

/// Where the daily digest of yesterday's figures goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestTarget {
    pub platform: Platform,
    pub channel: String,
    /// Local time of day (studio time) it is sent.
    pub at: chrono::NaiveTime,
}

/// The resolved `[payments]`, `[outbox]` and `[reminders]` sections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationSettings {
    /// `None`: whichever provider has credentials (Razorpay first).
    pub payment_provider: Option<PaymentProviderKind>,
    /// Where a client lands after paying (Stripe success/cancel, Razorpay callback).
    pub payment_return_url: String,
    pub outbox_max_attempts: u32,
    pub outbox_first_retry: std::time::Duration,
    pub outbox_max_retry: std::time::Duration,
    pub outbox_lease: std::time::Duration,
    pub outbox_poll: std::time::Duration,
    /// How long before a class its reminder goes out.
    pub class_lead_minutes: u32,
    /// A pending payment this many days past due gets a reminder.
    pub payment_overdue_days: u32,
    pub digest: Option<DigestTarget>,
    /// Where hand-off tickets are posted for the staff (`[handoff]`); `None`: they are
    /// only listed (`open_tickets`, `/api/tickets`).
    pub handoff: Option<HandoffTarget>,
}

/// The staff channel tickets are posted to, one thread per ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoffTarget {
    pub platform: Platform,
    pub channel: String,
    /// A ticket nobody has taken after this is posted again, with `mention`.
    pub remind_after: chrono::Duration,
    /// Who the reminder calls ("<!subteam^S0123>" for a Slack user group, "@here"); empty:
    /// nobody in particular.
    pub mention: String,
}

fn resolve_integrations(
    payments: &PaymentsFile,
    outbox: &OutboxFile,
    reminders: &RemindersFile,
    provider_env: Option<String>,
) -> Result<IntegrationSettings, ConfigError> {
    let provider = provider_env.unwrap_or_else(|| payments.provider.clone());
    let payment_provider = match provider.trim().to_lowercase().as_str() {
        "" => None,
        "razorpay" => Some(PaymentProviderKind::Razorpay),
        "stripe" => Some(PaymentProviderKind::Stripe),
        other => {
            return Err(invalid(
                "payments.provider",
                format!("{other:?}: choose razorpay, stripe or leave it empty"),
            ))
        }
    };
    let return_url = payments.return_url.trim().to_owned();
    if !(return_url.starts_with("https://") || return_url.starts_with("http://")) {
        return Err(invalid(
            "payments.return_url",
            format!("{return_url:?} is not an http(s) URL"),
        ));
    }
    let digest = if reminders.digest_channel.trim().is_empty() {
        None
    } else {
        let at = chrono::NaiveTime::parse_from_str(reminders.digest_local_time.trim(), "%H:%M")
            .map_err(|_| {
                invalid(
                    "reminders.digest_local_time",
                    format!("{:?} is not a time like 08:00", reminders.digest_local_time),
                )
            })?;
        Some(DigestTarget {
            platform: parse_platform("reminders.digest_platform", &reminders.digest_platform)?,
            channel: reminders.digest_channel.trim().to_owned(),
            at,
        })
    };
    let secs = std::time::Duration::from_secs;
    Ok(IntegrationSettings {
        payment_provider,
        payment_return_url: return_url,
        outbox_max_attempts: outbox.max_attempts.clamp(1, 100),
        outbox_first_retry: secs(outbox.first_retry_secs.max(1)),
        outbox_max_retry: secs(outbox.max_retry_secs.max(outbox.first_retry_secs.max(1))),
        outbox_lease: secs(outbox.lease_secs.max(5)),
        outbox_poll: std::time::Duration::from_millis(outbox.poll_millis.clamp(10, 60_000)),
        class_lead_minutes: reminders.class_lead_minutes.max(1),
        payment_overdue_days: reminders.payment_overdue_days,
        digest,
        handoff: None,
    })
}

fn resolve_gateway(file: GatewayFile) -> Result<GatewaySettings, ConfigError> {
    let q = file.per_user_per_minute;
    let per_user_per_minute = RoleQuotas {
        guest: q.guest,
        client: q.client,
        staff: q.staff,
        manager: q.manager,
        admin: q.admin,
    };
    if [q.guest, q.client, q.staff, q.manager, q.admin].contains(&0) {
        return Err(invalid(
            "gateway.per_user_per_minute",
            "every role needs at least 1 message per minute".into(),
        ));
    }
    let mut per_platform_per_minute = HashMap::new();
    let mut default_agent = HashMap::new();
    let mut default_role = HashMap::new();
    let platforms = [Platform::Telegram, Platform::Slack, Platform::Discord];
    let limits = [
        file.per_platform_per_minute.telegram,
        file.per_platform_per_minute.slack,
        file.per_platform_per_minute.discord,
    ];
    let agents = [
        file.default_agent.telegram,
        file.default_agent.slack,
        file.default_agent.discord,
    ];
    let roles = [
        file.default_role.telegram,
        file.default_role.slack,
        file.default_role.discord,
    ];
    for (((platform, limit), agent), role) in
        platforms.into_iter().zip(limits).zip(agents).zip(roles)
    {
        if limit > 0 {
            per_platform_per_minute.insert(platform, limit);
        }
        if !agent.trim().is_empty() {
            default_agent.insert(platform, parse_agent("gateway.default_agent", &agent)?);
        }
        if !role.trim().is_empty() {
            let role = Role::parse(&role)
                .filter(|r| *r != Role::Client)
                .ok_or_else(|| {
                    invalid(
                        "gateway.default_role",
                        format!("{role:?}: choose guest, staff, manager or admin"),
                    )
                })?;
            default_role.insert(platform, role);
        }
    }
    let routes = file
        .routes
        .into_iter()
        .map(|r| {
            let platform = parse_platform("gateway.routes.platform", &r.platform)?;
            if r.channel.trim().is_empty() {
                return Err(invalid(
                    "gateway.routes.channel",
                    "must not be empty".into(),
                ));
            }
            Ok(Route {
                platform,
                workspace: r.workspace.filter(|w| !w.trim().is_empty()),
                channel: r.channel.trim().to_owned(),
                agent: parse_agent("gateway.routes.agent", &r.agent)?,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let people = file
        .people
        .into_iter()
        .map(|p| {
            let role = staff_role("gateway.people.role", &p.role)?;
            let accounts: Vec<(Platform, String)> = [
                (Platform::Telegram, p.telegram),
                (Platform::Slack, p.slack),
                (Platform::Discord, p.discord),
            ]
            .into_iter()
            .filter_map(|(pl, id)| id.map(|id| (pl, id.trim().to_owned())))
            .filter(|(_, id)| !id.is_empty())
            .collect();
            if accounts.is_empty() {
                return Err(invalid(
                    "gateway.people",
                    format!("{} has no telegram, slack or discord id", p.name),
                ));
            }
            Ok(Person {
                name: p.name,
                role,
                accounts,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut platform_roles = HashMap::new();
    for (platform, map) in [
        (Platform::Slack, file.platform_roles.slack),
        (Platform::Discord, file.platform_roles.discord),
    ] {
        for (id, role) in map {
            let role = staff_role("gateway.platform_roles", &role)?;
            platform_roles.insert((platform, id), role);
        }
    }
    Ok(GatewaySettings {
        per_user_per_minute,
        per_platform_per_minute,
        routes,
        default_agent,
        default_role,
        people,
        platform_roles,
        link_code_minutes: file.link_code_minutes.clamp(1, 24 * 60),
        dedupe_hours: file.dedupe_hours.clamp(1, 24 * 30),
        handoff: None,
        shared_limits: false,
    })
}

/// Whole seconds from the file, kept within `[min, max]`.
fn secs_within(secs: u64, min: u64, max: u64) -> std::time::Duration {
    std::time::Duration::from_secs(secs.clamp(min, max))
}

fn invalid(key: &'static str, reason: String) -> ConfigError {
    ConfigError::Invalid { key, reason }
}

fn parse_agent(key: &'static str, raw: &str) -> Result<AgentKind, ConfigError> {
    raw.parse().map_err(|e: String| invalid(key, e))
}

fn parse_platform(key: &'static str, raw: &str) -> Result<Platform, ConfigError> {
    raw.parse::<Platform>().map_err(|_| {
        invalid(
            key,
            format!(
                "{:?}: choose telegram, slack or discord",
                raw.trim().to_lowercase()
            ),
        )
    })
}

/// A role config may grant: staff, manager or admin (clients link themselves).
fn staff_role(key: &'static str, raw: &str) -> Result<Role, ConfigError> {
    Role::parse(raw)
        .filter(Role::is_staff)
        .ok_or_else(|| invalid(key, format!("{raw:?}: choose staff, manager or admin")))
}

fn parse_offset(raw: &str) -> Result<FixedOffset, ConfigError> {
    let bad = || ConfigError::Invalid {
        key: "studio.utc_offset",
        reason: format!("{raw:?} is not an offset like +05:30"),
    };
    let (sign, rest) = match raw.trim().split_at_checked(1) {
        Some(("+", r)) => (1, r),
        Some(("-", r)) => (-1, r),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(bad)?;
    let h: i32 = h.parse().map_err(|_| bad())?;
    let m: i32 = m.parse().map_err(|_| bad())?;
    if h > 14 || m > 59 {
        return Err(bad());
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60)).ok_or_else(bad)
}

fn read_toml(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_toml(&text, &path.display().to_string())
}

fn parse_toml(text: &str, path: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>().map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        reason: e.message().to_owned(),
    })
}

/// Merges `over` into `base`, table by table; values in `over` win.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(key, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn every_clock_of_one_settings_reads_the_same_time() {
        let s = Settings::from_env(env(&[("FRONTDESK_NOW", "2026-11-25T10:00:00Z")])).unwrap();
        let first = s.clock();
        std::thread::sleep(std::time::Duration::from_millis(60));
        // Made later (as the worker is made after the adapters connect), read together.
        let later = s.clock();
        let (a, b) = (first.now(), later.now());
        assert!((a - b).num_milliseconds().abs() < 30, "{a} vs {b}");
        assert!(b - s.now.unwrap() >= chrono::Duration::milliseconds(60));
    }

    #[test]
    fn a_provider_half_set_is_named_with_what_is_missing_and_stays_off() {
        let s = Settings::from_env(env(&[
            ("SENDGRID_API_KEY", "SG.x"),
            ("TWILIO_ACCOUNT_SID", "AC1"),
            ("TWILIO_FROM", "+15550000000"),
            ("RAZORPAY_KEY_ID", "rzp_1"),
            ("RAZORPAY_KEY_SECRET", "secret"),
        ]))
        .unwrap();
        assert!(s.providers.sendgrid.is_none() && s.providers.twilio.is_none());
        assert!(s.providers.razorpay.is_some());
        assert_eq!(
            s.providers.half_set,
            [
                "SENDGRID_API_KEY is set but EMAIL_FROM is not: email is off",
                "TWILIO_ACCOUNT_SID and TWILIO_FROM are set but TWILIO_AUTH_TOKEN is not: SMS is off",
            ]
        );
        let bad = Settings::from_env(env(&[("FRONTDESK_TRUSTED_PROXIES", "10.0.0.0/8, lb")]));
        assert!(matches!(
            bad,
            Err(ConfigError::Invalid {
                key: "FRONTDESK_TRUSTED_PROXIES",
                ..
            })
        ));
        let ok =
            Settings::from_env(env(&[("FRONTDESK_TRUSTED_PROXIES", "10.0.0.0/8, ::1")])).unwrap();
        assert_eq!(ok.trusted_proxies.len(), 2);
    }

    #[test]
    fn defaults_load_without_any_environment() {
        let s = Settings::from_env(env(&[])).unwrap();
        assert_eq!(s.database.name, "frontdesk");
        assert!(s.database.url.is_none());
        assert_eq!(s.llm.planner, PlannerKind::Rules);
        assert_eq!(s.studio.utc_offset.local_minus_utc(), 19_800);
        assert_eq!(s.bind, "127.0.0.1:8000");
    }

    #[test]
    fn environment_overrides_files_and_a_key_turns_on_hybrid() {
        let s = Settings::from_env(env(&[
            ("MONGODB_URL", "mongodb://db:27017"),
            ("DATABASE_NAME", "studio"),
            ("OPENAI_API_KEY", "sk-test"),
            ("FRONTDESK_NOW", "2026-11-25T10:00:00Z"),
        ]))
        .unwrap();
        assert_eq!(
            s.database.url.as_ref().unwrap().expose(),
            "mongodb://db:27017"
        );
        assert_eq!(s.database.name, "studio");
        assert_eq!(s.llm.planner, PlannerKind::Hybrid);
        // The clock starts at FRONTDESK_NOW and moves on; frozen, it stays there.
        let moved = s.clock().now()
            - chrono::DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
                .unwrap()
                .with_timezone(&Utc);
        assert!(moved >= chrono::Duration::zero() && moved < chrono::Duration::seconds(5));
        let frozen = Settings::from_env(env(&[
            ("FRONTDESK_NOW", "2026-11-25T10:00:00Z"),
            ("FRONTDESK_CLOCK", "frozen"),
        ]))
        .unwrap();
        assert_eq!(
            frozen.clock().now().to_rfc3339(),
            "2026-11-25T10:00:00+00:00"
        );
        assert!(Settings::from_env(env(&[("FRONTDESK_CLOCK", "stopped")])).is_err());
        assert!(!format!("{s:?}").contains("sk-test"), "secrets never print");
    }

    #[test]
    fn encryption_keys_parse_with_their_older_keys() {
        let key = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
        let old = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";
        let s = Settings::from_env(env(&[
            ("FRONTDESK_ENCRYPTION_KEY", key),
            ("FRONTDESK_ENCRYPTION_OLD_KEYS", old),
        ]))
        .unwrap();
        let keys = s.encryption.keys.as_ref().unwrap();
        assert_eq!(keys.old_ids().len(), 1);
        assert!(!format!("{s:?}").contains(key), "keys never print");
    }

    #[test]
    fn a_config_file_layers_over_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("extra.toml");
        std::fs::write(
            &path,
            "[studio]\nutc_offset = \"-05:00\"\n[llm]\nplanner = \"llm\"\n",
        )
        .unwrap();
        let s = Settings::from_env(env(&[("FRONTDESK_CONFIG", path.to_str().unwrap())])).unwrap();
        assert_eq!(s.studio.utc_offset.local_minus_utc(), -5 * 3600);
        assert_eq!(s.llm.planner, PlannerKind::Llm);
        assert_eq!(
            s.studio.currency,
            Currency::INR,
            "untouched keys keep their defaults"
        );
    }

    #[test]
    fn bad_values_name_the_setting() {
        let cases = [
            (vec![("MONGODB_URL", "postgres://x")], "MONGODB_URL"),
            (vec![("FRONTDESK_NOW", "yesterday")], "FRONTDESK_NOW"),
            (vec![("FRONTDESK_PLANNER", "magic")], "FRONTDESK_PLANNER"),
            (vec![("DATABASE_NAME", "a/b")], "DATABASE_NAME"),
            (
                vec![("MONGODB_READONLY_URL", "http://x")],
                "MONGODB_READONLY_URL",
            ),
            (
                vec![("FRONTDESK_ENCRYPTION_KEY", "not base64!")],
                "FRONTDESK_ENCRYPTION_KEY",
            ),
            (
                vec![("FRONTDESK_ENCRYPTION_KEY", "c2hvcnQ=")],
                "must be 32 bytes",
            ),
            (
                vec![("FRONTDESK_ENCRYPTION_OLD_KEYS", "c2hvcnQ=")],
                "FRONTDESK_ENCRYPTION_KEY",
            ),
        ];
        for (pairs, key) in cases {
            let err = Settings::from_env(env(&pairs)).unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "[studio]\nunknown_key = 1\n").unwrap();
        let err =
            Settings::from_env(env(&[("FRONTDESK_CONFIG", path.to_str().unwrap())])).unwrap_err();
        assert!(err.to_string().contains("unknown_key"), "{err}");
        let missing =
            Settings::from_env(env(&[("FRONTDESK_CONFIG", "/nonexistent.toml")])).unwrap_err();
        assert!(missing.to_string().contains("/nonexistent.toml"));
    }

    #[test]
    fn provider_and_adapter_credentials_are_read_once_and_urls_checked() {
        let s = Settings::from_env(env(&[
            ("RAZORPAY_KEY_ID", " rzp_test "),
            ("RAZORPAY_KEY_SECRET", "s3cret"),
            ("STRIPE_WEBHOOK_SECRET", "whsec"),
            ("SENDGRID_API_KEY", "SG.k"),
            ("TWILIO_ACCOUNT_SID", "AC1"),
            ("TWILIO_AUTH_TOKEN", "t"),
            ("SLACK_BOT_TOKEN", "xoxb"),
            ("SLACK_API_URL", "http://127.0.0.1:9/api/"),
            ("HOSTNAME", "box-1"),
        ]))
        .unwrap();
        let razorpay = s.providers.razorpay.as_ref().unwrap();
        assert_eq!(razorpay.key_id, "rzp_test");
        assert_eq!(razorpay.key_secret.expose(), "s3cret");
        assert_eq!(s.studio.online_payment, Some(PaymentProviderKind::Razorpay));
        assert!(s.providers.stripe.is_none());
        assert_eq!(s.providers.webhooks.stripe, Some(Secret::new("whsec")));
        // Each provider needs all of its credentials.
        assert!(s.providers.sendgrid.is_none());
        assert!(s.providers.twilio.is_none());
        let slack = s.adapters.slack.as_ref().unwrap();
        assert_eq!(slack.api_url.as_deref(), Some("http://127.0.0.1:9/api/"));
        assert!(slack.app_token.is_none() && s.adapters.telegram.is_none());
        assert_eq!(s.hostname, "box-1");
        assert_eq!(Settings::from_env(env(&[])).unwrap().hostname, "frontdesk");
        let err = Settings::from_env(env(&[
            ("DISCORD_TOKEN", "d"),
            ("DISCORD_API_URL", "127.0.0.1:9"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(err.contains("DISCORD_API_URL"), "{err}");
    }

    fn with_file(text: &str) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.toml");
        std::fs::write(&path, text).unwrap();
        Settings::from_env(env(&[("FRONTDESK_CONFIG", path.to_str().unwrap())]))
    }

    #[test]
    fn gateway_routes_people_and_platform_roles_load_from_a_file() {
        let s = with_file(
            r#"
[gateway.default_role]
telegram = ""
slack = "staff"
discord = ""

[[gateway.routes]]
platform = "slack"
workspace = "T1"
channel = "C_SUPPORT"
agent = "support"

[[gateway.routes]]
platform = "Discord"
channel = "900"
agent = "dashboard"

[[gateway.people]]
name = "Asha Rao"
role = "manager"
telegram = "111"
discord = "222"

[gateway.platform_roles]
slack = { "S_OWNERS" = "admin" }
discord = { "777" = "manager" }
"#,
        )
        .unwrap();
        let g = &s.gateway;
        assert_eq!(
            g.route_for(Platform::Slack, Some("T1"), "C_SUPPORT"),
            Some(AgentKind::Support)
        );
        assert_eq!(
            g.route_for(Platform::Discord, Some("G"), "900"),
            Some(AgentKind::Dashboard)
        );
        assert_eq!(g.default_role.get(&Platform::Slack), Some(&Role::Staff));
        assert_eq!(g.default_role.get(&Platform::Telegram), None);
        assert_eq!(
            g.default_agent.get(&Platform::Telegram),
            Some(&AgentKind::Support)
        );
        let asha = g.person(Platform::Discord, "222").unwrap();
        assert_eq!((asha.name.as_str(), asha.role), ("Asha Rao", Role::Manager));
        assert!(g.person(Platform::Slack, "111").is_none());
        assert_eq!(
            g.role_from_platform_roles(Platform::Slack, &["S_OWNERS".into()]),
            Some(Role::Admin)
        );
        assert_eq!(g.per_user_per_minute.client, 20, "defaults stay");
        assert_eq!(
            g.per_platform_per_minute.get(&Platform::Telegram),
            Some(&1200)
        );
    }

    #[test]
    fn bad_gateway_settings_name_the_setting() {
        let cases = [
            (
                "[[gateway.routes]]\nplatform = \"irc\"\nchannel = \"x\"\nagent = \"support\"\n",
                "gateway.routes.platform",
            ),
            (
                "[[gateway.routes]]\nplatform = \"slack\"\nchannel = \"x\"\nagent = \"sales\"\n",
                "gateway.routes.agent",
            ),
            (
                "[[gateway.people]]\nname = \"X\"\nrole = \"client\"\nslack = \"U1\"\n",
                "gateway.people.role",
            ),
            (
                "[[gateway.people]]\nname = \"Nobody\"\nrole = \"staff\"\n",
                "gateway.people",
            ),
            (
                "[gateway.platform_roles]\nslack = { \"S1\" = \"boss\" }\n",
                "gateway.platform_roles",
            ),
            (
                "[gateway.per_user_per_minute]\nguest = 0\n",
                "gateway.per_user_per_minute",
            ),
            (
                "[gateway.default_role]\nslack = \"client\"\n",
                "gateway.default_role",
            ),
            (
                "[gateway.default_agent]\ntelegram = \"nobody\"\n",
                "gateway.default_agent",
            ),
        ];
        for (text, key) in cases {
            let err = with_file(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
    }
}
