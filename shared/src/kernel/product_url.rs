//! Which product sites Canopy will call with the app's JWT: one policy ([`ProductHosts`], the
//! `CANOPY_PRODUCT_HOSTS` setting) and one type ([`ProductBaseUrl`]) that every product URL is
//! built from.
//!
//! A tenant's `baseUrl` comes from the install body. Canopy calls it signed as the app (the admin
//! check, the liveness probe, the closed-account reports), so an accepted `baseUrl` decides where
//! Canopy's requests go. The policy accepts only the canonical form of an `https` site under an
//! Atlassian product domain: no user info, port, query, fragment, percent-encoding, IP literal,
//! punycode label or trailing dot. Endpoints are joined with [`ProductBaseUrl::endpoint`], which
//! can change only the path and query, never the scheme, host or port.

use url::{Host, Url};

use crate::kernel::error::{Error, Result};

/// The domains Atlassian's cloud products are served under (Jira and Confluence sites; the
/// `-dev` ones are Atlassian's staging sites). Overridden by `CANOPY_PRODUCT_HOSTS`.
pub const DEFAULT_PRODUCT_HOST_SUFFIXES: &[&str] = &["atlassian.net", "jira.com", "jira-dev.com", "atlassian-dev.net"];
/// The entry of `CANOPY_PRODUCT_HOSTS` that also trusts `http://127.0.0.1:<port>` and
/// `http://localhost:<port>` (the local server, the rehearsal's Atlassian stand-in).
pub const LOOPBACK_ENTRY: &str = "http-loopback";
/// Longest base URL accepted (the install payload's bound).
pub const MAX_BASE_URL_LEN: usize = 512;

/// The `code` of the error a refused base URL gives.
pub const UNTRUSTED_BASE_URL: &str = "untrusted_base_url";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductHosts {
    suffixes: Vec<String>,
    loopback_http: bool,
}

impl Default for ProductHosts {
    fn default() -> Self {
        Self { suffixes: DEFAULT_PRODUCT_HOST_SUFFIXES.iter().map(|s| (*s).to_owned()).collect(), loopback_http: false }
    }
}

impl ProductHosts {
    /// Reads the setting: host suffixes separated by commas (`atlassian.net,jira.com`), and
    /// optionally [`LOOPBACK_ENTRY`]. Each suffix is a lowercase DNS name of two labels or more.
    pub fn parse(setting: &str) -> Result<Self> {
        let mut hosts = Self { suffixes: Vec::new(), loopback_http: false };
        for entry in setting.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == LOOPBACK_ENTRY {
                hosts.loopback_http = true;
                continue;
            }
            let suffix = entry.strip_prefix('*').unwrap_or(entry);
            let suffix = suffix.strip_prefix('.').unwrap_or(suffix);
            let labels: Vec<&str> = suffix.split('.').collect();
            if labels.len() < 2 || !labels.iter().all(|l| is_plain_label(l)) {
                return Err(Error::internal(format!(
                    "CANOPY_PRODUCT_HOSTS: '{entry}' is not a lowercase domain of two labels or more, nor {LOOPBACK_ENTRY}"
                )));
            }
            hosts.suffixes.push(suffix.to_owned());
        }
        if hosts.suffixes.is_empty() && !hosts.loopback_http {
            return Err(Error::internal("CANOPY_PRODUCT_HOSTS names no host"));
        }
        Ok(hosts)
    }

    /// These hosts and loopback `http` (the local server only).
    pub fn with_loopback_http(mut self) -> Self {
        self.loopback_http = true;
        self
    }

    /// These hosts and sites under `suffix` (a reserved name such as `atlassian.test`).
    pub fn with_suffix(mut self, suffix: &str) -> Self {
        self.suffixes.push(suffix.to_owned());
        self
    }

    pub fn suffixes(&self) -> &[String] {
        &self.suffixes
    }

    pub fn allows_loopback_http(&self) -> bool {
        self.loopback_http
    }

    /// `base_url` as a trusted product base URL, or the reason it is refused.
    pub fn check(&self, base_url: &str) -> Result<ProductBaseUrl> {
        self.check_shape(base_url).map_err(|why| {
            Error::invalid(
                UNTRUSTED_BASE_URL,
                format!("baseUrl must be https://<site> under an Atlassian product domain: {why}."),
            )
        })
    }

    fn check_shape(&self, raw: &str) -> std::result::Result<ProductBaseUrl, &'static str> {
        if raw.is_empty() || raw.len() > MAX_BASE_URL_LEN {
            return Err("it is empty or longer than 512 characters");
        }
        // Everything a canonical Atlassian base URL is made of; `@`, `#`, `?`, `%`, `\`, brackets,
        // spaces and non-ASCII (IDN look-alikes, full-width dots) never are.
        if !raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'/' | b'.' | b'-' | b'_' | b'~')) {
            return Err("it holds characters outside [A-Za-z0-9:/.-_~] (user info, query, fragment, escapes, IDN)");
        }
        let url = Url::parse(raw).map_err(|_| "it is not a URL")?;
        if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
            return Err("it carries user info, a query or a fragment");
        }
        // The parsed form must be the text as sent (case aside): no dot segments, no `:443`, no
        // number that a parser reads as an IP address.
        let canonical = url.as_str().trim_end_matches('/');
        if !canonical.eq_ignore_ascii_case(raw.trim_end_matches('/')) || url.path().contains("//") {
            return Err("it is not in canonical form");
        }
        match (url.scheme(), url.host()) {
            ("https", Some(Host::Domain(domain))) => {
                if url.port().is_some() {
                    return Err("it names a port");
                }
                if !self.is_product_domain(domain) {
                    return Err("its host is not a site under a trusted product domain");
                }
            }
            ("http", Some(host)) if self.loopback_http => {
                let loopback = match host {
                    Host::Domain(d) => d == "localhost",
                    Host::Ipv4(ip) => ip == std::net::Ipv4Addr::LOCALHOST,
                    Host::Ipv6(_) => false,
                };
                if !loopback {
                    return Err("http is accepted for 127.0.0.1 and localhost only");
                }
            }
            ("https", Some(_)) => return Err("its host is an IP address"),
            _ => return Err("it is not https"),
        }
        Ok(ProductBaseUrl(url))
    }

    fn is_product_domain(&self, domain: &str) -> bool {
        let labels_ok = domain.split('.').all(is_plain_label);
        labels_ok
            && self.suffixes.iter().any(|suffix| {
                domain
                    .strip_suffix(suffix.as_str())
                    .and_then(|site| site.strip_suffix('.'))
                    .is_some_and(|s| !s.is_empty())
            })
    }
}

/// A DNS label as Atlassian names sites: `[a-z0-9-]`, not empty, no leading or trailing hyphen,
/// and no punycode (`xn--`: internationalised look-alikes).
fn is_plain_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
        && !label.starts_with("xn--")
}

/// A product base URL that passed [`ProductHosts::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductBaseUrl(Url);

impl ProductBaseUrl {
    /// The base URL without a trailing slash (`https://x.atlassian.net/wiki`).
    pub fn as_str(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }

    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or_default()
    }

    /// The path of the base URL without a trailing slash (`/wiki`, or empty).
    pub fn base_path(&self) -> &str {
        self.0.path().trim_end_matches('/')
    }

    /// The URL of `path_and_query` below the base (`/rest/api/user?accountId=…` →
    /// `https://x.atlassian.net/wiki/rest/api/user?accountId=…`). Only the path and query of the
    /// base change: a `?`, `#` or `@` in the path is escaped by the URL type, never read as syntax.
    pub fn endpoint(&self, path_and_query: &str) -> Result<Url> {
        if !path_and_query.starts_with('/') || path_and_query.contains('#') {
            return Err(Error::internal("product request path must start with / and carry no fragment"));
        }
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let mut url = self.0.clone();
        url.set_path(&format!("{}{path}", self.base_path()));
        url.set_query((!query.is_empty()).then_some(query));
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployed() -> ProductHosts {
        ProductHosts::default()
    }

    fn refused(hosts: &ProductHosts, url: &str) -> bool {
        matches!(hosts.check(url), Err(Error::Invalid { code: UNTRUSTED_BASE_URL, .. }))
    }

    #[test]
    fn atlassian_sites_are_trusted_as_sent() {
        for url in [
            "https://acme.atlassian.net/wiki",
            "https://acme.atlassian.net",
            "https://acme.atlassian.net/",
            "https://ACME.atlassian.net/wiki",
            "https://acme-eu.jira.com",
            "https://acme.jira-dev.com/wiki",
            "https://acme.atlassian-dev.net",
        ] {
            let base = deployed().check(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert!(!base.host().is_empty());
        }
        let base = deployed().check("https://acme.atlassian.net/wiki/").unwrap();
        assert_eq!(base.as_str(), "https://acme.atlassian.net/wiki");
        assert_eq!(base.base_path(), "/wiki");
        assert_eq!(base.host(), "acme.atlassian.net");
    }

    #[test]
    fn every_refused_shape_is_refused_when_deployed() {
        let hosts = deployed();
        for url in [
            // Not https, or no site.
            "http://acme.atlassian.net/wiki",
            "ftp://acme.atlassian.net",
            "https://atlassian.net",
            "https://",
            "acme.atlassian.net",
            // Another host, dressed up.
            "https://evil.example",
            "https://acme.atlassian.net.evil.example",
            "https://evilatlassian.net",
            "https://acme.atlassian.net@evil.example",
            "https://evil.example@acme.atlassian.net",
            "https://user:pass@acme.atlassian.net",
            "https://evil.example#.atlassian.net",
            "https://evil.example?.atlassian.net",
            "https://evil.example\\.atlassian.net",
            "https://acme.atlassian.net/wiki#",
            "https://acme.atlassian.net/wiki?",
            "https://acme.atlassian.net/wiki?x=1",
            "https://acme.atlassian.net/wiki#frag",
            // Ports, default or not.
            "https://acme.atlassian.net:8443/wiki",
            "https://acme.atlassian.net:443/wiki",
            // IP literals, in every spelling a parser accepts.
            "https://127.0.0.1/wiki",
            "https://169.254.169.254",
            "https://[::1]/wiki",
            "https://2130706433",
            "https://0x7f.0.0.1",
            // IDN tricks: look-alike letters, punycode, full-width dots.
            "https://acme.atlаssian.net",
            "https://xn--acme-9na.atlassian.net",
            "https://acme.xn--atlassian-t4a.net",
            "https://acme\u{ff0e}atlassian\u{ff0e}net",
            // A trailing dot, empty labels, escapes and dot segments.
            "https://acme.atlassian.net.",
            "https://acme.atlassian.net./wiki",
            "https://acme..atlassian.net",
            "https://-acme.atlassian.net",
            "https://acme%2eatlassian.net",
            "https://acme.atlassian.net/%2e%2e/x",
            "https://acme.atlassian.net/a/../wiki",
            "https://acme.atlassian.net//wiki",
            " https://acme.atlassian.net",
            // Loopback is for the local server only.
            "http://127.0.0.1:8080/wiki",
            "http://localhost:8080",
        ] {
            assert!(refused(&hosts, url), "{url} was accepted");
        }
        let long = format!("https://acme.atlassian.net/{}", "a".repeat(MAX_BASE_URL_LEN));
        assert!(refused(&hosts, &long));
    }

    #[test]
    fn loopback_http_is_trusted_only_when_configured_and_only_loopback() {
        let local = deployed().with_loopback_http();
        for url in ["http://127.0.0.1:8080/wiki", "http://localhost:9000", "http://127.0.0.1/x/wiki"] {
            assert!(local.check(url).is_ok(), "{url}");
        }
        for url in [
            "http://10.0.0.1:8080",
            "http://127.0.0.2:8080",
            "http://[::1]:8080",
            "http://0.0.0.0:8080",
            "http://acme.atlassian.net",
            "http://localhost.evil.example:80",
            "http://127.0.0.1:8080@evil.example",
            "http://127.0.0.1:8080#@evil.example",
            "https://127.0.0.1:8443",
        ] {
            assert!(refused(&local, url), "{url} was accepted");
        }
        assert!(local.check("https://acme.atlassian.net/wiki").is_ok());
    }

    #[test]
    fn the_setting_lists_suffixes_and_loopback() {
        let hosts = ProductHosts::parse("atlassian.net, *.jira.com,.jira-dev.com,http-loopback").unwrap();
        assert_eq!(hosts.suffixes(), ["atlassian.net", "jira.com", "jira-dev.com"]);
        assert!(hosts.allows_loopback_http());
        assert!(hosts.check("https://a.jira-dev.com").is_ok());
        assert!(refused(&hosts, "https://a.atlassian-dev.net"));
        for bad in ["", "net", "Atlassian.net", "atlassian.net.", "a..net", "xn--e1a.net", "http://atlassian.net"] {
            assert!(ProductHosts::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            ProductHosts::parse(&DEFAULT_PRODUCT_HOST_SUFFIXES.join(",")).unwrap(),
            ProductHosts::default(),
            "the template's default is the built-in one"
        );
    }

    #[test]
    fn endpoints_change_only_path_and_query() {
        let base = deployed().check("https://acme.atlassian.net/wiki").unwrap();
        let url = base.endpoint("/rest/api/user?accountId=557058%3Aa&expand=operations").unwrap();
        assert_eq!(
            url.as_str(),
            "https://acme.atlassian.net/wiki/rest/api/user?accountId=557058%3Aa&expand=operations"
        );
        let url = base.endpoint("/rest/api/space").unwrap();
        assert_eq!(url.as_str(), "https://acme.atlassian.net/wiki/rest/api/space");
        // What a string join would have let through: the host never changes.
        for tricky in ["/@evil.example/x", "/..//evil.example", "//evil.example/x"] {
            let url = base.endpoint(tricky).unwrap();
            assert_eq!(url.host_str(), Some("acme.atlassian.net"), "{tricky}");
        }
        assert!(base.endpoint("rest/api").is_err());
        assert!(base.endpoint("/rest#x").is_err());
        let jira = deployed().check("https://acme.atlassian.net").unwrap();
        assert_eq!(
            jira.endpoint("/rest/api/3/serverInfo").unwrap().as_str(),
            "https://acme.atlassian.net/rest/api/3/serverInfo"
        );
    }
}
