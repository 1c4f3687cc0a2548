//! The Support Agent's tools: clients, orders, classes, courses, enrolment, enquiries,
//! payments and hand-offs to staff.

use chrono::Duration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::resolve::{self, clip, local_date, local_time};
use super::{erased, Intent, Role, Tool, ToolCtx, ToolDyn, ToolError, ToolOutput};
use crate::domain::{
    Client, ClientStatus, Email, ObjectId, Order, OrderNumber, OrderStatus, Payment, PaymentMethod,
    PaymentStatus, Period, PersonName, Phone,
};
use crate::store::{NewOrder, PaymentQuery, Ticket, TicketOrigin};

pub(super) fn all() -> Vec<Box<dyn ToolDyn>> {
    vec![
        erased::<FindClient>(),
        erased::<ClientOrders>(),
        erased::<OrderStatusTool>(),
        erased::<ListClasses>(),
        erased::<CourseInfo>(),
        erased::<CreateOrder>(),
        erased::<CreateEnquiry>(),
        erased::<PendingPayments>(),
        erased::<RecordPayment>(),
        erased::<CancelOrder>(),
        erased::<EscalateToStaff>(),
        erased::<OpenTickets>(),
    ]
}

/// The client a tool acts on: for a client, always themselves, whatever was asked.
/// Whether `typed` names the client `me`: "me", their email or phone, their name or a
/// part of it.
fn names_self(typed: &str, me: &Client) -> bool {
    let typed = typed.trim().to_lowercase();
    let typed = typed
        .strip_suffix("'s")
        .or_else(|| typed.strip_suffix("’s"))
        .unwrap_or(&typed);
    ["me", "myself", "my", "mine", "i"].contains(&typed)
        || typed == me.email.as_str()
        || me
            .phone
            .as_ref()
            .is_some_and(|p| Phone::parse(typed).is_ok_and(|q| &q == p))
        || crate::domain::name_tokens(typed)
            .iter()
            .all(|w| me.name_tokens.contains(w))
}

async fn subject(ctx: &ToolCtx, typed: Option<&str>) -> Result<Client, ToolError> {
    match (ctx.caller.role, ctx.caller.client_id) {
        (Role::Client, Some(own)) => {
            let me = ctx.store.client_by_id(own).await?.ok_or_else(|| {
                ToolError::NotFound(
                    "I couldn't find your client record; please contact the studio.".into(),
                )
            })?;
            // Someone else named: said so (the same words whether they exist or not),
            // rather than answered with the asker's own records as if they were theirs.
            match typed.map(str::trim).filter(|t| !t.is_empty()) {
                Some(t) if !names_self(t, &me) => Err(ToolError::Forbidden(
                    "I can only show your own records here; someone else's are for them, or the studio, to look at.".into(),
                )),
                _ => Ok(me),
            }
        }
        (role, _) if role.is_staff() => match typed.map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) => resolve::client(ctx, t).await,
            None => Err(ToolError::Missing {
                field: "client",
                question: "Which client? Give me a name, email, phone number or order number."
                    .into(),
            }),
        },
        _ => Err(ToolError::Forbidden(super::forbidden_text(
            "client",
            Role::Guest,
        ))),
    }
}

#[derive(Debug, Serialize)]
struct ClientView {
    id: String,
    name: String,
    email: String,
    phone: Option<String>,
    status: &'static str,
    joined: String,
    last_visit: Option<String>,
    courses: Vec<String>,
}

fn client_view(ctx: &ToolCtx, c: &Client) -> ClientView {
    ClientView {
        id: c.id.to_hex(),
        name: c.name.to_string(),
        email: c.email.to_string(),
        phone: c.phone.as_ref().map(ToString::to_string),
        status: c.status.as_str(),
        joined: local_date(ctx, c.joined_at),
        last_visit: c.last_visit_at.map(|t| local_date(ctx, t)),
        courses: c
            .enrollments
            .iter()
            .map(|e| format!("{} ({})", e.course_name, e.order_number))
            .collect(),
    }
}

// --- find_client -----------------------------------------------------------------------

/// Find a client by email, phone, name or order number.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindClientArgs {
    /// The client's email address.
    #[serde(default)]
    pub email: Option<String>,
    /// The client's phone number.
    #[serde(default)]
    pub phone: Option<String>,
    /// The client's name or part of it.
    #[serde(default)]
    pub name: Option<String>,
    /// An order number of theirs, e.g. "12345".
    #[serde(default)]
    pub order: Option<String>,
}

pub struct FindClient;

impl Tool for FindClient {
    const INTENT: Intent = Intent::FindClient;
    const DESCRIPTION: &'static str = "Find a client by email, phone, name or order number and show their profile. Clients only ever see their own profile.";
    const ONLY_READS: bool = true;
    type Args = FindClientArgs;

    const MIN_ROLE: Role = Role::Client;

    async fn call(ctx: &ToolCtx, args: FindClientArgs) -> Result<ToolOutput, ToolError> {
        let typed = args.email.or(args.phone).or(args.order).or(args.name);
        let client = if ctx.caller.role == Role::Client {
            let own = subject(ctx, None).await?;
            // A client asking about anyone else learns nothing, not even whether they exist.
            let about_self = typed.as_deref().is_none_or(|t| names_self(t, &own));
            if !about_self {
                return Err(ToolError::Forbidden(
                    "I can only share your own details.".into(),
                ));
            }
            own
        } else {
            subject(ctx, typed.as_deref()).await?
        };
        let view = client_view(ctx, &client);
        let mut text = format!("{} — {}", view.name, view.email);
        if let Some(p) = &view.phone {
            text.push_str(&format!(", {p}"));
        }
        text.push_str(&format!(
            "\nStatus: {} · joined {}",
            view.status, view.joined
        ));
        text.push_str(&format!(
            "\nLast visit: {}",
            view.last_visit.as_deref().unwrap_or("none yet")
        ));
        if !view.courses.is_empty() {
            text.push_str(&format!("\nCourses: {}", view.courses.join(", ")));
        }
        ToolOutput::new(&view, text)
    }
}

// --- client_orders ----------------------------------------------------------------------

/// A client's orders, newest first.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientOrdersArgs {
    /// Name, email, phone or an order number of the client (staff only; clients get their own).
    #[serde(default)]
    pub client: Option<String>,
}

#[derive(Debug, Serialize)]
struct OrderView {
    number: String,
    course: String,
    status: &'static str,
    amount: String,
    amount_minor: i64,
    created: String,
}

fn order_view(ctx: &ToolCtx, o: &Order) -> OrderView {
    OrderView {
        number: o.number.to_string(),
        course: o.course_name.clone(),
        status: o.status.as_str(),
        amount: o.amount.to_string(),
        amount_minor: o.amount.minor(),
        created: local_date(ctx, o.created_at),
    }
}

pub struct ClientOrders;

impl Tool for ClientOrders {
    const INTENT: Intent = Intent::ClientOrders;
    const DESCRIPTION: &'static str =
        "List a client's orders with status and amount. Clients get their own orders only.";
    const ONLY_READS: bool = true;
    type Args = ClientOrdersArgs;

    const MIN_ROLE: Role = Role::Client;

    async fn call(ctx: &ToolCtx, args: ClientOrdersArgs) -> Result<ToolOutput, ToolError> {
        let client = subject(ctx, args.client.as_deref()).await?;
        let orders = ctx.store.orders_for_client(client.id, 20).await?;
        let views: Vec<OrderView> = orders.iter().map(|o| order_view(ctx, o)).collect();
        let who = if ctx.caller.role == Role::Client {
            "You have".to_owned()
        } else {
            format!("{} has", client.name)
        };
        let text = if views.is_empty() {
            format!("{who} no orders yet.")
        } else {
            let lines: Vec<String> = views
                .iter()
                .map(|v| {
                    format!(
                        "• {} {} — {}, {} ({})",
                        v.number, v.course, v.status, v.amount, v.created
                    )
                })
                .collect();
            format!(
                "{who} {} order{}:\n{}",
                views.len(),
                if views.len() == 1 { "" } else { "s" },
                lines.join("\n")
            )
        };
        ToolOutput::new(
            &serde_json::json!({ "client": client.name.as_str(), "orders": views }),
            text,
        )
    }
}

// --- order_status -----------------------------------------------------------------------

/// The status of one order.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderStatusArgs {
    /// The order number: "12345", "#12345" or "ORD-12345".
    pub order: String,
}

pub struct OrderStatusTool;

impl Tool for OrderStatusTool {
    const INTENT: Intent = Intent::OrderStatus;
    const DESCRIPTION: &'static str = "Show the status of an order by its number (e.g. 12345), with its payment. Clients can only see their own orders.";
    const ONLY_READS: bool = true;
    type Args = OrderStatusArgs;

    fn ask_for(field: &str) -> Option<(&'static str, String)> {
        (field == "order").then(|| ("order", "Which order? Send its number, like #12345.".into()))
    }

    const MIN_ROLE: Role = Role::Client;

    async fn call(ctx: &ToolCtx, args: OrderStatusArgs) -> Result<ToolOutput, ToolError> {
        let number = OrderNumber::parse(&args.order).map_err(|_| {
            ToolError::BadArgs(format!(
                "\"{}\" is not an order number; they look like #12345.",
                clip(&args.order)
            ))
        })?;
        let order = ctx.store.order_by_number(number).await?;
        // For a client, someone else's order and a missing order read the same.
        let order = order.filter(|o| {
            ctx.caller.role != Role::Client || Some(o.client_id) == ctx.caller.client_id
        });
        let Some(order) = order else {
            let whose = if ctx.caller.role == Role::Client {
                " on your account"
            } else {
                ""
            };
            return Err(ToolError::NotFound(format!(
                "I couldn't find order {number}{whose}."
            )));
        };
        let payments = ctx.store.payments_for_order(order.id).await?;
        let payment = payments.last();
        let view = order_view(ctx, &order);
        let mut text = format!(
            "Order {} — {}: {} ({}), placed {}.",
            view.number, view.course, view.status, view.amount, view.created
        );
        if let Some(p) = payment {
            text.push_str(&match p.status {
                PaymentStatus::Paid => format!(
                    " Paid by {} on {}.",
                    p.method.as_str().replace('_', " "),
                    p.paid_at.map(|t| local_date(ctx, t)).unwrap_or_default()
                ),
                PaymentStatus::Pending if p.due_at < ctx.clock.now() => format!(
                    " Payment of {} is overdue since {}.",
                    p.amount,
                    local_date(ctx, p.due_at)
                ),
                PaymentStatus::Pending => format!(
                    " Payment of {} is due by {}.",
                    p.amount,
                    local_date(ctx, p.due_at)
                ),
                PaymentStatus::Failed => " The payment failed.".to_owned(),
                PaymentStatus::Refunded => " The payment was refunded.".to_owned(),
            });
        }
        let data = serde_json::json!({ "order": view, "payment_status": payment.map(|p| p.status.as_str()) });
        ToolOutput::new(&data, text)
    }
}

// --- list_classes -----------------------------------------------------------------------

/// Classes in a period, optionally for one course or a family of courses ("yoga").
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListClassesArgs {
    /// today, tomorrow, this_week, next_week, next_7_days, YYYY-MM-DD..YYYY-MM-DD (default this_week).
    #[serde(default)]
    pub period: Option<String>,
    /// A course name, e.g. "Yin Yoga"; or a word several course names share, e.g. "yoga",
    /// for the classes of all of them ("all Pilates" when one course is called just that).
    #[serde(default)]
    pub course: Option<String>,
    /// Only the next class (true for "when is the next Pilates class?").
    #[serde(default)]
    pub next_only: Option<bool>,
}

#[derive(Debug, Serialize)]
struct ClassView {
    course: String,
    starts: String,
    minutes: i64,
    instructor: String,
    room: String,
}

pub struct ListClasses;

impl Tool for ListClasses {
    const INTENT: Intent = Intent::ListClasses;
    const DESCRIPTION: &'static str = "List scheduled classes in a period (default this week), optionally for one course or a family of courses sharing a word (\"yoga\": every course with Yoga in its name), or only the next one.";
    const ONLY_READS: bool = true;
    type Args = ListClassesArgs;

    const MIN_ROLE: Role = Role::Guest;

    async fn call(ctx: &ToolCtx, args: ListClassesArgs) -> Result<ToolOutput, ToolError> {
        let course = resolve::course_selection(ctx, args.course.as_deref()).await?;
        let now = ctx.clock.now();
        let next_only = args.next_only.unwrap_or(false);
        let (start, end, label) = if next_only {
            (now, now + Duration::days(60), "coming up".to_owned())
        } else {
            let p = resolve::period(ctx, args.period.as_deref(), Period::ThisWeek)?;
            // Classes already over are no use to someone choosing one.
            let start = if p.start < now && now < p.end {
                now
            } else {
                p.start
            };
            (start, p.end, p.label())
        };
        let limit = if next_only { 1 } else { 40 };
        let classes = ctx
            .store
            .classes_between_for(
                start,
                end,
                course.as_ref().map(|c| c.ids()).as_deref(),
                limit,
            )
            .await?;
        // A bigger studio runs the same class in several rooms: show each time once.
        let mut views: Vec<ClassView> = Vec::new();
        for c in &classes {
            let starts = local_time(ctx, c.starts_at());
            if views
                .iter()
                .any(|v| v.starts == starts && v.course == c.course_name)
            {
                continue;
            }
            views.push(ClassView {
                course: c.course_name.clone(),
                starts,
                minutes: (c.ends_at() - c.starts_at()).num_minutes(),
                instructor: c.instructor.clone(),
                room: c.room.clone(),
            });
        }
        let what = course
            .as_ref()
            .map_or("classes".to_owned(), |c| format!("{} classes", c.label()));
        let text = if views.is_empty() {
            format!(
                "No {what} are scheduled {}.",
                if next_only {
                    "in the next two months".to_owned()
                } else {
                    format!("for {label}")
                }
            )
        } else if next_only {
            let v = &views[0];
            match course.as_ref().filter(|c| c.is_family()) {
                // Which of the family's courses it is, too.
                Some(family) => format!(
                    "The next {} class is {} on {} ({} min) with {} in {}.",
                    family.label(),
                    v.course,
                    v.starts,
                    v.minutes,
                    v.instructor,
                    v.room
                ),
                None => format!(
                    "The next {} class is {} ({} min) with {} in {}.",
                    v.course, v.starts, v.minutes, v.instructor, v.room
                ),
            }
        } else {
            let lines: Vec<String> = views
                .iter()
                .map(|v| {
                    format!(
                        "• {} — {} ({} min, {})",
                        v.starts, v.course, v.minutes, v.instructor
                    )
                })
                .collect();
            let cap = if classes.len() as i64 >= limit {
                "\n(showing the first 40)"
            } else {
                ""
            };
            format!(
                "{} for {label}:\n{}{cap}",
                capitalise(&what),
                lines.join("\n")
            )
        };
        let mut data = serde_json::json!({ "period": label, "classes": views });
        with_selection(&mut data, course.as_ref());
        ToolOutput::new(&data, text)
    }
}

/// Adds what a course argument selected to an answer's data: `"course"`, or `"family"`
/// and its `"courses"`.
fn with_selection(data: &mut serde_json::Value, course: Option<&resolve::CourseSelection>) {
    if let (Some(obj), Some(serde_json::Value::Object(selected))) = (
        data.as_object_mut(),
        course.map(resolve::CourseSelection::data),
    ) {
        obj.extend(selected);
    }
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|f| f.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

// --- course_info ------------------------------------------------------------------------

/// Price, level, instructor and schedule of a course, or the whole catalogue.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CourseInfoArgs {
    /// A course name; leave out for the whole catalogue.
    #[serde(default)]
    pub course: Option<String>,
}

pub struct CourseInfo;

impl Tool for CourseInfo {
    const INTENT: Intent = Intent::CourseInfo;
    const DESCRIPTION: &'static str = "Describe a course (price, level, instructor, weekly schedule), or list all courses when none is named.";
    const ONLY_READS: bool = true;
    type Args = CourseInfoArgs;

    const MIN_ROLE: Role = Role::Guest;

    async fn call(ctx: &ToolCtx, args: CourseInfoArgs) -> Result<ToolOutput, ToolError> {
        let courses = match args
            .course
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            Some(c) => std::sync::Arc::new(vec![resolve::course(ctx, c).await?]),
            None => ctx.store.all_courses().await?,
        };
        let views: Vec<serde_json::Value> = courses
            .iter()
            .map(|c| {
                let schedule: Vec<String> = c.schedule.iter().map(|s| format!("{} {} ({} min)", s.weekday, s.start.format("%H:%M"), s.minutes)).collect();
                serde_json::json!({
                    "name": c.name, "category": c.category.as_str(), "level": c.level.to_string(),
                    "price": c.price.to_string(), "price_minor": c.price.minor(), "instructor": c.instructor,
                    "capacity": c.capacity, "schedule": schedule, "description": c.description,
                })
            })
            .collect();
        let text = if let [c] = courses.as_slice() {
            let schedule: Vec<String> = c
                .schedule
                .iter()
                .map(|s| format!("{} {}", s.weekday, s.start.format("%H:%M")))
                .collect();
            format!(
                "{} — {}, {} level, with {}. {} for the course; up to {} people. Weekly: {}.{}",
                c.name,
                c.category.as_str(),
                c.level,
                c.instructor,
                c.price,
                c.capacity,
                schedule.join(", "),
                if c.description.is_empty() {
                    String::new()
                } else {
                    format!("\n{}", c.description)
                }
            )
        } else {
            let lines: Vec<String> = courses
                .iter()
                .map(|c| format!("• {} — {} ({}, {})", c.name, c.price, c.level, c.instructor))
                .collect();
            format!("Our courses:\n{}", lines.join("\n"))
        };
        ToolOutput::new(&views, text)
    }
}

// --- create_order -----------------------------------------------------------------------

/// Enrol a client in a course: an order with a pending payment.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrderArgs {
    /// The course, e.g. "Yoga Beginner".
    pub course: String,
    /// The client's name, email or phone (staff only; a client always orders for themselves).
    #[serde(default)]
    pub client: Option<String>,
    /// How they will pay: upi, card, cash, bank_transfer or online.
    #[serde(default)]
    pub method: Option<String>,
}

pub struct CreateOrder;

impl Tool for CreateOrder {
    const INTENT: Intent = Intent::CreateOrder;
    const DESCRIPTION: &'static str = "Enrol a client in a course: creates an order and its pending payment. Staff name the client; a client enrols themselves.";
    type Args = CreateOrderArgs;

    fn ask_for(field: &str) -> Option<(&'static str, String)> {
        (field == "course").then(|| ("course", "Which course should I enrol them in?".into()))
    }

    const MIN_ROLE: Role = Role::Client;

    async fn preview(
        ctx: &ToolCtx,
        args: &CreateOrderArgs,
    ) -> Result<Option<super::Preview>, ToolError> {
        let (course, client, method) = enrolment(ctx, args).await?;
        let typed_course = resolve::normalise(&args.course);
        let exact_course = typed_course == resolve::normalise(&course.name);
        let exact_client = ctx.caller.role == Role::Client
            || args.client.as_deref().is_some_and(|typed| {
                let typed = typed.trim();
                typed.eq_ignore_ascii_case(client.email.as_str())
                    || typed.eq_ignore_ascii_case(client.name.as_str())
                    || client
                        .phone
                        .as_ref()
                        .is_some_and(|p| Phone::parse(typed).is_ok_and(|t| &t == p))
            });
        let whom = if ctx.caller.role == Role::Client {
            "you".to_owned()
        } else {
            format!("{} ({})", client.name, client.email)
        };
        let mut resolved = serde_json::json!({
            "course": course.name, "method": method.as_str(),
        });
        if ctx.caller.role != Role::Client {
            resolved["client"] = serde_json::json!(client.email.as_str());
        }
        Ok(Some(super::Preview {
            summary: format!(
                "Enrol {whom} in {}, {}, payment pending",
                course.name, course.price
            ),
            args: resolved,
            exact: exact_course && exact_client,
        }))
    }

    async fn call(ctx: &ToolCtx, args: CreateOrderArgs) -> Result<ToolOutput, ToolError> {
        let (course, client, method) = enrolment(ctx, &args).await?;
        // One message may enrol in two courses: each gets its own key.
        let idempotency_key = ctx.idempotency_key.as_ref().map(|k| {
            format!(
                "{k}:create_order:{}:{}",
                client.id.to_hex(),
                course.id.to_hex()
            )
        });
        let who = if ctx.caller.role == Role::Client {
            "You are".to_owned()
        } else {
            format!("{} is", client.name)
        };
        // Asked again in a new message (a second tap, a colleague asking too) while the
        // client's order for the course is unpaid, that order is the answer: a second one
        // would ask for the fee twice. The same message again is a replay.
        let created = ctx
            .store
            .enrol(
                NewOrder {
                    client_id: client.id,
                    course_id: course.id,
                    amount: None,
                    method,
                    due_in_days: 7,
                    idempotency_key,
                    now: ctx.clock.now(),
                },
                &client,
            )
            .await?;
        enrolment_answer(ctx, &who, &client, &created)
    }
}

/// What an enrolment is for: the course, the client (a client: themselves, and only
/// themselves) and how they will pay.
async fn enrolment(
    ctx: &ToolCtx,
    args: &CreateOrderArgs,
) -> Result<(crate::domain::Course, Client, PaymentMethod), ToolError> {
    let course = resolve::course(ctx, &args.course).await?;
    // A client naming someone else is told below how they can enrol.
    let named = (ctx.caller.role != Role::Client)
        .then_some(args.client.as_deref())
        .flatten();
    let client = subject(ctx, named).await?;
    if ctx.caller.role == Role::Client {
        if let Some(other) = someone_else(args.client.as_deref(), &client) {
            return Err(ToolError::Forbidden(format!(
                "I can only enrol you yourself from this chat, so I haven't enrolled {other}. They can message us here or ask at the desk to enrol; if you like, I can pass their details to the studio as an enquiry."
            )));
        }
    }
    let method = payment_method(args.method.as_deref(), PaymentMethod::Online)?;
    Ok((course, client, method))
}

/// How someone pays, as typed ("upi", "bank transfer"), or `default` when not said.
fn payment_method(typed: Option<&str>, default: PaymentMethod) -> Result<PaymentMethod, ToolError> {
    match typed.map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => m
            .parse::<PaymentMethod>()
            .map_err(|e| ToolError::BadArgs(e.to_string())),
        None => Ok(default),
    }
}

/// The person a client named when it is not themselves: not their name (or first
/// name), email or phone, nor a word for themselves.
fn someone_else<'t>(typed: Option<&'t str>, own: &Client) -> Option<&'t str> {
    let typed = typed.map(str::trim).filter(|t| !t.is_empty())?;
    let lowered = typed.to_lowercase();
    let own_name = own.name.as_str().to_lowercase();
    let is_self = ["me", "myself", "i", "self"].contains(&lowered.as_str())
        || lowered == own_name
        || own_name.split_whitespace().next() == Some(lowered.as_str())
        || lowered == own.email.as_str().to_lowercase()
        || own
            .phone
            .as_ref()
            .is_some_and(|p| Phone::parse(typed).is_ok_and(|t| &t == p));
    (!is_self).then_some(typed)
}

/// The answer to an enrolment: the order just made, or the unpaid one the client
/// already had for the course.
fn enrolment_answer(
    ctx: &ToolCtx,
    who: &str,
    client: &Client,
    created: &crate::store::OrderCreated,
) -> Result<ToolOutput, ToolError> {
    let (o, p) = (&created.order, &created.payment);
    let provider = ctx.studio.online_payment.map(|p| p.name());
    let how_to_pay = match (provider, created.already_enrolled) {
        (Some(name), false) => format!("A {name} payment link follows by email or chat."),
        (Some(name), true) => format!("The {name} payment link was sent with the order."),
        (None, _) => "Online payment is not set up; please pay at the desk.".to_owned(),
    };
    let due = local_date(ctx, p.due_at);
    let text = if created.already_enrolled {
        format!(
            "{who} already enrolled in {}: order {} for {} is waiting for payment, due by {due}. No second order was made. {how_to_pay}",
            o.course_name, o.number, o.amount
        )
    } else {
        format!(
            "{who} enrolled in {}: order {} for {}. Payment is pending, due by {due}. {how_to_pay}",
            o.course_name, o.number, o.amount
        )
    };
    let data = serde_json::json!({
        "order": order_view(ctx, o), "client": client.name.as_str(), "payment_due": due,
        "replayed": created.replayed, "already_enrolled": created.already_enrolled,
    });
    ToolOutput::new(&data, text)
}

// --- create_enquiry ---------------------------------------------------------------------

/// Record a new enquiry: a lead the staff will follow up.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEnquiryArgs {
    /// The person's name.
    pub name: String,
    /// Their email (email or phone is needed to reply).
    #[serde(default)]
    pub email: Option<String>,
    /// Their phone number.
    #[serde(default)]
    pub phone: Option<String>,
    /// The course they are interested in.
    #[serde(default)]
    pub course: Option<String>,
    /// Anything else they said.
    #[serde(default)]
    pub message: Option<String>,
}

pub struct CreateEnquiry;

impl Tool for CreateEnquiry {
    const INTENT: Intent = Intent::CreateEnquiry;
    const DESCRIPTION: &'static str = "Record a new client enquiry (a lead) with name and email or phone, and the course they are interested in.";
    type Args = CreateEnquiryArgs;

    fn ask_for(field: &str) -> Option<(&'static str, String)> {
        (field == "name").then(|| ("name", "What name should I put on the enquiry?".into()))
    }

    const MIN_ROLE: Role = Role::Guest;

    async fn call(ctx: &ToolCtx, args: CreateEnquiryArgs) -> Result<ToolOutput, ToolError> {
        let name = PersonName::parse(&args.name).map_err(|e| ToolError::BadArgs(e.to_string()))?;
        if let Some(message) = args.message.as_deref() {
            crate::domain::refuse_hidden_chars("enquiry message", message.trim(), true)
                .map_err(|e| ToolError::BadArgs(e.to_string()))?;
        }
        let email = match args
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            Some(e) => Some(Email::parse(e).map_err(|e| ToolError::BadArgs(e.to_string()))?),
            None => None,
        };
        let phone = match args
            .phone
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            Some(p) => Some(Phone::parse(p).map_err(|e| ToolError::BadArgs(e.to_string()))?),
            None => None,
        };
        let Some(email) = email else {
            return Err(ToolError::Missing {
                field: "email",
                question: "What email address should the studio reply to?".into(),
            });
        };
        let course = match args
            .course
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            Some(c) => Some(resolve::course(ctx, c).await?),
            None => None,
        };
        let note = [
            course.as_ref().map(|c| format!("interested in {}", c.name)),
            args.message.as_deref().map(clip),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("; ");
        let email_shown = email.as_str().to_owned();
        let first_name = name.first().to_owned();
        let mut lead = Client::new(name, email, ClientStatus::Lead, ctx.clock.now());
        lead.phone = phone;
        lead.notes = Some(note.clone()).filter(|n| !n.is_empty());
        // The lead (or, for someone already on the books, a ticket for the staff) and the
        // acknowledgement (email, or the linked chat) in one transaction; a retried message
        // records it once.
        let recorded = ctx
            .store
            .record_enquiry(&crate::store::NewEnquiry {
                lead,
                reason: if note.is_empty() {
                    "enquiry".to_owned()
                } else {
                    format!("enquiry: {note}")
                },
                requester: ctx.caller.name.clone(),
                course: course.as_ref().map(|c| c.name.clone()),
                idempotency_key: ctx.idempotency_key.clone(),
                now: ctx.clock.now(),
            })
            .await?;
        // Someone already on the books gets a ticket for the staff instead of a new lead.
        if !recorded.is_new && !recorded.replayed {
            crate::telemetry::metrics::Metrics::global().ticket("opened");
        }
        // The same words whether or not the address is already a client's: the reply
        // must not tell who is on the books.
        let text = format!(
            "Thanks, {}! I've noted your enquiry{}; the studio will get back to you at {}.",
            first_name,
            course
                .as_ref()
                .map(|c| format!(" about {}", c.name))
                .unwrap_or_default(),
            email_shown
        );
        ToolOutput::new(
            &serde_json::json!({ "course": course.map(|c| c.name) }),
            text,
        )
    }
}

// --- pending_payments -------------------------------------------------------------------

/// Pending payments: a client's own, or all with each client's name (staff), optionally
/// for one course or a family of courses ("yoga").
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PendingPaymentsArgs {
    /// "all" (staff) or "self"; a client always gets "self".
    #[serde(default)]
    pub scope: Option<String>,
    /// One client's pending payments (staff only).
    #[serde(default)]
    pub client: Option<String>,
    /// Only payments past their due date.
    #[serde(default)]
    pub overdue_only: Option<bool>,
    /// Only payments for this course, e.g. "Yin Yoga"; or a word several course names
    /// share, e.g. "yoga", for all of them.
    #[serde(default)]
    pub course: Option<String>,
}

#[derive(Debug, Serialize)]
struct PaymentView {
    order: String,
    /// Who owes it: shown to staff only, never to a client.
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<String>,
    course: String,
    amount: String,
    amount_minor: i64,
    due: String,
    overdue: bool,
}

fn payment_view(ctx: &ToolCtx, p: &Payment, client: Option<String>) -> PaymentView {
    PaymentView {
        order: p.order_number.to_string(),
        client,
        course: p.course_name.clone(),
        amount: p.amount.to_string(),
        amount_minor: p.amount.minor(),
        due: local_date(ctx, p.due_at),
        overdue: p.due_at < ctx.clock.now(),
    }
}

pub struct PendingPayments;

impl Tool for PendingPayments {
    const INTENT: Intent = Intent::PendingPayments;
    const DESCRIPTION: &'static str = "List pending payments (overdue first), optionally for one course or a family of courses (\"yoga\"): all of them with each client's name for staff, or one client's; a client sees only their own.";
    const ONLY_READS: bool = true;
    type Args = PendingPaymentsArgs;

    const MIN_ROLE: Role = Role::Client;

    async fn call(ctx: &ToolCtx, args: PendingPaymentsArgs) -> Result<ToolOutput, ToolError> {
        let client = match (
            ctx.caller.role,
            args.client
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty()),
        ) {
            (Role::Client, typed) => Some(subject(ctx, typed).await?),
            (_, Some(typed)) => Some(resolve::client(ctx, typed).await?),
            _ => None,
        };
        let course = resolve::course_selection(ctx, args.course.as_deref()).await?;
        let now = ctx.clock.now();
        let query = PaymentQuery {
            client_id: client.as_ref().map(|c| c.id),
            overdue_at: args.overdue_only.unwrap_or(false).then_some(now),
            course_ids: course.as_ref().map(resolve::CourseSelection::ids),
            limit: 25,
        };
        let (payments, total) = ctx.store.pending_payments(&query).await?;
        let own = ctx.caller.role == Role::Client;
        // Staff chase payments: each one with the client's name. A client is shown only
        // their own payments, and no name at all.
        let names = if ctx.caller.role.is_staff() {
            let mut ids: Vec<ObjectId> = payments.iter().map(|p| p.client_id).collect();
            ids.sort_unstable();
            ids.dedup();
            ctx.store.client_names(&ids).await?
        } else {
            std::collections::HashMap::new()
        };
        let views: Vec<PaymentView> = payments
            .iter()
            .map(|p| {
                let name = ctx.caller.role.is_staff().then(|| {
                    names
                        .get(&p.client_id)
                        .cloned()
                        .unwrap_or_else(|| "(client not found)".to_owned())
                });
                payment_view(ctx, p, name)
            })
            .collect();
        let for_course = course
            .as_ref()
            .map(|c| format!(" for {}", c.label()))
            .unwrap_or_default();
        let text = if views.is_empty() {
            if own {
                format!("You have no pending payments{for_course}. 🎉")
            } else if let Some(c) = &client {
                format!("{} has no pending payments{for_course}.", c.name)
            } else {
                format!("There are no pending payments{for_course}.")
            }
        } else {
            let sum: i64 = views.iter().map(|v| v.amount_minor).sum();
            let lines: Vec<String> = views
                .iter()
                .map(|v| {
                    format!(
                        "• {} {}{} — {}, {} {}",
                        v.order,
                        v.course,
                        v.client
                            .as_deref()
                            .map(|name| format!(" — {name}"))
                            .unwrap_or_default(),
                        v.amount,
                        if v.overdue { "overdue since" } else { "due" },
                        v.due
                    )
                })
                .collect();
            let head = match (&client, own) {
                (_, true) => format!(
                    "You have {total} pending payment{}{for_course}",
                    if total == 1 { "" } else { "s" }
                ),
                (Some(c), false) => format!(
                    "{} has {total} pending payment{}{for_course}",
                    c.name,
                    if total == 1 { "" } else { "s" }
                ),
                (None, false) => format!(
                    "{total} pending payment{}{for_course}",
                    if total == 1 { "" } else { "s" }
                ),
            };
            let shown = if total as usize > views.len() {
                format!(" (showing the {} most overdue)", views.len())
            } else {
                String::new()
            };
            format!(
                "{head}{shown}, {} listed here:\n{}",
                crate::domain::format_minor(sum, ctx.studio.currency),
                lines.join("\n")
            )
        };
        let scope = if own {
            "self"
        } else if client.is_some() {
            "client"
        } else {
            args.scope.as_deref().unwrap_or("all")
        };
        let mut data = serde_json::json!({ "scope": scope, "total": total, "payments": views });
        with_selection(&mut data, course.as_ref());
        ToolOutput::new(&data, text)
    }
}

// --- record_payment ---------------------------------------------------------------------

/// Record that an order's pending payment was paid (staff only).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordPaymentArgs {
    /// The order number.
    pub order: String,
    /// upi, card, cash, bank_transfer or online.
    #[serde(default)]
    pub method: Option<String>,
    /// The amount said to have been paid ("4000", "₹4,000"), if one was: recorded only
    /// when it is the whole amount due (part payments are not recorded here).
    #[serde(default)]
    pub amount: Option<String>,
}

/// Refuses an amount said to be paid that is not the whole amount due.
fn whole_amount(
    said: Option<&str>,
    due: crate::domain::Money,
    number: OrderNumber,
) -> Result<(), ToolError> {
    let Some(said) = said else {
        return Ok(());
    };
    let paid = crate::domain::Money::parse_major(said, due.currency())
        .map_err(|_| ToolError::BadArgs(format!("\"{said}\" is not an amount of money.")))?;
    if paid == due {
        return Ok(());
    }
    Err(ToolError::BadArgs(format!(
        "Order {number} has {due} to pay, not {paid}. Part payments aren't recorded here, so nothing was recorded: record the order's payment once the whole {due} is paid."
    )))
}

pub struct RecordPayment;

impl Tool for RecordPayment {
    const INTENT: Intent = Intent::RecordPayment;
    const DESCRIPTION: &'static str =
        "Staff only: record the pending payment of an order as paid (and confirm the order).";
    type Args = RecordPaymentArgs;

    fn ask_for(field: &str) -> Option<(&'static str, String)> {
        (field == "order").then(|| {
            (
                "order",
                "Which order was paid? Send its number, like #12345.".into(),
            )
        })
    }

    const MIN_ROLE: Role = Role::Staff;

    async fn preview(
        ctx: &ToolCtx,
        args: &RecordPaymentArgs,
    ) -> Result<Option<super::Preview>, ToolError> {
        let number =
            OrderNumber::parse(&args.order).map_err(|e| ToolError::BadArgs(e.to_string()))?;
        let order = ctx
            .store
            .order_by_number(number)
            .await?
            .ok_or_else(|| ToolError::NotFound(format!("There is no order {number}.")))?;
        whole_amount(args.amount.as_deref(), order.amount, number)?;
        let method = payment_method(args.method.as_deref(), PaymentMethod::Cash)?
            .as_str()
            .replace('_', " ");
        Ok(Some(super::Preview {
            summary: format!(
                "Record {} paid by {method} for order {number} ({})",
                order.amount, order.course_name
            ),
            args: serde_json::json!({
                "order": number.to_string().trim_start_matches('#'),
                "method": args.method,
                "amount": args.amount,
            }),
            exact: true,
        }))
    }

    async fn call(ctx: &ToolCtx, args: RecordPaymentArgs) -> Result<ToolOutput, ToolError> {
        let number =
            OrderNumber::parse(&args.order).map_err(|e| ToolError::BadArgs(e.to_string()))?;
        let method = payment_method(args.method.as_deref(), PaymentMethod::Cash)?;
        let order = ctx
            .store
            .order_by_number(number)
            .await?
            .ok_or_else(|| ToolError::NotFound(format!("There is no order {number}.")))?;
        let payments = ctx.store.payments_for_order(order.id).await?;
        let payment = payments
            .iter()
            .find(|p| p.status == PaymentStatus::Pending)
            .or_else(|| payments.iter().find(|p| p.status == PaymentStatus::Paid))
            .ok_or_else(|| {
                ToolError::NotFound(format!("Order {number} has no payment to record."))
            })?;
        whole_amount(args.amount.as_deref(), payment.amount, number)?;
        let (paid, changed) = ctx
            .store
            .record_payment(payment.id, method, None, ctx.clock.now())
            .await?;
        let text = if changed {
            format!(
                "Recorded {} by {} for order {} ({}). The order is confirmed.",
                paid.amount,
                method.as_str().replace('_', " "),
                number,
                order.course_name
            )
        } else {
            format!(
                "Order {number} was already paid ({} on {}).",
                paid.amount,
                paid.paid_at.map(|t| local_date(ctx, t)).unwrap_or_default()
            )
        };
        ToolOutput::new(
            &serde_json::json!({ "order": number.to_string(), "status": paid.status.as_str(), "changed": changed }),
            text,
        )
    }
}

// --- cancel_order -----------------------------------------------------------------------

/// Cancel an unpaid order.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelOrderArgs {
    /// The order number, e.g. "12346".
    pub order: String,
    /// Why (kept for the studio, not sent to the client).
    #[serde(default)]
    pub reason: Option<String>,
}

pub struct CancelOrder;

/// The order a cancellation names.
async fn order_named(ctx: &ToolCtx, typed: &str) -> Result<Order, ToolError> {
    let number = OrderNumber::parse(typed).map_err(|_| {
        ToolError::BadArgs(format!(
            "\"{}\" is not an order number; they look like #12345.",
            clip(typed)
        ))
    })?;
    ctx.store
        .order_by_number(number)
        .await?
        .ok_or_else(|| ToolError::NotFound(format!("There is no order {number}.")))
}

/// Refuses (nothing changed) to cancel a completed order or one with a paid payment.
async fn refuse_uncancellable(ctx: &ToolCtx, order: &Order) -> Result<(), ToolError> {
    let number = order.number;
    if order.status == OrderStatus::Completed {
        return Err(ToolError::Conflict(format!(
            "Order {number} is completed; it cannot be cancelled. Nothing was changed."
        )));
    }
    let payments = ctx.store.payments_for_order(order.id).await?;
    if let Some(paid) = payments.iter().find(|p| p.status == PaymentStatus::Paid) {
        let when = paid
            .paid_at
            .map(|t| format!(" on {}", local_date(ctx, t)))
            .unwrap_or_default();
        return Err(ToolError::Conflict(format!(
            "Order {number} is paid ({}{when}); refund it first, then cancel it. Nothing was changed.",
            paid.amount
        )));
    }
    Ok(())
}

/// The name of an order's client (deleted clients too: their orders stay).
async fn client_name(ctx: &ToolCtx, order: &Order) -> Result<String, ToolError> {
    Ok(ctx
        .store
        .client_names(&[order.client_id])
        .await?
        .remove(&order.client_id)
        .unwrap_or_else(|| "a client no longer on record".to_owned()))
}

/// "Order #12346 was already cancelled (since 3 Nov 2026)".
fn already_cancelled(ctx: &ToolCtx, order: &Order) -> String {
    format!(
        "Order {} was already cancelled (since {})",
        order.number,
        local_date(ctx, order.updated_at)
    )
}

impl Tool for CancelOrder {
    const INTENT: Intent = Intent::CancelOrder;
    const DESCRIPTION: &'static str = "Staff only: cancel an unpaid order (closes its payment, ends the enrolment, tells the client). A paid one must be refunded first.";
    type Args = CancelOrderArgs;

    fn ask_for(field: &str) -> Option<(&'static str, String)> {
        (field == "order").then(|| {
            (
                "order",
                "Which order should I cancel? Send its number, like #12345.".into(),
            )
        })
    }

    const MIN_ROLE: Role = Role::Staff;

    async fn preview(
        ctx: &ToolCtx,
        args: &CancelOrderArgs,
    ) -> Result<Option<super::Preview>, ToolError> {
        let order = order_named(ctx, &args.order).await?;
        if order.status == OrderStatus::Cancelled {
            return Err(ToolError::Conflict(format!(
                "{}; there is nothing to do.",
                already_cancelled(ctx, &order)
            )));
        }
        refuse_uncancellable(ctx, &order).await?;
        let client = client_name(ctx, &order).await?;
        let state = if order.status == OrderStatus::Confirmed {
            "confirmed, not paid"
        } else {
            "payment pending"
        };
        Ok(Some(super::Preview {
            summary: format!(
                "Cancel order {} for {client} ({}, {}, {state})",
                order.number, order.course_name, order.amount
            ),
            args: serde_json::json!({
                "order": order.number.get().to_string(),
                "reason": args.reason,
            }),
            // A cancellation cannot be taken back: it is always shown for a "yes" first,
            // however exactly the order was named.
            exact: false,
        }))
    }

    async fn call(ctx: &ToolCtx, args: CancelOrderArgs) -> Result<ToolOutput, ToolError> {
        let order = order_named(ctx, &args.order).await?;
        let client = if order.status == OrderStatus::Cancelled {
            None
        } else {
            refuse_uncancellable(ctx, &order).await?;
            Some(client_name(ctx, &order).await?)
        };
        // The store asks again in its transaction: a payment recorded meanwhile refuses it.
        let cancelled = ctx
            .store
            .cancel_order(order.number, args.reason.as_deref(), ctx.clock.now())
            .await?;
        let o = &cancelled.order;
        let text = match client.filter(|_| cancelled.changed) {
            Some(client) => {
                let noted = args
                    .reason
                    .as_deref()
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(|r| format!(" Reason noted: {}.", clip(r).trim_end_matches('.')))
                    .unwrap_or_default();
                format!(
                    "Cancelled order {} for {client} ({}, {}). Its payment is closed and nothing is owed; the client is sent a notice.{noted}",
                    o.number, o.course_name, o.amount
                )
            }
            None => format!("{}; nothing changed.", already_cancelled(ctx, o)),
        };
        ToolOutput::new(
            &serde_json::json!({
                "order": o.number.to_string(), "status": o.status.as_str(),
                "changed": cancelled.changed, "course": o.course_name,
                "amount": o.amount.to_string(), "amount_minor": o.amount.minor(),
            }),
            text,
        )
    }
}

// --- escalate_to_staff ------------------------------------------------------------------

/// Hand the conversation to a person.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalateArgs {
    /// What the person needs help with.
    pub reason: String,
}

pub struct EscalateToStaff;

impl Tool for EscalateToStaff {
    const INTENT: Intent = Intent::EscalateToStaff;
    const DESCRIPTION: &'static str =
        "Hand the conversation to a member of staff (opens a ticket they see).";
    type Args = EscalateArgs;

    fn ask_for(field: &str) -> Option<(&'static str, String)> {
        (field == "reason").then(|| {
            (
                "reason",
                "What should I tell the studio team you need help with?".into(),
            )
        })
    }

    const MIN_ROLE: Role = Role::Guest;

    async fn call(ctx: &ToolCtx, args: EscalateArgs) -> Result<ToolOutput, ToolError> {
        let reason: String = args
            .reason
            .chars()
            .filter(|c| !c.is_control() || *c == '\n')
            .take(500)
            .collect();
        // The staff see who asked by name: a client's from their record (a REST token
        // carries only an id), anyone else's as they are known, a guest without one so.
        let name = match ctx.caller.client_id {
            Some(id) => match ctx.store.client_by_id(id).await? {
                Some(client) => client.name.as_str().to_owned(),
                None => ctx.caller.name.clone(),
            },
            None if ctx.caller.has_name() => ctx.caller.name.clone(),
            None => "a guest".to_owned(),
        };
        let requester = format!("{name} ({})", ctx.caller.role.as_str());
        let origin = ctx.conversation.as_ref().map(|c| TicketOrigin {
            platform: c.platform.as_str().to_owned(),
            channel: c.channel.clone(),
            thread: c.thread.clone(),
            user: c.user.clone(),
        });
        // Already asked from this chat and not closed yet (posted to the staff or not; a
        // `/human` reaches the bot while its ticket is live): no second ticket.
        if let Some(origin) = &origin {
            if let Some(live) = ctx
                .store
                .ticket_not_closed_from(&origin.platform, &origin.channel, &origin.user)
                .await?
            {
                let text =
                    "You've already asked for the studio team; they'll get back to you here soon."
                        .to_owned();
                return ToolOutput::new(
                    &serde_json::json!({ "ticket": live.id.to_hex(), "already_open": true }),
                    text,
                );
            }
        }
        let new = Ticket::open(reason, requester, ctx.caller.client_id, ctx.clock.now());
        let new_id = new.id;
        let ticket = ctx
            .store
            .open_ticket(
                &new.once(
                    ctx.idempotency_key
                        .as_ref()
                        .map(|k| format!("{k}:escalate")),
                )
                .from_chat(origin),
            )
            .await?;
        if ticket.id == new_id {
            crate::telemetry::metrics::Metrics::global().ticket("opened");
        }
        let text = "I've passed this to the studio team; someone will reply here soon.".to_owned();
        ToolOutput::new(&serde_json::json!({ "ticket": ticket.id.to_hex() }), text)
    }
}

// --- open_tickets -----------------------------------------------------------------------

/// Hand-offs waiting for the staff.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenTicketsArgs {
    /// 1 to 20 (default 10).
    #[serde(default)]
    pub limit: Option<u32>,
}

pub struct OpenTickets;

impl Tool for OpenTickets {
    const INTENT: Intent = Intent::OpenTickets;
    const DESCRIPTION: &'static str =
        "Tickets not closed yet: who asked for a person, when, and what about.";
    const ONLY_READS: bool = true;
    type Args = OpenTicketsArgs;

    const MIN_ROLE: Role = Role::Staff;

    async fn call(ctx: &ToolCtx, args: OpenTicketsArgs) -> Result<ToolOutput, ToolError> {
        let limit = args.limit.unwrap_or(10).clamp(1, 20);
        let (waiting, total) = ctx.store.tickets_not_closed(i64::from(limit)).await?;
        if waiting.is_empty() {
            return ToolOutput::new(
                &serde_json::json!({ "total": 0, "tickets": [] }),
                "No tickets are waiting: nobody has asked for a person.".to_owned(),
            );
        }
        let now = ctx.clock.now();
        let lines: Vec<String> = waiting
            .iter()
            .map(|t| {
                let said: String = t.reason.chars().take(120).collect();
                let taken = match (&t.claimed_by, t.status) {
                    (Some(who), _) => format!(", taken by {who}"),
                    (None, _) => String::new(),
                };
                format!(
                    "• {} — {}, {}{taken}: \"{}\"",
                    t.requester,
                    ago(now - t.created_at),
                    t.status.as_str(),
                    said.trim()
                )
            })
            .collect();
        let head = if total == 1 {
            "1 ticket is waiting for the staff:".to_owned()
        } else if total > u64::from(limit) {
            format!("{total} tickets are waiting for the staff; the newest {limit}:")
        } else {
            format!("{total} tickets are waiting for the staff:")
        };
        let data = serde_json::json!({
            "total": total,
            "tickets": waiting.iter().map(|t| serde_json::json!({
                "id": t.id.to_hex(),
                "requester": t.requester,
                "status": t.status.as_str(),
                "claimed_by": t.claimed_by,
                "created_at": t.created_at,
                "reason": t.reason,
            })).collect::<Vec<_>>(),
        });
        ToolOutput::new(&data, format!("{head}\n{}", lines.join("\n")))
    }
}

/// "just now", "12 minutes ago", "3 hours ago", "2 days ago".
fn ago(age: chrono::Duration) -> String {
    let minutes = age.num_minutes().max(0);
    match minutes {
        0 => "just now".to_owned(),
        1 => "a minute ago".to_owned(),
        2..=59 => format!("{minutes} minutes ago"),
        60..=119 => "an hour ago".to_owned(),
        120..=2879 => format!("{} hours ago", minutes / 60),
        _ => format!("{} days ago", minutes / 1440),
    }
}
