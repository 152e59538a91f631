//! The OpenAPI side of authentication: the optional bearer scheme (tokens are needed only when
//! `AUTH_SECRET` is set) and a typed 401 on every protected operation. The 403s of the
//! private-room and own-data rules are documented with the handlers that return them.

use utoipa::Modify;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

/// Adds the bearer scheme and the 401 response (the 403s and 429s of each operation are with
/// its handler).
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
            }
        }
    }
}
