//! The crate graph: a function depends on `gobi-shared` and `gobi-domain`, never on another
//! function, so each Lambda links only what it runs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn functions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions")
}

/// Every `key = value` line of a manifest, with the `[section]` it is in (all trimmed).
fn manifest_entries(path: &Path) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut section = String::new();
    let mut entries = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_owned();
        } else if let Some((key, value)) = line.split_once('=') {
            entries.push((
                section.clone(),
                key.trim().to_owned(),
                value.trim().to_owned(),
            ));
        }
    }
    entries
}

/// The package name and the `gobi-*` dependencies (of every dependency table) of a manifest.
fn manifest(path: &Path) -> (String, BTreeSet<String>) {
    let mut name = None;
    let mut depends = BTreeSet::new();
    for (section, key, value) in manifest_entries(path) {
        let key = key.trim_end_matches(".workspace").to_owned();
        if section == "[package]" && key == "name" {
            name = Some(value.trim_matches('"').to_owned());
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

/// A function's own build (`cargo lambda build -p …`) links no OpenAPI documentation: neither a
/// function nor the domain turns on an `openapi` feature for itself (in a dependency or by
/// default); only `gobi-infra` and the tests do.
#[test]
fn no_function_or_the_domain_turns_on_the_documentation_in_its_own_build() {
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(functions_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path().join("Cargo.toml"))
        .collect();
    manifests.push(functions_dir().join("../domain/Cargo.toml"));
    let mut offenders = Vec::new();
    for path in &manifests {
        for (section, key, value) in manifest_entries(path) {
            let in_dependency = section.contains("dependencies") && !section.contains("dev-");
            let by_default = section == "[features]" && key == "default";
            if (in_dependency || by_default) && value.contains("openapi") {
                offenders.push(format!("{}: {key} = {value}", path.display()));
            }
        }
    }
    assert!(manifests.len() >= 12, "found {manifests:?}");
    assert!(
        offenders.is_empty(),
        "documentation turned on in a function's own build: {offenders:?}"
    );
}

/// The AWS SDK runs on its current HTTP stack (hyper 1, rustls 0.23); the legacy client's
/// rustls 0.21 / rustls-webpki 0.101 / hyper 0.14 are not built at all.
#[test]
fn the_lockfile_holds_no_legacy_tls_stack() {
    let lock = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock"))
        .expect("Cargo.lock");
    let packages: Vec<(String, String)> = lock
        .split("[[package]]")
        .filter_map(|block| {
            let field = |key: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{key} = ")))
                    .map(|v| v.trim_matches('"').to_owned())
            };
            Some((field("name")?, field("version")?))
        })
        .collect();
    assert!(packages.len() > 100, "read {} packages", packages.len());
    for (name, legacy) in [
        ("rustls", "0.21."),
        ("rustls-webpki", "0.101."),
        ("hyper", "0.14."),
    ] {
        let found: Vec<&(String, String)> = packages
            .iter()
            .filter(|(n, v)| n == name && v.starts_with(legacy))
            .collect();
        assert!(found.is_empty(), "legacy {name} in Cargo.lock: {found:?}");
    }
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The workspace root and every Rust file of its crates.
fn workspace_rust_files() -> (PathBuf, Vec<PathBuf>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for dir in ["shared", "domain", "functions", "infra", "tests"] {
        rust_files(&root.join(dir), &mut files);
    }
    (root, files)
}

/// The files among `files` but `own` whose text holds any of `calls`.
fn files_calling(files: &[PathBuf], own: &Path, calls: &[&str]) -> Vec<String> {
    files
        .iter()
        .filter(|path| path.as_path() != own)
        .filter(|path| {
            let text = std::fs::read_to_string(path).expect("a source file");
            calls.iter().any(|call| text.contains(call))
        })
        .map(|path| path.display().to_string())
        .collect()
}

/// Every reqwest client starts from `gobi_shared::https`: reqwest's own builder has no TLS
/// provider here (it panics when built) and no other root store is wanted.
#[test]
fn every_http_client_starts_from_the_shared_https_builder() {
    let (root, files) = workspace_rust_files();
    // Spelt in two halves so this file does not find itself.
    let elsewhere = files_calling(
        &files,
        &root.join("shared/src/https.rs"),
        &[
            concat!("reqwest::Client::", "new("),
            concat!("reqwest::Client::", "builder("),
            concat!("reqwest::", "get("),
        ],
    );
    assert!(
        elsewhere.is_empty(),
        "reqwest clients built outside shared/src/https.rs: {elsewhere:?}"
    );
}

/// Every AWS client of the product comes from `gobi_shared::dynamo::sdk_config`, which puts it
/// on `https::sdk_http_client` (Mozilla's roots, no certificate file read)
/// and bounds its timeouts. The bench's baselines and drivers in tests/ load the SDK's defaults
/// on purpose.
#[test]
fn every_aws_client_of_the_product_loads_the_shared_sdk_config() {
    let (root, files) = workspace_rust_files();
    let product: Vec<PathBuf> = files
        .into_iter()
        .filter(|path| {
            ["shared", "domain", "functions"]
                .iter()
                .any(|dir| path.starts_with(root.join(dir)))
        })
        .collect();
    assert!(product.len() > 50, "found {} files", product.len());
    let elsewhere = files_calling(
        &product,
        &root.join("shared/src/dynamo.rs"),
        &[
            concat!("aws_config::", "defaults("),
            concat!("aws_config::", "load_defaults("),
            concat!("aws_config::", "from_env("),
            concat!("aws_config::", "load_from_env("),
        ],
    );
    assert!(
        elsewhere.is_empty(),
        "AWS config loaded outside shared/src/dynamo.rs: {elsewhere:?}"
    );
}

/// Files stay of one concern: none is over 600 lines unless its opening says why.
#[test]
fn no_source_file_is_over_600_lines_without_a_reason_at_its_top() {
    let (_, files) = workspace_rust_files();
    assert!(files.len() > 50, "found {} files", files.len());
    let unexplained: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let text = std::fs::read_to_string(path).expect("a source file");
            let long = text.lines().count() > 600;
            let explained = text
                .lines()
                .take(20)
                .any(|line| line.contains("Longer than 600 lines"));
            (long && !explained).then(|| path.display().to_string())
        })
        .collect();
    assert!(
        unexplained.is_empty(),
        "over 600 lines with no reason at the top: {unexplained:?}"
    );
}
