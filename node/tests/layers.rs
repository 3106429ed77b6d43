//! The layer rule of node/ (ARCHITECTURE.md, "Layers"): every dependency points down.
//!
//! Goal: a module never names a module of a higher layer, so the file tree reads as the
//! architecture and no import cycle can form across layers. Method: read every source file
//! under `node/src`, take the first path segment after each `crate::` in code (comments are
//! left out: a doc link is no dependency), and compare the layers of the file and of the target.
//!
//! Also: the clock is passed in, never read deep inside. Files under `domain/`, `import/` and
//! `store/` take `now_ms` from their callers or a `crate::clock::Clock` given at construction;
//! they never name `crate::clock::now_ms` (in code; comments may).

use std::path::{Path, PathBuf};

/// The layers from top to bottom. A module may use its own layer and those after it.
const LAYERS: &[&str] = &[
    "cli", "http", "app", "domain", "import", "net", "store", "clock",
];

/// One upward reference: the file, its line number, the line, and the two layers.
#[derive(Debug, PartialEq)]
struct Violation {
    file: String,
    line: usize,
    text: String,
    from: &'static str,
    to: &'static str,
}

fn rank(layer: &str) -> Option<usize> {
    LAYERS.iter().position(|l| *l == layer)
}

/// The layer of a file, from its path below `src/` (`domain/deals.rs` → `domain`).
fn layer_of(relative: &str) -> Option<&'static str> {
    let first = relative.split('/').next()?;
    let first = first.strip_suffix(".rs").unwrap_or(first);
    LAYERS.iter().copied().find(|l| *l == first)
}

/// The upward references in one file's text.
fn violations_in(relative: &str, source: &str) -> Vec<Violation> {
    let Some(from) = layer_of(relative) else {
        return Vec::new();
    };
    let from_rank = rank(from).unwrap_or(usize::MAX);
    let mut found = Vec::new();
    for (index, line) in source.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let to = LAYERS.iter().copied().find(|l| *l == name);
            if let Some(to) = to {
                if rank(to).unwrap_or(0) < from_rank {
                    found.push(Violation {
                        file: relative.to_string(),
                        line: index + 1,
                        text: line.trim().to_string(),
                        from,
                        to,
                    });
                }
            }
        }
    }
    found
}

/// The layers that never read the wall clock themselves.
const CLOCK_FREE: &[&str] = &["domain", "import", "store"];

/// The lines (number, text) of one file that read the wall clock (`crate::clock::now_ms`, or
/// `now_ms` imported from `crate::clock`) though the file's layer may not.
fn clock_reads_in(relative: &str, source: &str) -> Vec<(usize, String)> {
    if !layer_of(relative).is_some_and(|l| CLOCK_FREE.contains(&l)) {
        return Vec::new();
    }
    let mut found = Vec::new();
    for (index, line) in source.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        let imports_it = compact.contains("crate::clock::{")
            && compact
                .split("crate::clock::{")
                .nth(1)
                .and_then(|rest| rest.split('}').next())
                .is_some_and(|names| names.split(',').any(|n| n == "now_ms"));
        if compact.contains("crate::clock::now_ms") || imports_it {
            found.push((index + 1, line.trim().to_string()));
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).expect("node/src is readable");
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_uses_a_higher_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut all = Vec::new();
    for path in &files {
        let relative = path
            .strip_prefix(&src)
            .expect("below src")
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(path).expect("source is UTF-8");
        all.extend(violations_in(&relative, &text));
    }
    let report: Vec<String> = all
        .iter()
        .map(|v| {
            format!(
                "{}:{}: {} (layer {}) uses {} above it: {}",
                v.file, v.line, v.from, v.from, v.to, v.text
            )
        })
        .collect();
    assert!(
        report.is_empty(),
        "upward dependencies (layers top to bottom: {}):\n{}",
        LAYERS.join(" → "),
        report.join("\n")
    );
}

#[test]
fn domain_import_and_store_never_read_the_clock() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut report = Vec::new();
    for path in &files {
        let relative = path
            .strip_prefix(&src)
            .expect("below src")
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(path).expect("source is UTF-8");
        for (line, code) in clock_reads_in(&relative, &text) {
            report.push(format!("{relative}:{line}: {code}"));
        }
    }
    assert!(
        report.is_empty(),
        "the clock read below the edges ({} take now_ms or a crate::clock::Clock):\n{}",
        CLOCK_FREE.join(", "),
        report.join("\n")
    );
}

#[test]
fn every_top_level_module_has_a_layer() {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs"))
        .expect("lib.rs");
    for line in lib.lines() {
        if let Some(name) = line.trim().strip_prefix("pub mod ") {
            let name = name.trim_end_matches(';');
            assert!(
                rank(name).is_some(),
                "module {name} is in no layer: add it to LAYERS"
            );
        }
    }
}

#[test]
fn the_check_finds_an_upward_import_and_ignores_comments() {
    let source = "use crate::store::Store;\n// see crate::cli::main\nuse crate::http::AppState;\n";
    let found = violations_in("domain/deals.rs", source);
    assert_eq!(
        found,
        vec![Violation {
            file: "domain/deals.rs".into(),
            line: 3,
            text: "use crate::http::AppState;".into(),
            from: "domain",
            to: "http",
        }]
    );
    assert!(violations_in("cli/mod.rs", source).is_empty());
}

#[test]
fn the_clock_check_finds_a_read_below_the_edges_and_allows_a_passed_clock() {
    let source = "use crate::clock::Clock;\n\
                  // not crate::clock::now_ms() here\n\
                  let at = crate::clock::now_ms();\n\
                  use crate::clock::{now_ms, Clock};\n\
                  let t = clock.now_ms();\n";
    assert_eq!(
        clock_reads_in("domain/events.rs", source),
        vec![
            (3, "let at = crate::clock::now_ms();".to_string()),
            (4, "use crate::clock::{now_ms, Clock};".to_string()),
        ]
    );
    assert_eq!(clock_reads_in("store/mod.rs", source).len(), 2);
    assert!(clock_reads_in("http/deals.rs", source).is_empty());
    assert!(clock_reads_in("cli/serve.rs", source).is_empty());
}
