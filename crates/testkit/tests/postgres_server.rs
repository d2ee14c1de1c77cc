//! Starts a real PostgreSQL server and checks what `PostgresServer` promises:
//! a database reachable at `url()`, on loopback only, gone after drop.

use std::net::{Ipv4Addr, TcpStream};
use std::process::Command;

use herald_testkit::PostgresServer;

fn psql(url: &str, sql: &str) -> String {
    let output = Command::new("psql")
        .args([
            url,
            "--no-psqlrc",
            "--tuples-only",
            "--no-align",
            "--command",
            sql,
        ])
        .env_remove("PGHOST")
        .output()
        .expect("psql runs (it ships with postgresql)");
    assert!(output.status.success(), "psql failed: {output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[test]
fn server_serves_its_database_on_loopback_and_vanishes_on_drop() {
    let Some(server) = PostgresServer::start_or_skip() else {
        return;
    };
    let url = server.url();
    assert!(url.starts_with("postgres://postgres@127.0.0.1:"), "{url}");
    assert_eq!(psql(&url, "SELECT current_database()"), "herald_test");
    assert_eq!(psql(&url, "SHOW listen_addresses"), "127.0.0.1");
    let socket_dir = psql(&url, "SHOW unix_socket_directories");
    assert!(
        socket_dir.starts_with(server.directory().to_str().unwrap()),
        "{socket_dir}"
    );

    let other = server.create_database("second").unwrap();
    assert_eq!(psql(&other, "SELECT current_database()"), "second");

    let port = server.port();
    let dir = server.directory().to_path_buf();
    drop(server);
    assert!(!dir.exists(), "{} survived the drop", dir.display());
    assert!(
        TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err(),
        "something still listens on port {port}"
    );
}

#[test]
fn two_servers_run_side_by_side() {
    let (Some(a), Some(b)) = (
        PostgresServer::start_or_skip(),
        PostgresServer::start_or_skip(),
    ) else {
        return;
    };
    assert_ne!(a.port(), b.port());
    assert_eq!(psql(&a.url(), "SELECT 1"), "1");
    assert_eq!(psql(&b.url(), "SELECT 1"), "1");
}
