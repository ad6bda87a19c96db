//! The real transports against the lab: sshd per host on loopback, ipmi_sim BMCs, a python
//! service started over SSH. Each test has its own `127.77.B.x` block.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use blackstart::plan::actions::RenderedCheck;
use blackstart::run::transport::ipmi::IpmiPower;
use blackstart::run::transport::probe::DirectProbe;
use blackstart::run::transport::ssh::SshRemote;
use blackstart::run::transport::{
    Power, PowerAction, PowerState, Probe, Remote, TransportError, OUTPUT_TAIL_BYTES,
};
use blackstart::topology::{HttpCheck, SecretSource, TlsTrust};
use support::lab::{wait_until, Lab, LabSecret};

const T: Duration = Duration::from_secs(10);

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Waits (bounded) until SSH answers on `host`.
async fn wait_ssh(remote: &SshRemote, host: &blackstart::topology::Host) -> Duration {
    let start = Instant::now();
    for _ in 0..200 {
        if remote.reachable(host, Duration::from_secs(2)).await.is_ok() {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < T,
            "{}: SSH did not answer within {T:?}",
            host.name
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{}: SSH did not answer", host.name);
}

/// Polls `done` until it holds or `limit` passes (without blocking the runtime); whether it
/// held.
async fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_exec_returns_output_and_exit_code() {
    let lab = Lab::start_with("sx", (77, 10), 1, &[0]);
    let host = lab.host(0);
    let remote = SshRemote::new(4);

    let out = remote
        .exec(
            &host,
            "echo hello; echo oops >&2; echo $LAB_HOST; exit 7",
            T,
        )
        .await
        .expect("exec");
    assert_eq!(out.exit_code, Some(7));
    assert_eq!(out.stdout, format!("hello\n{}\n", host.name));
    assert_eq!(out.stderr, "oops\n");

    // Output is bounded to the tail.
    let out = remote
        .exec(
            &host,
            "head -c 100000 /dev/zero | tr '\\0' x; printf END",
            T,
        )
        .await
        .expect("big output");
    assert_eq!(out.exit_code, Some(0));
    assert_eq!(out.stdout.len(), OUTPUT_TAIL_BYTES);
    assert!(out.stdout.ends_with("xxEND"));

    // Killed by a signal: no exit code.
    let out = remote.exec(&host, "kill -9 $$", T).await.expect("signal");
    assert_eq!(out.exit_code, None, "{out:?}");

    remote.reachable(&host, T).await.expect("reachable");

    let mut exec = Vec::new();
    for _ in 0..10 {
        let start = Instant::now();
        let out = remote.exec(&host, "true", T).await.expect("true");
        assert_eq!(out.exit_code, Some(0));
        exec.push(start.elapsed());
    }
    let mut reach = Vec::new();
    for _ in 0..10 {
        let start = Instant::now();
        remote.reachable(&host, T).await.expect("reachable");
        reach.push(start.elapsed());
    }
    // Parallel: 20 execs through a cap of 4 sessions.
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (remote, host) = (remote.clone(), host.clone());
        tasks.spawn(async move { remote.exec(&host, "true", T).await });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.unwrap().expect("parallel exec").exit_code, Some(0));
    }
    eprintln!(
        "COST ssh exec `true` (connect+handshake+auth+exec+close): median {:?}, min {:?}; \
         reachable (no command): median {:?}; 20 execs with 4 sessions: {:?} wall",
        median(exec.clone()),
        exec.iter().min().unwrap(),
        median(reach),
        start.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_hanging_command_is_cut_at_timeout() {
    let lab = Lab::start_with("sh", (77, 12), 1, &[0]);
    let host = lab.host(0);
    let remote = SshRemote::new(2);
    let limit = Duration::from_millis(1500);

    for command in [
        "sleep 60",
        "sleep 60 & echo started; wait",
        "(sleep 60 &) ; echo daemon",
    ] {
        let start = Instant::now();
        let result = remote.exec(&host, command, limit).await;
        let elapsed = start.elapsed();
        match &result {
            Err(TransportError::Timeout {
                host: name, after, ..
            }) => {
                assert_eq!(name, &host.name);
                assert_eq!(*after, limit);
            }
            other => panic!("`{command}`: expected a timeout, got {other:?}"),
        }
        assert!(
            elapsed < limit + Duration::from_millis(500),
            "`{command}` cut after {elapsed:?}, limit {limit:?}"
        );
        assert!(elapsed >= limit - Duration::from_millis(50), "{elapsed:?}");
        eprintln!("COST `{command}` cut at {limit:?} after {elapsed:?}");
    }
    // The host still answers afterwards.
    let out = remote
        .exec(&host, "echo alive", T)
        .await
        .expect("after timeout");
    assert_eq!(out.stdout, "alive\n");
    lab.power_off(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_refuses_changed_and_unknown_host_keys() {
    let lab = Lab::start_with("sk", (77, 14), 2, &[0, 1]);
    let remote = SshRemote::new(2);

    let mut changed = lab.host(0);
    changed.ssh.login.known_hosts = lab.known_hosts_with_wrong_key(0);
    let err = remote
        .exec(&changed, "touch /tmp/should-not-run", T)
        .await
        .unwrap_err();
    match &err {
        TransportError::HostKey { host, detail } => {
            assert_eq!(host, &changed.name);
            assert!(detail.contains("DIFFERS"), "{detail}");
            assert!(
                detail.contains(&changed.ssh.login.known_hosts.display().to_string()),
                "{detail}"
            );
        }
        other => panic!("expected a host key refusal, got {other:?}"),
    }
    assert!(err.to_string().contains(&changed.name), "{err}");
    // reachable() refuses too (the executor must not wait on it).
    assert!(matches!(
        remote.reachable(&changed, T).await,
        Err(TransportError::HostKey { .. })
    ));

    let mut unknown = lab.host(1);
    unknown.ssh.login.known_hosts = lab.known_hosts_without(1);
    match remote.exec(&unknown, "true", T).await {
        Err(TransportError::HostKey { host, detail }) => {
            assert_eq!(host, unknown.name);
            assert!(detail.contains("not in"), "{detail}");
        }
        other => panic!("expected a host key refusal, got {other:?}"),
    }

    let mut missing = lab.host(1);
    missing.ssh.login.known_hosts = lab.dir.join("no-such-known-hosts");
    assert!(matches!(
        remote.exec(&missing, "true", T).await,
        Err(TransportError::HostKey { .. })
    ));

    // Strict checking off: accepted (with a warning in the log).
    unknown.ssh.login.strict_host_key_checking = false;
    let out = remote
        .exec(&unknown, "echo accepted", T)
        .await
        .expect("non-strict");
    assert_eq!(out.stdout, "accepted\n");

    // A key the host does not accept: an auth error, not a host key error.
    let mut stranger = lab.host(0);
    stranger.ssh.login.key = Some(lab.dir.join("impostor-1"));
    match remote.exec(&stranger, "true", T).await {
        Err(TransportError::Auth { host, .. }) => assert_eq!(host, stranger.name),
        other => panic!("expected an auth error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipmi_power_switches_the_hosts_sshd() {
    let lab = Lab::start("ip", (77, 16), 1);
    let host = lab.host(0);
    let power = IpmiPower::new(4);
    let remote = SshRemote::new(2);

    let mut calls = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        assert_eq!(
            power.power(&host, PowerAction::Status).await.unwrap(),
            PowerState::Off
        );
        calls.push(start.elapsed());
    }
    assert!(!lab.is_on(0));
    assert!(remote
        .exec(&host, "true", Duration::from_secs(2))
        .await
        .is_err());

    let start = Instant::now();
    assert_eq!(
        power.power(&host, PowerAction::On).await.unwrap(),
        PowerState::On
    );
    let on_call = start.elapsed();
    let boot = wait_ssh(&remote, &host).await;
    assert_eq!(
        power.power(&host, PowerAction::Status).await.unwrap(),
        PowerState::On
    );
    let out = remote
        .exec(&host, "echo up", T)
        .await
        .expect("exec after power on");
    assert_eq!(out.stdout, "up\n");

    // Off kills the sshd and its sessions. The session leaves a mark once it runs, and the
    // power goes off only then: a session that never started cannot pass for a cut one.
    let mark = lab.dir.join("session-running");
    let session = {
        let (remote, host) = (remote.clone(), host.clone());
        let command = format!("touch {}; sleep 30", mark.display());
        tokio::spawn(async move { remote.exec(&host, &command, Duration::from_secs(20)).await })
    };
    assert!(
        wait_for(T, || mark.exists()).await,
        "the session did not start within {T:?}"
    );
    let start = Instant::now();
    assert_eq!(
        power.power(&host, PowerAction::Off).await.unwrap(),
        PowerState::Off
    );
    let off_call = start.elapsed();
    assert_eq!(
        power.power(&host, PowerAction::Status).await.unwrap(),
        PowerState::Off
    );
    assert!(!lab.is_on(0));
    // Cut when the power went: it ends long before its 30 s sleep or its 20 s limit, and
    // neither with success nor as a timeout.
    let cut = tokio::time::timeout(T, session)
        .await
        .expect("the session outlived its host's power")
        .unwrap();
    match &cut {
        Ok(out) => assert_ne!(out.exit_code, Some(0), "{cut:?}"),
        Err(err) => assert!(!matches!(err, TransportError::Timeout { .. }), "{err:?}"),
    }
    let err = remote
        .exec(&host, "true", Duration::from_secs(2))
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Unreachable { .. }), "{err:?}");

    // Cycle from off ends on.
    assert_eq!(
        power.power(&host, PowerAction::Cycle).await.unwrap(),
        PowerState::On
    );
    wait_ssh(&remote, &host).await;

    // The password from an environment variable works the same.
    let mut via_env = host.clone();
    via_env.bmc.as_mut().unwrap().password = SecretSource::Env(lab.password_env.clone());
    assert_eq!(
        power.power(&via_env, PowerAction::Status).await.unwrap(),
        PowerState::On
    );
    eprintln!(
        "COST ipmitool chassis power status: median {:?}; on: {on_call:?} (+{boot:?} until SSH \
         answered); off: {off_call:?}",
        median(calls)
    );
}

/// Every process's argv, as one string per process.
fn all_cmdlines() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).ok())
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipmi_password_never_in_argv_or_errors() {
    let lab = Lab::start("pw", (77, 18), 4);
    let power = IpmiPower::new(8);

    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (stop, password) = (stop.clone(), lab.password.clone());
        std::thread::spawn(move || {
            let (mut samples, mut ipmitools, mut leaks) = (0u32, 0u32, Vec::new());
            let deadline = Instant::now() + Duration::from_secs(60);
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                for cmdline in all_cmdlines() {
                    if cmdline.contains(&password) {
                        leaks.push(cmdline.clone());
                    }
                    if cmdline.starts_with("ipmitool ") {
                        ipmitools += 1;
                    }
                }
                samples += 1;
            }
            (samples, ipmitools, leaks)
        })
    };
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for round in 0..10 {
        for index in 0..lab.hosts.len() {
            let (power, host) = (power.clone(), lab.host(index));
            let action = if round % 3 == 2 {
                PowerAction::On
            } else {
                PowerAction::Status
            };
            tasks.spawn(async move { power.power(&host, action).await });
        }
    }
    let mut n = 0;
    while let Some(result) = tasks.join_next().await {
        result.unwrap().expect("ipmi call");
        n += 1;
    }
    let wall = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (samples, ipmitools, leaks) = sampler.join().unwrap();
    eprintln!(
        "COST {n} ipmitool calls on 4 BMCs (8 in flight, 1 per BMC): {wall:?} wall; /proc \
         sampled {samples} times, {ipmitools} ipmitool argv seen"
    );
    assert!(leaks.is_empty(), "BMC password visible in argv: {leaks:?}");
    assert!(
        ipmitools > 0,
        "the sampler never saw ipmitool running; the check proves nothing"
    );

    // A wrong password fails, and neither that password nor the real one shows in the error.
    let wrong = format!("{}x", lab.password);
    let wrong_file = lab.dir.join("wrong-password");
    std::fs::write(&wrong_file, &wrong).unwrap();
    let mut host = lab.host(0);
    host.bmc.as_mut().unwrap().password = SecretSource::File(wrong_file);
    let fast = power
        .clone()
        .with_attempts(2)
        .with_timeout(Duration::from_secs(5));
    let err = fast.power(&host, PowerAction::Status).await.unwrap_err();
    for text in [err.to_string(), format!("{err:?}"), format!("{fast:?}")] {
        assert!(!text.contains(&lab.password), "password in {text}");
    }
    assert!(matches!(err, TransportError::Unreachable { .. }), "{err:?}");

    // Unreadable secrets and missing BMCs are configuration errors, not retried.
    host.bmc.as_mut().unwrap().password = SecretSource::Env("BLACKSTART_LAB_NO_SUCH_VAR".into());
    let err = power.power(&host, PowerAction::Status).await.unwrap_err();
    assert!(matches!(err, TransportError::Config { .. }), "{err:?}");
    assert!(
        err.to_string().contains("BLACKSTART_LAB_NO_SUCH_VAR"),
        "{err}"
    );
    host.bmc.as_mut().unwrap().password = SecretSource::File(lab.dir.join("no-such-file"));
    let err = power.power(&host, PowerAction::Status).await.unwrap_err();
    assert!(matches!(err, TransportError::Config { .. }), "{err:?}");
    host.bmc = None;
    let err = power.power(&host, PowerAction::On).await.unwrap_err();
    assert!(matches!(err, TransportError::Config { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_against_the_lab_service() {
    let lab = Lab::start_with("pr", (77, 20), 1, &[0]);
    let host = lab.host(0);
    let remote = Arc::new(SshRemote::new(2));
    let probe = DirectProbe::new(remote.clone());
    let port = 18080;
    let tcp = RenderedCheck::Tcp {
        address: host.address.clone(),
        port,
    };
    let url = format!("http://{}:{port}/health", host.address);
    let http = |status: u16, body: Option<&str>| {
        RenderedCheck::Http(HttpCheck {
            url: url.clone(),
            status,
            body: body.map(str::to_string),
            tls: TlsTrust::default(),
        })
    };
    let short = Duration::from_secs(2);

    let start = Instant::now();
    let out = remote
        .exec(&host, &lab.service_command(port, 1.0, ""), T)
        .await
        .unwrap();
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    let started = start.elapsed();
    assert!(
        started < Duration::from_millis(900),
        "the service must daemonize: {started:?}"
    );
    assert!(
        probe.check(&host, &tcp, short).await.is_err(),
        "listening before its delay"
    );

    let mut ready = false;
    for _ in 0..100 {
        if probe.check(&host, &tcp, short).await.is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "the service never listened");
    let up_after = start.elapsed();
    assert!(
        up_after >= Duration::from_millis(950),
        "up before its delay: {up_after:?}"
    );

    let t0 = Instant::now();
    probe
        .check(&host, &http(200, Some("ok")), short)
        .await
        .expect("http ok");
    let http_cost = t0.elapsed();
    probe
        .check(&host, &http(200, None), short)
        .await
        .expect("http status only");
    let err = probe
        .check(&host, &http(204, None), short)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("answered 200, expected 204"), "{err}");
    let err = probe
        .check(&host, &http(200, Some("ready")), short)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("lacks \"ready\""), "{err}");
    // https is spoken now (tests/https_lab.rs): a plain-HTTP server fails the handshake.
    let https = RenderedCheck::Http(HttpCheck {
        url: url.replace("http:", "https:"),
        status: 200,
        body: None,
        tls: TlsTrust::default(),
    });
    assert!(probe
        .check(&host, &https, short)
        .await
        .unwrap_err()
        .to_string()
        .contains("TLS"));

    let cmd = |command: &str, exit_code: i32| RenderedCheck::Command {
        command: command.to_string(),
        exit_code,
    };
    probe
        .check(&host, &cmd("test -d /", 0), short)
        .await
        .expect("command ok");
    probe
        .check(&host, &cmd("exit 3", 3), short)
        .await
        .expect("expected non-zero");
    let err = probe
        .check(&host, &cmd("echo bad >&2; exit 1", 0), short)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("exited 1, expected 0") && err.contains("bad"),
        "{err}"
    );

    // --fail exits non-zero at once; the service keeps the address only while it runs.
    let out = remote
        .exec(&host, &lab.service_command(port + 1, 0.0, "--fail"), T)
        .await
        .unwrap();
    assert_eq!(out.exit_code, Some(3));
    assert!(out.stderr.contains("failing on purpose"));
    assert_eq!(lab.service_starts().len(), 1, "{:?}", lab.service_starts());
    remote
        .exec(&host, &lab.stop_service_command(port), T)
        .await
        .unwrap();
    let gone = wait_until(Duration::from_secs(5), || {
        std::net::TcpStream::connect((host.address.as_str(), port)).is_err()
    });
    assert!(gone, "service still listening after --stop");
    let err = probe
        .check(&host, &tcp, short)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&format!("{}:{port}", host.address)), "{err}");
    eprintln!("COST http probe: {http_cost:?}; service start over ssh: {started:?}");
}

#[test]
fn lab_topology_loads() {
    let lab = Lab::start("ty", (77, 22), 3);
    for secret in [LabSecret::File, LabSecret::Env] {
        let subsystems = "subsystems:\n  - name: svc\n    hosts: [ty1, ty2, ty3]\n    \
                          start: echo hi\n    health: { tcp: 18080 }\n";
        let path = lab.write_topology(secret, subsystems);
        let loaded = blackstart::load::load_file(&path)
            .unwrap_or_else(|e| panic!("lab topology does not load: {e:?}"));
        let topology = loaded.topology;
        assert_eq!(topology.hosts.len(), 3);
        let built = lab.host(1);
        let host = &topology.hosts[1];
        assert_eq!(host.address, built.address);
        assert_eq!(host.ssh.login.key, built.ssh.login.key);
        assert_eq!(host.ssh.login.known_hosts, built.ssh.login.known_hosts);
        let bmc = host.bmc.as_ref().unwrap();
        assert_eq!(bmc.address, lab.hosts[1].bmc_address);
        match (secret, &bmc.password) {
            (LabSecret::File, SecretSource::File(path)) => assert_eq!(path, &lab.password_file),
            (LabSecret::Env, SecretSource::Env(var)) => assert_eq!(var, &lab.password_env),
            (_, other) => panic!("unexpected secret source {other:?}"),
        }
    }
}
