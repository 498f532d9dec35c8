//! The host as `os-hypervisors` reports it, read from `/proc` and QEMU.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use oxistack_virt::{CpuInfo, HostInfo};

const GIB: u64 = 1 << 30;

/// `major.minor.patch` from `qemu-system-x86_64 --version`'s first line,
/// e.g. `QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)`.
pub fn parse_qemu_version(output: &str) -> Option<(u64, u64, u64)> {
    let line = output.lines().next()?;
    let version = line.split("version ").nth(1)?.split_whitespace().next()?;
    let mut numbers = version.split('.').map(|n| n.parse::<u64>());
    let major = numbers.next()?.ok()?;
    let minor = numbers.next()?.ok()?;
    let patch = numbers.next().unwrap_or(Ok(0)).ok()?;
    Some((major, minor, patch))
}

/// Nova's integer form of a version: major * 1,000,000 + minor * 1,000 + patch.
pub fn nova_version((major, minor, patch): (u64, u64, u64)) -> u64 {
    major * 1_000_000 + minor * 1_000 + patch
}

/// Everything but the uptime, which [`uptime_line`] reads on each call.
pub fn probe(instances_dir: &Path, host_ip: IpAddr, version: (u64, u64, u64)) -> HostInfo {
    let hostname = nix::unistd::gethostname()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "localhost".into());
    let vcpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let memory_mib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| meminfo_total_kib(&text))
        .map_or(0, |kib| kib / 1024);
    let disk_gib = nix::sys::statvfs::statvfs(instances_dir)
        .map_or(0, |fs| fs.blocks() * fs.fragment_size() / GIB);
    let cpu = parse_cpuinfo(&std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default());
    HostInfo {
        hostname,
        host_ip,
        hypervisor_type: "QEMU".into(),
        hypervisor_version: nova_version(version),
        vcpus,
        memory_mib,
        disk_gib,
        cpu,
        uptime: uptime_line(),
    }
}

fn meminfo_total_kib(meminfo: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Nova's `cpu_info` from `/proc/cpuinfo` (x86 layout).
pub fn parse_cpuinfo(text: &str) -> CpuInfo {
    let mut model = String::new();
    let mut vendor = String::new();
    let mut features = Vec::new();
    let mut sockets = HashSet::new();
    let mut cores_per_socket = 0;
    let mut siblings = 0;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "model name" if model.is_empty() => model = value.to_owned(),
            "vendor_id" if vendor.is_empty() => vendor = value.to_owned(),
            "flags" if features.is_empty() => {
                features = value.split_whitespace().map(str::to_owned).collect();
            }
            "physical id" => {
                sockets.insert(value.to_owned());
            }
            "cpu cores" => cores_per_socket = value.parse().unwrap_or(0),
            "siblings" => siblings = value.parse().unwrap_or(0),
            _ => {}
        }
    }
    let cores = cores_per_socket.max(1);
    CpuInfo {
        arch: std::env::consts::ARCH.to_owned(),
        model,
        vendor,
        sockets: (sockets.len() as u32).max(1),
        cores,
        threads: (siblings / cores).max(1),
        features,
    }
}

/// The host's uptime as the `uptime` command prints it (clock in UTC;
/// logged-in users are not counted).
pub fn uptime_line() -> String {
    let seconds_up = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0) as u64;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_uptime(now, seconds_up, &load)
}

fn format_uptime(now_unix: u64, seconds_up: u64, loadavg: &str) -> String {
    let clock = now_unix % 86_400;
    let (days, rest) = (seconds_up / 86_400, seconds_up % 86_400);
    let (hours, minutes) = (rest / 3600, rest % 3600 / 60);
    let up = match days {
        0 => format!("{hours:2}:{minutes:02}"),
        1 => format!("1 day, {hours:2}:{minutes:02}"),
        _ => format!("{days} days, {hours:2}:{minutes:02}"),
    };
    let loads: Vec<&str> = loadavg.split_whitespace().take(3).collect();
    let loads = if loads.len() == 3 {
        loads.join(", ")
    } else {
        "0.00, 0.00, 0.00".into()
    };
    format!(
        " {:02}:{:02}:{:02} up {up},  0 users,  load average: {loads}",
        clock / 3600,
        clock % 3600 / 60,
        clock % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_versions_are_parsed_and_encoded_as_nova_does() {
        let debian = "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright (c) 2003-2022 Fabrice Bellard";
        assert_eq!(parse_qemu_version(debian), Some((7, 2, 22)));
        assert_eq!(nova_version((7, 2, 22)), 7_002_022);
        assert_eq!(
            parse_qemu_version("QEMU emulator version 8.1\n"),
            Some((8, 1, 0))
        );
        assert_eq!(parse_qemu_version("something else"), None);
        assert_eq!(parse_qemu_version(""), None);
    }

    #[test]
    fn cpuinfo_gives_topology_and_features() {
        let text = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU\nphysical id\t: 0\nsiblings\t: 4\ncpu cores\t: 2\nflags\t\t: fpu vme sse2\n\nprocessor\t: 1\nvendor_id\t: GenuineIntel\nphysical id\t: 0\nsiblings\t: 4\ncpu cores\t: 2\nflags\t\t: fpu vme sse2\n";
        let cpu = parse_cpuinfo(text);
        assert_eq!(cpu.vendor, "GenuineIntel");
        assert_eq!(cpu.model, "Intel(R) Xeon(R) CPU");
        assert_eq!((cpu.sockets, cpu.cores, cpu.threads), (1, 2, 2));
        assert_eq!(cpu.features, ["fpu", "vme", "sse2"]);
        let empty = parse_cpuinfo("");
        assert_eq!((empty.sockets, empty.cores, empty.threads), (1, 1, 1));
    }

    #[test]
    fn uptime_reads_like_the_command() {
        let line = format_uptime(
            86_400 * 100 + 3_723,
            2 * 86_400 + 3_660,
            "0.15 0.10 0.05 1/100 42\n",
        );
        assert_eq!(
            line,
            " 01:02:03 up 2 days,  1:01,  0 users,  load average: 0.15, 0.10, 0.05"
        );
        assert!(format_uptime(0, 59, "").contains("up  0:00,"));
        assert_eq!(
            meminfo_total_kib("MemTotal:       24000000 kB\n"),
            Some(24_000_000)
        );
    }
}
