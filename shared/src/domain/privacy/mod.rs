//! Personal data: erasing what Canopy holds for an account in a tenant, and the per-tenant
//! reporting state. The scheduled reporting run that drives them is `jobs::privacy`.

pub mod editors;
pub mod state;

use super::data::Data;
use super::feedback;
use super::users;
use crate::kernel::error::Result;
use crate::kernel::tenant_key::TenantKey;

/// Everything Canopy erased for one account in one tenant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erasure {
    pub user_record: bool,
    pub contacts: u32,
    pub editor_items: u32,
}

/// Erases what Canopy holds for `account_id` in `tenant`: feedback contacts, the account as
/// editor of content, then the user record.
pub async fn erase_account(ctx: &Data, tenant: &TenantKey, account_id: &str) -> Result<Erasure> {
    let contacts = feedback::erase_contact(ctx, tenant, account_id).await?;
    let editor_items = editors::forget_editor(ctx, tenant, account_id).await?;
    let user_record = users::delete(ctx, tenant, account_id).await?;
    Ok(Erasure { user_record, contacts, editor_items })
}
