//! The OpenAPI side of authentication: the optional bearer scheme (tokens are needed only when
//! `AUTH_SECRET` is set), a typed 401 on every protected operation, and the 403s of the
//! private-room and own-data rules (see `chat.rs` and `auth.rs`).

use utoipa::Modify;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

/// Operations that answer 403 under the authorisation rules, with an example detail.
const FORBIDDEN: &[(&str, &str)] = &[
    ("get_chat", "Chat p is private and you are not a participant"),
    (
        "get_chat_messages",
        "Chat p is private and you are not a participant",
    ),
    (
        "add_participant",
        "Only participants can add people to private chat p",
    ),
    ("remove_participant", "You can only remove yourself from a chat"),
    ("create_user", "You can only create your own user"),
    ("get_user_chats", "You can only list your own chats"),
];

/// Operations that store a message for a user, and so answer 429 over the rate limit.
const RATE_LIMITED: &[&str] = &["add_participant", "remove_participant"];

/// Adds the bearer scheme and the 401/403 responses, and the 429 of the rate limit.
pub struct BearerSecurity;

fn detail_response(description: &str, detail: &str) -> RefOr<utoipa::openapi::Response> {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Detail")))
        .example(Some(serde_json::json!({ "detail": detail })))
        .build();
    ResponseBuilder::new()
        .description(description)
        .content("application/json", content)
        .build()
        .into()
}

impl Modify for BearerSecurity {
    fn modify(&self, openapi: &mut OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some(
                "HS256 JWT whose `sub` is your user id, required only when the server runs with \
                 AUTH_SECRET. WebSocket clients that cannot set headers pass it as `?token=`.",
            ))
            .build();
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme("bearerAuth", SecurityScheme::Http(scheme));
        }
        for item in openapi.paths.paths.values_mut() {
            for op in [&mut item.get, &mut item.post, &mut item.delete]
                .into_iter()
                .flatten()
            {
                if op
                    .tags
                    .as_ref()
                    .is_some_and(|t| t.iter().any(|t| t == "operations"))
                {
                    continue; // probes stay open
                }
                // `{}` first: without AUTH_SECRET no token is needed.
                op.security = Some(vec![
                    SecurityRequirement::default(),
                    SecurityRequirement::new("bearerAuth", [] as [&str; 0]),
                ]);
                let unauthorized = detail_response(
                    "Missing, invalid or expired token (only when AUTH_SECRET is set)",
                    "Missing bearer token",
                );
                op.responses.responses.insert("401".into(), unauthorized);
                let id = op.operation_id.as_deref().unwrap_or_default();
                if RATE_LIMITED.contains(&id) {
                    let limited = detail_response(
                        "Over the user's message rate (RATE_LIMIT_*); Retry-After says when to retry",
                        "Rate limit exceeded: retry in 250 ms",
                    );
                    op.responses.responses.insert("429".into(), limited);
                }
                if let Some((_, detail)) = FORBIDDEN.iter().find(|(op_id, _)| *op_id == id) {
                    let forbidden = detail_response(
                        "Not allowed for this caller (only when AUTH_SECRET is set)",
                        detail,
                    );
                    op.responses.responses.insert("403".into(), forbidden);
                }
            }
        }
    }
}
