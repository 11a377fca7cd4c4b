//! The contract test: every answer the suite receives is checked against the OpenAPI
//! document. The operation (method and path template) must document the status, the
//! headers it promises must be there, the content type must be one it declares, and a JSON
//! body must match the declared schema.
//! A field the server sends that the document gets wrong fails the test that received it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Value};

use super::Reply;

struct Contract {
    document: Value,
    /// Compiled validators by (method, path template, status, content type).
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| Contract {
        document: serde_json::to_value(pingyi::openapi::document()).expect("document as JSON"),
        validators: Mutex::new(HashMap::new()),
    })
}

/// The path template of the document that `path` (without its query) matches.
fn template_for<'a>(paths: &'a serde_json::Map<String, Value>, path: &str) -> Option<&'a str> {
    let segments: Vec<&str> = path.split('/').collect();
    paths.keys().map(String::as_str).find(|template| {
        let parts: Vec<&str> = template.split('/').collect();
        parts.len() == segments.len()
            && parts.iter().zip(&segments).all(|(part, segment)| {
                (part.starts_with('{') && !segment.is_empty()) || part == segment
            })
    })
}

/// Checks one answer against the document. Requests to paths or methods the document does
/// not describe (the fallback's 404 and 405, `/docs`) are not its business.
#[track_caller]
pub fn check(method: &str, path_and_query: &str, reply: &Reply) {
    let contract = contract();
    let path = path_and_query.split('?').next().unwrap_or_default();
    let Some(paths) = contract.document["paths"].as_object() else {
        return;
    };
    let Some(template) = template_for(paths, path) else {
        return;
    };
    let method = method.to_ascii_lowercase();
    let Some(operation) = paths[template].get(&method) else {
        return;
    };
    let status = reply.status.as_u16().to_string();
    let Some(response) = operation["responses"].get(&status) else {
        panic!(
            "{} {template} answered {status}, which the document does not list (body: {})",
            method.to_uppercase(),
            reply.text
        );
    };
    // Every header the document promises for this answer is sent.
    for header in response["headers"]
        .as_object()
        .into_iter()
        .flat_map(|h| h.keys())
    {
        assert!(
            reply.header(header).is_some(),
            "{} {template} {status}: the document promises a {header} header; the server sent none",
            method.to_uppercase()
        );
    }
    let Some(content) = response.get("content").and_then(Value::as_object) else {
        assert!(
            reply.text.is_empty(),
            "{} {template} {status}: the document declares no body, the server sent {}",
            method.to_uppercase(),
            reply.text
        );
        return;
    };
    let content_type = reply
        .content_type()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let essence = |declared: &str| {
        declared
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let Some(media) = content
        .iter()
        .find(|(declared, _)| essence(declared) == content_type)
        .map(|(_, media)| media)
    else {
        panic!(
            "{} {template} {status}: content type {content_type:?} is not declared (declared: {:?})",
            method.to_uppercase(),
            content.keys().collect::<Vec<_>>()
        );
    };
    if !content_type.ends_with("json") {
        return;
    }
    let key = format!("{method} {template} {status} {content_type}");
    let validator = {
        let mut validators = contract
            .validators
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        validators
            .entry(key.clone())
            .or_insert_with(|| {
                // The schema with the document's components beside it, so that
                // `#/components/schemas/...` references resolve inside it.
                let schema = json!({
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "allOf": [media["schema"].clone()],
                    "components": contract.document["components"].clone(),
                });
                Arc::new(jsonschema::validator_for(&schema).unwrap_or_else(|e| {
                    panic!("{key}: the document's schema does not compile: {e}")
                }))
            })
            .clone()
    };
    let body: Value = serde_json::from_str(&reply.text)
        .unwrap_or_else(|e| panic!("{key}: the body is not JSON ({e}): {}", reply.text));
    let errors: Vec<String> = validator
        .iter_errors(&body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{key}: the body does not match the document:\n  {}\nbody: {}",
        errors.join("\n  "),
        reply.text
    );
}
