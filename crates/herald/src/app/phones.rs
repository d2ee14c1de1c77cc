//! Phone quirk profiles: what Herald does differently for a desk phone model, chosen by the
//! User-Agent its registration carried. Every difference lives here, as data, so the call code
//! has no per-vendor conditionals.
//!
//! What the models share needs no profile: each phone is called where it registered from
//! (its UDP source address, or its TCP/TLS connection), DTMF arrives by RFC 2833 or SIP INFO
//! and both are handled, hold is `sendonly` or `inactive` (or `c=0.0.0.0` from old firmware),
//! SUBSCRIBEs for `message-summary` are answered "no messages" and other packages 489.

use herald_media::srtp::SrtpSuite;

/// How Herald treats one family of phones.
#[derive(Debug, PartialEq, Eq)]
pub struct PhoneProfile {
    /// The name the call record shows (`leg-ringing` events).
    pub name: &'static str,
    /// User-Agent prefixes that select the profile (case-sensitive, as the firmware sends).
    user_agents: &'static [&'static str],
    /// The SDES suites to offer, preferred first. Desk phone firmware speaks the AES-CM suites
    /// of RFC 4568 only; an offer that leads with AEAD suites it does not know wastes its
    /// `a=crypto` parsing (older Polycom firmware answers 488 to more than a few).
    pub sdes_suites: &'static [SrtpSuite],
}

const AES_CM: &[SrtpSuite] = &[
    SrtpSuite::AesCm128HmacSha1_80,
    SrtpSuite::AesCm128HmacSha1_32,
];

const ALL_SUITES: &[SrtpSuite] = &[
    SrtpSuite::AeadAes256Gcm,
    SrtpSuite::AeadAes128Gcm,
    SrtpSuite::AesCm128HmacSha1_80,
    SrtpSuite::AesCm128HmacSha1_32,
];

/// AudioCodes 4xxHD (`AudioCodes-Sip-Phone-420HD/...`, `AUDC-IPPhone/...` on C4xx).
pub const AUDIOCODES: PhoneProfile = PhoneProfile {
    name: "audiocodes",
    user_agents: &["AudioCodes-Sip-Phone-", "AUDC-IPPhone"],
    sdes_suites: AES_CM,
};

/// Polycom VVX and SoundPoint IP (`PolycomVVX-VVX_411-UA/...`, `PolycomSoundPointIP-...`).
pub const POLYCOM: PhoneProfile = PhoneProfile {
    name: "polycom",
    user_agents: &[
        "PolycomVVX-",
        "PolycomSoundPointIP-",
        "PolycomSoundStationIP-",
    ],
    sdes_suites: AES_CM,
};

/// Anything else: softphones, SBCs, trunks.
pub const GENERIC: PhoneProfile = PhoneProfile {
    name: "generic",
    user_agents: &[],
    sdes_suites: ALL_SUITES,
};

const PROFILES: [&PhoneProfile; 2] = [&AUDIOCODES, &POLYCOM];

/// The profile for a User-Agent (`None`: none was sent).
pub fn profile_for(user_agent: Option<&str>) -> &'static PhoneProfile {
    let Some(ua) = user_agent else {
        return &GENERIC;
    };
    PROFILES
        .into_iter()
        .find(|p| {
            p.user_agents
                .iter()
                .any(|prefix| ua.trim_start().starts_with(prefix))
        })
        .unwrap_or(&GENERIC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firmware_user_agents_select_their_profile() {
        for (ua, name) in [
            ("AudioCodes-Sip-Phone-420HD/3.4.6.604.59", "audiocodes"),
            ("AUDC-IPPhone/3.4.8.M4 (C450HD; 00908F...)", "audiocodes"),
            ("PolycomVVX-VVX_411-UA/6.4.3.5018", "polycom"),
            ("PolycomSoundPointIP-SPIP_550-UA/4.0.15.1009", "polycom"),
            ("baresip v3.1.0 (x86_64/linux)", "generic"),
            ("", "generic"),
        ] {
            assert_eq!(profile_for(Some(ua)).name, name, "{ua}");
        }
        assert_eq!(profile_for(None).name, "generic");
    }

    #[test]
    fn desk_phones_are_offered_only_the_aes_cm_suites() {
        assert_eq!(AUDIOCODES.sdes_suites, AES_CM);
        assert_eq!(POLYCOM.sdes_suites, AES_CM);
        assert!(GENERIC.sdes_suites.contains(&SrtpSuite::AeadAes256Gcm));
    }
}
