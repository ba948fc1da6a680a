//! Navigation: a site's menu tree (one per site) of pages, spaces, URLs and headings.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::kernel::error::Result;

use super::bounds::{self, invalid};
use super::{ContentModel, MAX_DOCUMENT_BYTES, check_size};

/// Top-level items are depth 1. Four levels is as deep as a menu stays usable.
pub const MAX_DEPTH: usize = 4;
/// Items in the whole tree: a site menu, not a sitemap.
pub const MAX_ITEMS: usize = 300;
pub const MAX_LABEL_CHARS: usize = 120;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Navigation {
    #[serde(default)]
    pub items: Vec<NavItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NavItem {
    /// Chosen by the client, unique within the whole tree.
    pub id: String,
    pub label: String,
    pub target: NavTarget,
    #[serde(default)]
    #[schema(no_recursion)]
    pub children: Vec<NavItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum NavTarget {
    #[schema(rename_all = "camelCase")]
    Page { page_id: String },
    #[schema(rename_all = "camelCase")]
    Space { space_key: String },
    #[schema(rename_all = "camelCase")]
    Url { url: String },
    /// A heading: a label that only groups its children.
    #[schema(rename_all = "camelCase")]
    None {},
}

impl Navigation {
    /// Every item, depth first in document order, without recursion.
    pub fn iter(&self) -> impl Iterator<Item = &NavItem> {
        let mut stack: Vec<&NavItem> = self.items.iter().rev().collect();
        std::iter::from_fn(move || {
            let item = stack.pop()?;
            stack.extend(item.children.iter().rev());
            Some(item)
        })
    }
}

impl ContentModel for Navigation {
    const KIND: &'static str = "navigation";

    /// Iterative, and the item count is checked before any per-item work.
    fn validate(&self) -> Result<()> {
        check_size(Self::KIND, self, MAX_DOCUMENT_BYTES)?;
        if self.iter().nth(MAX_ITEMS).is_some() {
            return Err(invalid("items", format_args!("more than {MAX_ITEMS} items in the tree")));
        }
        let mut ids = HashSet::new();
        let mut stack: Vec<(String, &NavItem, usize)> =
            self.items.iter().enumerate().rev().map(|(i, item)| (format!("items[{i}]"), item, 1)).collect();
        while let Some((path, item, depth)) = stack.pop() {
            if depth > MAX_DEPTH {
                return Err(invalid(&path, format_args!("nested deeper than {MAX_DEPTH} levels")));
            }
            bounds::content_id(&format!("{path}.id"), &item.id)?;
            if !ids.insert(item.id.as_str()) {
                return Err(invalid(&format!("{path}.id"), format_args!("duplicate id {}", item.id)));
            }
            bounds::required_text(&format!("{path}.label"), &item.label, MAX_LABEL_CHARS)?;
            match &item.target {
                NavTarget::Page { page_id } => bounds::page_id(&format!("{path}.target.pageId"), page_id)?,
                NavTarget::Space { space_key } => bounds::space_key(&format!("{path}.target.spaceKey"), space_key)?,
                NavTarget::Url { url } => bounds::http_url(&format!("{path}.target.url"), url)?,
                NavTarget::None {} => {}
            }
            stack.extend(
                item.children
                    .iter()
                    .enumerate()
                    .rev()
                    .map(|(i, child)| (format!("{path}.children[{i}]"), child, depth + 1)),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::kernel::error::Error;

    fn full() -> serde_json::Value {
        json!({
            "items": [
                {"id": "home", "label": "Home", "target": {"type": "page", "pageId": "65537"}, "children": []},
                {"id": "guides", "label": "Guides", "target": {"type": "none"}, "children": [
                    {"id": "start", "label": "Getting started", "target": {"type": "space", "spaceKey": "START"}, "children": [
                        {"id": "install", "label": "Install", "target": {"type": "page", "pageId": "98304"}, "children": [
                            {"id": "faq", "label": "FAQ", "target": {"type": "page", "pageId": "98305"}, "children": []}
                        ]}
                    ]}
                ]},
                {"id": "status", "label": "Status", "target": {"type": "url", "url": "https://status.example.com"}, "children": []}
            ]
        })
    }

    fn parse(value: serde_json::Value) -> Navigation {
        serde_json::from_value(value).unwrap()
    }

    fn invalid_message(nav: &Navigation) -> String {
        match nav.validate() {
            Err(Error::Invalid { code: "invalid_field", message }) => message,
            other => panic!("expected invalid_field, got {other:?}"),
        }
    }

    fn item(id: &str, children: Vec<NavItem>) -> NavItem {
        NavItem { id: id.into(), label: id.into(), target: NavTarget::None {}, children }
    }

    /// A chain of `depth` items, the top one first.
    fn chain(depth: usize) -> Navigation {
        let mut node = item(&format!("n{depth}"), vec![]);
        for level in (1..depth).rev() {
            node = item(&format!("n{level}"), vec![node]);
        }
        Navigation { items: vec![node] }
    }

    #[test]
    fn full_example_round_trips_and_is_valid() {
        let nav = parse(full());
        nav.validate().unwrap();
        assert_eq!(serde_json::to_value(&nav).unwrap(), full());
        let ids: Vec<&str> = nav.iter().map(|item| item.id.as_str()).collect();
        assert_eq!(ids, ["home", "guides", "start", "install", "faq", "status"]);
        assert!(nav.media_ids().is_empty());
        assert_eq!(Navigation::KIND, "navigation");
        assert_eq!(parse(json!({})), Navigation::default());
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_refused() {
        let mut value = full();
        value["items"][1]["children"][0]["icon"] = json!("star");
        let err = serde_json::from_value::<Navigation>(value).unwrap_err().to_string();
        assert!(err.contains("unknown field `icon`"), "{err}");
        let mut value = full();
        value["items"][0]["target"]["spaceKey"] = json!("DOCS");
        let err = serde_json::from_value::<Navigation>(value).unwrap_err().to_string();
        assert!(err.contains("unknown field `spaceKey`"), "{err}");
        let mut value = full();
        value["items"][0]["target"] = json!({"type": "script"});
        let err = serde_json::from_value::<Navigation>(value).unwrap_err().to_string();
        assert!(err.contains("unknown variant `script`"), "{err}");
        let mut value = full();
        value["items"][0]["children"] = json!({});
        let err = serde_json::from_value::<Navigation>(value).unwrap_err().to_string();
        assert!(err.contains("invalid type"), "{err}");
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let nav = Navigation { items: vec![item("a", vec![item("b", vec![]), item("a", vec![])])] };
        assert_eq!(invalid_message(&nav), "items[0].children[1].id: duplicate id a");
        let nav = Navigation { items: vec![item("a", vec![item("b", vec![])]), item("b", vec![])] };
        assert_eq!(invalid_message(&nav), "items[1].id: duplicate id b");
    }

    #[test]
    fn depth_is_bounded() {
        chain(MAX_DEPTH).validate().unwrap();
        assert_eq!(
            invalid_message(&chain(MAX_DEPTH + 1)),
            "items[0].children[0].children[0].children[0].children[0]: nested deeper than 4 levels"
        );
    }

    #[test]
    fn item_count_is_bounded() {
        let children = |n: usize| (0..n).map(|i| item(&format!("c{i}"), vec![])).collect::<Vec<_>>();
        let nav = Navigation { items: vec![item("top", children(MAX_ITEMS - 1))] };
        nav.validate().unwrap();
        let nav = Navigation { items: vec![item("top", children(MAX_ITEMS))] };
        assert_eq!(invalid_message(&nav), "items: more than 300 items in the tree");
    }

    #[test]
    fn fields_are_checked() {
        let mut nav = parse(full());
        nav.items[0].label = "l".repeat(MAX_LABEL_CHARS);
        nav.validate().unwrap();
        nav.items[0].label.push('l');
        assert_eq!(invalid_message(&nav), "items[0].label: longer than 120 characters");
        let mut nav = parse(full());
        nav.items[1].children[0].children[0].target = NavTarget::Page { page_id: "x1".into() };
        assert!(invalid_message(&nav).starts_with("items[1].children[0].children[0].target.pageId: "));
        let mut nav = parse(full());
        nav.items[2].target = NavTarget::Url { url: "javascript:alert(1)".into() };
        assert!(invalid_message(&nav).starts_with("items[2].target.url: not an http(s) URL"));
        let mut nav = parse(full());
        nav.items[1].children[0].target = NavTarget::Space { space_key: "A B".into() };
        assert!(invalid_message(&nav).starts_with("items[1].children[0].target.spaceKey: "));
        let mut nav = parse(full());
        nav.items[0].id = "a.b".into();
        assert!(invalid_message(&nav).starts_with("items[0].id: not an id"));
    }

    /// Hostile nesting is a parse error (serde_json's recursion limit), not a stack overflow, on a
    /// 2 MiB stack (a tokio worker's); the deepest tree that parses validates and drops there too.
    #[test]
    fn deep_json_is_an_error_not_a_stack_overflow() {
        std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(|| {
                for json in ["[".repeat(10_000), format!(r#"{{"items":{}{}}}"#, "[".repeat(10_000), "]".repeat(10_000))]
                {
                    assert!(serde_json::from_str::<Navigation>(&json).is_err());
                }
                let objects = format!(r#"{{"items":[{}{}]}}"#, r#"{"children":["#.repeat(10_000), "]}".repeat(10_000));
                let err = serde_json::from_str::<Navigation>(&objects).unwrap_err();
                assert!(err.to_string().contains("recursion limit exceeded"), "{err}");
                let nested = |levels: usize| {
                    let mut json = String::from(r#"{"id":"leaf","label":"L","target":{"type":"none"}}"#);
                    for level in 0..levels {
                        json = format!(
                            r#"{{"id":"n{level}","label":"L","target":{{"type":"none"}},"children":[{json}]}}"#
                        );
                    }
                    format!(r#"{{"items":[{json}]}}"#)
                };
                let deepest = (0..200).take_while(|&n| serde_json::from_str::<Navigation>(&nested(n)).is_ok()).last();
                let deepest = deepest.unwrap();
                assert!(deepest > MAX_DEPTH && deepest < 64, "{deepest}");
                let nav: Navigation = serde_json::from_str(&nested(deepest)).unwrap();
                assert!(invalid_message(&nav).contains("nested deeper than 4 levels"));
                assert!(serde_json::to_string(&nav).is_ok());
                let err = serde_json::from_str::<Navigation>(&nested(10_000)).unwrap_err();
                assert!(err.to_string().contains("recursion limit exceeded"), "{err}");
            })
            .unwrap()
            .join()
            .unwrap();
    }
}
