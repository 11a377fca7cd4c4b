use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::{ApiError, ErrorCode};

/// Every documented route and its methods, taken from the OpenAPI document, so that the
/// fallback can tell an unknown path (404) from a known path with the wrong method (405).
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<(Vec<Segment>, Vec<String>)>,
}

#[derive(Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param,
}

impl RouteTable {
    pub fn from_openapi(doc: &utoipa::openapi::OpenApi) -> Self {
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let segments = split(path)
                    .map(|s| {
                        if s.starts_with('{') && s.ends_with('}') {
                            Segment::Param
                        } else {
                            Segment::Literal(s.to_owned())
                        }
                    })
                    .collect();
                let mut methods: Vec<String> = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter(|(_, present)| *present)
                .map(|(m, _)| m.to_owned())
                .collect();
                if methods.iter().any(|m| m == "GET") {
                    methods.push("HEAD".into());
                }
                (segments, methods)
            })
            .collect();
        Self { routes }
    }

    /// The methods a path allows, or `None` when no route has that shape. A literal
    /// segment wins over a parameter: `/rectifications/summary` is that route, not an item
    /// whose id is `summary`.
    pub fn allowed_methods(&self, path: &str) -> Option<Vec<String>> {
        let parts: Vec<&str> = split(path).collect();
        let mut allowed: Vec<String> = Vec::new();
        let mut fewest_params = usize::MAX;
        for (segments, methods) in &self.routes {
            let matches = segments.len() == parts.len()
                && segments.iter().zip(&parts).all(|(seg, part)| match seg {
                    Segment::Param => !part.is_empty(),
                    Segment::Literal(lit) => lit == part,
                });
            if !matches {
                continue;
            }
            let params = segments.iter().filter(|s| **s == Segment::Param).count();
            if params < fewest_params {
                fewest_params = params;
                allowed.clear();
            }
            if params == fewest_params {
                allowed.extend(methods.iter().cloned());
            }
        }
        (!allowed.is_empty()).then(|| {
            allowed.sort();
            allowed.dedup();
            allowed
        })
    }
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.trim_matches('/').split('/').filter(|s| !s.is_empty())
}

/// The default service: 405 with `Allow` for a known path, 404 for anything else.
pub async fn fallback(
    req: HttpRequest,
    table: web::Data<RouteTable>,
) -> Result<HttpResponse, ApiError> {
    Err(match table.allowed_methods(req.path()) {
        Some(methods) if !methods.iter().any(|m| m == req.method().as_str()) => ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::MethodNotAllowed,
            format!(
                "{} is not allowed here; use {}.",
                req.method(),
                methods.join(", ")
            ),
        )
        .with_allow(methods.join(", ")),
        _ if req.method() == Method::OPTIONS => ApiError::not_found(),
        _ => ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("There is no route {}.", req.path()),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, PathsBuilder};
    use utoipa::openapi::OpenApiBuilder;

    /// A route table of these documented paths, each with one method.
    fn table(routes: &[(&str, HttpMethod)]) -> RouteTable {
        let paths = routes
            .iter()
            .fold(PathsBuilder::new(), |paths, (path, method)| {
                paths.path(
                    *path,
                    PathItem::new(method.clone(), OperationBuilder::new()),
                )
            })
            .build();
        RouteTable::from_openapi(&OpenApiBuilder::new().paths(paths).build())
    }

    #[test]
    fn tells_unknown_paths_from_wrong_methods() {
        let table = table(&[
            ("/api/v1/orgs/{id}", HttpMethod::Get),
            ("/api/v1/orgs", HttpMethod::Post),
        ]);
        assert_eq!(
            table.allowed_methods("/api/v1/orgs/7"),
            Some(vec!["GET".to_string(), "HEAD".to_string()])
        );
        assert_eq!(
            table.allowed_methods("/api/v1/orgs/"),
            Some(vec!["POST".to_string()])
        );
        assert_eq!(table.allowed_methods("/api/v1/orgs/7/x"), None);
        assert_eq!(table.allowed_methods("/nope"), None);
    }

    #[test]
    fn a_literal_segment_wins_over_a_parameter() {
        let table = table(&[
            ("/api/v1/items/{id}", HttpMethod::Patch),
            ("/api/v1/items/summary", HttpMethod::Get),
        ]);
        assert_eq!(
            table.allowed_methods("/api/v1/items/summary"),
            Some(vec!["GET".to_string(), "HEAD".to_string()])
        );
        assert_eq!(
            table.allowed_methods("/api/v1/items/3"),
            Some(vec!["PATCH".to_string()])
        );
    }
}
