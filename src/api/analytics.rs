//! Endpoints: analytics (being written).

use std::sync::Arc;

use utoipa_axum::router::OpenApiRouter;

use super::ApiState;

pub(super) fn routes() -> OpenApiRouter<Arc<ApiState>> {
    OpenApiRouter::new()
}
