//! include/foliomap.h: not stale, named by the C conventions, and completely covered by
//! the lists in rust/abi-layout (so tests/abi_layout.rs checks every type and value).
use std::collections::BTreeSet;
use std::fs;
use std::process::Command;

use foliomap_abi_layout::{
    for_each_abi_const, for_each_abi_enum, for_each_abi_struct, for_each_abi_struct_const,
};
use foliomap_abi_tests::repo_root;

fn header() -> String {
    let path = repo_root().join("include/foliomap.h");
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Names the header defines: (structs, enums, enumerators + #defines, functions).
struct Names {
    structs: BTreeSet<String>,
    enums: BTreeSet<String>,
    values: BTreeSet<String>,
    functions: BTreeSet<String>,
}

fn ident_prefix(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

fn parse(text: &str) -> Names {
    let mut n = Names {
        structs: BTreeSet::new(),
        enums: BTreeSet::new(),
        values: BTreeSet::new(),
        functions: BTreeSet::new(),
    };
    let mut in_enum = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("typedef struct ") {
            n.structs.insert(ident_prefix(rest));
        } else if let Some(rest) = line.strip_prefix("struct ") {
            if line.trim_end().ends_with('{') {
                n.structs.insert(ident_prefix(rest));
            }
        } else if let Some(rest) = line.strip_prefix("enum ") {
            n.enums.insert(ident_prefix(rest));
            in_enum = true;
        } else if let Some(rest) = line.strip_prefix("#define ") {
            let name = ident_prefix(rest);
            if name != "FOLIOMAP_H" {
                n.values.insert(name);
            }
        } else if in_enum && line.starts_with("};") {
            in_enum = false;
        } else if in_enum {
            let t = line.trim_start();
            if t.contains(" = ") && !t.starts_with('*') && !t.starts_with("/*") {
                n.values.insert(ident_prefix(t));
            }
        } else if line.starts_with(|c: char| c.is_ascii_alphabetic())
            && !line.starts_with("_Static_assert")
            && line.contains('(')
        {
            // A prototype: `ret name(...`; the name is the identifier before '('.
            let before = &line[..line.find('(').unwrap()];
            let start = before
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(0, |i| i + 1);
            n.functions.insert(before[start..].to_string());
        }
    }
    n
}

#[test]
fn header_is_not_stale() {
    let script = repo_root().join("scripts/gen-header");
    let out = Command::new(&script)
        .arg("--check")
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn names_follow_the_c_conventions() {
    let n = parse(&header());
    assert!(!n.structs.is_empty() && !n.enums.is_empty() && !n.values.is_empty());
    assert!(
        n.functions.contains("fm_version"),
        "prototype parser found {:?}",
        n.functions
    );
    let snake = |s: &str| {
        s.starts_with("fm_")
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    let screaming = |s: &str| {
        s.starts_with("FM_")
            && s.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    };
    let mut bad: Vec<String> = Vec::new();
    for s in n.structs.iter().chain(&n.enums).chain(&n.functions) {
        if !snake(s) {
            bad.push(format!("type/function {s} is not fm_snake_case (add it to [export.rename] in cbindgen.toml)"));
        }
    }
    for v in &n.values {
        if !screaming(v) {
            bad.push(format!("value {v} is not FM_SCREAMING_CASE"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn every_header_item_is_in_the_abi_lists() {
    let n = parse(&header());
    let mut listed_types = BTreeSet::new();
    let mut listed_values = BTreeSet::new();
    macro_rules! s {
        ($rust:path => $c:ident { $($f:ident),* $(,)? }) => {
            listed_types.insert(stringify!($c).to_string());
        };
    }
    for_each_abi_struct!(s);
    macro_rules! e {
        ($rust:path: $repr:ty => $c:ident { $($v:ident = $cname:ident),* $(,)? }) => {
            listed_types.insert(stringify!($c).to_string());
            $(listed_values.insert(stringify!($cname).to_string());)*
        };
    }
    for_each_abi_enum!(e);
    macro_rules! k {
        ($cname:ident = $rust:path) => {
            listed_values.insert(stringify!($cname).to_string());
        };
    }
    for_each_abi_const!(k);
    macro_rules! sk {
        ($cname:ident = $rust:expr => $c:ident { $($f:ident),* $(,)? }) => {
            listed_values.insert(stringify!($cname).to_string());
        };
    }
    for_each_abi_struct_const!(sk);

    let in_header: BTreeSet<String> = n.structs.union(&n.enums).cloned().collect();
    let unlisted: Vec<_> = in_header.difference(&listed_types).collect();
    let gone: Vec<_> = listed_types.difference(&in_header).collect();
    let unlisted_values: Vec<_> = n.values.difference(&listed_values).collect();
    let gone_values: Vec<_> = listed_values.difference(&n.values).collect();
    assert!(
        unlisted.is_empty()
            && gone.is_empty()
            && unlisted_values.is_empty()
            && gone_values.is_empty(),
        "include/foliomap.h and rust/abi-layout/src/lib.rs disagree:\n\
         types in the header but not listed: {unlisted:?}\n\
         types listed but not in the header: {gone:?}\n\
         values in the header but not listed: {unlisted_values:?}\n\
         values listed but not in the header: {gone_values:?}"
    );
}
