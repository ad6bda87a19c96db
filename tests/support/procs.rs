//! Finding, waiting for and killing the lab's processes, every wait bounded.

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

/// Kills every live process (other than this one) whose environment has a variable starting
/// with `prefix` or whose command line names `dir`: TERM, up to 3 s of waiting, then KILL.
/// Zombies count as dead (PID 1 may reap them late).
pub fn kill_matching(prefix: &str, dir: &Path) {
    kill_in_rounds(|| matching_pids(prefix, dir));
}

/// `roots` and every process below them, from one read of the process table.
pub fn descendants(roots: &[i32]) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return roots.to_vec();
    };
    let mut children: std::collections::HashMap<i32, Vec<i32>> = Default::default();
    for pid in entries.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok()) {
        let parent = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| stat.rsplit_once(") ")?.1.split(' ').nth(1)?.parse().ok());
        if let Some(parent) = parent {
            children.entry(parent).or_default().push(pid);
        }
    }
    let mut found = roots.to_vec();
    let mut next = 0;
    // Each pid has one parent, so the walk visits each process once.
    while next < found.len() {
        found.extend(children.remove(&found[next]).unwrap_or_default());
        next += 1;
    }
    found
}

/// TERM, up to 3 s of waiting, then KILL and up to 3 s more.
pub fn kill_pids(pids: &[i32]) {
    kill_in_rounds(|| pids.iter().copied().filter(|&pid| alive(pid)).collect());
}

/// TERM to the processes `live` finds, up to 3 s of waiting for them, then KILL to those it
/// finds still alive and up to 3 s more. `live` is asked again each round, so processes
/// started in between are caught too; done as soon as it finds none.
fn kill_in_rounds(mut live: impl FnMut() -> Vec<i32>) {
    for signal in [libc::SIGTERM, libc::SIGKILL] {
        let pids = live();
        if pids.is_empty() {
            return;
        }
        for &pid in &pids {
            // SAFETY: plain kill(2) on a pid found just now.
            unsafe {
                libc::kill(pid, signal);
            }
        }
        wait_until(Duration::from_secs(3), || {
            pids.iter().all(|&pid| !alive(pid))
        });
    }
}

fn matching_pids(prefix: &str, dir: &Path) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id() as i32;
    let dir = dir.to_string_lossy().into_owned().into_bytes();
    let has = |haystack: &[u8], needle: &[u8]| haystack.windows(needle.len()).any(|w| w == needle);
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|&pid| {
            let tagged = std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                env.split(|&b| b == 0)
                    .any(|var| var.starts_with(prefix.as_bytes()))
            });
            tagged || std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmd| has(&cmd, &dir))
        })
        .filter(|&pid| alive(pid))
        .collect()
}

/// The peak resident set (VmHWM) of process `pid` so far, in KiB; `None` once it is gone.
pub fn peak_rss_kb(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A process exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X')),
        Err(_) => false,
    }
}

/// Polls `done` every 10 ms for at most `limit`; true when it held.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    for _ in 0..100_000 {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Waits for a child's output, killing it after `limit`.
pub fn wait_output(mut child: Child, limit: Duration, what: &str) -> std::process::Output {
    let exited = wait_until(limit, || matches!(child.try_wait(), Ok(Some(_))));
    if !exited {
        let _ = child.kill();
        let _ = child.wait();
        panic!("lab: {what} did not finish within {limit:?}");
    }
    child.wait_with_output().expect("lab: child output")
}
