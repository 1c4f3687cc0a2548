//! Serde adapters that keep `chrono` times as BSON dates in MongoDB.

pub use bson::serde_helpers::chrono_datetime_as_bson_datetime as bson_date;
pub use bson::serde_helpers::chrono_datetime_as_bson_datetime_optional as bson_date_opt;
