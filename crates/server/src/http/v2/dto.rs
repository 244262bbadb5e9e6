//! The JSON shapes of the `/v2` surface. A factor is shown as `/v1` shows it.

use crate::http::v1::dto::FactorView;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct UserMfaView {
    pub user_id: String,
    pub factors: Vec<FactorView>,
}

/// HelloJohn's per-tenant auth config (`/v2/admin/tenants/{id}/auth/config`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantAuthPatch {
    pub mfa_required: Option<bool>,
    pub mfa_methods: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct TenantAuthView {
    pub mfa_required: bool,
    pub mfa_methods: Vec<&'static str>,
}
