//! The generated OpenAPI document and Swagger UI over it.

use std::collections::BTreeMap;
use std::sync::Arc;

use utoipa::openapi::schema::{Discriminator, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::Config;
use warp::filters::BoxedFilter;
use warp::http::{StatusCode, Uri, header};
use warp::path::{FullPath, Tail};
use warp::reply::Response;
use warp::{Filter, Reply};

use super::docs_security::BearerSecurity;
use crate::domain::events::{Receipt, ReceiptTag, Resumed, ResumedTag};
use crate::domain::{ChatRoom, Message, MessageKind, NewChat, NewUser, RoomDetails, User, UserRoom};
use crate::error::Detail;
use crate::ws::frames::{
    ClientFrame, ErrorFrame, ErrorTag, PositionFrame, ReadFrame, ResumeFrame, RoomFrame, ServerFrame,
    TextFrame, TypingFrame,
};

/// The OpenAPI 3.1 document, generated from the handlers and types.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Chat API",
        description = "Real-time chat: rooms, live messages, typing and presence over WebSocket \
            (`/ws/{user_id}`), history and rooms over HTTP. Every HTTP error is `{\"detail\": \"...\"}`. \
            WebSocket client frames are `ClientFrame`, server frames `ServerFrame` (see components)."
    ),
    servers((url = "http://localhost:8000", description = "Local server")),
    modifiers(&NamedClientFrames, &BearerSecurity),
    paths(
        super::messages::get_messages, super::messages::post_message, super::chats::get_chat, super::chats::create_chat,
        super::chats::add_participant, super::chats::remove_participant,
        super::users::get_user, super::users::create_user, super::users::get_user_chats,
        super::ws::connect, super::health::health, super::health::ready,
    ),
    components(schemas(
        Message, MessageKind, ChatRoom, RoomDetails, UserRoom, User, NewChat, NewUser, super::chats::AddParticipant,
        super::messages::NewMessage, Detail, super::health::Status, ClientFrame, TextFrame, TypingFrame, RoomFrame,
        ResumeFrame, PositionFrame, ReadFrame, ServerFrame, Receipt, ReceiptTag, Resumed, ResumedTag, ErrorFrame, ErrorTag,
    )),
    tags(
        (name = "chats", description = "Rooms, their history and participants"),
        (name = "users", description = "Users and presence"),
        (name = "websocket", description = "The real-time protocol"),
        (name = "operations", description = "Probes"),
    )
)]
pub struct ApiDoc;

/// Names each variant of `ClientFrame` and makes `ClientFrame` a discriminated union of them.
///
/// utoipa renders the internally tagged `ClientFrame` as a `oneOf` of inline
/// `allOf: [{$ref: TextFrame}, {type: "text"}]`. openapi-python-client cannot resolve a `$ref`
/// inside an inline `allOf` of a union and drops the whole schema with a warning. So each
/// variant becomes a component of its own (`TextClientFrame`, `TypingClientFrame`,
/// `JoinClientFrame`, `LeaveClientFrame`: the same `allOf`, plus a description and an example),
/// and `ClientFrame` a `oneOf` of references to them with a `type` discriminator. The shape on
/// the wire is unchanged: it is still derived from the serde attributes of `ClientFrame`.
struct NamedClientFrames;

impl Modify for NamedClientFrames {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let schemas = &mut components.schemas;
        let Some(RefOr::T(Schema::OneOf(client_frame))) = schemas.get("ClientFrame") else {
            return;
        };
        let mut named = Vec::new();
        let mut items = Vec::new();
        let mut mapping = BTreeMap::new();
        for item in &client_frame.items {
            let RefOr::T(Schema::AllOf(variant)) = item else {
                items.push(item.clone());
                continue;
            };
            let (Some(body), Some(tag)) = (variant_body(&variant.items), variant_tag(&variant.items)) else {
                items.push(item.clone());
                continue;
            };
            let name = format!("{}ClientFrame", capitalised(&tag));
            let reference = format!("#/components/schemas/{name}");
            let mut variant = variant.clone();
            describe_tag(&mut variant.items, &tag);
            variant.description = Some(format!(
                "A `{tag}` client frame: the fields of `{body}` plus `\"type\": \"{tag}\"`."
            ));
            variant.example = body_example(schemas, &body).map(|mut example| {
                example.insert("type".into(), tag.clone().into());
                example.into()
            });
            mapping.insert(tag, reference.clone());
            items.push(RefOr::Ref(Ref::new(reference)));
            named.push((name, RefOr::T(Schema::AllOf(variant))));
        }
        if let Some(RefOr::T(Schema::OneOf(client_frame))) = schemas.get_mut("ClientFrame") {
            client_frame.items = items;
            client_frame.discriminator = Some(Discriminator::with_mapping("type", mapping));
        }
        schemas.extend(named);
    }
}

/// The component a variant's `allOf` refers to (`TextFrame` for `text`).
fn variant_body(items: &[RefOr<Schema>]) -> Option<String> {
    items.iter().find_map(|item| match item {
        RefOr::Ref(r) => r.ref_location.rsplit('/').next().map(str::to_owned),
        RefOr::T(_) => None,
    })
}

/// The single value of the `type` property a variant's `allOf` adds (`text`).
fn variant_tag(items: &[RefOr<Schema>]) -> Option<String> {
    items.iter().find_map(|item| {
        let RefOr::T(Schema::Object(object)) = item else {
            return None;
        };
        let RefOr::T(Schema::Object(tag)) = object.properties.get("type")? else {
            return None;
        };
        match tag.enum_values.as_deref()? {
            [serde_json::Value::String(tag)] => Some(tag.clone()),
            _ => None,
        }
    })
}

/// Gives the `type` property a variant's `allOf` adds a description and an example.
fn describe_tag(items: &mut [RefOr<Schema>], tag: &str) {
    for item in items {
        if let RefOr::T(Schema::Object(object)) = item
            && let Some(RefOr::T(Schema::Object(property))) = object.properties.get_mut("type")
        {
            property.description = Some(format!("Always `{tag}`."));
            #[allow(deprecated)]
            {
                property.example = Some(tag.into());
            }
        }
    }
}

/// The example of component `name`, when it is a JSON object.
fn body_example(
    schemas: &BTreeMap<String, RefOr<Schema>>,
    name: &str,
) -> Option<serde_json::Map<String, serde_json::Value>> {
    let RefOr::T(Schema::Object(object)) = schemas.get(name)? else {
        return None;
    };
    #[allow(deprecated)]
    let example = object
        .example
        .clone()
        .or_else(|| object.examples.first().cloned())?;
    match example {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    }
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

pub fn routes() -> BoxedFilter<(Response,)> {
    let spec = super::routes::OPENAPI
        .path0()
        .and(warp::get())
        .map(|| warp::reply::json(&ApiDoc::openapi()).into_response());
    let config = Arc::new(Config::from("/openapi.json"));
    // Swagger UI's assets use relative paths, so `/docs` must become `/docs/`.
    let ui = super::routes::DOCS
        .path0()
        .and(warp::path("docs"))
        .and(warp::get())
        .and(warp::path::full())
        .and(warp::path::tail())
        .and(warp::any().map(move || config.clone()))
        .map(|full: FullPath, tail: Tail, config| {
            if full.as_str() == "/docs" {
                warp::redirect::see_other(Uri::from_static("/docs/")).into_response()
            } else {
                swagger(tail, config)
            }
        });
    spec.or(ui).unify().boxed()
}

fn swagger(tail: Tail, config: Arc<Config<'static>>) -> Response {
    match utoipa_swagger_ui::serve(tail.as_str(), config) {
        Ok(Some(file)) => {
            let mut resp = Response::new(file.bytes.into_owned().into());
            if let Ok(v) = file.content_type.parse() {
                resp.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            resp
        }
        Ok(None) => crate::error::ApiError::NotFound("Not Found").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "swagger ui");
            warp::reply::with_status(warp::reply(), StatusCode::INTERNAL_SERVER_ERROR).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn spec() -> Value {
        serde_json::to_value(ApiDoc::openapi()).unwrap()
    }

    /// What generated clients turn into docstrings and sample data.
    #[test]
    fn every_schema_has_a_description_and_an_example() {
        let spec = spec();
        for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
            assert!(schema["description"].is_string(), "{name} has no description");
            assert!(
                !schema["example"].is_null() || schema["examples"].is_array(),
                "{name} has no example"
            );
        }
    }

    /// Generated clients parse every 4xx and 5xx body as the typed `Detail`.
    #[test]
    fn every_error_response_is_a_detail() {
        let spec = spec();
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for (status, resp) in op["responses"].as_object().unwrap() {
                    if status.starts_with('4') || status.starts_with('5') {
                        assert_eq!(
                            resp["content"]["application/json"]["schema"]["$ref"],
                            "#/components/schemas/Detail",
                            "{method} {path} {status}"
                        );
                    }
                }
            }
        }
    }

    /// `ClientFrame` is a `oneOf` of named variants, told apart by `type`.
    #[test]
    fn client_frame_is_a_discriminated_union_of_named_variants() {
        let spec = spec();
        let schemas = &spec["components"]["schemas"];
        let frame = &schemas["ClientFrame"];
        let mapping = frame["discriminator"]["mapping"].as_object().unwrap();
        let want = [
            ("text", "TextClientFrame", "TextFrame"),
            ("typing", "TypingClientFrame", "TypingFrame"),
            ("join", "JoinClientFrame", "RoomFrame"),
            ("leave", "LeaveClientFrame", "RoomFrame"),
            ("resume", "ResumeClientFrame", "ResumeFrame"),
            ("read", "ReadClientFrame", "ReadFrame"),
        ];
        assert_eq!(frame["discriminator"]["propertyName"], "type");
        assert_eq!(mapping.len(), want.len());
        for (i, (tag, name, body)) in want.into_iter().enumerate() {
            let reference = format!("#/components/schemas/{name}");
            assert_eq!(mapping[tag], reference.as_str());
            assert_eq!(frame["oneOf"][i]["$ref"], reference.as_str());
            let variant = &schemas[name]["allOf"];
            assert_eq!(
                variant[0]["$ref"],
                format!("#/components/schemas/{body}").as_str()
            );
            assert_eq!(variant[1]["properties"]["type"]["enum"], serde_json::json!([tag]));
            assert_eq!(schemas[name]["example"]["type"], tag);
        }
    }
}
