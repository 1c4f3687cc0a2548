//! The agents over HTTP: a question in, the intent, tool calls, figures and answer out.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, ApiState, AuthUser};
use crate::agents::{AgentRequest, MAX_MESSAGE_CHARS};
use crate::charts::{Chart, MIME};
use crate::telemetry::status::{OutboxFigures, StatusReport};
use crate::tools::{AgentKind, Role};

pub(super) fn routes() -> OpenApiRouter<Arc<ApiState>> {
    OpenApiRouter::new()
        .routes(routes!(support_query))
        .routes(routes!(dashboard_query))
        .routes(routes!(status))
}

/// A question for an agent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryBody {
    /// The question, 1 to 4000 characters.
    pub query: String,
    /// Keeps memory across questions ("and last month?").
    #[serde(default)]
    pub conversation_id: Option<String>,
}

/// One tool call made for the answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ToolCallView {
    pub name: String,
    #[schema(value_type = Object)]
    pub args: serde_json::Value,
    /// What the tool returned: an object, or a list (`course_info` for every course).
    #[schema(value_type = serde_json::Value)]
    pub result: std::sync::Arc<serde_json::Value>,
}

/// A chart drawn for a trend or a breakdown: a PNG image, base64-encoded.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChartView {
    /// `line` (a trend) or `bar` (a breakdown).
    #[schema(example = "line")]
    pub kind: String,
    pub title: String,
    /// A text description of the figures.
    pub alt: String,
    /// Always `image/png`.
    #[schema(example = "image/png")]
    pub mime_type: String,
    pub width: u32,
    pub height: u32,
    /// The PNG file, base64 (standard alphabet, padded).
    #[schema(format = Byte)]
    pub data_base64: String,
}

impl From<&Chart> for ChartView {
    fn from(chart: &Chart) -> Self {
        Self {
            kind: chart.kind.as_str().to_owned(),
            title: chart.title.clone(),
            alt: chart.alt.clone(),
            mime_type: MIME.to_owned(),
            width: chart.width,
            height: chart.height,
            data_base64: base64::engine::general_purpose::STANDARD.encode(&chart.png),
        }
    }
}

/// The agent's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueryAnswer {
    pub agent: String,
    pub intent: String,
    pub answer: String,
    pub tool_calls: Vec<ToolCallView>,
    pub llm_calls: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub latency_ms: u64,
    /// The chart of a trend or a breakdown, when the answer has one; otherwise null.
    pub chart: Option<ChartView>,
}

async fn ask(
    state: &ApiState,
    user: AuthUser,
    agent: AgentKind,
    body: QueryBody,
) -> Result<Json<QueryAnswer>, ApiError> {
    let chars = body.query.chars().count();
    if body.query.trim().is_empty() {
        return Err(ApiError::invalid("query", "the query is empty"));
    }
    if chars > MAX_MESSAGE_CHARS {
        return Err(ApiError::invalid(
            "query",
            format!("the query has {chars} characters; the limit is {MAX_MESSAGE_CHARS}"),
        ));
    }
    if let Some(id) = &body.conversation_id {
        if id.is_empty()
            || id.len() > 100
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_:.".contains(c))
        {
            return Err(ApiError::invalid(
                "conversation_id",
                "use 1 to 100 letters, digits, '-', '_', ':' or '.'",
            ));
        }
    }
    let conversation = body
        .conversation_id
        .map(|id| frontdesk_chat::ConversationKey {
            platform: frontdesk_chat::Platform::Api,
            channel: user.caller.role.as_str().to_owned(),
            thread: Some(id),
            user: user.subject.clone(),
        });
    let reply = state
        .agents
        .handle(AgentRequest {
            agent,
            caller: user.caller,
            text: body.query,
            conversation,
            event_id: None,
        })
        .await;
    let chart = reply.chart.as_ref().map(ChartView::from);
    Ok(Json(QueryAnswer {
        agent: agent.as_str().to_owned(),
        intent: reply.intent.as_str().to_owned(),
        answer: reply.answer,
        tool_calls: reply
            .tool_calls
            .into_iter()
            .map(|c| ToolCallView {
                name: c.name,
                args: c.args,
                result: c.result,
            })
            .collect(),
        llm_calls: reply.llm_calls,
        prompt_tokens: reply.prompt_tokens,
        completion_tokens: reply.completion_tokens,
        latency_ms: reply.latency_ms,
        chart,
    }))
}

/// Ask the Support Agent (any role; a client's token sees only their own records).
#[utoipa::path(post, path = "/api/agents/support/query", tag = "agents", request_body = QueryBody,
    responses((status = 200, body = QueryAnswer), (status = 400, body = super::Problem), (status = 401, body = super::Problem), (status = 422, body = super::Problem), (status = 429, body = super::Problem)))]
async fn support_query(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    body: super::JsonBody<QueryBody>,
) -> Result<Json<QueryAnswer>, ApiError> {
    ask(&state, user, AgentKind::Support, body.0).await
}

/// Ask the Dashboard Agent (manager or admin).
#[utoipa::path(post, path = "/api/agents/dashboard/query", tag = "agents", request_body = QueryBody,
    responses((status = 200, body = QueryAnswer), (status = 400, body = super::Problem), (status = 401, body = super::Problem), (status = 403, body = super::Problem), (status = 422, body = super::Problem), (status = 429, body = super::Problem)))]
async fn dashboard_query(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
    body: super::JsonBody<QueryBody>,
) -> Result<Json<QueryAnswer>, ApiError> {
    user.require(Role::Manager)?;
    ask(&state, user, AgentKind::Dashboard, body.0).await
}

/// Per agent: queries, errors, p50/p95 latency, LLM calls and tokens since start; the
/// outbox's depth and dead letters (manager or admin).
#[utoipa::path(get, path = "/api/agents/status", tag = "agents",
    responses((status = 200, body = StatusReport), (status = 401, body = super::Problem), (status = 403, body = super::Problem)))]
async fn status(
    State(state): State<Arc<ApiState>>,
    user: AuthUser,
) -> Result<Json<StatusReport>, ApiError> {
    user.require(Role::Manager)?;
    let stats = state.store.outbox_stats().await?;
    let outbox = OutboxFigures {
        pending: stats.pending,
        in_flight: stats.in_flight,
        done: stats.done,
        dead: stats.dead,
    };
    Ok(Json(state.metrics.status_report(outbox)))
}
