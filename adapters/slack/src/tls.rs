//! The rustls client configuration used for HTTPS calls to Slack and the `wss://` Socket Mode
//! connection: the ring crypto provider (chosen explicitly, so it does not depend on which
//! rustls features the final binary unifies) and the operating system's root certificates.

use std::sync::Arc;

use frontdesk_chat::AdapterError;
use hyper_rustls::ConfigBuilderExt;
use rustls::ClientConfig;

/// Builds the client configuration.
///
/// # Errors
/// [`AdapterError::Transport`] when no root certificate could be loaded.
pub(crate) fn client_config() -> Result<Arc<ClientConfig>, AdapterError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AdapterError::Transport(format!("tls setup: {e}")))?
        .with_native_roots()
        .map_err(|e| AdapterError::Transport(format!("tls root certificates: {e}")))?
        .with_no_client_auth();
    Ok(Arc::new(config))
}
