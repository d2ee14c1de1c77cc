//! The dialplans directory: where it is, and every `*.toml` in it read into one [`Dialplan`].
//!
//! Files are read in file-name order (byte order of the names), so `10-sales.toml` comes
//! before `90-default.toml`; hidden files (`.name.toml`, as editors leave behind) and
//! directories are skipped. Parsing and matching are `herald-dialplan`'s; this module only
//! does the I/O and collects the errors of every file, each `file:line:column: message`.

use std::path::{Path, PathBuf};

use herald_dialplan::Dialplan;

use crate::config::Config;

/// Where the system-wide dialplans live when neither the configuration nor the working
/// directory nor the source tree provide them.
const SYSTEM_DIALPLANS: &str = "/usr/share/herald/dialplans";

/// The dialplans directory: `ivr.dialplans`, else the search [`dialplans_dir_or`] describes.
pub fn dialplans_dir(config: &Config) -> PathBuf {
    dialplans_dir_or(config.ivr.dialplans.as_deref())
}

/// The dialplans directory: `configured`, else `./dialplans` if it exists, else the
/// `dialplans` directory of the source tree the binary was built in
/// (`target/<profile>/herald` → `../../dialplans`), else `/usr/share/herald/dialplans`.
pub fn dialplans_dir_or(configured: Option<&Path>) -> PathBuf {
    if let Some(dir) = configured {
        return dir.to_path_buf();
    }
    let beside_build = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.join("dialplans")));
    [Some(PathBuf::from("dialplans")), beside_build]
        .into_iter()
        .flatten()
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| PathBuf::from(SYSTEM_DIALPLANS))
}

/// Reads, parses and merges every dialplan file in `dir`.
///
/// # Errors
///
/// Every problem found, one line each: a directory that cannot be read or holds no
/// `*.toml`, a file that cannot be read, each file's first parse error
/// (`file:line:column: message`), a route name used in two files, and a dialplan without
/// any route (every call would be refused).
pub fn load(dir: &Path) -> Result<Dialplan, Vec<String>> {
    let files = dialplan_files(dir).map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    let mut parsed = Vec::new();
    for path in &files {
        match std::fs::read_to_string(path) {
            Ok(text) => match Dialplan::parse(path, &text) {
                Ok(plan) => parsed.push(plan),
                Err(error) => errors.push(error.to_string()),
            },
            Err(error) => errors.push(format!("{}: cannot read: {error}", path.display())),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let plan = Dialplan::merge(parsed).map_err(|e| vec![e.to_string()])?;
    if plan.routes().is_empty() {
        return Err(vec![format!(
            "{}: the dialplans define no [[route]]: every call would be refused",
            dir.display()
        )]);
    }
    Ok(plan)
}

/// The `*.toml` files of `dir`, sorted by file name; an error when there are none.
fn dialplan_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let cannot = |error: std::io::Error| {
        format!(
            "{}: cannot read the dialplans directory: {error}",
            dir.display()
        )
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(cannot)? {
        let entry = entry.map_err(cannot)?;
        let name = entry.file_name();
        let is_toml = Path::new(&name)
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("toml"));
        let hidden = name.as_encoded_bytes().starts_with(b".");
        if is_toml && !hidden && !entry.path().is_dir() {
            files.push((name, entry.path()));
        }
    }
    if files.is_empty() {
        return Err(format!(
            "{}: no dialplan (*.toml) in the dialplans directory",
            dir.display()
        ));
    }
    files.sort();
    Ok(files.into_iter().map(|(_, path)| path).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTE: &str = "[[route]]\nname = \"NAME\"\napplication = \"a.vxml\"\nlanguage = \"en\"\n";

    fn route(name: &str) -> String {
        ROUTE.replace("NAME", name)
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn files_are_merged_in_file_name_order() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "90-last.toml", &route("last"));
        write(dir.path(), "10-first.toml", &route("first"));
        write(dir.path(), "50-middle.TOML", &route("middle"));
        write(dir.path(), "README.md", "not a dialplan");
        write(dir.path(), ".editor-swap.toml", "broken = [");
        std::fs::create_dir(dir.path().join("sub.toml")).unwrap();
        let plan = load(dir.path()).unwrap();
        let names: Vec<&str> = plan.routes().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["first", "middle", "last"]);
        let herald_dialplan::Action::Answer(answer) = &plan.routes()[0].action else {
            panic!("an application route");
        };
        assert_eq!(
            answer.application,
            herald_dialplan::Application::File(dir.path().join("a.vxml"))
        );
    }

    #[test]
    fn every_file_reports_its_errors_with_positions() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(
            dir.path(),
            "a.toml",
            "[[route]]\nname = \"a\"\nreject = 500\n",
        );
        let b = write(
            dir.path(),
            "b.toml",
            "[[route]]\nname = \"b\"\ncalled = \"+49*\"\n  colour = \"blue\"\nreject = 404\n",
        );
        write(dir.path(), "c.toml", &route("c"));
        let errors = load(dir.path()).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert!(
            errors[0].starts_with(&format!("{}:3:10: reject = 500", a.display())),
            "{}",
            errors[0]
        );
        assert!(
            errors[1].starts_with(&format!("{}:4:3: ", b.display()))
                && errors[1].contains("colour"),
            "{}",
            errors[1]
        );
    }

    #[test]
    fn a_route_name_in_two_files_names_both_places() {
        let dir = tempfile::tempdir().unwrap();
        let first = write(dir.path(), "1.toml", &route("same"));
        let second = write(dir.path(), "2.toml", &format!("\n{}", route("same")));
        let errors = load(dir.path()).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with(&format!("{}:2:1: duplicate route name", second.display())),
            "{}",
            errors[0]
        );
        assert!(
            errors[0].contains(&format!("{}:1:1", first.display())),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn a_missing_or_empty_directory_and_no_route_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let errors = load(&missing).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with(&format!(
                "{}: cannot read the dialplans directory: ",
                missing.display()
            )),
            "{}",
            errors[0]
        );
        let errors = load(dir.path()).unwrap_err();
        assert_eq!(
            errors,
            [format!(
                "{}: no dialplan (*.toml) in the dialplans directory",
                dir.path().display()
            )]
        );
        write(dir.path(), "empty.toml", "# nothing yet\nzone = \"UTC\"\n");
        let errors = load(dir.path()).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("define no [[route]]"), "{}", errors[0]);
    }

    #[test]
    fn the_directory_is_configured_or_searched() {
        let configured = Path::new("/srv/dialplans");
        assert_eq!(dialplans_dir_or(Some(configured)), configured);
        let mut config = Config::default();
        config.ivr.dialplans = Some(configured.to_path_buf());
        assert_eq!(dialplans_dir(&config), configured);
        // The search from the working directory and the build is run by `tests/check_cli.rs`
        // with the real binary (a test binary lives one directory deeper).
    }

    #[test]
    fn the_shipped_dialplans_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dialplans");
        let plan = load(&dir).unwrap_or_else(|e| panic!("{}", e.join("\n")));
        assert!(plan.routes().iter().any(|r| r.name == "default"));
    }
}
