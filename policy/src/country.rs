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

/// Every ISO 3166-1 country, `(alpha-2, alpha-3, English names…)` in the form [`key`] gives:
/// ISO's short name, its common and official names where it has them. From Debian's
/// iso-codes 4.15 (`iso_3166-1.json`). [`canonical`] reads it after [`ALIASES`], so every
/// country's codes and ISO names match each other ("LK" = "LKA" = "Sri Lanka"), and
/// [`is_country`] tells a country from a typo in a policy.
const ISO_3166_1: &[&[&str]] = &[
    &["ad", "and", "andorra", "principality of andorra"],
    &["ae", "are", "united arab emirates"],
    &[
        "af",
        "afg",
        "afghanistan",
        "islamic republic of afghanistan",
    ],
    &["ag", "atg", "antigua and barbuda"],
    &["ai", "aia", "anguilla"],
    &["al", "alb", "albania", "republic of albania"],
    &["am", "arm", "armenia", "republic of armenia"],
    &["ao", "ago", "angola", "republic of angola"],
    &["aq", "ata", "antarctica"],
    &["ar", "arg", "argentina", "argentine republic"],
    &["as", "asm", "american samoa"],
    &["at", "aut", "austria", "republic of austria"],
    &["au", "aus", "australia"],
    &["aw", "abw", "aruba"],
    &["ax", "ala", "åland islands"],
    &["az", "aze", "azerbaijan", "republic of azerbaijan"],
    &[
        "ba",
        "bih",
        "bosnia and herzegovina",
        "republic of bosnia and herzegovina",
    ],
    &["bb", "brb", "barbados"],
    &["bd", "bgd", "bangladesh", "people's republic of bangladesh"],
    &["be", "bel", "belgium", "kingdom of belgium"],
    &["bf", "bfa", "burkina faso"],
    &["bg", "bgr", "bulgaria", "republic of bulgaria"],
    &["bh", "bhr", "bahrain", "kingdom of bahrain"],
    &["bi", "bdi", "burundi", "republic of burundi"],
    &["bj", "ben", "benin", "republic of benin"],
    &["bl", "blm", "saint barthélemy"],
    &["bm", "bmu", "bermuda"],
    &["bn", "brn", "brunei darussalam"],
    &[
        "bo",
        "bol",
        "bolivia, plurinational state of",
        "bolivia",
        "plurinational state of bolivia",
    ],
    &["bq", "bes", "bonaire, sint eustatius and saba"],
    &["br", "bra", "brazil", "federative republic of brazil"],
    &["bs", "bhs", "bahamas", "commonwealth of the bahamas"],
    &["bt", "btn", "bhutan", "kingdom of bhutan"],
    &["bv", "bvt", "bouvet island"],
    &["bw", "bwa", "botswana", "republic of botswana"],
    &["by", "blr", "belarus", "republic of belarus"],
    &["bz", "blz", "belize"],
    &["ca", "can", "canada"],
    &["cc", "cck", "cocos (keeling) islands"],
    &["cd", "cod", "congo, the democratic republic of the"],
    &["cf", "caf", "central african republic"],
    &["cg", "cog", "congo", "republic of the congo"],
    &["ch", "che", "switzerland", "swiss confederation"],
    &["ci", "civ", "côte d'ivoire", "republic of côte d'ivoire"],
    &["ck", "cok", "cook islands"],
    &["cl", "chl", "chile", "republic of chile"],
    &["cm", "cmr", "cameroon", "republic of cameroon"],
    &["cn", "chn", "china", "people's republic of china"],
    &["co", "col", "colombia", "republic of colombia"],
    &["cr", "cri", "costa rica", "republic of costa rica"],
    &["cu", "cub", "cuba", "republic of cuba"],
    &["cv", "cpv", "cabo verde", "republic of cabo verde"],
    &["cw", "cuw", "curaçao"],
    &["cx", "cxr", "christmas island"],
    &["cy", "cyp", "cyprus", "republic of cyprus"],
    &["cz", "cze", "czechia", "czech republic"],
    &["de", "deu", "germany", "federal republic of germany"],
    &["dj", "dji", "djibouti", "republic of djibouti"],
    &["dk", "dnk", "denmark", "kingdom of denmark"],
    &["dm", "dma", "dominica", "commonwealth of dominica"],
    &["do", "dom", "dominican republic"],
    &[
        "dz",
        "dza",
        "algeria",
        "people's democratic republic of algeria",
    ],
    &["ec", "ecu", "ecuador", "republic of ecuador"],
    &["ee", "est", "estonia", "republic of estonia"],
    &["eg", "egy", "egypt", "arab republic of egypt"],
    &["eh", "esh", "western sahara"],
    &["er", "eri", "eritrea", "the state of eritrea"],
    &["es", "esp", "spain", "kingdom of spain"],
    &[
        "et",
        "eth",
        "ethiopia",
        "federal democratic republic of ethiopia",
    ],
    &["fi", "fin", "finland", "republic of finland"],
    &["fj", "fji", "fiji", "republic of fiji"],
    &["fk", "flk", "falkland islands (malvinas)"],
    &[
        "fm",
        "fsm",
        "micronesia, federated states of",
        "federated states of micronesia",
    ],
    &["fo", "fro", "faroe islands"],
    &["fr", "fra", "france", "french republic"],
    &["ga", "gab", "gabon", "gabonese republic"],
    &[
        "gb",
        "gbr",
        "united kingdom",
        "united kingdom of great britain and northern ireland",
    ],
    &["gd", "grd", "grenada"],
    &["ge", "geo", "georgia"],
    &["gf", "guf", "french guiana"],
    &["gg", "ggy", "guernsey"],
    &["gh", "gha", "ghana", "republic of ghana"],
    &["gi", "gib", "gibraltar"],
    &["gl", "grl", "greenland"],
    &["gm", "gmb", "gambia", "republic of the gambia"],
    &["gn", "gin", "guinea", "republic of guinea"],
    &["gp", "glp", "guadeloupe"],
    &[
        "gq",
        "gnq",
        "equatorial guinea",
        "republic of equatorial guinea",
    ],
    &["gr", "grc", "greece", "hellenic republic"],
    &["gs", "sgs", "south georgia and the south sandwich islands"],
    &["gt", "gtm", "guatemala", "republic of guatemala"],
    &["gu", "gum", "guam"],
    &["gw", "gnb", "guinea-bissau", "republic of guinea-bissau"],
    &["gy", "guy", "guyana", "republic of guyana"],
    &[
        "hk",
        "hkg",
        "hong kong",
        "hong kong special administrative region of china",
    ],
    &["hm", "hmd", "heard island and mcdonald islands"],
    &["hn", "hnd", "honduras", "republic of honduras"],
    &["hr", "hrv", "croatia", "republic of croatia"],
    &["ht", "hti", "haiti", "republic of haiti"],
    &["hu", "hun", "hungary"],
    &["id", "idn", "indonesia", "republic of indonesia"],
    &["ie", "irl", "ireland"],
    &["il", "isr", "israel", "state of israel"],
    &["im", "imn", "isle of man"],
    &["in", "ind", "india", "republic of india"],
    &["io", "iot", "british indian ocean territory"],
    &["iq", "irq", "iraq", "republic of iraq"],
    &[
        "ir",
        "irn",
        "iran, islamic republic of",
        "iran",
        "islamic republic of iran",
    ],
    &["is", "isl", "iceland", "republic of iceland"],
    &["it", "ita", "italy", "italian republic"],
    &["je", "jey", "jersey"],
    &["jm", "jam", "jamaica"],
    &["jo", "jor", "jordan", "hashemite kingdom of jordan"],
    &["jp", "jpn", "japan"],
    &["ke", "ken", "kenya", "republic of kenya"],
    &["kg", "kgz", "kyrgyzstan", "kyrgyz republic"],
    &["kh", "khm", "cambodia", "kingdom of cambodia"],
    &["ki", "kir", "kiribati", "republic of kiribati"],
    &["km", "com", "comoros", "union of the comoros"],
    &["kn", "kna", "saint kitts and nevis"],
    &[
        "kp",
        "prk",
        "korea, democratic people's republic of",
        "north korea",
        "democratic people's republic of korea",
    ],
    &["kr", "kor", "korea, republic of", "south korea"],
    &["kw", "kwt", "kuwait", "state of kuwait"],
    &["ky", "cym", "cayman islands"],
    &["kz", "kaz", "kazakhstan", "republic of kazakhstan"],
    &["la", "lao", "lao people's democratic republic", "laos"],
    &["lb", "lbn", "lebanon", "lebanese republic"],
    &["lc", "lca", "saint lucia"],
    &[
        "li",
        "lie",
        "liechtenstein",
        "principality of liechtenstein",
    ],
    &[
        "lk",
        "lka",
        "sri lanka",
        "democratic socialist republic of sri lanka",
    ],
    &["lr", "lbr", "liberia", "republic of liberia"],
    &["ls", "lso", "lesotho", "kingdom of lesotho"],
    &["lt", "ltu", "lithuania", "republic of lithuania"],
    &["lu", "lux", "luxembourg", "grand duchy of luxembourg"],
    &["lv", "lva", "latvia", "republic of latvia"],
    &["ly", "lby", "libya"],
    &["ma", "mar", "morocco", "kingdom of morocco"],
    &["mc", "mco", "monaco", "principality of monaco"],
    &[
        "md",
        "mda",
        "moldova, republic of",
        "moldova",
        "republic of moldova",
    ],
    &["me", "mne", "montenegro"],
    &["mf", "maf", "saint martin (french part)"],
    &["mg", "mdg", "madagascar", "republic of madagascar"],
    &[
        "mh",
        "mhl",
        "marshall islands",
        "republic of the marshall islands",
    ],
    &[
        "mk",
        "mkd",
        "north macedonia",
        "republic of north macedonia",
    ],
    &["ml", "mli", "mali", "republic of mali"],
    &["mm", "mmr", "myanmar", "republic of myanmar"],
    &["mn", "mng", "mongolia"],
    &[
        "mo",
        "mac",
        "macao",
        "macao special administrative region of china",
    ],
    &[
        "mp",
        "mnp",
        "northern mariana islands",
        "commonwealth of the northern mariana islands",
    ],
    &["mq", "mtq", "martinique"],
    &["mr", "mrt", "mauritania", "islamic republic of mauritania"],
    &["ms", "msr", "montserrat"],
    &["mt", "mlt", "malta", "republic of malta"],
    &["mu", "mus", "mauritius", "republic of mauritius"],
    &["mv", "mdv", "maldives", "republic of maldives"],
    &["mw", "mwi", "malawi", "republic of malawi"],
    &["mx", "mex", "mexico", "united mexican states"],
    &["my", "mys", "malaysia"],
    &["mz", "moz", "mozambique", "republic of mozambique"],
    &["na", "nam", "namibia", "republic of namibia"],
    &["nc", "ncl", "new caledonia"],
    &["ne", "ner", "niger", "republic of the niger"],
    &["nf", "nfk", "norfolk island"],
    &["ng", "nga", "nigeria", "federal republic of nigeria"],
    &["ni", "nic", "nicaragua", "republic of nicaragua"],
    &["nl", "nld", "netherlands", "kingdom of the netherlands"],
    &["no", "nor", "norway", "kingdom of norway"],
    &["np", "npl", "nepal", "federal democratic republic of nepal"],
    &["nr", "nru", "nauru", "republic of nauru"],
    &["nu", "niu", "niue"],
    &["nz", "nzl", "new zealand"],
    &["om", "omn", "oman", "sultanate of oman"],
    &["pa", "pan", "panama", "republic of panama"],
    &["pe", "per", "peru", "republic of peru"],
    &["pf", "pyf", "french polynesia"],
    &[
        "pg",
        "png",
        "papua new guinea",
        "independent state of papua new guinea",
    ],
    &["ph", "phl", "philippines", "republic of the philippines"],
    &["pk", "pak", "pakistan", "islamic republic of pakistan"],
    &["pl", "pol", "poland", "republic of poland"],
    &["pm", "spm", "saint pierre and miquelon"],
    &["pn", "pcn", "pitcairn"],
    &["pr", "pri", "puerto rico"],
    &["ps", "pse", "palestine, state of", "the state of palestine"],
    &["pt", "prt", "portugal", "portuguese republic"],
    &["pw", "plw", "palau", "republic of palau"],
    &["py", "pry", "paraguay", "republic of paraguay"],
    &["qa", "qat", "qatar", "state of qatar"],
    &["re", "reu", "réunion"],
    &["ro", "rou", "romania"],
    &["rs", "srb", "serbia", "republic of serbia"],
    &["ru", "rus", "russian federation"],
    &["rw", "rwa", "rwanda", "rwandese republic"],
    &["sa", "sau", "saudi arabia", "kingdom of saudi arabia"],
    &["sb", "slb", "solomon islands"],
    &["sc", "syc", "seychelles", "republic of seychelles"],
    &["sd", "sdn", "sudan", "republic of the sudan"],
    &["se", "swe", "sweden", "kingdom of sweden"],
    &["sg", "sgp", "singapore", "republic of singapore"],
    &["sh", "shn", "saint helena, ascension and tristan da cunha"],
    &["si", "svn", "slovenia", "republic of slovenia"],
    &["sj", "sjm", "svalbard and jan mayen"],
    &["sk", "svk", "slovakia", "slovak republic"],
    &["sl", "sle", "sierra leone", "republic of sierra leone"],
    &["sm", "smr", "san marino", "republic of san marino"],
    &["sn", "sen", "senegal", "republic of senegal"],
    &["so", "som", "somalia", "federal republic of somalia"],
    &["sr", "sur", "suriname", "republic of suriname"],
    &["ss", "ssd", "south sudan", "republic of south sudan"],
    &[
        "st",
        "stp",
        "sao tome and principe",
        "democratic republic of sao tome and principe",
    ],
    &["sv", "slv", "el salvador", "republic of el salvador"],
    &["sx", "sxm", "sint maarten (dutch part)"],
    &["sy", "syr", "syrian arab republic", "syria"],
    &["sz", "swz", "eswatini", "kingdom of eswatini"],
    &["tc", "tca", "turks and caicos islands"],
    &["td", "tcd", "chad", "republic of chad"],
    &["tf", "atf", "french southern territories"],
    &["tg", "tgo", "togo", "togolese republic"],
    &["th", "tha", "thailand", "kingdom of thailand"],
    &["tj", "tjk", "tajikistan", "republic of tajikistan"],
    &["tk", "tkl", "tokelau"],
    &[
        "tl",
        "tls",
        "timor-leste",
        "democratic republic of timor-leste",
    ],
    &["tm", "tkm", "turkmenistan"],
    &["tn", "tun", "tunisia", "republic of tunisia"],
    &["to", "ton", "tonga", "kingdom of tonga"],
    &["tr", "tur", "türkiye", "republic of türkiye"],
    &[
        "tt",
        "tto",
        "trinidad and tobago",
        "republic of trinidad and tobago",
    ],
    &["tv", "tuv", "tuvalu"],
    &["tw", "twn", "taiwan, province of china", "taiwan"],
    &[
        "tz",
        "tza",
        "tanzania, united republic of",
        "tanzania",
        "united republic of tanzania",
    ],
    &["ua", "ukr", "ukraine"],
    &["ug", "uga", "uganda", "republic of uganda"],
    &["um", "umi", "united states minor outlying islands"],
    &["us", "usa", "united states", "united states of america"],
    &["uy", "ury", "uruguay", "eastern republic of uruguay"],
    &["uz", "uzb", "uzbekistan", "republic of uzbekistan"],
    &["va", "vat", "holy see (vatican city state)"],
    &["vc", "vct", "saint vincent and the grenadines"],
    &[
        "ve",
        "ven",
        "venezuela, bolivarian republic of",
        "venezuela",
        "bolivarian republic of venezuela",
    ],
    &[
        "vg",
        "vgb",
        "virgin islands, british",
        "british virgin islands",
    ],
    &[
        "vi",
        "vir",
        "virgin islands, us",
        "virgin islands of the united states",
    ],
    &[
        "vn",
        "vnm",
        "viet nam",
        "vietnam",
        "socialist republic of viet nam",
    ],
    &["vu", "vut", "vanuatu", "republic of vanuatu"],
    &["wf", "wlf", "wallis and futuna"],
    &["ws", "wsm", "samoa", "independent state of samoa"],
    &["ye", "yem", "yemen", "republic of yemen"],
    &["yt", "myt", "mayotte"],
    &["za", "zaf", "south africa", "republic of south africa"],
    &["zm", "zmb", "zambia", "republic of zambia"],
    &["zw", "zwe", "zimbabwe", "republic of zimbabwe"],
];

/// Whether `value` names a country: a code or name of an ISO 3166-1 country, or a spelling
/// [`ALIASES`] knows ("U.S.A.", "Deutschland"). A value that does not is matched only as
/// written, which is worth a warning (`advice`).
pub fn is_country(value: &str) -> bool {
    let k = key(value);
    let known = |table: &[&[&str]]| table.iter().any(|names| names.contains(&k.as_str()));
    known(ALIASES) || known(ISO_3166_1)
}

/// The form compared: trimmed, lowercase, dots dropped ("U.S.A." → "usa").
fn key(value: &str) -> String {
    value.trim().to_lowercase().replace('.', "")
}

/// The alpha-2 code (lowercase) for a known country name or code (a CRM spelling of
/// [`ALIASES`] first, then ISO's codes and names), else the value's own [`key`].
pub fn canonical(value: &str) -> String {
    let k = key(value);
    ALIASES
        .iter()
        .chain(ISO_3166_1)
        .find(|names| names.contains(&k.as_str()))
        .map_or(k, |names| names[0].to_string())
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
        // Beyond the CRM spellings, ISO's codes and names match each other too.
        assert!(same("LK", "Sri Lanka"));
        assert!(same("lka", "LK"));
        assert!(same("Bolivia", "BO"));
        assert!(!same("Sri Lanka", "IN"));
    }

    #[test]
    fn a_name_in_both_tables_names_the_same_country() {
        for iso in ISO_3166_1 {
            for name in *iso {
                if let Some(alias) = ALIASES.iter().find(|a| a.contains(name)) {
                    assert_eq!(alias[0], iso[0], "{name} names {} and {}", alias[0], iso[0]);
                }
            }
        }
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

    #[test]
    fn iso_codes_and_names_are_countries_and_typos_are_not() {
        for country in [
            "US",
            "u.s.a.",
            "Deutschland",
            "LK",
            "LKA",
            "Sri Lanka",
            "Bolivia",
        ] {
            assert!(is_country(country), "{country}");
        }
        for typo in ["Narnia", "Untied States", "", "U"] {
            assert!(!is_country(typo), "{typo:?}");
        }
    }

    #[test]
    fn the_iso_table_is_in_compared_form_with_every_code_once() {
        let mut codes = std::collections::BTreeSet::new();
        for names in ISO_3166_1 {
            assert_eq!(names[0].len(), 2, "{names:?} starts with an alpha-2 code");
            assert_eq!(names[1].len(), 3, "{names:?} then an alpha-3 code");
            assert!(
                codes.insert(names[0]) && codes.insert(names[1]),
                "{names:?}"
            );
            for n in *names {
                assert_eq!(key(n), *n, "{n} is stored as compared");
            }
        }
        assert_eq!(ISO_3166_1.len(), 249);
        // Every alias's code is an ISO code.
        for names in ALIASES {
            assert!(codes.contains(names[0]), "{names:?}");
        }
    }
}
