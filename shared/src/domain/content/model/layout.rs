//! Layouts: page-builder landing pages, as sections of columns of (possibly nested) blocks.

use serde::{Deserialize, Serialize};

use crate::kernel::error::Result;

use super::bounds::{self, invalid};
use super::link::{Link, validate_links};
use super::{ContentModel, check_size, dedup, markup};

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_SECTIONS: usize = 50;
pub const MAX_COLUMNS: usize = 4;
/// The grid is 12 units wide: halves, thirds, quarters and sixths all divide it.
pub const GRID_WIDTH: u8 = 12;
/// Blocks in one column or one container.
pub const MAX_BLOCKS_PER_LIST: usize = 40;
/// A column's own blocks are depth 1; a container's blocks one deeper. Four levels allow containers
/// of containers of cards, and bound the renderer's recursion.
pub const MAX_BLOCK_DEPTH: usize = 4;
/// Blocks across the whole layout, containers included: a page that renders in one pass.
pub const MAX_BLOCKS: usize = 500;
/// A layout is fetched on every visit to a site's landing page: half the document bound.
pub const MAX_LAYOUT_BYTES: usize = 128 * 1024;
/// Several printed pages of text in one block.
pub const MAX_TEXT_CHARS: usize = 20_000;
pub const MAX_ALT_CHARS: usize = 500;
pub const MAX_PAGE_LIST_LABELS: usize = 20;
/// Confluence's bound on a label.
pub const MAX_PAGE_LABEL_CHARS: usize = 255;
/// Pages listed by one block; the list is fetched from Confluence on each visit.
pub const MAX_PAGE_LIST_LIMIT: u8 = 50;
pub const MAX_SPACE_LIST_KEYS: usize = 50;
pub const MAX_LINKS: usize = 50;
pub const MAX_PLACEHOLDER_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Layout {
    pub title: String,
    #[serde(default)]
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Section {
    /// Chosen by the client, unique within the layout.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<Background>,
    #[serde(default)]
    pub columns: Vec<Column>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Background {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_media_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Column {
    /// Grid units, 1..=12; a section's columns sum to at most 12.
    pub width: u8,
    #[serde(default)]
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum Block {
    /// Limited markup (see `markup`).
    #[schema(rename_all = "camelCase")]
    Text { markup: String },
    #[schema(rename_all = "camelCase")]
    Image {
        media_id: String,
        /// Empty for a decorative image.
        #[serde(default)]
        alt: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        link: Option<String>,
    },
    #[schema(rename_all = "camelCase")]
    PageList {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        space_key: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent_page_id: Option<String>,
        #[serde(default)]
        labels: Vec<String>,
        limit: u8,
    },
    #[schema(rename_all = "camelCase")]
    SpaceList {
        #[serde(default)]
        space_keys: Vec<String>,
    },
    #[schema(rename_all = "camelCase")]
    Links {
        #[serde(default)]
        items: Vec<Link>,
    },
    #[schema(rename_all = "camelCase")]
    SearchBox {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        placeholder: Option<String>,
    },
    /// The site's active announcements.
    #[schema(rename_all = "camelCase")]
    Announcements {},
    #[schema(rename_all = "camelCase")]
    Container {
        #[serde(default)]
        #[schema(no_recursion)]
        blocks: Vec<Block>,
    },
}

impl Layout {
    /// Every block, containers and their contents included, depth first in document order.
    pub fn blocks(&self) -> impl Iterator<Item = &Block> {
        let mut stack: Vec<&Block> = self
            .sections
            .iter()
            .rev()
            .flat_map(|s| s.columns.iter().rev())
            .flat_map(|c| c.blocks.iter().rev())
            .collect();
        std::iter::from_fn(move || {
            let block = stack.pop()?;
            if let Block::Container { blocks } = block {
                stack.extend(blocks.iter().rev());
            }
            Some(block)
        })
    }
}

impl ContentModel for Layout {
    const KIND: &'static str = "layout";

    fn validate(&self) -> Result<()> {
        check_size(Self::KIND, self, MAX_LAYOUT_BYTES)?;
        bounds::required_text("title", &self.title, MAX_TITLE_CHARS)?;
        bounds::list_len("sections", self.sections.len(), 1, MAX_SECTIONS)?;
        let mut total = 0;
        for (i, section) in self.sections.iter().enumerate() {
            section.validate(&format!("sections[{i}]"), &mut total)?;
        }
        if let Some((i, id)) = first_duplicate(self.sections.iter().map(|s| s.id.as_str())) {
            return Err(invalid(&format!("sections[{i}].id"), format_args!("duplicate id {id}")));
        }
        Ok(())
    }

    fn media_ids(&self) -> Vec<&str> {
        let backgrounds = self.sections.iter().filter_map(|s| s.background.as_ref()?.image_media_id.as_deref());
        let images = self.blocks().filter_map(|block| match block {
            Block::Image { media_id, .. } => Some(media_id.as_str()),
            _ => None,
        });
        dedup(backgrounds.chain(images))
    }
}

fn first_duplicate<'a>(ids: impl Iterator<Item = &'a str>) -> Option<(usize, &'a str)> {
    let mut seen = std::collections::HashSet::new();
    ids.enumerate().find(|(_, id)| !seen.insert(*id))
}

impl Section {
    fn validate(&self, path: &str, total: &mut usize) -> Result<()> {
        bounds::content_id(&format!("{path}.id"), &self.id)?;
        if let Some(background) = &self.background {
            if let Some(color) = &background.color {
                bounds::color(&format!("{path}.background.color"), color)?;
            }
            if let Some(id) = &background.image_media_id {
                bounds::content_id(&format!("{path}.background.imageMediaId"), id)?;
            }
        }
        bounds::list_len(&format!("{path}.columns"), self.columns.len(), 1, MAX_COLUMNS)?;
        let mut width = 0;
        for (j, column) in self.columns.iter().enumerate() {
            let column_path = format!("{path}.columns[{j}]");
            if !(1..=GRID_WIDTH).contains(&column.width) {
                return Err(invalid(&format!("{column_path}.width"), format_args!("not between 1 and {GRID_WIDTH}")));
            }
            width += column.width;
            if width > GRID_WIDTH {
                return Err(invalid(
                    &format!("{path}.columns"),
                    format_args!("widths add up to more than {GRID_WIDTH}"),
                ));
            }
            validate_blocks(&format!("{column_path}.blocks"), &column.blocks, total)?;
        }
        Ok(())
    }
}

/// Checks a column's blocks and everything nested in them, without recursion: depth is checked
/// before a container's blocks are visited.
fn validate_blocks(path: &str, blocks: &[Block], total: &mut usize) -> Result<()> {
    bounds::list_len(path, blocks.len(), 0, MAX_BLOCKS_PER_LIST)?;
    let mut stack: Vec<(String, &Block, usize)> =
        blocks.iter().enumerate().rev().map(|(k, block)| (format!("{path}[{k}]"), block, 1)).collect();
    while let Some((path, block, depth)) = stack.pop() {
        if depth > MAX_BLOCK_DEPTH {
            return Err(invalid(&path, format_args!("blocks nested deeper than {MAX_BLOCK_DEPTH} levels")));
        }
        *total += 1;
        if *total > MAX_BLOCKS {
            return Err(invalid(&path, format_args!("the layout has more than {MAX_BLOCKS} blocks")));
        }
        block.validate(&path)?;
        if let Block::Container { blocks } = block {
            let list = format!("{path}.blocks");
            bounds::list_len(&list, blocks.len(), 0, MAX_BLOCKS_PER_LIST)?;
            stack.extend(blocks.iter().enumerate().rev().map(|(k, child)| (format!("{list}[{k}]"), child, depth + 1)));
        }
    }
    Ok(())
}

impl Block {
    /// The block's own fields; nested blocks are the caller's.
    fn validate(&self, path: &str) -> Result<()> {
        let at = |field: &str| format!("{path}.{field}");
        match self {
            Self::Text { markup: text } => markup::check(&at("markup"), text, MAX_TEXT_CHARS),
            Self::Image { media_id, alt, link } => {
                bounds::content_id(&at("mediaId"), media_id)?;
                bounds::single_line(&at("alt"), alt, MAX_ALT_CHARS)?;
                link.as_deref().map_or(Ok(()), |url| bounds::http_url(&at("link"), url))
            }
            Self::PageList { space_key, parent_page_id, labels, limit } => {
                if let Some(key) = space_key {
                    bounds::space_key(&at("spaceKey"), key)?;
                }
                if let Some(id) = parent_page_id {
                    bounds::page_id(&at("parentPageId"), id)?;
                }
                bounds::list_len(&at("labels"), labels.len(), 0, MAX_PAGE_LIST_LABELS)?;
                for (i, label) in labels.iter().enumerate() {
                    let label_path = format!("{path}.labels[{i}]");
                    bounds::required_text(&label_path, label, MAX_PAGE_LABEL_CHARS)?;
                    if label.contains(char::is_whitespace) {
                        return Err(invalid(&label_path, "contains whitespace; Confluence labels cannot"));
                    }
                }
                if !(1..=MAX_PAGE_LIST_LIMIT).contains(limit) {
                    return Err(invalid(&at("limit"), format_args!("not between 1 and {MAX_PAGE_LIST_LIMIT}")));
                }
                Ok(())
            }
            Self::SpaceList { space_keys } => {
                bounds::list_len(&at("spaceKeys"), space_keys.len(), 0, MAX_SPACE_LIST_KEYS)?;
                for (i, key) in space_keys.iter().enumerate() {
                    bounds::space_key(&format!("{path}.spaceKeys[{i}]"), key)?;
                }
                Ok(())
            }
            Self::Links { items } => validate_links(&at("items"), items, MAX_LINKS),
            Self::SearchBox { placeholder } => placeholder
                .as_deref()
                .map_or(Ok(()), |p| bounds::single_line(&at("placeholder"), p, MAX_PLACEHOLDER_CHARS)),
            Self::Announcements {} | Self::Container { .. } => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::kernel::error::Error;

    fn full() -> serde_json::Value {
        json!({
            "title": "Welcome",
            "sections": [
                {
                    "id": "hero",
                    "background": {"color": "#0052CC", "imageMediaId": "MEDIAHERO"},
                    "columns": [{"width": 12, "blocks": [
                        {"type": "text", "markup": "# not a heading, just text\n**Welcome** to [our docs](https://docs.example.com)"},
                        {"type": "searchBox", "placeholder": "Search the docs"},
                        {"type": "announcements"}
                    ]}]
                },
                {
                    "id": "body",
                    "columns": [
                        {"width": 8, "blocks": [
                            {"type": "pageList", "spaceKey": "DOCS", "parentPageId": "98765", "labels": ["featured"], "limit": 10},
                            {"type": "container", "blocks": [
                                {"type": "image", "mediaId": "MEDIA1", "alt": "Diagram", "link": "https://example.com/d"},
                                {"type": "container", "blocks": [
                                    {"type": "image", "mediaId": "MEDIA2", "alt": ""}
                                ]}
                            ]}
                        ]},
                        {"width": 4, "blocks": [
                            {"type": "spaceList", "spaceKeys": ["DOCS", "KB"]},
                            {"type": "links", "items": [{"label": "Status", "url": "https://status.example.com"}]},
                            {"type": "image", "mediaId": "MEDIA1", "alt": "Diagram again"}
                        ]}
                    ]
                }
            ]
        })
    }

    fn parse(value: serde_json::Value) -> Layout {
        serde_json::from_value(value).unwrap()
    }

    fn invalid_message(layout: &Layout) -> String {
        match layout.validate() {
            Err(Error::Invalid { code: "invalid_field", message }) => message,
            other => panic!("expected invalid_field, got {other:?}"),
        }
    }

    fn text(n: usize) -> Block {
        Block::Text { markup: "t".repeat(n) }
    }

    fn one_column(blocks: Vec<Block>) -> Layout {
        Layout {
            title: "T".into(),
            sections: vec![Section { id: "s".into(), background: None, columns: vec![Column { width: 12, blocks }] }],
        }
    }

    /// A container chain `depth` blocks deep, ending in a text block at `depth`.
    fn nested(depth: usize) -> Block {
        let mut block = text(1);
        for _ in 1..depth {
            block = Block::Container { blocks: vec![block] };
        }
        block
    }

    #[test]
    fn full_example_round_trips_and_is_valid() {
        let layout = parse(full());
        layout.validate().unwrap();
        assert_eq!(serde_json::to_value(&layout).unwrap(), full());
        assert_eq!(Layout::KIND, "layout");
        assert_eq!(layout.blocks().count(), 11);
    }

    #[test]
    fn media_ids_lists_backgrounds_and_nested_images_once() {
        assert_eq!(parse(full()).media_ids(), ["MEDIAHERO", "MEDIA1", "MEDIA2"]);
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_refused() {
        let mut value = full();
        value["sections"][1]["columns"][0]["blocks"][1]["blocks"][0]["caption"] = json!("x");
        let err = serde_json::from_value::<Layout>(value).unwrap_err().to_string();
        assert!(err.contains("unknown field `caption`"), "{err}");
        let mut value = full();
        value["sections"][0]["columns"][0]["span"] = json!(2);
        let err = serde_json::from_value::<Layout>(value).unwrap_err().to_string();
        assert!(err.contains("unknown field `span`"), "{err}");
        let mut value = full();
        value["sections"][0]["columns"][0]["blocks"][2]["extra"] = json!(true);
        let err = serde_json::from_value::<Layout>(value).unwrap_err().to_string();
        assert!(err.contains("unknown field `extra`"), "{err}");
        let mut value = full();
        value["sections"][0]["columns"][0]["blocks"][0]["type"] = json!("html");
        let err = serde_json::from_value::<Layout>(value).unwrap_err().to_string();
        assert!(err.contains("unknown variant `html`"), "{err}");
        let mut value = full();
        value["sections"][0]["columns"][0]["width"] = json!("12");
        let err = serde_json::from_value::<Layout>(value).unwrap_err().to_string();
        assert!(err.contains("invalid type"), "{err}");
        let mut value = full();
        value["sections"][1]["columns"][0]["blocks"][0]["limit"] = json!(300);
        assert!(serde_json::from_value::<Layout>(value).is_err());
    }

    #[test]
    fn text_block_bound_names_the_path() {
        let mut layout = parse(full());
        layout.sections[0].columns[0].blocks[0] = text(MAX_TEXT_CHARS);
        layout.validate().unwrap();
        layout.sections[0].columns[0].blocks[0] = text(MAX_TEXT_CHARS + 1);
        assert_eq!(invalid_message(&layout), "sections[0].columns[0].blocks[0].markup: longer than 20000 characters");
        layout.sections[0].columns[0].blocks[0] = Block::Text { markup: "<b>hi</b>".into() };
        assert!(invalid_message(&layout).contains("only limited markup"));
    }

    #[test]
    fn title_and_section_bounds() {
        let mut layout = parse(full());
        layout.title = "t".repeat(MAX_TITLE_CHARS);
        layout.validate().unwrap();
        layout.title.push('t');
        assert_eq!(invalid_message(&layout), "title: longer than 200 characters");
        let mut layout = parse(full());
        layout.sections.clear();
        assert_eq!(invalid_message(&layout), "sections: needs at least 1 item");
        let section = Section { id: "x".into(), background: None, columns: vec![Column { width: 1, blocks: vec![] }] };
        layout.sections = (0..MAX_SECTIONS).map(|i| Section { id: format!("s{i}"), ..section.clone() }).collect();
        layout.validate().unwrap();
        layout.sections.push(section);
        assert_eq!(invalid_message(&layout), "sections: more than 50 items");
        let mut layout = parse(full());
        layout.sections[1].id = "hero".into();
        assert_eq!(invalid_message(&layout), "sections[1].id: duplicate id hero");
        layout.sections[1].background = Some(Background { color: Some("blue".into()), image_media_id: None });
        assert!(invalid_message(&layout).starts_with("sections[1].background.color: not a color"));
    }

    #[test]
    fn column_bounds() {
        let mut layout = parse(full());
        layout.sections[1].columns[1].width = 5;
        assert_eq!(invalid_message(&layout), "sections[1].columns: widths add up to more than 12");
        layout.sections[1].columns[1].width = 0;
        assert_eq!(invalid_message(&layout), "sections[1].columns[1].width: not between 1 and 12");
        let mut layout = parse(full());
        layout.sections[1].columns = vec![Column { width: 3, blocks: vec![] }; MAX_COLUMNS];
        layout.validate().unwrap();
        layout.sections[1].columns = vec![Column { width: 2, blocks: vec![] }; MAX_COLUMNS + 1];
        assert_eq!(invalid_message(&layout), "sections[1].columns: more than 4 items");
        layout.sections[1].columns.clear();
        assert_eq!(invalid_message(&layout), "sections[1].columns: needs at least 1 item");
        let layout = one_column(vec![text(1); MAX_BLOCKS_PER_LIST]);
        layout.validate().unwrap();
        let layout = one_column(vec![text(1); MAX_BLOCKS_PER_LIST + 1]);
        assert_eq!(invalid_message(&layout), "sections[0].columns[0].blocks: more than 40 items");
    }

    #[test]
    fn container_nesting_is_bounded() {
        one_column(vec![nested(MAX_BLOCK_DEPTH)]).validate().unwrap();
        let layout = one_column(vec![text(1), nested(MAX_BLOCK_DEPTH + 1)]);
        assert_eq!(
            invalid_message(&layout),
            "sections[0].columns[0].blocks[1].blocks[0].blocks[0].blocks[0].blocks[0]: blocks nested deeper than 4 levels"
        );
        let layout = one_column(vec![Block::Container { blocks: vec![text(1); MAX_BLOCKS_PER_LIST + 1] }]);
        assert_eq!(invalid_message(&layout), "sections[0].columns[0].blocks[0].blocks: more than 40 items");
    }

    #[test]
    fn total_blocks_are_bounded() {
        // 12 containers of 40 text blocks, plus the containers and 8 more: 500 blocks.
        let container = Block::Container { blocks: vec![text(1); MAX_BLOCKS_PER_LIST] };
        let mut blocks = vec![container; 12];
        blocks.extend(vec![text(1); 8]);
        let mut layout = one_column(blocks);
        assert_eq!(layout.blocks().count(), MAX_BLOCKS);
        layout.validate().unwrap();
        layout.sections[0].columns[0].blocks.push(text(1));
        assert_eq!(invalid_message(&layout), "sections[0].columns[0].blocks[20]: the layout has more than 500 blocks");
    }

    #[test]
    fn block_field_bounds() {
        let check = |block: Block| invalid_message(&one_column(vec![block]));
        let path = "sections[0].columns[0].blocks[0]";
        let image = |alt: usize, link: Option<&str>| Block::Image {
            media_id: "M".into(),
            alt: "a".repeat(alt),
            link: link.map(Into::into),
        };
        one_column(vec![image(MAX_ALT_CHARS, None)]).validate().unwrap();
        assert_eq!(check(image(MAX_ALT_CHARS + 1, None)), format!("{path}.alt: longer than 500 characters"));
        assert!(check(image(1, Some("javascript:alert(1)"))).starts_with(&format!("{path}.link: not an http(s) URL")));
        let image = Block::Image { media_id: "a/b".into(), alt: String::new(), link: None };
        assert!(check(image).starts_with(&format!("{path}.mediaId: not an id")));

        let page_list = |labels: usize, limit: u8| Block::PageList {
            space_key: None,
            parent_page_id: None,
            labels: (0..labels).map(|i| format!("l{i}")).collect(),
            limit,
        };
        one_column(vec![page_list(MAX_PAGE_LIST_LABELS, MAX_PAGE_LIST_LIMIT)]).validate().unwrap();
        one_column(vec![page_list(0, 1)]).validate().unwrap();
        assert_eq!(check(page_list(MAX_PAGE_LIST_LABELS + 1, 1)), format!("{path}.labels: more than 20 items"));
        assert_eq!(check(page_list(0, MAX_PAGE_LIST_LIMIT + 1)), format!("{path}.limit: not between 1 and 50"));
        assert_eq!(check(page_list(0, 0)), format!("{path}.limit: not between 1 and 50"));
        let bad_parent =
            Block::PageList { space_key: None, parent_page_id: Some("abc".into()), labels: vec![], limit: 5 };
        assert!(check(bad_parent).starts_with(&format!("{path}.parentPageId: not a Confluence page id")));
        let spaced = Block::PageList { space_key: None, parent_page_id: None, labels: vec!["a b".into()], limit: 5 };
        assert!(check(spaced).starts_with(&format!("{path}.labels[0]: contains whitespace")));

        let space_list = |n: usize| Block::SpaceList { space_keys: (0..n).map(|i| format!("S{i}")).collect() };
        one_column(vec![space_list(MAX_SPACE_LIST_KEYS)]).validate().unwrap();
        assert_eq!(check(space_list(MAX_SPACE_LIST_KEYS + 1)), format!("{path}.spaceKeys: more than 50 items"));

        let link = Link { label: "L".into(), url: "https://example.com".into() };
        one_column(vec![Block::Links { items: vec![link.clone(); MAX_LINKS] }]).validate().unwrap();
        assert_eq!(
            check(Block::Links { items: vec![link.clone(); MAX_LINKS + 1] }),
            format!("{path}.items: more than 50 items")
        );
        let bad_link = Link { url: "ftp://x".into(), ..link };
        assert!(check(Block::Links { items: vec![bad_link] }).starts_with(&format!("{path}.items[0].url: ")));

        let search = |n: usize| Block::SearchBox { placeholder: Some("p".repeat(n)) };
        one_column(vec![search(MAX_PLACEHOLDER_CHARS)]).validate().unwrap();
        assert_eq!(check(search(MAX_PLACEHOLDER_CHARS + 1)), format!("{path}.placeholder: longer than 200 characters"));
    }

    #[test]
    fn serialized_size_is_bounded() {
        // 7 blocks of 20000 characters: about 140 KB, over the layout bound though each block is valid.
        let layout = one_column(vec![text(MAX_TEXT_CHARS); 7]);
        let err = layout.validate().unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::PAYLOAD_TOO_LARGE);
        let n = super::super::serialized_len(&layout).unwrap();
        assert_eq!(err.to_string(), format!("layout is {n} bytes; the limit is 131072 bytes."));
        one_column(vec![text(MAX_TEXT_CHARS); 6]).validate().unwrap();
    }

    /// The deepest layout JSON serde_json accepts parses, validates (refused: too deep), serializes and
    /// drops on a 2 MiB stack, the size of a tokio worker's; anything deeper is a parse error.
    #[test]
    fn deep_json_is_an_error_not_a_stack_overflow() {
        std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(|| {
                let deep = |levels: usize| {
                    let mut json = String::from(r#"{"type":"text","markup":"x"}"#);
                    for _ in 0..levels {
                        json = format!(r#"{{"type":"container","blocks":[{json}]}}"#);
                    }
                    format!(r#"{{"title":"T","sections":[{{"id":"s","columns":[{{"width":1,"blocks":[{json}]}}]}}]}}"#)
                };
                // Layout, sections, section, columns, column, blocks: 6 levels before the first block,
                // then 2 per container.
                let accepted =
                    (0..200).take_while(|&n| serde_json::from_str::<Layout>(&deep(n)).is_ok()).last().unwrap();
                assert!(accepted > MAX_BLOCK_DEPTH && accepted < 64, "{accepted}");
                let layout: Layout = serde_json::from_str(&deep(accepted)).unwrap();
                assert!(invalid_message(&layout).contains("nested deeper than 4 levels"));
                assert!(serde_json::to_string(&layout).is_ok());
                drop(layout);
                let err = serde_json::from_str::<Layout>(&deep(10_000)).unwrap_err();
                assert!(err.to_string().contains("recursion limit exceeded"), "{err}");
                let brackets = format!(r#"{{"title":"T","sections":{}{}}}"#, "[".repeat(10_000), "]".repeat(10_000));
                assert!(serde_json::from_str::<Layout>(&brackets).is_err());
            })
            .unwrap()
            .join()
            .unwrap();
    }
}
