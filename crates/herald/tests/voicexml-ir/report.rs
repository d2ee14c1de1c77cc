//! The result of a VoiceXML IR run: per test, the summary line, the markdown report, and the
//! judgement against `expected-failures.txt`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use super::suite::SkipReason;

/// What happened to one entry test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    /// Why it did not pass (exit value, error, transcript excerpt, or a harness problem).
    Failed(String),
    Skipped(SkipReason),
}

/// The outcome of every entry test, by name.
#[derive(Debug, Default)]
pub struct Report {
    pub outcomes: BTreeMap<String, Outcome>,
}

impl Report {
    fn names(&self, wanted: impl Fn(&Outcome) -> bool) -> BTreeSet<&str> {
        self.outcomes
            .iter()
            .filter(|(_, outcome)| wanted(outcome))
            .map(|(name, _)| name.as_str())
            .collect()
    }

    pub fn passed(&self) -> BTreeSet<&str> {
        self.names(|o| *o == Outcome::Passed)
    }

    pub fn failed(&self) -> BTreeSet<&str> {
        self.names(|o| matches!(o, Outcome::Failed(_)))
    }

    /// Skip reasons with how many tests each one skipped.
    pub fn skip_counts(&self) -> BTreeMap<&SkipReason, usize> {
        let mut counts = BTreeMap::new();
        for outcome in self.outcomes.values() {
            if let Outcome::Skipped(reason) = outcome {
                *counts.entry(reason).or_insert(0) += 1;
            }
        }
        counts
    }

    /// `N passed, N failed, N skipped (reason: N, ...)`.
    pub fn summary(&self) -> String {
        let counts = self.skip_counts();
        let skipped: usize = counts.values().sum();
        let reasons: Vec<String> = counts.iter().map(|(r, n)| format!("{r}: {n}")).collect();
        format!(
            "{} passed, {} failed, {skipped} skipped ({})",
            self.passed().len(),
            self.failed().len(),
            reasons.join("; ")
        )
    }

    /// One line per test, then the summary.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (name, outcome) in &self.outcomes {
            let _ = match outcome {
                Outcome::Passed => writeln!(out, "PASS  {name}"),
                Outcome::Failed(why) => writeln!(out, "FAIL  {name}  {why}"),
                Outcome::Skipped(reason) => writeln!(out, "SKIP  {name}  {reason}"),
            };
        }
        out.push_str(&self.summary());
        out.push('\n');
        out
    }

    /// The report as a markdown document.
    pub fn markdown(&self, command: &str) -> String {
        let mut out = String::from("# W3C VoiceXML 2.0 IR tests through `herald ivr run`\n\n");
        let _ = writeln!(out, "Produced by `{command}`.\n\n**{}**\n", self.summary());
        out.push_str("| test | result | detail |\n| --- | --- | --- |\n");
        for (name, outcome) in &self.outcomes {
            let (result, detail) = match outcome {
                Outcome::Passed => ("pass", String::new()),
                Outcome::Failed(why) => ("**fail**", why.clone()),
                Outcome::Skipped(reason) => ("skip", reason.to_string()),
            };
            let detail = detail.replace('|', "\\|").replace('\n', " ");
            let _ = writeln!(out, "| {name} | {result} | {detail} |");
        }
        out
    }
}

/// `expected-failures.txt`: one test name per line, `# reason` after it; blank lines and
/// lines that are only a comment are ignored.
pub fn read_expected_failures(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What the run means for `expected-failures.txt`.
#[derive(Debug)]
pub struct Judgement {
    /// Failed but not on the list: these fail the test.
    pub unexpected: Vec<String>,
    /// On the list but passed: the list can be trimmed.
    pub now_passing: Vec<String>,
    /// On the list but not run (skipped, or not an entry test).
    pub not_run: Vec<String>,
    /// Tests run (passed or failed).
    pub run: usize,
    /// The passes the list promises: tests run minus listed tests among them.
    pub promised_passes: usize,
}

impl Judgement {
    pub fn new(report: &Report, expected: &BTreeSet<String>) -> Judgement {
        let (passed, failed) = (report.passed(), report.failed());
        let listed = |name: &str| expected.contains(name);
        let names = |set: &BTreeSet<&str>, on_list: bool| -> Vec<String> {
            set.iter()
                .filter(|name| listed(name) == on_list)
                .map(|name| name.to_string())
                .collect()
        };
        let run = passed.len() + failed.len();
        let listed_and_run = passed.iter().chain(&failed).filter(|n| listed(n)).count();
        Judgement {
            unexpected: names(&failed, false),
            now_passing: names(&passed, true),
            not_run: expected
                .iter()
                .filter(|n| !passed.contains(n.as_str()) && !failed.contains(n.as_str()))
                .cloned()
                .collect(),
            run,
            promised_passes: run - listed_and_run,
        }
    }
}
