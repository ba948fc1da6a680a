//! Themes: a site's colors, fonts, header, footer, icons and custom CSS.

use serde::{Deserialize, Serialize};

use crate::kernel::error::Result;

use super::bounds::{self, invalid};
use super::link::{Link, validate_links};
use super::{ContentModel, MAX_DOCUMENT_BYTES, check_size, dedup};

pub const MAX_NAME_CHARS: usize = 120;
/// A font stack: a handful of quoted family names.
pub const MAX_FONT_FAMILY_CHARS: usize = 200;
pub const MAX_HEADER_LINKS: usize = 20;
pub const MAX_FOOTER_LINKS: usize = 20;
pub const MAX_FOOTER_TEXT_CHARS: usize = 2000;
/// Custom CSS is inlined into every site page: enough for real overrides, small next to the page.
pub const MAX_CUSTOM_CSS_BYTES: usize = 32 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Theme {
    pub name: String,
    pub colors: Colors,
    pub fonts: Fonts,
    #[serde(default)]
    pub header: Header,
    #[serde(default)]
    pub footer: Footer,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub favicon_media_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_icon_media_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_css: Option<String>,
}

/// `#RRGGBB` or `#RRGGBBAA`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Colors {
    pub primary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary: Option<String>,
    pub background: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_background: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_text: Option<String>,
}

/// CSS `font-family` values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fonts {
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Header {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_media_id: Option<String>,
    #[serde(default = "yes")]
    pub show_search: bool,
    #[serde(default)]
    pub links: Vec<Link>,
}

impl Default for Header {
    fn default() -> Self {
        Self { logo_media_id: None, show_search: true, links: Vec::new() }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Footer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default)]
    pub links: Vec<Link>,
}

fn yes() -> bool {
    true
}

impl ContentModel for Theme {
    const KIND: &'static str = "theme";

    fn validate(&self) -> Result<()> {
        check_size(Self::KIND, self, MAX_DOCUMENT_BYTES)?;
        bounds::required_text("name", &self.name, MAX_NAME_CHARS)?;

        let colors = &self.colors;
        let required = [("primary", &colors.primary), ("background", &colors.background), ("text", &colors.text)];
        for (field, value) in required {
            bounds::color(&format!("colors.{field}"), value)?;
        }
        let optional = [
            ("secondary", &colors.secondary),
            ("link", &colors.link),
            ("headerBackground", &colors.header_background),
            ("headerText", &colors.header_text),
        ];
        for (field, value) in optional {
            if let Some(value) = value {
                bounds::color(&format!("colors.{field}"), value)?;
            }
        }

        font_family("fonts.body", &self.fonts.body)?;
        if let Some(heading) = &self.fonts.heading {
            font_family("fonts.heading", heading)?;
        }

        if let Some(id) = &self.header.logo_media_id {
            bounds::content_id("header.logoMediaId", id)?;
        }
        validate_links("header.links", &self.header.links, MAX_HEADER_LINKS)?;
        if let Some(text) = &self.footer.text {
            bounds::multi_line("footer.text", text, MAX_FOOTER_TEXT_CHARS)?;
        }
        validate_links("footer.links", &self.footer.links, MAX_FOOTER_LINKS)?;

        if let Some(id) = &self.favicon_media_id {
            bounds::content_id("faviconMediaId", id)?;
        }
        if let Some(id) = &self.app_icon_media_id {
            bounds::content_id("appIconMediaId", id)?;
        }
        if let Some(css) = &self.custom_css {
            custom_css("customCss", css)?;
        }
        Ok(())
    }

    fn media_ids(&self) -> Vec<&str> {
        dedup(
            [&self.header.logo_media_id, &self.favicon_media_id, &self.app_icon_media_id]
                .into_iter()
                .filter_map(|id| id.as_deref()),
        )
    }
}

/// A `font-family` value goes into a CSS declaration: `;`, `{` and `}` would end it and start
/// others, `<` and `>` could end the style element. Control characters have no place in a name.
fn font_family(path: &str, value: &str) -> Result<()> {
    bounds::required_text(path, value, MAX_FONT_FAMILY_CHARS)?;
    if value.contains([';', '{', '}', '<', '>']) {
        return Err(invalid(path, "contains one of ; { } < >, which a font-family value cannot"));
    }
    Ok(())
}

/// Custom CSS is injected into the site page inside a `<style>` element. Two things in it are
/// beyond what the site renderer can neutralise: `</style` ends the element, so HTML and script
/// follow (the HTML parser sees it before any CSS processing, in any letter case); `@import` pulls a
/// whole stylesheet from anywhere, which the renderer never sees, a route to exfiltrate page data
/// through attribute selectors. `@import` is found however it is spelt: at-keywords ignore case and
/// may be written with CSS escapes (`@\69mport`, `@\import`).
fn custom_css(path: &str, css: &str) -> Result<()> {
    bounds::max_bytes(path, css, MAX_CUSTOM_CSS_BYTES)?;
    if css.to_ascii_lowercase().contains("</style") {
        return Err(invalid(path, "contains </style, which would end the style element"));
    }
    if has_import_rule(css) {
        return Err(invalid(path, "contains @import; put the rules in customCss itself"));
    }
    Ok(())
}

fn has_import_rule(css: &str) -> bool {
    let chars: Vec<char> = css.chars().collect();
    chars
        .iter()
        .enumerate()
        .any(|(at, &c)| c == '@' && at_keyword_name(&chars[at + 1..]).eq_ignore_ascii_case("import"))
}

/// The name of the at-keyword starting at `chars` (just after the `@`), with escapes decoded. Stops
/// once the name is longer than any keyword of interest.
fn at_keyword_name(chars: &[char]) -> String {
    const LONGEST: usize = 16;
    let mut name = String::new();
    let mut i = 0;
    while i < chars.len() && name.len() <= LONGEST {
        let c = chars[i];
        if c.is_ascii_alphanumeric() || c == '-' || c == '_' || !c.is_ascii() {
            name.push(c);
            i += 1;
        } else if c == '\\' {
            let hex: String = chars[i + 1..].iter().take(6).take_while(|c| c.is_ascii_hexdigit()).collect();
            if !hex.is_empty() {
                let decoded = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                name.push(decoded.unwrap_or(char::REPLACEMENT_CHARACTER));
                i += 1 + hex.len();
                // One whitespace character after a hex escape belongs to the escape.
                if chars.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
                    i += 1;
                }
            } else {
                match chars.get(i + 1) {
                    Some(&next) if next != '\n' && next != '\r' && next != '\u{c}' => {
                        name.push(next);
                        i += 2;
                    }
                    _ => break,
                }
            }
        } else {
            break;
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::kernel::error::Error;

    fn full() -> serde_json::Value {
        json!({
            "name": "Brand 2025",
            "colors": {
                "primary": "#0052CC",
                "secondary": "#FFAB00",
                "background": "#FFFFFF",
                "text": "#172B4Dff",
                "link": "#0065FF",
                "headerBackground": "#091E42",
                "headerText": "#ffffff"
            },
            "fonts": {"body": "\"Inter\", system-ui, sans-serif", "heading": "Georgia, serif"},
            "header": {
                "logoMediaId": "LOGO",
                "showSearch": false,
                "links": [{"label": "Support", "url": "https://support.example.com"}]
            },
            "footer": {
                "text": "© Example Inc.\nAll rights reserved.",
                "links": [{"label": "Privacy", "url": "https://example.com/privacy"}]
            },
            "faviconMediaId": "FAVICON",
            "appIconMediaId": "APPICON",
            "customCss": ".hero h1 { letter-spacing: -0.02em; }\n@media (max-width: 600px) { .hero { padding: 8px; } }"
        })
    }

    fn parse(value: serde_json::Value) -> Theme {
        serde_json::from_value(value).unwrap()
    }

    fn invalid_message(theme: &Theme) -> String {
        match theme.validate() {
            Err(Error::Invalid { code: "invalid_field", message }) => message,
            other => panic!("expected invalid_field, got {other:?}"),
        }
    }

    #[test]
    fn full_example_round_trips_and_is_valid() {
        let theme = parse(full());
        theme.validate().unwrap();
        assert_eq!(serde_json::to_value(&theme).unwrap(), full());
        assert_eq!(theme.media_ids(), ["LOGO", "FAVICON", "APPICON"]);
        assert_eq!(Theme::KIND, "theme");
    }

    #[test]
    fn minimal_example_fills_defaults() {
        let theme = parse(json!({
            "name": "T",
            "colors": {"primary": "#000000", "background": "#ffffff", "text": "#000000"},
            "fonts": {"body": "sans-serif"}
        }));
        theme.validate().unwrap();
        assert!(theme.header.show_search);
        assert!(theme.media_ids().is_empty());
        let header = parse(json!({
            "name": "T",
            "colors": {"primary": "#000000", "background": "#ffffff", "text": "#000000"},
            "fonts": {"body": "sans-serif"},
            "header": {"logoMediaId": "L"}
        }))
        .header;
        assert!(header.show_search);
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_refused() {
        let mut value = full();
        value["colors"]["accent"] = json!("#000000");
        let err = serde_json::from_value::<Theme>(value).unwrap_err().to_string();
        assert!(err.contains("unknown field `accent`"), "{err}");
        let mut value = full();
        value["javascript"] = json!("alert(1)");
        let err = serde_json::from_value::<Theme>(value).unwrap_err().to_string();
        assert!(err.contains("unknown field `javascript`"), "{err}");
        let mut value = full();
        value["header"]["showSearch"] = json!("yes");
        assert!(serde_json::from_value::<Theme>(value).unwrap_err().to_string().contains("invalid type"));
    }

    #[test]
    fn colors_are_checked() {
        let mut theme = parse(full());
        theme.colors.primary = "blue".into();
        assert_eq!(invalid_message(&theme), "colors.primary: not a color (#RRGGBB or #RRGGBBAA)");
        let mut theme = parse(full());
        theme.colors.header_text = Some("#fff".into());
        assert!(invalid_message(&theme).starts_with("colors.headerText: "));
    }

    #[test]
    fn fonts_cannot_break_out_of_their_declaration() {
        let mut theme = parse(full());
        theme.fonts.body = "Inter; } body { background: url(https://evil.example/x)".into();
        assert!(invalid_message(&theme).starts_with("fonts.body: contains one of"));
        theme.fonts.body = "f".repeat(MAX_FONT_FAMILY_CHARS);
        theme.validate().unwrap();
        theme.fonts.body.push('f');
        assert_eq!(invalid_message(&theme), "fonts.body: longer than 200 characters");
        theme.fonts.body = "Inter".into();
        theme.fonts.heading = Some("</style>".into());
        assert!(invalid_message(&theme).starts_with("fonts.heading: "));
    }

    #[test]
    fn header_and_footer_bounds() {
        let link = Link { label: "L".into(), url: "https://example.com".into() };
        let mut theme = parse(full());
        theme.header.links = vec![link.clone(); MAX_HEADER_LINKS];
        theme.footer.links = vec![link.clone(); MAX_FOOTER_LINKS];
        theme.validate().unwrap();
        theme.header.links.push(link.clone());
        assert_eq!(invalid_message(&theme), "header.links: more than 20 items");
        theme.header.links.pop();
        theme.footer.links.push(link);
        assert_eq!(invalid_message(&theme), "footer.links: more than 20 items");
        let mut theme = parse(full());
        theme.footer.text = Some("f".repeat(MAX_FOOTER_TEXT_CHARS));
        theme.validate().unwrap();
        theme.footer.text = Some("f".repeat(MAX_FOOTER_TEXT_CHARS + 1));
        assert_eq!(invalid_message(&theme), "footer.text: longer than 2000 characters");
        let mut theme = parse(full());
        theme.header.logo_media_id = Some("no spaces".into());
        assert!(invalid_message(&theme).starts_with("header.logoMediaId: not an id"));
    }

    #[test]
    fn css_cannot_end_the_style_element() {
        let mut theme = parse(full());
        for css in ["a{}</style><script>alert(1)</script>", "</STYLE>", "a{} </StYlE >"] {
            theme.custom_css = Some(css.into());
            assert_eq!(invalid_message(&theme), "customCss: contains </style, which would end the style element");
        }
    }

    #[test]
    fn css_cannot_import() {
        let mut theme = parse(full());
        for css in [
            "@import url(https://evil.example/x.css);",
            "@IMPORT 'x.css';",
            "a{}\n@\\69mport 'x.css';",
            "@\\69 mport 'x.css';",
            "@\\000069mport 'x.css';",
            "@\\import 'x.css';",
            "@im\\70 ort 'x.css';",
        ] {
            theme.custom_css = Some(css.into());
            assert_eq!(
                invalid_message(&theme),
                "customCss: contains @import; put the rules in customCss itself",
                "{css}"
            );
        }
        for css in ["@media print { a { color: red } }", "@font-face { font-family: X; }", "@importance {}", "a@b", "@"]
        {
            theme.custom_css = Some(css.into());
            theme.validate().unwrap();
        }
    }

    #[test]
    fn css_size_is_bounded_in_bytes() {
        let mut theme = parse(full());
        theme.custom_css = Some("a".repeat(MAX_CUSTOM_CSS_BYTES));
        theme.validate().unwrap();
        theme.custom_css = Some("é".repeat(MAX_CUSTOM_CSS_BYTES / 2 + 1));
        assert_eq!(invalid_message(&theme), "customCss: longer than 32768 bytes");
    }
}
