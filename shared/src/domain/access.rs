//! Site access: who may see a site, and what of its records they see.
//!
//! - `public`: any caller with a valid token of the tenant, anonymous visitors included;
//! - `licensed`: a signed-in user;
//! - `restricted`: a signed-in member of one of the site's groups;
//! - a site administrator sees every site, with full records.
//!
//! A caller who may not see a site gets the answer of a site that does not exist
//! ([`hidden`]): the same status and the same bytes. Group membership comes from the product
//! (`adapters::groups`) and is never stored; these rules are pure so they are tested alone.

use std::collections::HashSet;

use serde::Serialize;

use crate::domain::content::model::ContentModel;
use crate::domain::content::model::site::{GroupRef, Site, Visibility};
use crate::domain::records::{Stored, not_found};
use crate::kernel::clock::rfc3339;
use crate::kernel::error::Error;

/// One group the product says an account belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductGroup {
    /// Atlassian's group id; a product that answers none leaves it out.
    pub id: Option<String>,
    pub name: String,
}

/// The groups of one account in one tenant's site, as the product answered.
#[derive(Debug, Default)]
pub struct Membership {
    ids: HashSet<String>,
    /// Lowercase: Atlassian group names are case-insensitive.
    names: HashSet<String>,
}

impl Membership {
    pub fn new(groups: impl IntoIterator<Item = ProductGroup>) -> Self {
        let mut membership = Self::default();
        for group in groups {
            if let Some(id) = group.id {
                membership.ids.insert(id);
            }
            membership.names.insert(group.name.to_lowercase());
        }
        membership
    }

    /// Whether the account is in a group of `site`.
    pub fn opens(&self, site: &Site) -> bool {
        site.restricted_to_groups.iter().any(|group| self.contains(group))
    }

    /// A site's group entry matches by its id alone (its display name is for people). A
    /// name-only entry, stored before groups were kept by id, matches a group of that name, or
    /// of that id since such an entry may have held either (see `docs/ACCESS.md`).
    pub fn contains(&self, group: &GroupRef) -> bool {
        match (&group.id, &group.name) {
            (Some(id), _) => self.ids.contains(id),
            (None, Some(name)) => self.ids.contains(name) || self.names.contains(&name.to_lowercase()),
            (None, None) => false,
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len().max(self.names.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a caller sees of the records of a site it may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// A site administrator: full records.
    Admin,
    /// Anyone else: what rendering needs (`view`).
    Visitor { signed_in: bool },
}

impl View {
    pub fn is_admin(self) -> bool {
        self == Self::Admin
    }

    pub fn signed_in(self) -> bool {
        match self {
            Self::Admin => true,
            Self::Visitor { signed_in } => signed_in,
        }
    }

    /// Whether this caller is shown `item` at all at `now_secs`: an administrator every item, a
    /// visitor what is live for them (an announcement in its window and audience, a promoted
    /// search in its window). Anything else is, to the visitor, an item that does not exist.
    pub fn shows<M: ContentModel>(self, item: &M, now_secs: i64) -> bool {
        self.is_admin() || item.shown_to_visitor(self.signed_in(), now_secs)
    }

    /// `stored` as this caller sees it (see [`Seen`]).
    pub fn sees<M>(self, stored: &Stored<M>) -> Seen<'_, M> {
        Seen { stored, view: self, version: true }
    }
}

/// A stored item as a [`View`] sees it. An administrator gets the whole record; a visitor gets
/// what rendering needs: the id, the version (the item's own `ETag`), when it changed and the
/// model's fields, without the editor's accountId (`updatedBy`) and without the model's
/// [`ContentModel::ADMIN_ONLY_FIELDS`] (a site's groups).
pub struct Seen<'a, M> {
    stored: &'a Stored<M>,
    view: View,
    version: bool,
}

impl<M> Seen<'_, M> {
    /// Without the version for a visitor: inside an answer about another item (the site config),
    /// where the versions of the parts are the administrators' business.
    pub fn without_version(mut self) -> Self {
        self.version = self.view.is_admin();
        self
    }
}

impl<M: ContentModel> Serialize for Seen<'_, M> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Visitor<'a, D> {
            id: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            version: Option<u64>,
            updated_at: String,
            #[serde(flatten)]
            data: D,
        }
        let stored = self.stored;
        if self.view.is_admin() {
            return stored.serialize(serializer);
        }
        let (id, version, updated_at) =
            (&*stored.id, self.version.then_some(stored.version), rfc3339(stored.updated_at));
        if M::ADMIN_ONLY_FIELDS.is_empty() {
            return Visitor { id, version, updated_at, data: &stored.data }.serialize(serializer);
        }
        let mut data = serde_json::to_value(&stored.data).map_err(serde::ser::Error::custom)?;
        if let Some(fields) = data.as_object_mut() {
            for field in M::ADMIN_ONLY_FIELDS {
                fields.remove(*field);
            }
        }
        Visitor { id, version, updated_at, data }.serialize(serializer)
    }
}

/// What is needed beyond the token to decide whether a non-admin caller sees a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Decided: visible as a visitor.
    Visible,
    /// Decided: not visible.
    Hidden,
    /// The caller's groups in the product.
    Membership,
}

/// The rule for a caller who is not (or not known to be) an administrator.
pub fn needs(visibility: Visibility, signed_in: bool) -> Needs {
    match (visibility, signed_in) {
        (Visibility::Public, _) | (Visibility::Licensed, true) => Needs::Visible,
        (Visibility::Licensed | Visibility::Restricted, false) => Needs::Hidden,
        (Visibility::Restricted, true) => Needs::Membership,
    }
}

/// The answer to a caller who may not see a site: exactly a missing site's.
pub fn hidden() -> Error {
    not_found("site")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(visibility: Visibility, groups: &[&str]) -> Site {
        Site {
            name: "S".into(),
            description: None,
            spaces: Vec::new(),
            custom_domains: Vec::new(),
            theme_id: None,
            home_layout_id: None,
            visibility,
            restricted_to_groups: groups
                .iter()
                .map(|g| match g.strip_prefix("name:") {
                    Some(name) => GroupRef::legacy(name),
                    None => GroupRef::by_id(g, Some("Display name, never matched")),
                })
                .collect(),
        }
    }

    #[test]
    fn the_rules_by_visibility_and_sign_in() {
        assert_eq!(needs(Visibility::Public, false), Needs::Visible);
        assert_eq!(needs(Visibility::Public, true), Needs::Visible);
        assert_eq!(needs(Visibility::Licensed, false), Needs::Hidden);
        assert_eq!(needs(Visibility::Licensed, true), Needs::Visible);
        assert_eq!(needs(Visibility::Restricted, false), Needs::Hidden);
        assert_eq!(needs(Visibility::Restricted, true), Needs::Membership);
    }

    #[test]
    fn membership_matches_ids_exactly_and_names_without_case() {
        let member = Membership::new([
            ProductGroup { id: Some("a1b2-execs".into()), name: "Execs".into() },
            ProductGroup { id: None, name: "staff".into() },
        ]);
        assert!(member.opens(&site(Visibility::Restricted, &["a1b2-execs"])));
        assert!(member.opens(&site(Visibility::Restricted, &["other", "name:execs"])), "a legacy entry by name");
        assert!(member.opens(&site(Visibility::Restricted, &["name:STAFF"])));
        assert!(member.opens(&site(Visibility::Restricted, &["name:a1b2-execs"])), "a legacy entry holding an id");
        assert!(!member.opens(&site(Visibility::Restricted, &["execs"])), "an id entry never matches a name");
        assert!(!member.opens(&site(Visibility::Restricted, &["A1B2-EXECS"])), "ids are exact");
        assert!(!member.opens(&site(Visibility::Restricted, &["board", "name:board"])));
        assert!(!Membership::default().opens(&site(Visibility::Restricted, &["name:execs"])));
    }

    #[test]
    fn hidden_is_the_missing_site_answer() {
        let (a, b) = (hidden(), not_found("site"));
        assert_eq!((a.status(), a.code(), a.public_message()), (b.status(), b.code(), b.public_message()));
    }
}
