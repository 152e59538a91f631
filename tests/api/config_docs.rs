//! The configuration is documented where users look, and the documents agree with the code:
//! every variable the server reads appears in `.env.example` and in the README's
//! configuration table, nothing else does, and their defaults are the code's.

use std::collections::BTreeMap;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Variable → default (`None`: no default) as the code reads them: each `#[envconfig(from =
/// "NAME", default = "VALUE")]` of `src/config/`, and `RUST_LOG` (read by the log filter).
fn in_code() -> BTreeMap<String, Option<String>> {
    let mut vars = BTreeMap::new();
    for file in ["src/config/mod.rs", "src/config/redis.rs"] {
        for line in read(file).lines() {
            let Some(rest) = line.trim().strip_prefix("#[envconfig(from = \"") else {
                continue;
            };
            let (name, rest) = rest.split_once('"').unwrap();
            let default = rest
                .split_once("default = \"")
                .map(|(_, d)| d.split_once('"').unwrap().0.to_string());
            vars.insert(name.to_string(), default);
        }
    }
    assert!(
        read("src/telemetry.rs").contains("RUST_LOG"),
        "the log filter reads RUST_LOG"
    );
    vars.insert("RUST_LOG".into(), Some("info".into()));
    vars
}

/// Variable → value in `.env.example` (a commented-out `# NAME=value` line counts, valueless).
fn in_env_example() -> BTreeMap<String, Option<String>> {
    let mut vars = BTreeMap::new();
    for line in read(".env.example").lines() {
        let (commented, line) = match line.strip_prefix("# ") {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
            continue;
        }
        vars.insert(name.to_string(), (!commented).then(|| value.to_string()));
    }
    vars
}

/// Variable → default column of the README's `## Configuration` table (rows
/// ``| `NAME` | `default` | meaning |``; `unset` or `none` for no default).
fn in_readme() -> BTreeMap<String, Option<String>> {
    let readme = read("README.md");
    let section = readme
        .split("\n## Configuration")
        .nth(1)
        .expect("a ## Configuration section")
        .split("\n## ")
        .next()
        .unwrap();
    let mut vars = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let name = cells[1].trim_matches('`');
        assert!(!name.contains(','), "one variable per row: {line}");
        let default = cells[2].strip_prefix('`').and_then(|d| d.strip_suffix('`'));
        vars.insert(name.to_string(), default.map(str::to_string));
    }
    vars
}

#[test]
fn every_variable_is_documented_once_with_the_codes_default() {
    let code = in_code();
    let env = in_env_example();
    let readme = in_readme();
    let names = |m: &BTreeMap<String, Option<String>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&env),
        names(&code),
        ".env.example lists other variables than the code reads"
    );
    assert_eq!(
        names(&readme),
        names(&code),
        "the README's table lists other variables than the code reads"
    );
    for (name, default) in &code {
        let Some(default) = default else { continue };
        // An empty default in .env.example is "unset", as the code treats it.
        if let Some(Some(value)) = env.get(name) {
            assert_eq!(
                value, default,
                "{name}: .env.example says {value}, the code {default}"
            );
        }
        assert_eq!(
            readme[name].as_deref(),
            Some(default.as_str()),
            "{name}: the README's default differs from the code's"
        );
    }
}
