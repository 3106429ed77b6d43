//! Domain cells.

use super::*;

#[test]
fn personal_email_and_social_profile_websites_are_refused_as_domains() {
    // The domain is the key accounts match on; gmail.com or linkedin.com would make
    // unrelated companies one account.
    let input = "name,domain\nA,jane@gmail.com\nB,https://www.linkedin.com/company/b-corp\n\
                 C,info@c.com\nLinkedIn,https://www.linkedin.com/\nD,sites.google.com/view/d\n";
    let (rows, errors, _) = accounts(input.as_bytes());
    let names: Vec<_> = rows
        .iter()
        .map(|r| (r.name.as_str(), r.domain.clone()))
        .collect();
    assert_eq!(
        names,
        [("C", domain("c.com")), ("LinkedIn", domain("linkedin.com"))]
    );
    assert_eq!(
        errors,
        vec![
            error(
                1,
                2,
                "domain",
                "'jane@gmail.com' is a personal email address; gmail.com is not the \
                 company's domain (write the company's website, or clear the value)"
            ),
            error(
                2,
                3,
                "domain",
                "'https://www.linkedin.com/company/b-corp' is a page on linkedin.com, not \
                 the company's own website (write the company's website, or clear the value)"
            ),
            error(
                5,
                6,
                "domain",
                "'sites.google.com/view/d' is a page on sites.google.com, not the company's \
                 own website (write the company's website, or clear the value)"
            ),
        ]
    );
}
