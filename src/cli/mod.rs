//! The CLI's longer commands, kept out of `main.rs` (which parses and dispatches).

pub mod chat;
pub mod demo;
pub mod doctor;

/// What the commands share with `main.rs`.
pub(crate) mod prelude {
    pub(crate) use super::chat::chat;
    pub(crate) use crate::seed_demo;
    pub use anyhow::{bail, Result};
    pub use frontdesk::agents::eval::resolve_caller;
    pub use frontdesk::agents::{AgentRequest, Agents};
    pub use frontdesk::app::{self, running_localdb};
    pub use frontdesk::application::Application;
    pub use frontdesk::config::Settings;
    pub use frontdesk::gateway::platforms::AdapterState;
    pub use frontdesk::integrations::{ChatRoutes, Providers};
    pub use frontdesk::protect::{Key, Keyring};
    pub use frontdesk::tools::AgentKind;
    pub use tokio::io::AsyncBufReadExt;
}
