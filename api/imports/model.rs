use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::FieldError;

#[derive(Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"created": 12, "updated": 1, "unchanged": 30, "dry_run": false, "errors": []}))]
pub struct ImportReport {
    pub created: u32,
    pub updated: u32,
    /// Rows identical to what is stored.
    pub unchanged: u32,
    /// True when nothing was written because `dry_run=true` was asked.
    pub dry_run: bool,
    /// Always empty in a 200 answer; a file with errors answers 422 with them.
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Check and count, write nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Answer when the import is finished even when it is large or `Prefer: respond-async`
    /// was sent (otherwise such an import answers 202 with its job).
    #[serde(default)]
    pub wait: bool,
}
