//! A company's web domain as the key accounts are matched on (see [`Domain`]).

use super::ValueError;
use std::fmt;
use std::str::FromStr;

/// A company's web domain, normalized so that the same company always yields the same bytes:
/// lowercase, no scheme, no `www.`, no port, path, query or trailing dot, internationalized names
/// in their ASCII (punycode) form. It is the key accounts are matched on, locally and across
/// partners, so normalization must be idempotent.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Domain(String);

/// Longest domain name DNS allows.
const DOMAIN_BYTES_MAX: usize = 253;
/// Longest DNS label.
const DOMAIN_LABEL_BYTES_MAX: usize = 63;

impl Domain {
    /// Normalizes and validates a domain as people write it: `https://www.Acme.com/about`,
    /// `acme.com.`, `user@acme.com`, `Bücher.de`.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let mut s = input.trim();
        if s.is_empty() {
            return Err(ValueError::new("domain is empty"));
        }
        if let Some(pos) = s.find("://") {
            s = &s[pos + 3..];
        }
        if let Some(end) = s.find(['/', '?', '#']) {
            s = &s[..end];
        }
        if let Some(at) = s.rfind('@') {
            s = &s[at + 1..];
        }
        if let Some(colon) = s.rfind(':') {
            if s[colon + 1..].chars().all(|c| c.is_ascii_digit()) {
                s = &s[..colon];
            }
        }
        let s = s.trim_end_matches('.');
        let ascii = idna::domain_to_ascii(s)
            .map_err(|_| ValueError::new(format!("'{}' is not a valid domain", input.trim())))?;
        let mut ascii = ascii.as_str();
        while let Some(rest) = ascii.strip_prefix("www.") {
            ascii = rest;
        }
        validate_domain(ascii).map_err(|why| {
            ValueError::new(format!("'{}' is not a valid domain: {why}", input.trim()))
        })?;
        Ok(Domain(ascii.to_string()))
    }

    /// The normalized domain.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// [`Domain::parse`] for a value a user gives as a company's website (import, API): also
    /// refuses what CRMs hold in that field but is not the company's own domain, a person's
    /// address at a mail provider (`jane@gmail.com`) and a page on a social or directory site
    /// (`linkedin.com/company/acme`), since accounts are matched on it. The bare domain of such
    /// a site is still accepted: it is the account of the site's own company.
    pub fn parse_company(input: &str) -> Result<Self, ValueError> {
        let domain = Domain::parse(input)?;
        let listed = input.trim();
        let host = domain.as_str();
        let is = |list: &[&str]| {
            list.iter().any(|d| {
                host == *d || (host.ends_with(d) && host[..host.len() - d.len()].ends_with('.'))
            })
        };
        let without_scheme = listed.split_once("://").map_or(listed, |(_, rest)| rest);
        let has_path = without_scheme
            .split_once(['/', '?', '#'])
            .is_some_and(|(_, path)| !path.trim_matches(['/', '?', '#']).is_empty());
        if listed.contains('@') && is(MAIL_PROVIDERS) {
            return Err(ValueError::new(format!(
                "'{listed}' is a personal email address; {host} is not the company's domain \
                 (write the company's website, or clear the value)"
            )));
        }
        if has_path && is(PROFILE_SITES) {
            return Err(ValueError::new(format!(
                "'{listed}' is a page on {host}, not the company's own website (write the \
                 company's website, or clear the value)"
            )));
        }
        Ok(domain)
    }
}

/// Mail providers whose addresses are people's, not companies' (see [`Domain::parse_company`]).
const MAIL_PROVIDERS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "yahoo.co.uk",
    "yahoo.fr",
    "ymail.com",
    "hotmail.com",
    "hotmail.co.uk",
    "hotmail.fr",
    "outlook.com",
    "live.com",
    "msn.com",
    "aol.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "proton.me",
    "protonmail.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "t-online.de",
    "orange.fr",
    "free.fr",
    "laposte.net",
    "libero.it",
    "yandex.ru",
    "mail.ru",
    "qq.com",
    "163.com",
    "126.com",
    "naver.com",
];

/// Social and directory sites whose pages (`linkedin.com/company/acme`) CRMs store in the
/// website field (see [`Domain::parse_company`]). The bare domain is still accepted: it is the
/// account of the site's own company.
const PROFILE_SITES: &[&str] = &[
    "linkedin.com",
    "facebook.com",
    "fb.com",
    "twitter.com",
    "x.com",
    "instagram.com",
    "youtube.com",
    "github.com",
    "crunchbase.com",
    "xing.com",
    "google.com",
    "goo.gl",
    "bit.ly",
    "wikipedia.org",
    "medium.com",
    "tiktok.com",
    "pinterest.com",
    "yelp.com",
    "glassdoor.com",
    "zoominfo.com",
    "wellfound.com",
    "angel.co",
    "linktr.ee",
];

fn validate_domain(d: &str) -> Result<(), &'static str> {
    if d.is_empty() {
        return Err("no host name");
    }
    if d.len() > DOMAIN_BYTES_MAX {
        return Err("longer than 253 characters");
    }
    if !d.contains('.') {
        return Err("it needs a dot, as in example.com");
    }
    // No top-level domain is all digits: `192.168.1.1` is an address, not a company's name.
    if d.rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("an IP address is not a domain (write the company's website)");
    }
    for label in d.split('.') {
        if label.is_empty() {
            return Err("it has an empty label");
        }
        if label.len() > DOMAIN_LABEL_BYTES_MAX {
            return Err("a label is longer than 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err("only letters, digits and hyphens are allowed");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a label starts or ends with a hyphen");
        }
    }
    Ok(())
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Domain {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Domain::parse(s)
    }
}
