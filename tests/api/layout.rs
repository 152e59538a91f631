//! Source layout: no import cycle between the top-level modules of `src/`, no source file over
//! 300 lines. The Rust twin of `tools/modcycles.py` (same graph, same cycles, same line counts),
//! so `cargo test` keeps the layout honest without Python.
//!
//! A top-level module is each `src/X.rs` (but `lib.rs` and `main.rs`) and each folder `src/X/`
//! (all its `.rs` files, at any depth). There is an arrow X -> Y when a file of X names
//! `crate::Y`, alone or in a `use crate::{a, b::c}` group (`a` and `b` here), once `//`
//! comments and an in-file `#[cfg(test)] mod tests { ... }` (to the end of the file) are cut.
//! A cycle is a strongly connected component of more than one module (Tarjan). Lines are
//! counted as `\n` characters, in the files of those modules.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Longest a file of `src/` may be, in lines.
const MAX_LINES: usize = 300;

/// Module name -> the modules it names.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// `src/` of the crate under test.
fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, at any depth, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|x| x == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The top-level modules of `src`, each with its files.
fn modules(src: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let mut mods: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    let entries = fs::read_dir(src).unwrap_or_else(|e| panic!("read {}: {e}", src.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            mods.entry(name).or_default().extend(rust_files(&path));
        } else if let Some(stem) = name.strip_suffix(".rs")
            && name != "lib.rs"
            && name != "main.rs"
        {
            mods.entry(stem.to_string()).or_default().push(path);
        }
    }
    for files in mods.values_mut() {
        files.sort();
    }
    mods
}

/// A file's text with line ends as Python reads them (`\r\n` and `\r` become `\n`).
fn read(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// Python's `\w`.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Python's `\s`.
fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// The word (`\w+`) that starts `s`, if any.
fn leading_word(s: &str) -> Option<&str> {
    let end = s.find(|c: char| !is_word(c)).unwrap_or(s.len());
    (end > 0).then(|| &s[..end])
}

/// `text` cut at the first `#[cfg(test)] mod tests {` (in-file tests run to the end of a file).
fn without_test_module(text: &str) -> &str {
    for (at, _) in text.match_indices("#[cfg(test)]") {
        let rest = text[at + "#[cfg(test)]".len()..].trim_start_matches(is_space);
        let Some(rest) = rest.strip_prefix("mod") else {
            continue;
        };
        let after_mod = rest.trim_start_matches(is_space);
        if after_mod.len() == rest.len() {
            continue; // `mod` must be followed by whitespace
        }
        let Some(rest) = after_mod.strip_prefix("tests") else {
            continue;
        };
        if rest.trim_start_matches(is_space).starts_with('{') {
            return &text[..at];
        }
    }
    text
}

/// `text` without `//` comments (to the end of each line, the `\n` kept).
fn without_line_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("//") {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        rest = &rest[rest.find('\n').unwrap_or(rest.len())..];
    }
    out.push_str(rest);
    out
}

/// Every name `text` reaches through `crate::`: `crate::name` (not inside a longer word) and
/// the names that open each item of a `crate::{...}` group.
fn crate_names(text: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut resume = 0; // matches do not overlap: `crate::crate::x` names `crate` only
    for (at, _) in text.match_indices("crate::") {
        if at < resume || text[..at].chars().next_back().is_some_and(is_word) {
            continue;
        }
        let start = at + "crate::".len();
        if let Some(name) = leading_word(&text[start..]) {
            names.push(name);
            resume = start + name.len();
        }
    }
    let mut rest = text;
    while let Some(at) = rest.find("crate::{") {
        let open = &rest[at + "crate::{".len()..];
        let Some(close) = open.find('}') else { break };
        let group = &open[..close];
        let starts = std::iter::once(0).chain(group.match_indices(',').map(|(i, _)| i + 1));
        for start in starts {
            names.extend(leading_word(group[start..].trim_start_matches(is_space)));
        }
        rest = &open[close + 1..];
    }
    names
}

/// The arrows between the top-level modules `mods`.
fn graph(mods: &BTreeMap<String, Vec<PathBuf>>) -> Graph {
    let mut edges = Graph::new();
    for (module, files) in mods {
        let targets = edges.entry(module.clone()).or_default();
        for file in files {
            let text = read(file);
            let code = without_line_comments(without_test_module(&text));
            for name in crate_names(&code) {
                if name != module && mods.contains_key(name) {
                    targets.insert(name.to_string());
                }
            }
        }
    }
    edges
}

/// The cycles of `edges`: its strongly connected components of more than one module (Tarjan),
/// each sorted, in order.
fn cycles(edges: &Graph) -> Vec<Vec<String>> {
    struct Tarjan<'a> {
        edges: &'a Graph,
        next: usize,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a str) {
            self.index.insert(v, self.next);
            self.low.insert(v, self.next);
            self.next += 1;
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.edges.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                loop {
                    let w = self.stack.pop().unwrap();
                    self.on_stack.remove(w);
                    component.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut tarjan = Tarjan {
        edges,
        next: 0,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !tarjan.index.contains_key(v.as_str()) {
            tarjan.visit(v);
        }
    }
    tarjan.found.sort();
    tarjan.found
}

/// `module -> a, b` (or `module -> -`), as the Python prints it.
fn arrows(module: &str, targets: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let targets: Vec<String> = targets.into_iter().map(|t| t.as_ref().to_string()).collect();
    let targets = if targets.is_empty() {
        "-".to_string()
    } else {
        targets.join(", ")
    };
    format!("{module} -> {targets}")
}

#[test]
fn no_import_cycle_between_top_level_modules() {
    let edges = graph(&modules(&src_dir()));
    let found = cycles(&edges);
    let mut report = String::new();
    for cycle in &found {
        report.push_str(&format!(
            "cycle: {}\n  arrows of its modules:\n",
            cycle.join(" <-> ")
        ));
        for module in cycle {
            report.push_str(&format!("    {}\n", arrows(module, &edges[module])));
        }
        report.push_str("  of which inside the cycle (to break it, one of these must go):\n");
        for module in cycle {
            let inside = edges[module].iter().filter(|t| cycle.contains(t));
            report.push_str(&format!("    {}\n", arrows(module, inside)));
        }
    }
    assert!(
        found.is_empty(),
        "{} import cycle(s) between the top-level modules of src/ (X -> Y: a file of X names \
         `crate::Y`):\n{report}",
        found.len()
    );
}

#[test]
fn no_source_file_over_300_lines() {
    let src = src_dir();
    let root = src.parent().unwrap();
    let mut long = Vec::new();
    for files in modules(&src).values() {
        for file in files {
            let lines = read(file).matches('\n').count();
            if lines > MAX_LINES {
                let shown: Vec<String> = file
                    .strip_prefix(root)
                    .unwrap()
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                long.push(format!("  {} ({lines})", shown.join("/")));
            }
        }
    }
    long.sort();
    assert!(
        long.is_empty(),
        "{} file(s) of src/ over {MAX_LINES} lines (split each by concern):\n{}",
        long.len(),
        long.join("\n")
    );
}

/// The cycle finder itself: a -> b -> a with c -> a is one cycle {a, b}; a graph without a
/// cycle has none.
#[test]
fn cycle_finder_finds_exactly_the_cycles() {
    let graph_of = |arrows: &[(&str, &[&str])]| -> Graph {
        arrows
            .iter()
            .map(|(from, to)| (from.to_string(), to.iter().map(|t| t.to_string()).collect()))
            .collect()
    };
    let cyclic = graph_of(&[("a", &["b"]), ("b", &["a"]), ("c", &["a"])]);
    assert_eq!(cycles(&cyclic), [["a", "b"]]);
    let acyclic = graph_of(&[("a", &["b", "c"]), ("b", &["c"]), ("c", &[]), ("d", &["a"])]);
    assert_eq!(cycles(&acyclic), Vec::<Vec<String>>::new());
}
