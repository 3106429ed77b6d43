//! Country names as CRM exports write them, matched to ISO 3166-1 alpha-2 codes, so that a
//! policy saying `countries = ["US"]` admits an account whose country reads "United States",
//! "USA" or "U.S.A." — Salesforce and HubSpot exports carry free-text country names, while
//! policies are written with codes. A value no alias knows is compared as written (ignoring
//! case and surrounding space), so nothing is admitted by a guess.

/// `(code, names…)`: the alpha-2 code first, then the alpha-3 code and the names and spellings
/// seen in CRM exports. Lowercase, without dots (see [`key`]).
const ALIASES: &[&[&str]] = &[
    &[
        "us",
        "usa",
        "united states",
        "united states of america",
        "america",
        "us of a",
    ],
    &["ca", "can", "canada"],
    &["mx", "mex", "mexico", "méxico"],
    &["br", "bra", "brazil", "brasil"],
    &["ar", "arg", "argentina"],
    &["cl", "chl", "chile"],
    &["co", "col", "colombia"],
    &["pe", "per", "peru", "perú"],
    &[
        "gb",
        "gbr",
        "uk",
        "united kingdom",
        "great britain",
        "britain",
        "england",
        "scotland",
        "wales",
        "northern ireland",
        "united kingdom of great britain and northern ireland",
    ],
    &["ie", "irl", "ireland", "republic of ireland", "éire"],
    &["de", "deu", "germany", "deutschland"],
    &["fr", "fra", "france"],
    &["es", "esp", "spain", "españa"],
    &["pt", "prt", "portugal"],
    &["it", "ita", "italy", "italia"],
    &[
        "nl",
        "nld",
        "netherlands",
        "the netherlands",
        "holland",
        "nederland",
    ],
    &["be", "bel", "belgium", "belgië", "belgique"],
    &["lu", "lux", "luxembourg"],
    &["ch", "che", "switzerland", "schweiz", "suisse", "svizzera"],
    &["at", "aut", "austria", "österreich"],
    &["dk", "dnk", "denmark", "danmark"],
    &["se", "swe", "sweden", "sverige"],
    &["no", "nor", "norway", "norge"],
    &["fi", "fin", "finland", "suomi"],
    &["is", "isl", "iceland"],
    &["pl", "pol", "poland", "polska"],
    &["cz", "cze", "czech republic", "czechia", "česko"],
    &["sk", "svk", "slovakia"],
    &["hu", "hun", "hungary"],
    &["ro", "rou", "romania"],
    &["bg", "bgr", "bulgaria"],
    &["gr", "grc", "greece"],
    &["hr", "hrv", "croatia"],
    &["si", "svn", "slovenia"],
    &["rs", "srb", "serbia"],
    &["ua", "ukr", "ukraine"],
    &["ee", "est", "estonia"],
    &["lv", "lva", "latvia"],
    &["lt", "ltu", "lithuania"],
    &["tr", "tur", "turkey", "türkiye", "turkiye"],
    &["il", "isr", "israel"],
    &["ae", "are", "uae", "united arab emirates"],
    &["sa", "sau", "saudi arabia", "ksa"],
    &["qa", "qat", "qatar"],
    &["eg", "egy", "egypt"],
    &["za", "zaf", "south africa"],
    &["ng", "nga", "nigeria"],
    &["ke", "ken", "kenya"],
    &["ma", "mar", "morocco"],
    &["in", "ind", "india"],
    &["pk", "pak", "pakistan"],
    &["cn", "chn", "china", "people's republic of china", "prc"],
    &["hk", "hkg", "hong kong"],
    &["tw", "twn", "taiwan"],
    &["jp", "jpn", "japan"],
    &["kr", "kor", "south korea", "korea", "republic of korea"],
    &["sg", "sgp", "singapore"],
    &["my", "mys", "malaysia"],
    &["th", "tha", "thailand"],
    &["vn", "vnm", "vietnam", "viet nam"],
    &["ph", "phl", "philippines"],
    &["id", "idn", "indonesia"],
    &["au", "aus", "australia"],
    &["nz", "nzl", "new zealand"],
];

/// The form compared: trimmed, lowercase, dots dropped ("U.S.A." → "usa").
fn key(value: &str) -> String {
    value.trim().to_lowercase().replace('.', "")
}

/// The alpha-2 code (lowercase) for a known country name or code, else the value's own [`key`].
pub fn canonical(value: &str) -> String {
    let k = key(value);
    for names in ALIASES {
        if names.contains(&k.as_str()) {
            return names[0].to_string();
        }
    }
    k
}

/// Whether two country values name the same country.
pub fn same(a: &str, b: &str) -> bool {
    canonical(a) == canonical(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crm_spellings_match_the_iso_code() {
        for name in [
            "US",
            "us",
            "USA",
            "U.S.A.",
            "United States",
            " united states of america ",
        ] {
            assert!(same(name, "US"), "{name}");
        }
        assert!(same("Deutschland", "DE"));
        assert!(same("UK", "GB"));
        assert!(same("United Kingdom", "gb"));
        assert!(!same("Canada", "US"));
    }

    #[test]
    fn unknown_values_compare_as_written() {
        assert!(same("Atlantis", "atlantis "));
        assert!(!same("Atlantis", "US"));
        assert_eq!(canonical("Narnia"), "narnia");
    }

    #[test]
    fn every_alias_is_in_compared_form_and_names_one_country() {
        let mut seen = std::collections::BTreeSet::new();
        for names in ALIASES {
            assert_eq!(names[0].len(), 2, "{names:?} starts with an alpha-2 code");
            for n in *names {
                assert_eq!(key(n), *n, "{n} is stored as compared");
                assert!(seen.insert(*n), "{n} appears twice");
            }
        }
    }
}
