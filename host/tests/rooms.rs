//! The rooms of `host/src` (the modules `lib.rs` and `main.rs` declare) and
//! the modules inside each room import one another without a cycle: an
//! outer room builds what an inner room runs (`docs/architecture.md`, "Room
//! order"). Read from the sources, so a new room or a new import is checked
//! without anyone updating a list here.
//!
//! An edge is a path in code: `crate::<room>` or `super::…` resolving to
//! another room, and `ward::<room>` in the binary's files. Comments and
//! literals are left out first: a doc link names a room without depending on
//! it.
// Test code: a broken assumption should stop the test loudly, so unwrap,
// expect, panic and indexing are allowed (clippy.toml does the same for
// `#[cfg(test)]` modules).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod source_tree;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs;
use std::path::Path;

/// Module path (`["lifecycle", "reload"]`) → the paths it names, as written.
type Graph = BTreeMap<String, BTreeMap<String, String>>;

#[test]
fn rooms_import_one_another_without_a_cycle() {
    let tree = Tree::read();
    let cycles = cycles(&tree.room_edges());
    assert!(cycles.is_empty(), "import cycle between the rooms of host/src:\n{}", tree.explain(&cycles, &tree.room_edges()));
}

#[test]
fn modules_inside_each_room_import_one_another_without_a_cycle() {
    let tree = Tree::read();
    let mut found = String::new();
    for room in &tree.rooms {
        let edges = tree.module_edges(room);
        let cycles = cycles(&edges);
        if !cycles.is_empty() {
            found.push_str(&format!("in {room}/:\n{}", tree.explain(&cycles, &edges)));
        }
    }
    assert!(found.is_empty(), "import cycle between the modules of a room:\n{found}");
}

/// The checker itself: a cycle in a made-up tree is found and named, and
/// what only a comment or a string mentions is not an edge.
#[test]
fn the_checker_finds_a_cycle_and_ignores_comments_and_strings() {
    let file = |module: &[&str], text: &str| File {
        module: module.iter().map(|s| (*s).to_owned()).collect(),
        path: format!("{}.rs", module.join("/")),
        binary: false,
        code: strip(text),
    };
    let tree = Tree {
        rooms: ["a", "b", "c"].map(str::to_owned).into(),
        binary_rooms: BTreeSet::new(),
        files: vec![
            file(&["a"], "use crate::b::X;\n/// [`crate::c::Y`]\nfn f() { let s = \"crate::c::\"; }"),
            file(&["b", "inner"], "use super::super::{c::Z, b::W};"),
            file(&["c"], "fn g() -> crate::a::T { todo!() } // crate::b"),
            file(&["c", "one"], "use super::two::A;"),
            file(&["c", "two"], "mod tests { use super::super::one::B; }"),
        ],
    };
    let edges = tree.room_edges();
    assert_eq!(edges["a"].keys().collect::<Vec<_>>(), ["b"]);
    assert_eq!(edges["b"].keys().collect::<Vec<_>>(), ["c"]);
    assert_eq!(edges["c"].keys().collect::<Vec<_>>(), ["a"]);
    assert_eq!(cycles(&edges), vec![vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]]);
    let text = tree.explain(&cycles(&edges), &edges);
    assert!(text.contains("a -> b -> c -> a"), "{text}");
    assert!(text.contains("b -> c: b/inner.rs: super::super::{…"), "{text}");
    assert!(text.contains("c -> a: c.rs: crate::a::T\n"), "{text}");
    // `mod tests` inside `two` is one level deeper: `super::super` is `c`.
    let modules = tree.module_edges("c");
    assert_eq!(cycles(&modules), vec![vec!["one".to_owned(), "two".to_owned()]]);
}

struct Tree {
    /// Every top-level module of the library and the binary.
    rooms: BTreeSet<String>,
    /// Those declared by `main.rs`: their `crate::` is the binary's.
    binary_rooms: BTreeSet<String>,
    files: Vec<File>,
}

struct File {
    /// The module the file is, from the crate root.
    module: Vec<String>,
    /// For messages, relative to `host/src`.
    path: String,
    binary: bool,
    /// Comments and literals removed.
    code: String,
}

impl Tree {
    fn read() -> Self {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let library = declared_modules(&src.join("lib.rs"));
        let binary_rooms = declared_modules(&src.join("main.rs"));
        let rooms: BTreeSet<String> = library.union(&binary_rooms).cloned().collect();
        assert!(rooms.contains("lifecycle") && rooms.contains("cli"), "no rooms read from {}", src.display());
        let mut files = Vec::new();
        for room in &rooms {
            let mut paths = Vec::new();
            let single = src.join(format!("{room}.rs"));
            if single.is_file() {
                paths.push(single);
            }
            source_tree::rust_files(&src.join(room), &mut paths);
            for path in paths {
                let relative = path.strip_prefix(&src).unwrap_or(&path).to_path_buf();
                let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                files.push(File {
                    module: module_of(&relative),
                    path: relative.display().to_string(),
                    binary: binary_rooms.contains(room),
                    code: strip(&text),
                });
            }
        }
        Self { rooms, binary_rooms, files }
    }

    /// room → the other rooms its files name.
    fn room_edges(&self) -> Graph {
        let mut graph: Graph = self.rooms.iter().map(|room| (room.clone(), BTreeMap::new())).collect();
        for file in &self.files {
            let from = &file.module[0];
            for (target, written) in references(file) {
                let Some(to) = target.first() else { continue };
                let same_crate = self.binary_rooms.contains(to) == file.binary || written.starts_with("ward::");
                if to != from && self.rooms.contains(to) && same_crate {
                    let slot = graph.entry(from.clone()).or_default().entry(to.clone()).or_default();
                    note(slot, &file.path, &written);
                }
            }
        }
        graph
    }

    /// Within `room`: its child module → the sibling modules it names.
    /// The room's own `mod.rs` re-exports its children and is left out.
    fn module_edges(&self, room: &str) -> Graph {
        let children: BTreeSet<&str> = self.files.iter().filter(|f| f.module.len() >= 2 && f.module[0] == room).map(|f| f.module[1].as_str()).collect();
        let mut graph: Graph = children.iter().map(|c| ((*c).to_owned(), BTreeMap::new())).collect();
        for file in self.files.iter().filter(|f| f.module.len() >= 2 && f.module[0] == room) {
            for (target, written) in references(file) {
                let [to_room, to, ..] = target.as_slice() else { continue };
                if to_room == room && *to != file.module[1] && children.contains(to.as_str()) {
                    let slot = graph.entry(file.module[1].clone()).or_default().entry(to.clone()).or_default();
                    note(slot, &file.path, &written);
                }
            }
        }
        graph
    }

    /// Each cycle as `a -> b -> a`, with where each edge is written.
    fn explain(&self, cycles: &[Vec<String>], edges: &Graph) -> String {
        let mut text = String::new();
        for cycle in cycles {
            let mut ring = cycle.clone();
            ring.push(cycle[0].clone());
            text.push_str(&format!("  {}\n", ring.join(" -> ")));
            for pair in ring.windows(2) {
                let (from, to) = (&pair[0], &pair[1]);
                text.push_str(&format!("    {from} -> {to}: {}\n", edges[from][to]));
            }
        }
        text
    }
}

fn note(slot: &mut String, path: &str, written: &str) {
    // The first three places are enough to find the edge.
    if slot.matches(", ").count() < 2 {
        if !slot.is_empty() {
            slot.push_str(", ");
        }
        slot.push_str(&format!("{path}: {written}"));
    }
}

/// `mod x;` and `pub mod x;` lines of a crate root.
fn declared_modules(root: &Path) -> BTreeSet<String> {
    let text = fs::read_to_string(root).unwrap_or_else(|e| panic!("{}: {e}", root.display()));
    strip(&text)
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let line = line.strip_prefix("pub(crate) ").or_else(|| line.strip_prefix("pub ")).unwrap_or(line);
            line.strip_prefix("mod ")?.strip_suffix(';').map(|name| name.trim().to_owned())
        })
        .collect()
}

/// `lifecycle/reload.rs` → `[lifecycle, reload]`; `lifecycle/mod.rs` → `[lifecycle]`.
fn module_of(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs");
        if stem != "mod" {
            parts.push(stem.to_owned());
        }
    }
    parts
}

/// Rust source without comments, string, byte-string and char literals
/// (each becomes a space, so line structure and token boundaries stay).
fn strip(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r' && raw_string_opens(&chars, i) {
            // A raw string: r"…", r#"…"#, br"…".
            let mut hashes = 0;
            i += 1;
            while at(i) == '#' {
                hashes += 1;
                i += 1;
            }
            i += 1;
            while i < chars.len() && !(chars[i] == '"' && (1..=hashes).all(|h| at(i + h) == '#')) {
                i += 1;
            }
            i += 1 + hashes;
            out.push(' ');
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push(' ');
        } else if c == '\'' && (at(i + 1) == '\\' || at(i + 2) == '\'') {
            // A char literal ('x', '\n', '\u{1F600}'); a lifetime ('a) stays.
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
            out.push(' ');
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Whether the `r` at `i` opens a raw string (`r"…"`, `r#"…"#`, `br"…"`),
/// rather than ending a word or starting a raw identifier (`r#type`).
fn raw_string_opens(chars: &[char], i: usize) -> bool {
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let before = at(i.wrapping_sub(1));
    let word_start = !ident(before) || (before == 'b' && !ident(at(i.wrapping_sub(2))));
    let quote = (i + 1..).find(|&j| at(j) != '#').map_or('\0', at);
    word_start && quote == '"'
}

/// Every path in `file` that starts at `crate`, `super` or (in the
/// binary) `ward`, resolved to a module path from its crate's root, with
/// the path as written.
fn references(file: &File) -> Vec<(Vec<String>, String)> {
    let tokens = tokenize(&file.code);
    let mut found = Vec::new();
    // Inline modules (`mod tests { … }`) open at a brace depth; `super`
    // inside one is that module's parent.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i].as_str();
        let starts_path = i == 0 || tokens[i - 1] != "::";
        match token {
            "{" => depth += 1,
            "}" => {
                if inline.last().is_some_and(|(_, at)| *at == depth) {
                    inline.pop();
                }
                depth -= 1;
            }
            "mod" if tokens.get(i + 2).is_some_and(|t| t == "{") => {
                inline.push((tokens[i + 1].clone(), depth + 1));
            }
            "crate" | "super" | "ward" if starts_path && tokens.get(i + 1).is_some_and(|t| t == "::") => {
                if token == "ward" && !file.binary {
                    i += 1;
                    continue;
                }
                let mut base: Vec<String> = file.module.clone();
                base.extend(inline.iter().map(|(name, _)| name.clone()));
                let mut j = i;
                if token == "super" {
                    while tokens.get(j).is_some_and(|t| t == "super") && tokens.get(j + 1).is_some_and(|t| t == "::") {
                        base.pop();
                        j += 2;
                    }
                } else {
                    base.clear();
                    j += 2;
                }
                let written = path_text(&tokens[i..]);
                for first in group_heads(&tokens, j) {
                    let mut target = base.clone();
                    target.push(first);
                    // One more segment, for the module graph inside a room.
                    if let (Some(sep), Some(next)) = (tokens.get(j + 1), tokens.get(j + 2))
                        && sep == "::"
                        && next.chars().all(|c| c.is_alphanumeric() || c == '_')
                        && tokens[j] != "{"
                    {
                        target.push(next.clone());
                    }
                    found.push((target, written.clone()));
                }
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// The path that starts `tokens`, up to its group's brace if it has one.
fn path_text(tokens: &[String]) -> String {
    let mut text = String::new();
    for token in tokens {
        let word = token.chars().all(|c| c.is_alphanumeric() || c == '_');
        let group = (token == "{" || token == "*") && text.ends_with("::");
        if !(word || token == "::" || group) {
            break;
        }
        text.push_str(token);
        if token == "{" {
            text.push('…');
            break;
        }
    }
    text
}

/// The first segment of the path at `tokens[j]`, or of each item of the
/// group `{a::X, b::{Y, Z}}` that opens there.
fn group_heads(tokens: &[String], j: usize) -> Vec<String> {
    let Some(first) = tokens.get(j) else { return Vec::new() };
    if first != "{" {
        return vec![first.clone()];
    }
    let mut heads = Vec::new();
    let (mut depth, mut expect_head) = (0, true);
    for token in &tokens[j..] {
        match token.as_str() {
            "{" => {
                depth += 1;
                expect_head = depth == 1;
            }
            "}" => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            "," if depth == 1 => expect_head = true,
            other if expect_head && depth == 1 => {
                heads.push(other.to_owned());
                expect_head = false;
            }
            _ => {}
        }
    }
    heads
}

/// Identifiers, `::`, and every other character on its own.
fn tokenize(code: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() || c == '_' || c == '$' {
            let mut word = String::from(c);
            while let Some(&next) = chars.peek() {
                if !(next.is_alphanumeric() || next == '_') {
                    break;
                }
                word.push(next);
                chars.next();
            }
            tokens.push(word.trim_start_matches('$').to_owned());
        } else if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            tokens.push("::".to_owned());
        } else if !c.is_whitespace() {
            tokens.push(c.to_string());
        }
    }
    tokens
}

/// For each node on a cycle, the shortest cycle through it, starting at its
/// smallest node, without repeats: enough to name every tangle, small
/// enough to read.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    let mut found = BTreeSet::new();
    for start in graph.keys() {
        // Breadth first from `start`'s successors back to `start`.
        let mut came_from: BTreeMap<&String, &String> = BTreeMap::new();
        let mut queue: VecDeque<&String> = VecDeque::from([start]);
        let mut closed = None;
        while let Some(node) = queue.pop_front() {
            for next in graph.get(node).into_iter().flat_map(BTreeMap::keys) {
                if next == start {
                    closed = Some(node);
                    break;
                }
                if !came_from.contains_key(next) {
                    came_from.insert(next, node);
                    queue.push_back(next);
                }
            }
            if closed.is_some() {
                break;
            }
        }
        let Some(mut node) = closed else { continue };
        let mut cycle = vec![node.clone()];
        while node != start {
            node = came_from[node];
            cycle.push(node.clone());
        }
        cycle.reverse();
        let smallest = cycle.iter().enumerate().min_by_key(|(_, n)| *n).map_or(0, |(i, _)| i);
        cycle.rotate_left(smallest);
        found.insert(cycle);
    }
    found.into_iter().collect()
}
