//! The crate graph: a function depends on `gobi-shared` and `gobi-domain`, never on another
//! function, so each Lambda links only what it runs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn functions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions")
}

/// The package name and the `gobi-*` dependencies (of every dependency table) of a manifest.
fn manifest(path: &Path) -> (String, BTreeSet<String>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut name = None;
    let mut section = String::new();
    let mut depends = BTreeSet::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_owned();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim().trim_end_matches(".workspace").to_owned();
        if section == "[package]" && key == "name" {
            name = Some(value.trim().trim_matches('"').to_owned());
        } else if section.contains("dependencies") && key.starts_with("gobi-") {
            depends.insert(key);
        }
    }
    (name.expect("a package name"), depends)
}

#[test]
fn no_function_depends_on_another_function() {
    let manifests: Vec<(String, BTreeSet<String>)> = std::fs::read_dir(functions_dir())
        .unwrap()
        .map(|entry| manifest(&entry.unwrap().path().join("Cargo.toml")))
        .collect();
    let functions: BTreeSet<&String> = manifests.iter().map(|(name, _)| name).collect();
    assert!(functions.len() >= 11, "found {functions:?}");
    let mut offenders = Vec::new();
    for (name, depends) in &manifests {
        for dependency in depends {
            if functions.contains(dependency) {
                offenders.push(format!("{name} -> {dependency}"));
            }
            assert!(
                functions.contains(dependency)
                    || ["gobi-shared", "gobi-domain"].contains(&dependency.as_str()),
                "{name} depends on {dependency}, which is neither shared, the domain nor a function"
            );
        }
    }
    assert!(
        offenders.is_empty(),
        "functions depending on other functions (move what both need into gobi-domain or gobi-shared): {offenders:?}"
    );
}
