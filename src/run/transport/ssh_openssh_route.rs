//! The route of each `client: openssh` host as the system ssh resolves it (`ssh -G`), for the
//! plan: user, address, port, ProxyJump and ProxyCommand, read from what this machine's ssh
//! would do. Run only for such hosts, a few at a time, each cut at [`RESOLVE_LIMIT`].

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::ssh_openssh_args::resolve_argv;
use crate::topology::{Host, OpensshRoute};

/// Longest one `ssh -G` may take (it reads files, and runs a `Match exec` if one is written).
const RESOLVE_LIMIT: Duration = Duration::from_secs(5);

/// `ssh -G` runs at once.
const AT_ONCE: usize = 16;

/// Fills in the resolved route of every `client: openssh` host of `hosts`; returns one line
/// per host whose route could not be resolved (the plan then shows the destination only).
pub fn resolve_openssh_routes(hosts: &mut [Host]) -> Vec<String> {
    let mut problems = Vec::new();
    let wanted: Vec<usize> = (0..hosts.len())
        .filter(|&i| hosts[i].ssh.openssh.is_some())
        .collect();
    for batch in wanted.chunks(AT_ONCE) {
        let started: Vec<(usize, Result<Child, String>)> =
            batch.iter().map(|&i| (i, spawn(&hosts[i]))).collect();
        let deadline = Instant::now() + RESOLVE_LIMIT;
        for (index, child) in started {
            let host = &mut hosts[index];
            match child.and_then(|child| wait(child, deadline)) {
                Ok(text) => match parse(&text) {
                    Some(route) => {
                        if let Some(client) = host.ssh.openssh.as_mut() {
                            client.resolved = Some(route);
                        }
                    }
                    None => problems.push(format!("{}: `ssh -G` printed no route", host.name)),
                },
                Err(why) => problems.push(format!("{}: {why}", host.name)),
            }
        }
    }
    problems
}

fn spawn(host: &Host) -> Result<Child, String> {
    let client = host.ssh.openssh.as_ref().ok_or("not an openssh host")?;
    let args = resolve_argv(host, client).map_err(|e| e.to_string())?;
    Command::new("ssh")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `ssh -G` ({e})"))
}

/// The output of `child`, killed past `deadline`.
fn wait(mut child: Child, deadline: Instant) -> Result<String, String> {
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("`ssh -G` ran past {RESOLVE_LIMIT:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("`ssh -G`: {e}")),
        }
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("`ssh -G` failed: {}", stderr.trim()));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The route in `ssh -G`'s output (`key value` lines, keys in lower case).
fn parse(text: &str) -> Option<OpensshRoute> {
    let value = |key: &str| {
        text.lines().find_map(|line| {
            let (k, v) = line.split_once(' ')?;
            (k == key).then(|| v.trim().to_string())
        })
    };
    let set = |key: &str| value(key).filter(|v| v != "none");
    Some(OpensshRoute {
        user: value("user")?,
        hostname: value("hostname")?,
        port: value("port")?.parse().ok()?,
        proxy_jump: set("proxyjump"),
        proxy_command: set("proxycommand"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_route_from_ssh_g_output() {
        let text =
            "host web1\nuser ops\nhostname 10.0.0.5\nport 2222\nproxycommand ssh -W %h:%p gw\n";
        let route = parse(text).unwrap();
        assert_eq!(
            route.text(),
            "ops@10.0.0.5:2222 via ProxyCommand `ssh -W %h:%p gw`"
        );
        let text = "user ops\nhostname h\nport 22\nproxyjump none\n";
        assert_eq!(parse(text).unwrap().proxy_jump, None);
        assert!(parse("user ops\n").is_none(), "no hostname, no route");
    }
}
