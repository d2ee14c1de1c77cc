//! herald against a real PostgreSQL server: a SIPp call is recorded there and
//! `herald calls list --json` reads it back from PostgreSQL.

mod common;

use common::{Herald, HeraldConfig, Sipp, event_kinds, field, sipp_available};
use herald_testkit::PostgresServer;

#[test]
fn call_is_recorded_in_postgresql() {
    if !sipp_available() {
        return;
    }
    let Some(pg) = PostgresServer::start_or_skip() else {
        return;
    };
    let herald = Herald::start(&HeraldConfig {
        database: Some(pg.url()),
        ..HeraldConfig::default()
    });
    Sipp::new("uac_call.xml")
        .run(&herald)
        .assert_success("INVITE/200/ACK/BYE with PostgreSQL storage");
    let call = herald.wait_for_single_call("the call ended by BYE", |c| {
        field(c, "state") == "ended" && field(c, "hangup_cause") == "caller-bye"
    });
    assert_eq!(field(&call, "transport"), "udp");
    assert!(
        event_kinds(&call).iter().any(|k| k == "confirmed"),
        "{call:#}"
    );
    // The record is in PostgreSQL, not in a SQLite file next to it.
    let data = herald.config_path.parent().unwrap().join("data");
    let sqlite = std::fs::read_dir(&data)
        .map(|d| {
            d.filter_map(Result::ok)
                .any(|e| e.path().extension().is_some_and(|x| x == "db"))
        })
        .unwrap_or(false);
    assert!(
        !sqlite,
        "a SQLite database appeared in {} although storage.database is PostgreSQL",
        data.display()
    );
}
