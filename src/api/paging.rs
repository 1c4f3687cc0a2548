//! Paging shared by the list endpoints: the `page` and `per_page` query parameters
//! ([`PageQuery`] → a validated [`Paging`]) and the page answered ([`Page`]).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::clients::{clip, present};
use super::ApiError;

/// The page size when none is asked for.
pub(super) const DEFAULT_PER_PAGE: u64 = 20;
/// The largest page size a caller may ask for.
pub(super) const MAX_PER_PAGE: u64 = 100;

/// The paging query parameters of a list, as given: flattened into each list's query
/// (`#[serde(flatten)]`, `#[param(ignore)]`) and documented with `params(PageQuery, …)`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page number, from 1 (default 1).
    pub page: Option<String>,
    /// Page size, 1 to 100 (default 20).
    pub per_page: Option<String>,
}

impl PageQuery {
    /// The validated page request.
    ///
    /// # Errors
    /// 400 naming the parameter.
    pub(super) fn paging(&self) -> Result<Paging, ApiError> {
        Paging::parse(self.page.as_deref(), self.per_page.as_deref())
    }
}

/// A validated page request.
#[derive(Debug, Clone, Copy)]
pub(super) struct Paging {
    pub page: u64,
    pub per_page: u64,
}

impl Paging {
    /// Parses `page` (1 or more, default 1) and `per_page` (1 to 100, default 20).
    ///
    /// # Errors
    /// 400 naming the parameter.
    pub(super) fn parse(page: Option<&str>, per_page: Option<&str>) -> Result<Self, ApiError> {
        let page = match present(page) {
            None => 1,
            Some(raw) => raw.parse::<u64>().ok().filter(|p| *p >= 1).ok_or_else(|| {
                ApiError::bad(
                    "page",
                    format!("page must be a whole number from 1 (got {})", clip(raw)),
                )
            })?,
        };
        let per_page = match present(per_page) {
            None => DEFAULT_PER_PAGE,
            Some(raw) => raw
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=MAX_PER_PAGE).contains(n))
                .ok_or_else(|| {
                    ApiError::bad(
                        "per_page",
                        format!(
                            "per_page must be a whole number from 1 to {MAX_PER_PAGE} (got {})",
                            clip(raw)
                        ),
                    )
                })?,
        };
        // Keep `skip` representable: no list is anywhere near this long.
        if page > 1_000_000 {
            return Err(ApiError::bad("page", "page is too large"));
        }
        Ok(Self { page, per_page })
    }

    pub(super) fn skip(self) -> u64 {
        (self.page - 1) * self.per_page
    }

    pub(super) fn limit(self) -> i64 {
        i64::try_from(self.per_page).unwrap_or(20)
    }

    /// The page of `items` of `total` that this request asked for.
    pub(super) fn page<T>(self, items: Vec<T>, total: u64) -> Page<T> {
        Page {
            items,
            total,
            page: self.page,
            per_page: self.per_page,
        }
    }
}

/// What a list's items are called in its OpenAPI document.
pub trait PageItem: ToSchema {
    /// The page's schema name, e.g. `ClientPage`.
    const PAGE_NAME: &'static str;
    /// The items in the plural, e.g. `clients`.
    const PLURAL: &'static str;
}

/// A page of a list: `{items, total, page, per_page}`; documented as `<Item>Page`.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// How many items match, on every page.
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

impl<T: PageItem> PartialSchema for Page<T> {
    fn schema() -> RefOr<Schema> {
        let mut total = u64::schema();
        if let RefOr::T(Schema::Object(object)) = &mut total {
            object.description = Some(format!("How many {} match, on every page.", T::PLURAL));
        }
        ObjectBuilder::new()
            .description(Some(format!("A page of {}.", T::PLURAL)))
            .property(
                "items",
                ArrayBuilder::new().items(Ref::from_schema_name(T::name())),
            )
            .required("items")
            .property("total", total)
            .required("total")
            .property("page", u64::schema())
            .required("page")
            .property("per_page", u64::schema())
            .required("per_page")
            .into()
    }
}

impl<T: PageItem> ToSchema for Page<T> {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed(T::PAGE_NAME)
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(schemas);
    }
}
