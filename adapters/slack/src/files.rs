//! Sending an image with a reply: `files.getUploadURLExternal`, a POST of the bytes to the
//! URL it gives, then `files.completeUploadExternal` to share the file in the channel and
//! thread (scope `files:write`). Failures are reported to the caller, which only logs them:
//! a reply is never lost because its picture could not be attached.

use frontdesk_chat::{AdapterError, Attachment};
use serde_json::{json, Value};
use slack_morphism::prelude::SlackApiToken;
use url::Url;

use crate::render::{escaped_chunks, TEXT_LIMIT};
use crate::web_api::WebApi;

/// Uploads `image` and shares it in `channel` (and `thread`), with its caption as comment.
///
/// # Errors
/// The first failing step's error; an empty file is refused without calling Slack.
pub(crate) async fn upload(
    api: &WebApi,
    token: &SlackApiToken,
    channel: &str,
    thread: Option<&str>,
    image: &Attachment,
) -> Result<(), AdapterError> {
    if image.bytes.is_empty() {
        return Err(AdapterError::Rejected("empty file".into()));
    }
    let file_name = if image.file_name.trim().is_empty() {
        "image"
    } else {
        image.file_name.as_str()
    };
    let params = [
        ("filename", file_name.to_owned()),
        ("length", image.bytes.len().to_string()),
    ];
    let answer = api
        .get(token, "files.getUploadURLExternal", &params)
        .await?;
    let field = |key: &str| answer.get(key).and_then(Value::as_str).map(str::to_owned);
    let (Some(upload_url), Some(file_id)) = (field("upload_url"), field("file_id")) else {
        return Err(AdapterError::Transport(
            "files.getUploadURLExternal answer lacks upload_url or file_id".into(),
        ));
    };
    let upload_url = Url::parse(&upload_url)
        .map_err(|e| AdapterError::Transport(format!("bad upload url from slack: {e}")))?;
    api.post_bytes(token, upload_url, &image.mime, &image.bytes)
        .await?;
    let mut complete = json!({
        "files": [{ "id": file_id, "title": file_name }],
        "channel_id": channel,
    });
    if let Some(thread) = thread {
        complete["thread_ts"] = json!(thread);
    }
    if let Some(caption) = image.caption.as_deref().filter(|c| !c.trim().is_empty()) {
        if let Some(first) = escaped_chunks(caption, TEXT_LIMIT).into_iter().next() {
            complete["initial_comment"] = json!(first);
        }
    }
    api.post(token, "files.completeUploadExternal", &complete)
        .await?;
    Ok(())
}
