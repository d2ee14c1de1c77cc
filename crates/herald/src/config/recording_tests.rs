//! Tests of `[recorder]`, `[retention]` and `[storage.s3]`.

use super::*;

use super::tests::{assert_has, errors, load};

/// 2024-01-31T12:00:00Z in unix milliseconds.
const JAN_31: i64 = 1_706_702_400_000;

#[test]
fn defaults_record_pcma_in_one_second_segments_and_keep_voice_13_months() {
    let c = Config::default();
    assert!(c.recorder.enabled);
    assert_eq!(c.recorder.codec, RecordingCodec::Pcma);
    assert_eq!(c.recorder.segment, std::time::Duration::from_secs(1));
    assert_eq!(c.recorder.node_key, c.data_dir.join("node-signing.key"));
    assert_eq!(c.recorder.default_retention, "voice");
    assert_eq!(
        c.recorder.sweep_interval,
        Some(std::time::Duration::from_secs(3600))
    );
    let classes = &c.retention.classes;
    assert_eq!(classes["voice"].keep, RetentionPeriod::Months(13));
    assert_eq!(classes["ivr"].keep, RetentionPeriod::Days(90));
    assert_eq!(classes["mifid"].keep, RetentionPeriod::Years(5));
    assert!(classes["mifid"].legal_obligation);
    assert!(!classes["voice"].legal_obligation);
    assert_eq!(c.storage.s3.spool, c.data_dir.join("spool"));
    assert_eq!(c.storage.s3.region, "us-east-1");
}

#[test]
fn classes_are_added_and_replaced() {
    let c = load(
        "[retention.classes.voice]\nkeep = \"6 months\"\n\n[retention.classes.complaints]\nkeep = \"3 years\"\nlegal_obligation = true\ndescription = \"complaints line\"\n",
    );
    assert_eq!(
        c.retention.classes["voice"].keep,
        RetentionPeriod::Months(6)
    );
    let complaints = &c.retention.classes["complaints"];
    assert_eq!(complaints.keep, RetentionPeriod::Years(3));
    assert!(complaints.legal_obligation);
    assert_eq!(complaints.description, "complaints line");
    assert!(c.retention.classes.contains_key("mifid"), "defaults stay");
}

#[test]
fn bad_recorder_and_retention_keys_name_their_place() {
    assert_has(
        &errors("[recorder]\nsegment_ms = 5000\n"),
        "t.toml:2:14: `recorder.segment_ms`: must be between 100 and 1000",
    );
    assert_has(
        &errors("[recorder]\ncodec = \"opus\"\n"),
        "t.toml:2:9: `recorder.codec`: unknown recording codec \"opus\"",
    );
    assert_has(
        &errors("[recorder]\ndefault_retention = \"forever\"\n"),
        "t.toml:2:21: `recorder.default_retention`: no retention class \"forever\"; the classes are ivr, mifid, voice",
    );
    assert_has(
        &errors("[recorder]\nrecipients = [\"age1nope\"]\n"),
        "t.toml:2:15: `recorder.recipients[0]`: ",
    );
    assert_has(
        &errors("[retention.classes.x]\nkeep = \"13 fortnights\"\n"),
        "t.toml:2:8: `retention.classes.x.keep`: \"13 fortnights\" is not a period",
    );
    assert_has(
        &errors("[retention.classes.x]\nkeep = \"0 days\"\n"),
        "t.toml:2:8: `retention.classes.x.keep`: \"0 days\" must be between 1 day and 100 years",
    );
    assert_has(
        &errors("[retention.classes.x]\nlegal_obligation = true\n"),
        "t.toml:1:1: `retention.classes.x.keep`: missing required key `keep` in [retention.classes.x]",
    );
    assert_has(
        &errors("[retention.classes.x]\nkeep = \"1 day\"\ndays = 3\n"),
        "t.toml:3:1: unknown key `days`",
    );
}

#[test]
fn s3_settings_are_checked_and_the_secret_never_printed() {
    let c = load(
        "[storage]\nrecordings = \"s3://rec/site\"\n[storage.s3]\nendpoint = \"http://127.0.0.1:9000\"\nallow_http = true\naccess_key_id = \"AK\"\nsecret_access_key = \"very-secret\"\n",
    );
    assert_eq!(
        c.storage.s3.endpoint.as_deref(),
        Some("http://127.0.0.1:9000")
    );
    assert_eq!(
        c.storage.s3.secret_access_key.as_ref().map(Secret::expose),
        Some("very-secret")
    );
    assert!(!format!("{c:?}").contains("very-secret"));
    assert_has(
        &errors("[storage.s3]\nendpoint = \"http://127.0.0.1:9000\"\n"),
        "t.toml:2:12: `storage.s3.endpoint`: is plain http: set allow_http = true",
    );
    assert_has(
        &errors("[storage.s3]\naccess_key_id = \"AK\"\n"),
        "t.toml:2:17: `storage.s3.access_key_id`: access_key_id and secret_access_key go together",
    );
}

#[test]
fn retention_periods_count_calendar_units_in_utc() {
    let day = 86_400_000;
    assert_eq!(RetentionPeriod::Days(90).expiry(JAN_31), JAN_31 + 90 * day);
    // 13 months after 31 January 2024: the last day of February 2025.
    let feb_28_2025 = 1_740_744_000_000;
    assert_eq!(RetentionPeriod::Months(13).expiry(JAN_31), feb_28_2025);
    // 5 years, two leap days among them.
    assert_eq!(
        RetentionPeriod::Years(5).expiry(JAN_31),
        JAN_31 + (5 * 365 + 2) * day
    );
    assert_eq!("1 month".parse(), Ok(RetentionPeriod::Months(1)));
    assert_eq!(RetentionPeriod::Months(13).to_string(), "13 months");
    assert_eq!(RetentionPeriod::Days(1).to_string(), "1 day");
    assert!("101 years".parse::<RetentionPeriod>().is_err());
    assert!("13months".parse::<RetentionPeriod>().is_err());
}
