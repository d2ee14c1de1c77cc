//! Checks of `[agent_groups.NAME]` and of the number handling of `[[trunks]]`.

use std::collections::{BTreeMap, HashSet};

use herald_dialplan::NumberPattern;

use super::Checker;
use crate::config::agents::{AgentGroup, Numbering, Strategy};
use crate::config::raw::{RawAgentGroup, RawTrunk};
use crate::config::source::KeyPath;

impl Checker<'_, '_> {
    pub(super) fn agent_groups(
        &mut self,
        raw: BTreeMap<String, RawAgentGroup>,
        users: &[String],
        path: &KeyPath,
    ) -> Vec<AgentGroup> {
        let mut groups = Vec::new();
        for (name, group) in raw {
            let item = path.key(&name);
            let valid_name = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
            if !valid_name {
                self.error(
                    &item,
                    "a group name must be non-empty and use only A-Z, a-z, 0-9, '_', '.', '-'",
                );
            }
            groups.push(self.agent_group(name, group, users, &item));
        }
        groups
    }

    fn agent_group(
        &mut self,
        name: String,
        raw: RawAgentGroup,
        users: &[String],
        item: &KeyPath,
    ) -> AgentGroup {
        let members_path = item.key("members");
        if raw.members.is_empty() {
            self.error(
                &members_path,
                format_args!("agent group {name:?} has no members"),
            );
        }
        let mut seen = HashSet::new();
        for (i, member) in raw.members.iter().enumerate() {
            if !users.contains(member) {
                self.error(
                    &members_path.index(i),
                    format_args!("{member:?} is not a username of [[users]]"),
                );
            }
            if !seen.insert(member.as_str()) {
                self.error(
                    &members_path.index(i),
                    format_args!("{member:?} is listed twice"),
                );
            }
        }
        let strategy = self
            .parse::<Strategy>(&item.key("strategy"), &raw.strategy)
            .unwrap_or(Strategy::LongestIdle);
        let ring_timeout = self
            .secs(&item.key("ring_timeout"), raw.ring_timeout, 1..=600)
            .unwrap_or_default();
        let wrap_up = self
            .secs(&item.key("wrap_up"), raw.wrap_up, 0..=3_600)
            .unwrap_or_default();
        if let Some(music) = &raw.hold_music {
            self.text(&item.key("hold_music"), music, "a prompt name", true);
        }
        AgentGroup {
            name,
            members: raw.members,
            strategy,
            ring_timeout,
            wrap_up,
            hold_music: raw.hold_music,
        }
    }

    /// A trunk's registration interval, the numbers it may dial, and its numbering plan.
    pub(super) fn trunk_numbers(
        &mut self,
        raw: &RawTrunk,
        item: &KeyPath,
    ) -> (u32, Vec<NumberPattern>, Numbering) {
        let expires = self
            .int(
                &item.key("register_expires"),
                raw.register_expires,
                60..=86_400,
            )
            .unwrap_or(3600);
        let numbers_path = item.key("outbound_numbers");
        let mut outbound = Vec::new();
        for (i, text) in raw.outbound_numbers.iter().enumerate() {
            if !text.starts_with('+') {
                self.error(
                    &numbers_path.index(i),
                    format_args!("{text:?}: outbound numbers are E.164 patterns starting with '+' (e.g. \"+49*\")"),
                );
                continue;
            }
            match NumberPattern::parse(text) {
                Ok(pattern) => outbound.push(pattern),
                Err(e) => self.error(&numbers_path.index(i), e),
            }
        }
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if let Some(cc) = &raw.country_code
            && (cc.is_empty() || cc.len() > 3 || !digits(cc) || cc.starts_with('0'))
        {
            self.error(
                &item.key("country_code"),
                "a country calling code is 1 to 3 digits without '+' or leading zero (e.g. \"49\")",
            );
        }
        for (key, value) in [
            ("national_prefix", &raw.national_prefix),
            ("international_prefix", &raw.international_prefix),
        ] {
            if value.len() > 4 || !digits(value) {
                self.error(&item.key(key), "a dialling prefix is up to 4 digits");
            }
        }
        let numbering = Numbering {
            country_code: raw.country_code.clone(),
            national_prefix: raw.national_prefix.clone(),
            international_prefix: raw.international_prefix.clone(),
        };
        (u32::try_from(expires).unwrap_or(3600), outbound, numbering)
    }
}
