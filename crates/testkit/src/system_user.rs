//! Who we run as, and the `postgres` system user to run as instead when that
//! is root (initdb and postgres refuse to run as root).

use std::fs;

/// A system user's numeric ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SystemUser {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

/// Whether this process's effective user is root, from `/proc/self/status`
/// (`Uid:` real, effective, saved, filesystem). Unknown counts as not root.
pub(crate) fn running_as_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| effective_uid(&status))
        == Some(0)
}

fn effective_uid(status: &str) -> Option<u32> {
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// The user called `name` in `/etc/passwd`.
pub(crate) fn lookup(name: &str) -> Option<SystemUser> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| passwd_entry(line, name))
}

fn passwd_entry(line: &str, name: &str) -> Option<SystemUser> {
    let mut fields = line.split(':');
    if fields.next()? != name {
        return None;
    }
    let _password = fields.next()?;
    Some(SystemUser {
        uid: fields.next()?.parse().ok()?,
        gid: fields.next()?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_effective_uid() {
        let status = "Name:\tcargo\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\n";
        assert_eq!(effective_uid(status), Some(0));
    }

    #[test]
    fn reads_a_passwd_entry() {
        let line = "postgres:x:101:104:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash";
        assert_eq!(
            passwd_entry(line, "postgres"),
            Some(SystemUser { uid: 101, gid: 104 })
        );
        assert_eq!(passwd_entry(line, "postgre"), None);
    }
}
