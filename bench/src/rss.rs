//! Peak resident set size (`VmHWM` of `/proc/<pid>/status`).

/// `VmHWM` of a process, in KiB.
pub fn peak_rss_kib(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no VmHWM in /proc/{pid}/status"))
}

/// `VmHWM` of this process, in MB.
pub fn own_peak_rss_mb() -> Result<f64, String> {
    peak_rss_kib(std::process::id()).map(kib_to_mb)
}

pub fn kib_to_mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_rss_is_read_from_proc() {
        let kib = peak_rss_kib(std::process::id());
        assert!(kib.is_ok_and(|k| k > 0));
        assert!(peak_rss_kib(u32::MAX).is_err());
    }
}
