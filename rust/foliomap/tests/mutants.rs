//! The mutant list (`scripts/mutants.list`) and the mutation points planted in the model
//! (`mutant!("NAME", ...)` in `src/`) name the same mutants: a listed mutant that is not
//! planted would "survive" every run without testing anything, a planted one that is not
//! listed would never run.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
}

/// NAME -> (description, spec section), from `scripts/mutants.list`.
fn listed() -> BTreeMap<String, (String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/mutants.list");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(
            fields.len(),
            3,
            "mutants.list:{}: want NAME<TAB>description<TAB>spec §",
            i + 1
        );
        let (name, desc, spec) = (fields[0], fields[1], fields[2]);
        assert!(
            valid_name(name),
            "mutants.list:{}: bad name '{name}'",
            i + 1
        );
        assert!(
            !desc.trim().is_empty(),
            "mutants.list:{}: no description",
            i + 1
        );
        assert!(
            spec.starts_with('§'),
            "mutants.list:{}: spec section '{spec}' does not start with §",
            i + 1
        );
        let dup = out.insert(name.to_string(), (desc.to_string(), spec.to_string()));
        assert!(
            dup.is_none(),
            "mutants.list:{}: '{name}' listed twice",
            i + 1
        );
    }
    out
}

/// NAME -> places (`file:line`) where `mutant!("NAME", ...)` is written in `src/`, outside
/// comments. The name may follow on the next line (rustfmt breaks long calls).
fn planted() -> BTreeMap<String, Vec<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut files: Vec<_> = fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        let code: Vec<&str> = text
            .lines()
            .map(|l| {
                if l.trim_start().starts_with("//") {
                    ""
                } else {
                    l
                }
            })
            .collect();
        for (i, line) in code.iter().enumerate() {
            let Some(at) = line.find("mutant!(") else {
                continue;
            };
            let mut rest = line[at + "mutant!(".len()..].trim_start().to_string();
            if rest.is_empty() {
                rest = code.get(i + 1).map_or("", |l| l.trim_start()).to_string();
            }
            let name = rest
                .strip_prefix('"')
                .and_then(|r| r.split('"').next())
                .unwrap_or_else(|| {
                    panic!(
                        "{}:{}: mutant! without a string-literal name",
                        file.display(),
                        i + 1
                    )
                });
            let place = format!("{}:{}", file.file_name().unwrap().to_string_lossy(), i + 1);
            out.entry(name.to_string()).or_default().push(place);
        }
    }
    out
}

#[test]
fn list_and_planted_mutants_agree() {
    let listed = listed();
    let planted = planted();
    let listed_names: BTreeSet<_> = listed.keys().cloned().collect();
    let planted_names: BTreeSet<_> = planted.keys().cloned().collect();
    let unplanted: Vec<_> = listed_names.difference(&planted_names).collect();
    let unlisted: Vec<_> = planted_names.difference(&listed_names).collect();
    assert!(
        unplanted.is_empty(),
        "listed in scripts/mutants.list but not planted in src/: {unplanted:?}"
    );
    assert!(
        unlisted.is_empty(),
        "planted in src/ but missing from scripts/mutants.list: {unlisted:?}"
    );
    for (name, places) in &planted {
        assert!(valid_name(name), "bad mutant name '{name}' at {places:?}");
    }
    assert!(listed.len() >= 26, "only {} mutants", listed.len());
}

/// One mistake, one place; the only exception needs both S tests of spec §7.4 skipped
/// to change any decision (either one alone is caught by the other).
#[test]
fn each_mutant_is_planted_once() {
    const TWO_PLACES: &[&str] = &["cow-s-ignored"];
    for (name, places) in planted() {
        let want = if TWO_PLACES.contains(&name.as_str()) {
            2
        } else {
            1
        };
        assert_eq!(places.len(), want, "{name} is planted at {places:?}");
    }
}
