//! The stage borders, checked: no module of the library imports another that imports it back,
//! directly or around a loop, and `event/` imports from no stage. Read from the source text
//! (paths through `crate::`, `super::` and declared child modules), test modules left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// `src/a/b.rs` → `a::b`, `src/a/mod.rs` → `a`, `src/lib.rs` → `` (the crate root).
fn module_of(rel: &Path) -> String {
    let s = rel.with_extension("");
    let parts: Vec<String> = s
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| p != "mod" && p != "lib")
        .collect();
    parts.join("::")
}

fn sources(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    for e in std::fs::read_dir(dir).expect("src/ readable").flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "bin") {
                continue;
            }
            sources(&p, root, out);
        } else if p.extension().is_some_and(|x| x == "rs")
            && p.file_name().is_some_and(|n| n != "main.rs")
        {
            let rel = p.strip_prefix(root).expect("under src/");
            let text = std::fs::read_to_string(&p).expect("source readable");
            out.push((module_of(rel), text));
        }
    }
}

/// The text before the first inline `#[cfg(test)] mod … {` (test modules sit at the end), with
/// comments dropped so prose naming a module does not count.
fn code_of(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(l) = lines.next() {
        let t = l.trim_start();
        if t.starts_with("#[cfg(test)]")
            && lines
                .peek()
                .is_some_and(|n| n.trim_start().contains("mod ") && n.trim_end().ends_with('{'))
        {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// Every `crate::…`/`super::…`/`child::…` path in `code`, with `use` groups expanded, as
/// module paths relative to the crate root (possibly ending in an item name).
fn paths(module: &str, code: &str, children: &BTreeSet<String>) -> Vec<String> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < bytes.len() {
        if !is_ident(bytes[i]) || (i > 0 && (is_ident(bytes[i - 1]) || bytes[i - 1] == b':')) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_ident(bytes[i]) {
            i += 1;
        }
        let head = &code[start..i];
        if !(head == "crate" || head == "super" || children.contains(head)) {
            continue;
        }
        if !code[i..].starts_with("::") {
            continue;
        }
        let (tail, end) = path_tail(code, i);
        i = end;
        let base: Vec<String> = match head {
            "crate" => Vec::new(),
            "super" => {
                let mut m: Vec<String> = module.split("::").map(String::from).collect();
                m.pop();
                m
            }
            child => module
                .split("::")
                .filter(|s| !s.is_empty())
                .map(String::from)
                .chain([child.to_string()])
                .collect(),
        };
        for t in tail {
            let mut parts = base.clone();
            let mut segs = t.split("::").filter(|s| !s.is_empty()).peekable();
            // `super::super::x`
            while segs.peek() == Some(&"super") {
                segs.next();
                parts.pop();
            }
            parts.extend(segs.map(String::from));
            found.push(parts.join("::"));
        }
    }
    found
}

/// Reads `::a::b::{c, d::e}` from `at`: the expanded tails and where the path ends.
fn path_tail(code: &str, at: usize) -> (Vec<String>, usize) {
    let bytes = code.as_bytes();
    let mut i = at;
    let mut prefix = String::new();
    while code[i..].starts_with("::") {
        i += 2;
        if bytes.get(i) == Some(&b'{') {
            let close = matching_brace(code, i);
            let inner = &code[i + 1..close];
            let mut out = Vec::new();
            for item in split_top(inner) {
                let item = item.trim();
                let item = item.split(" as ").next().unwrap_or(item).trim();
                if item.is_empty() || item == "self" {
                    out.push(prefix.clone());
                    continue;
                }
                let (sub, _) = path_tail(&format!("::{item}"), 0);
                for s in sub {
                    out.push(format!("{prefix}{s}"));
                }
            }
            return (out, close + 1);
        }
        let s = i;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
        prefix.push_str("::");
        prefix.push_str(&code[s..i]);
    }
    (vec![prefix], i)
}

fn matching_brace(code: &str, open: usize) -> usize {
    let mut depth = 0;
    for (k, c) in code[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return open + k;
                }
            }
            _ => {}
        }
    }
    code.len() - 1
}

fn split_top(s: &str) -> Vec<&str> {
    let (mut depth, mut last, mut out) = (0, 0, Vec::new());
    for (k, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[last..k]);
                last = k + 1;
            }
            _ => {}
        }
    }
    out.push(&s[last..]);
    out
}

fn graph() -> Graph {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &root, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut g = Graph::new();
    for (module, text) in &files {
        let code = code_of(text);
        // Child modules declared here, so `child::x` counts as a use of the child.
        let children: BTreeSet<String> = code
            .lines()
            .filter_map(|l| {
                let l = l.trim();
                let rest = l.strip_prefix("pub ").unwrap_or(l);
                let rest = rest
                    .strip_prefix("pub(crate) ")
                    .or_else(|| rest.strip_prefix("pub(super) "))
                    .unwrap_or(rest);
                rest.strip_prefix("mod ")?
                    .strip_suffix(';')
                    .map(str::to_string)
            })
            .collect();
        let edges = g.entry(module.clone()).or_default();
        for p in paths(module, &code, &children) {
            // The longest module the path names.
            let segs: Vec<&str> = p.split("::").collect();
            let target = (0..=segs.len())
                .rev()
                .map(|n| segs[..n].join("::"))
                .find(|m| modules.contains(m))
                .unwrap_or_default();
            if &target != module && !target.is_empty() {
                edges.insert(target);
            }
        }
    }
    g
}

fn find_cycle(g: &Graph) -> Option<Vec<String>> {
    // Depth-first search with the path on a stack.
    fn visit(
        n: &str,
        g: &Graph,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let at = stack.iter().position(|s| s == m).expect("on the stack");
                    let mut c = stack[at..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(m, g, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            let mut stack = Vec::new();
            if let Some(c) = visit(n, g, &mut state, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let g = graph();
    if std::env::var_os("IKE_SNIFF_GRAPH").is_some() {
        for (m, e) in &g {
            println!("{m} -> {}", e.iter().cloned().collect::<Vec<_>>().join(" "));
        }
    }
    assert!(g.len() > 40, "only {} modules found", g.len());
    if let Some(c) = find_cycle(&g) {
        panic!("import circle: {}", c.join(" -> "));
    }
}

#[test]
fn event_imports_from_no_stage() {
    let g = graph();
    for (m, edges) in &g {
        if m == "event" || m.starts_with("event::") {
            for e in edges {
                assert!(
                    e == "event" || e.starts_with("event::"),
                    "{m} imports {e}, a stage"
                );
            }
        }
    }
}

#[test]
fn the_checker_sees_a_circle() {
    let mut g = Graph::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        find_cycle(&g),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    let code = "use super::{x::Y, z};\nuse crate::track::{esp::{EspKey}, Pair};\nfoo(crate::report::fmt::hex(1));";
    let p = paths("diagnose::rules::r", code, &BTreeSet::new());
    assert_eq!(
        p,
        vec![
            "diagnose::rules::x::Y",
            "diagnose::rules::z",
            "track::esp::EspKey",
            "track::Pair",
            "report::fmt::hex"
        ]
    );
}
