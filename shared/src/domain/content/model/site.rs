//! Sites: a branded site's name, Confluence spaces, custom domains, theme, home layout and audience.

use serde::{Deserialize, Serialize};

use crate::kernel::error::Result;

use super::bounds::{self, invalid};
use super::{ContentModel, MAX_DOCUMENT_BYTES, check_size};

pub const MAX_NAME_CHARS: usize = 120;
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
/// Every space widens each search of the site (one CQL `space in (...)` clause); 200 is generous for a
/// site and keeps that clause short.
pub const MAX_SPACES: usize = 200;
/// Each custom domain needs a certificate and a DNS check; 10 covers a main domain and aliases.
pub const MAX_CUSTOM_DOMAINS: usize = 10;
/// Every visitor of a restricted site is checked against these groups; 50 keeps that check cheap.
pub const MAX_RESTRICTED_GROUPS: usize = 50;
pub const MAX_GROUP_NAME_CHARS: usize = 255;
/// Atlassian group ids are UUIDs (36 characters); 128 leaves room without inviting documents.
pub const MAX_GROUP_ID_CHARS: usize = 128;

/// Who may see a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Anyone, logged in or not.
    Public,
    /// Users with a license for the Atlassian product.
    Licensed,
    /// Members of `restrictedToGroups`.
    Restricted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Site {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Confluence space keys.
    #[serde(default)]
    pub spaces: Vec<String>,
    /// Lowercase host names.
    #[serde(default)]
    pub custom_domains: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_layout_id: Option<String>,
    pub visibility: Visibility,
    /// The groups whose members see a `restricted` site, by Atlassian group id.
    #[serde(default)]
    pub restricted_to_groups: Vec<GroupRef>,
}

/// One group of a restricted site: Atlassian's group id, which is what membership is matched
/// by, and a display name for people (kept as the admin gave it; never matched).
///
/// An entry stored before groups were kept by id is a plain string; it reads as a name-only
/// entry (`{"name": "…"}`), which matches a group of that name (or of that id, since such an
/// entry may have held either) until an administrator gives the group's id. A write may keep the
/// name-only entries a site already has, but every new entry needs its id
/// (`sites::check_new_groups`): Atlassian is retiring group names from its APIs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupRef {
    /// Atlassian's group id (`groupId`); absent only on an entry stored by name before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The group's display name, for the console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl GroupRef {
    pub fn by_id(id: &str, name: Option<&str>) -> Self {
        Self { id: Some(id.to_owned()), name: name.map(str::to_owned) }
    }

    /// An entry stored before groups were kept by id: a name only.
    pub fn legacy(name: &str) -> Self {
        Self { id: None, name: Some(name.to_owned()) }
    }

    /// What tells two entries apart: the id, or the name of a name-only entry (case aside).
    pub fn key(&self) -> String {
        match (&self.id, &self.name) {
            (Some(id), _) => format!("id:{id}"),
            (None, name) => format!("name:{}", name.as_deref().unwrap_or_default().to_lowercase()),
        }
    }
}

impl<'de> Deserialize<'de> for GroupRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        struct Entry {
            #[serde(default)]
            id: Option<String>,
            #[serde(default)]
            name: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Legacy(String),
            Entry(Entry),
        }
        match Stored::deserialize(deserializer).map_err(|_| {
            serde::de::Error::custom("a group is {\"id\": \"<Atlassian group id>\", \"name\": \"<display name>\"}")
        })? {
            Stored::Legacy(name) => Ok(Self::legacy(&name)),
            Stored::Entry(Entry { id, name }) => Ok(Self { id, name }),
        }
    }
}

impl Site {
    /// Distinct space keys, for the usage counters (personal spaces count like any other).
    pub fn counted_spaces(&self) -> usize {
        self.spaces.iter().collect::<std::collections::HashSet<_>>().len()
    }

    /// Distinct custom domains, for the usage counters.
    pub fn custom_domain_count(&self) -> usize {
        self.custom_domains.iter().map(|d| d.to_ascii_lowercase()).collect::<std::collections::HashSet<_>>().len()
    }
}

/// An Atlassian group id: 1-128 of letters, digits, `-`, `_` and `:` (a UUID in practice).
fn group_id(path: &str, id: &str) -> Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':');
    if id.is_empty() || id.len() > MAX_GROUP_ID_CHARS || !id.chars().all(allowed) {
        return Err(invalid(path, "not an Atlassian group id (its groupId, e.g. 6c1f0a52-9d3e-4b7a-8f21-…)"));
    }
    Ok(())
}

impl ContentModel for Site {
    const KIND: &'static str = "site";
    /// Which groups open a restricted site is the administrators' business.
    const ADMIN_ONLY_FIELDS: &'static [&'static str] = &["restrictedToGroups"];

    fn validate(&self) -> Result<()> {
        check_size(Self::KIND, self, MAX_DOCUMENT_BYTES)?;
        bounds::required_text("name", &self.name, MAX_NAME_CHARS)?;
        if let Some(description) = &self.description {
            bounds::multi_line("description", description, MAX_DESCRIPTION_CHARS)?;
        }

        bounds::list_len("spaces", self.spaces.len(), 0, MAX_SPACES)?;
        for (i, key) in self.spaces.iter().enumerate() {
            bounds::space_key(&format!("spaces[{i}]"), key)?;
        }
        bounds::unique("spaces", self.spaces.iter())?;

        bounds::list_len("customDomains", self.custom_domains.len(), 0, MAX_CUSTOM_DOMAINS)?;
        for (i, domain) in self.custom_domains.iter().enumerate() {
            bounds::hostname(&format!("customDomains[{i}]"), domain)?;
        }
        bounds::unique("customDomains", self.custom_domains.iter().map(|d| d.to_ascii_lowercase()))?;

        if let Some(id) = &self.theme_id {
            bounds::content_id("themeId", id)?;
        }
        if let Some(id) = &self.home_layout_id {
            bounds::content_id("homeLayoutId", id)?;
        }

        let groups = &self.restricted_to_groups;
        match self.visibility {
            Visibility::Restricted if groups.is_empty() => {
                return Err(invalid("restrictedToGroups", "empty; a restricted site needs at least one group"));
            }
            Visibility::Restricted => {}
            Visibility::Public | Visibility::Licensed if !groups.is_empty() => {
                return Err(invalid("restrictedToGroups", "must be empty unless visibility is restricted"));
            }
            Visibility::Public | Visibility::Licensed => {}
        }
        bounds::list_len("restrictedToGroups", groups.len(), 0, MAX_RESTRICTED_GROUPS)?;
        for (i, group) in groups.iter().enumerate() {
            match (&group.id, &group.name) {
                (None, None) => {
                    return Err(invalid(&format!("restrictedToGroups[{i}].id"), "missing; give the group's id"));
                }
                (Some(id), _) => group_id(&format!("restrictedToGroups[{i}].id"), id)?,
                (None, Some(_)) => {}
            }
            if let Some(name) = &group.name {
                bounds::required_text(&format!("restrictedToGroups[{i}].name"), name, MAX_GROUP_NAME_CHARS)?;
            }
        }
        bounds::unique("restrictedToGroups", groups.iter().map(GroupRef::key))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::kernel::error::Error;

    fn full() -> serde_json::Value {
        json!({
            "name": "Help Center",
            "description": "Everything about our product.\nUpdated weekly.",
            "spaces": ["DOCS", "KB", "~557058:f0f3e6a4-1a2b-4c3d-9e8f-0a1b2c3d4e5f"],
            "customDomains": ["help.example.com", "docs.example.co.uk"],
            "themeId": "01HZX3K8Q9V7W2N4M6P8R0T2Y4",
            "homeLayoutId": "01HZX3K8Q9V7W2N4M6P8R0T2Y5",
            "visibility": "restricted",
            "restrictedToGroups": [
                {"id": "0f8fad5b-d9cb-469f-a165-70867728950e", "name": "customers"},
                {"id": "7c9e6679-7425-40de-944b-e07fc1f90ae7"}
            ]
        })
    }

    fn parse(value: serde_json::Value) -> Site {
        serde_json::from_value(value).unwrap()
    }

    fn invalid_message(site: &Site) -> String {
        match site.validate() {
            Err(Error::Invalid { code: "invalid_field", message }) => message,
            other => panic!("expected invalid_field, got {other:?}"),
        }
    }

    #[test]
    fn full_example_round_trips_and_is_valid() {
        let site = parse(full());
        site.validate().unwrap();
        assert_eq!(serde_json::to_value(&site).unwrap(), full());
        assert_eq!(site.counted_spaces(), 3);
        assert_eq!(site.custom_domain_count(), 2);
        assert!(site.media_ids().is_empty());
        assert_eq!(Site::KIND, "site");
    }

    #[test]
    fn minimal_example_fills_defaults() {
        let site = parse(json!({"name": "S", "visibility": "public"}));
        site.validate().unwrap();
        assert_eq!(
            serde_json::to_value(&site).unwrap(),
            json!({"name": "S", "visibility": "public", "spaces": [], "customDomains": [], "restrictedToGroups": []})
        );
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_refused() {
        let mut value = full();
        value["colour"] = json!("red");
        let err = serde_json::from_value::<Site>(value).unwrap_err().to_string();
        assert!(err.contains("unknown field `colour`"), "{err}");
        let mut value = full();
        value["spaces"] = json!("DOCS");
        assert!(serde_json::from_value::<Site>(value).unwrap_err().to_string().contains("invalid type"));
        let mut value = full();
        value["visibility"] = json!("secret");
        assert!(serde_json::from_value::<Site>(value).unwrap_err().to_string().contains("unknown variant `secret`"));
        assert!(serde_json::from_value::<Site>(json!({"name": "S"})).unwrap_err().to_string().contains("visibility"));
    }

    #[test]
    fn name_and_description_bounds() {
        let mut site = parse(full());
        site.name = "n".repeat(MAX_NAME_CHARS);
        site.validate().unwrap();
        site.name.push('n');
        assert_eq!(invalid_message(&site), "name: longer than 120 characters");
        site.name = " ".into();
        assert_eq!(invalid_message(&site), "name: empty");
        let mut site = parse(full());
        site.description = Some("d".repeat(MAX_DESCRIPTION_CHARS));
        site.validate().unwrap();
        site.description = Some("d".repeat(MAX_DESCRIPTION_CHARS + 1));
        assert_eq!(invalid_message(&site), "description: longer than 1000 characters");
    }

    #[test]
    fn spaces_bounds() {
        let mut site = parse(full());
        site.spaces = (0..MAX_SPACES).map(|i| format!("S{i}")).collect();
        site.validate().unwrap();
        site.spaces.push("EXTRA".into());
        assert_eq!(invalid_message(&site), "spaces: more than 200 items");
        site.spaces = vec!["DOCS".into(), "KB".into(), "DOCS".into()];
        assert_eq!(invalid_message(&site), "spaces[2]: duplicate of spaces[0]");
        site.spaces = vec!["MY SPACE".into()];
        assert!(invalid_message(&site).starts_with("spaces[0]: not a space key"));
    }

    #[test]
    fn custom_domains_are_lowercase_host_names() {
        let mut site = parse(full());
        site.custom_domains = vec!["help.example.com".into(), "Help.Example.com".into()];
        assert_eq!(invalid_message(&site), "customDomains[1]: has uppercase letters; write the domain in lowercase");
        site.custom_domains = vec!["help.example.com".into(), "help.example.com".into()];
        assert_eq!(invalid_message(&site), "customDomains[1]: duplicate of customDomains[0]");
        for bad in ["localhost", "https://help.example.com", "help.example.com/", "-a.example.com", "a..b", "1.2.3.4"] {
            site.custom_domains = vec![bad.into()];
            assert!(invalid_message(&site).starts_with("customDomains[0]: "), "{bad}");
        }
        site.custom_domains = (0..MAX_CUSTOM_DOMAINS).map(|i| format!("d{i}.example.com")).collect();
        site.validate().unwrap();
        site.custom_domains.push("extra.example.com".into());
        assert_eq!(invalid_message(&site), "customDomains: more than 10 items");
    }

    #[test]
    fn referenced_ids_are_content_ids() {
        let mut site = parse(full());
        site.theme_id = Some("../etc".into());
        assert!(invalid_message(&site).starts_with("themeId: not an id"));
        let mut site = parse(full());
        site.home_layout_id = Some(String::new());
        assert!(invalid_message(&site).starts_with("homeLayoutId: not an id"));
    }

    #[test]
    fn groups_only_for_restricted_sites() {
        let mut site = parse(full());
        site.visibility = Visibility::Public;
        assert_eq!(invalid_message(&site), "restrictedToGroups: must be empty unless visibility is restricted");
        site.visibility = Visibility::Licensed;
        assert!(site.validate().is_err());
        site.restricted_to_groups.clear();
        site.validate().unwrap();
        site.visibility = Visibility::Restricted;
        assert_eq!(invalid_message(&site), "restrictedToGroups: empty; a restricted site needs at least one group");
        site.restricted_to_groups =
            (0..MAX_RESTRICTED_GROUPS).map(|i| GroupRef::by_id(&format!("g{i}"), None)).collect();
        site.validate().unwrap();
        site.restricted_to_groups.push(GroupRef::by_id("one-more", None));
        assert_eq!(invalid_message(&site), "restrictedToGroups: more than 50 items");
        site.restricted_to_groups = vec![GroupRef::by_id("g", Some(&"n".repeat(MAX_GROUP_NAME_CHARS + 1)))];
        assert_eq!(invalid_message(&site), "restrictedToGroups[0].name: longer than 255 characters");
    }

    #[test]
    fn groups_are_ids_with_an_optional_name() {
        let mut site = parse(full());
        site.restricted_to_groups = vec![GroupRef::by_id(&"a".repeat(MAX_GROUP_ID_CHARS), Some("Execs"))];
        site.validate().unwrap();
        for bad in ["a".repeat(MAX_GROUP_ID_CHARS + 1), String::new(), "execs team".into(), "../x".into()] {
            site.restricted_to_groups = vec![GroupRef::by_id(&bad, None)];
            assert!(invalid_message(&site).starts_with("restrictedToGroups[0].id: not an Atlassian group id"), "{bad}");
        }
        site.restricted_to_groups = vec![GroupRef { id: None, name: None }];
        assert_eq!(invalid_message(&site), "restrictedToGroups[0].id: missing; give the group's id");
        site.restricted_to_groups = vec![GroupRef::by_id("g1", Some("A")), GroupRef::by_id("g1", Some("B"))];
        assert_eq!(invalid_message(&site), "restrictedToGroups[1]: duplicate of restrictedToGroups[0]");
        site.restricted_to_groups = vec![GroupRef::legacy("Execs"), GroupRef::legacy("execs")];
        assert_eq!(invalid_message(&site), "restrictedToGroups[1]: duplicate of restrictedToGroups[0]");
        let refused = serde_json::from_value::<Site>(
            json!({"name": "S", "visibility": "restricted", "restrictedToGroups": [{"id": "g", "nme": "x"}]}),
        );
        assert!(refused.unwrap_err().to_string().contains("a group is {\"id\""));
    }

    #[test]
    fn a_group_stored_as_a_plain_string_reads_as_a_name_only_entry() {
        let site =
            parse(json!({"name": "S", "visibility": "restricted", "restrictedToGroups": ["execs", {"id": "g1"}]}));
        assert_eq!(site.restricted_to_groups, [GroupRef::legacy("execs"), GroupRef::by_id("g1", None)]);
        site.validate().unwrap();
        assert_eq!(
            serde_json::to_value(&site).unwrap()["restrictedToGroups"],
            json!([{"name": "execs"}, {"id": "g1"}])
        );
    }

    #[test]
    fn counters_count_distinct_values() {
        let mut site = parse(full());
        site.spaces = vec!["A".into(), "A".into(), "B".into()];
        site.custom_domains = vec!["a.example.com".into(), "A.example.com".into()];
        assert_eq!(site.counted_spaces(), 2);
        assert_eq!(site.custom_domain_count(), 1);
    }
}
