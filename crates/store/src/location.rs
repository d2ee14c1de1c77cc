//! Where the database lives, parsed from the URL given to
//! [`Store::connect`](crate::Store::connect).

use std::path::PathBuf;
use std::str::FromStr;

use sqlx::sqlite::SqliteConnectOptions;

use crate::StoreError;

/// A database URL, classified.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Location {
    /// A SQLite file. `url` is the URL to hand to sqlx: the caller's, with
    /// `mode=rwc` added unless it chose a mode, so the file is created.
    SqliteFile { path: PathBuf, url: String },
    /// A SQLite database in memory (`sqlite::memory:`), gone when the store is.
    SqliteMemory { url: String },
    /// A PostgreSQL server.
    Postgres { url: String },
}

impl Location {
    pub(crate) fn parse(url: &str) -> Result<Location, StoreError> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Self::sqlite(url),
            "postgres" | "postgresql" => Ok(Location::Postgres {
                url: url.to_owned(),
            }),
            _ => Err(StoreError::UnsupportedUrl {
                scheme: scheme.to_owned(),
            }),
        }
    }

    /// Mirrors sqlx's own reading of a SQLite URL: `sqlite://PATH?PARAMS` or
    /// `sqlite:PATH?PARAMS`, where PATH may be `:memory:`.
    fn sqlite(url: &str) -> Result<Location, StoreError> {
        let rest = url
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:");
        let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
        let has_param = |name: &str| {
            params
                .split('&')
                .any(|pair| pair.split('=').next() == Some(name))
        };
        if database == ":memory:" || params.split('&').any(|pair| pair == "mode=memory") {
            return Ok(Location::SqliteMemory {
                url: url.to_owned(),
            });
        }
        let options = SqliteConnectOptions::from_str(url).map_err(StoreError::Connect)?;
        let path = options.get_filename().to_path_buf();
        let url = if has_param("mode") {
            url.to_owned()
        } else if params.is_empty() {
            format!("sqlite://{database}?mode=rwc")
        } else {
            format!("sqlite://{database}?{params}&mode=rwc")
        };
        Ok(Location::SqliteFile { path, url })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, url: &str) -> Location {
        Location::SqliteFile {
            path: PathBuf::from(path),
            url: url.to_owned(),
        }
    }

    #[test]
    fn sqlite_file_urls_get_create_mode() {
        assert_eq!(
            Location::parse("sqlite://data/herald.db").unwrap(),
            file("data/herald.db", "sqlite://data/herald.db?mode=rwc")
        );
        assert_eq!(
            Location::parse("sqlite:///var/lib/herald/h.db").unwrap(),
            file(
                "/var/lib/herald/h.db",
                "sqlite:///var/lib/herald/h.db?mode=rwc"
            )
        );
        assert_eq!(
            Location::parse("sqlite:h.db?cache=private").unwrap(),
            file("h.db", "sqlite://h.db?cache=private&mode=rwc")
        );
    }

    #[test]
    fn rewritten_sqlite_urls_still_parse_as_urls() {
        // sqlx's Any driver parses the URL before the SQLite driver reads it.
        for url in [
            "sqlite://data/herald.db",
            "sqlite:./data/herald.db",
            "sqlite:h.db?cache=shared",
        ] {
            let Location::SqliteFile { url, .. } = Location::parse(url).unwrap() else {
                panic!("{url} is a file");
            };
            sqlx::any::AnyConnectOptions::from_str(&url).unwrap();
            let options = SqliteConnectOptions::from_str(&url).unwrap();
            assert!(!options.get_filename().as_os_str().is_empty());
        }
    }

    #[test]
    fn an_explicit_sqlite_mode_is_kept() {
        assert_eq!(
            Location::parse("sqlite://h.db?mode=ro").unwrap(),
            file("h.db", "sqlite://h.db?mode=ro")
        );
    }

    #[test]
    fn memory_and_postgres_urls_pass_through() {
        assert!(matches!(
            Location::parse("sqlite::memory:").unwrap(),
            Location::SqliteMemory { .. }
        ));
        assert!(matches!(
            Location::parse("postgres://u:p@127.0.0.1:5432/herald").unwrap(),
            Location::Postgres { .. }
        ));
        assert!(matches!(
            Location::parse("postgresql://localhost/herald").unwrap(),
            Location::Postgres { .. }
        ));
    }

    #[test]
    fn other_schemes_are_refused_without_echoing_the_url() {
        let error = Location::parse("mysql://root:secret@db/herald").unwrap_err();
        assert!(matches!(&error, StoreError::UnsupportedUrl { scheme } if scheme == "mysql"));
        assert!(!error.to_string().contains("secret"));
    }
}
