//! The server's CPU time and resident memory, from /proc.

use std::time::Duration;

pub struct ProcStats {
    pid: u32,
    ticks_per_second: f64,
}

impl ProcStats {
    pub fn new(pid: u32) -> Self {
        // USER_HZ is 100 on every Linux this runs on (getconf CLK_TCK).
        Self {
            pid,
            ticks_per_second: 100.0,
        }
    }

    /// User plus system CPU time of every thread so far.
    pub fn cpu(&self) -> Result<Duration, String> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))
            .map_err(|e| format!("/proc/{}/stat: {e}", self.pid))?;
        // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
        let after = stat.rsplit_once(')').ok_or("odd /proc stat")?.1;
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: f64 = fields
            .get(11..13)
            .ok_or("short /proc stat")?
            .iter()
            .map(|f| f.parse::<f64>().unwrap_or(0.0))
            .sum();
        Ok(Duration::from_secs_f64(ticks / self.ticks_per_second))
    }

    /// VmRSS in bytes.
    pub fn rss_bytes(&self) -> Result<u64, String> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .map_err(|e| format!("/proc/{}/status: {e}", self.pid))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .ok_or_else(|| "no VmRSS".to_owned())
    }
}
