//! The native IPMI client against real `ipmi_sim` BMCs: power switched, the cipher suite the
//! BMC refuses named, a wrong password tried once, a dead BMC given up on in time, lost
//! packets resent, a resume after a kill mid power-on. A UDP stand-in between client and BMC
//! drops and counts packets. Each test has its own block in 127.81.x and 127.83.x.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use blackstart::run::transport::bmc::BmcPower;
use blackstart::run::transport::bmc_calls::BmcCalls;
use blackstart::run::transport::{Power, PowerAction, PowerState, TransportError};
use blackstart::topology::{BmcProtocol, Host, IpmiClient};
use support::lab::{wait_until, Lab};
use support::udp_stand_in::stand_in;
use tokio::net::UdpSocket;

/// The lab's host `index` with its BMC spoken to natively with `suite`, at `address`.
fn native(lab: &Lab, index: usize, suite: u8, address: Option<String>) -> Host {
    let mut host = lab.host(index);
    let bmc = host.bmc.as_mut().unwrap();
    if let Some(address) = address {
        bmc.address = address;
    }
    let BmcProtocol::Ipmi(ipmi) = &mut bmc.protocol else {
        unreachable!()
    };
    ipmi.client = IpmiClient::Native;
    ipmi.cipher_suite = suite;
    host
}

fn power(timeout: Duration, attempts: u32) -> BmcPower {
    BmcPower::shared(
        BmcCalls::new(8)
            .with_timeout(timeout)
            .with_attempts(attempts),
    )
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_ipmi_switches_the_hosts_power_with_cipher_suite_3() {
    let lab = Lab::start("na", (81, 10), 1);
    let host = native(&lab, 0, 3, None);
    let power = power(Duration::from_secs(5), 1);
    assert_eq!(
        power.power(&host, PowerAction::Status).await.unwrap(),
        PowerState::Off
    );
    assert_eq!(
        power.power(&host, PowerAction::On).await.unwrap(),
        PowerState::On
    );
    assert!(
        wait_until(Duration::from_secs(10), || lab.is_on(0)),
        "Chassis Control power on did not start the host"
    );
    assert_eq!(
        power.power(&host, PowerAction::Status).await.unwrap(),
        PowerState::On
    );
    assert_eq!(
        power.power(&host, PowerAction::Off).await.unwrap(),
        PowerState::Off
    );
    assert!(!lab.is_on(0), "power off left the host on");
    assert_eq!(
        power.power(&host, PowerAction::Status).await.unwrap(),
        PowerState::Off
    );
    assert_eq!(
        power.power(&host, PowerAction::Cycle).await.unwrap(),
        PowerState::On
    );
    assert!(wait_until(Duration::from_secs(10), || lab.is_on(0)));

    // The same status read, native and through ipmitool, in this run: the ratio is what
    // holds from one machine to the next.
    let ipmitool_host = lab.host(0);
    let mut native_calls = Vec::new();
    let mut ipmitool_calls = Vec::new();
    for _ in 0..10 {
        let began = Instant::now();
        assert_eq!(
            power.power(&host, PowerAction::Status).await.unwrap(),
            PowerState::On
        );
        native_calls.push(began.elapsed());
        let began = Instant::now();
        assert_eq!(
            power
                .power(&ipmitool_host, PowerAction::Status)
                .await
                .unwrap(),
            PowerState::On
        );
        ipmitool_calls.push(began.elapsed());
    }
    let (native_median, ipmitool_median) = (median(native_calls), median(ipmitool_calls));
    eprintln!(
        "COST chassis power status: native median {native_median:?}, ipmitool median \
         {ipmitool_median:?}, ratio {:.1}",
        ipmitool_median.as_secs_f64() / native_median.as_secs_f64()
    );
    assert!(
        native_median < ipmitool_median,
        "the native client is not faster than a process"
    );
}

/// ipmi_sim speaks RAKP-HMAC-SHA1 and MD5 only: suite 17 is refused, and the error says
/// which suites it offers, once, without retrying a configuration that cannot work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bmc_that_refuses_cipher_suite_17_is_named_with_what_it_offers() {
    let lab = Lab::start("nb", (81, 12), 1);
    let listen: SocketAddr = "127.83.0.12:623".parse().unwrap();
    let bmc: SocketAddr = format!("{}:623", lab.hosts[0].bmc_address).parse().unwrap();
    let seen = stand_in(listen, bmc, |_| false).await;
    let host = native(&lab, 0, 17, Some(listen.to_string()));
    let err = power(Duration::from_secs(5), 3)
        .power(&host, PowerAction::Status)
        .await
        .unwrap_err();
    let text = err.to_string();
    eprintln!("REFUSED {text}");
    assert!(matches!(err, TransportError::Config { .. }), "{err:?}");
    assert!(text.contains("refuses cipher suite 17"), "{text}");
    assert!(
        text.contains("offers") || text.contains("did not list"),
        "{text}"
    );
    let opens = seen
        .lock()
        .unwrap()
        .payload_types
        .iter()
        .filter(|&&t| t == 0x10)
        .count();
    assert_eq!(
        opens,
        1,
        "a refused suite is asked once: {:?}",
        seen.lock().unwrap()
    );
}

/// A wrong password is found at RAKP 2 and never tried again (BMCs lock accounts); the
/// error names the user, never a password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_tried_once_and_never_printed() {
    let lab = Lab::start("nc", (81, 14), 1);
    let listen: SocketAddr = "127.83.0.14:623".parse().unwrap();
    let bmc: SocketAddr = format!("{}:623", lab.hosts[0].bmc_address).parse().unwrap();
    let seen = stand_in(listen, bmc, |_| false).await;
    let mut host = native(&lab, 0, 3, Some(listen.to_string()));
    let wrong = "wrongpw-7f3a9c";
    let file = lab.dir.join("wrong-password");
    std::fs::write(&file, format!("{wrong}\n")).unwrap();
    host.bmc.as_mut().unwrap().password = blackstart::topology::SecretSource::File(file);
    let err = power(Duration::from_secs(5), 3)
        .power(&host, PowerAction::On)
        .await
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(matches!(err, TransportError::Auth { .. }), "{err:?}");
    assert!(text.contains("password does not match"), "{text}");
    assert!(
        !text.contains(wrong) && !text.contains(&lab.password),
        "{text}"
    );
    let seen = seen.lock().unwrap();
    let rakp1 = seen.payload_types.iter().filter(|&&t| t == 0x12).count();
    assert_eq!(rakp1, 1, "one attempt only: {seen:?}");
    assert!(
        !seen.payload_types.contains(&0x14),
        "no RAKP 3 after a mismatch: {seen:?}"
    );
    assert!(!lab.is_on(0));
}

/// A BMC that takes packets and never answers is given up on at `bmc_timeout`; one where
/// nothing listens is known unreachable at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_bmc_fails_within_bmc_timeout() {
    let lab = Lab::start("nd", (81, 16), 1);
    let silent = UdpSocket::bind("127.83.0.16:623").await.unwrap();
    let host = native(&lab, 0, 3, Some("127.83.0.16:623".into()));
    let limit = Duration::from_millis(1500);
    let began = Instant::now();
    let err = power(limit, 1)
        .power(&host, PowerAction::Status)
        .await
        .unwrap_err();
    let took = began.elapsed();
    assert!(matches!(err, TransportError::Timeout { .. }), "{err:?}");
    assert!(
        took >= limit && took < limit + Duration::from_millis(500),
        "gave up after {took:?}, limit {limit:?}"
    );
    let mut buf = [0u8; 512];
    let mut received = 0;
    while let Ok(Ok(_)) =
        tokio::time::timeout(Duration::from_millis(50), silent.recv_from(&mut buf)).await
    {
        received += 1;
    }
    assert!(
        received >= 2,
        "the request was resent while waiting ({received} packets)"
    );

    let host = native(&lab, 0, 3, Some("127.83.0.17:623".into()));
    let began = Instant::now();
    let err = power(limit, 1)
        .power(&host, PowerAction::Status)
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Unreachable { .. }), "{err:?}");
    assert!(began.elapsed() < limit, "a refused port is not waited on");
}

/// Lost packets are resent: the stand-in drops the first Open Session and the first
/// command, and the call still succeeds within one attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_packets_are_resent_within_one_attempt() {
    let lab = Lab::start("ne", (81, 18), 1);
    let listen: SocketAddr = "127.83.0.18:623".parse().unwrap();
    let bmc: SocketAddr = format!("{}:623", lab.hosts[0].bmc_address).parse().unwrap();
    // Packets: 0 Open Session (dropped), 1 Open Session, 2 RAKP 1, 3 RAKP 3, 4 Set Session
    // Privilege Level (dropped), 5 it again, 6 Chassis Control.
    let drops = AtomicUsize::new(0);
    let seen = stand_in(listen, bmc, move |index| {
        let drop = index == 0 || index == 4;
        drops.fetch_add(usize::from(drop), Ordering::Relaxed);
        drop
    })
    .await;
    let host = native(&lab, 0, 3, Some(listen.to_string()));
    assert_eq!(
        power(Duration::from_secs(5), 1)
            .power(&host, PowerAction::On)
            .await
            .unwrap(),
        PowerState::On
    );
    assert!(wait_until(Duration::from_secs(10), || lab.is_on(0)));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.dropped, 2, "{seen:?}");
    assert_eq!(
        &seen.payload_types[..7],
        &[0x10, 0x10, 0x12, 0x14, 0x00, 0x00, 0x00],
        "{seen:?}"
    );
}

/// A cold start of a small fleet through the CLI, the native client by default: every host
/// switched on with one BMC call (no power read first), the journal naming the client, the
/// password nowhere. Then the same fleet with suite 17, which ipmi_sim cannot speak: the
/// run names the refusal and what the BMC offers, and switches nothing on.
#[test]
fn cold_start_over_native_ipmi_takes_one_bmc_call_per_host() {
    use blackstart::event::{Action, Event};
    use blackstart::journal::Entry;
    use support::cli::{read_journal, run_in, text};
    use support::lab::LabSecret;

    let lab = Lab::start("nf", (81, 20), 4);
    let hosts: Vec<String> = lab.hosts.iter().map(|h| format!("{:?}", h.name)).collect();
    let subsystems = format!(
        "subsystems:\n  - name: app\n    hosts: [{}]\n    start: {}\n    health: {{ tcp: 7201 }}\n    \
         health_policy: {{ interval: 100ms, timeout: 1s, successes: 1 }}\n",
        hosts.join(", "),
        serde_json::to_string(&lab.service_command(7201, 0.1, "")).unwrap()
    );
    let yaml = lab
        .topology_yaml(LabSecret::File, &subsystems)
        .replacen(
            "policy:\n",
            "policy:\n  bmc_timeout: 3s\n  bmc_attempts: 1\n",
            1,
        )
        .replacen("    boot: 10s\n", "    boot: 2s\n", 1);
    let topology = lab.write_topology_text(&yaml);
    let run_dir = lab.dir.join("run");
    let output = run_in(&topology, &run_dir);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(0), "{shown}");
    assert!((0..4).all(|i| lab.is_on(i)), "every host powered on");
    let records = read_journal(&run_dir);
    let bmc_calls = records
        .iter()
        .filter(|r| {
            matches!(
                &r.entry,
                Entry::Action {
                    action: Action::CheckPower { .. } | Action::PowerOn { .. },
                    ..
                }
            )
        })
        .count();
    assert_eq!(bmc_calls, 4, "one BMC call per host");
    let journal = std::fs::read_to_string(run_dir.join(blackstart::journal::JOURNAL_FILE)).unwrap();
    assert!(
        journal.contains("native IPMI lanplus"),
        "the journal names the client"
    );
    assert!(!journal.contains(&lab.password), "password in the journal");
    assert!(!shown.contains(&lab.password), "password in the output");

    // Suite 17: refused by name, nothing switched on.
    let fresh = Lab::start("ng", (81, 22), 2);
    let hosts: Vec<String> = fresh
        .hosts
        .iter()
        .map(|h| format!("{:?}", h.name))
        .collect();
    let subsystems = subsystems.replace(
        &format!(
            "hosts: [{}]",
            lab.hosts
                .iter()
                .map(|h| format!("{:?}", h.name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        &format!("hosts: [{}]", hosts.join(", ")),
    );
    let yaml = fresh
        .topology_yaml(LabSecret::File, &subsystems)
        .replacen(
            "policy:\n",
            "policy:\n  bmc_timeout: 3s\n  bmc_attempts: 1\n",
            1,
        )
        .replacen("    bmc:\n", "    bmc:\n      cipher_suite: 17\n", 1);
    let topology = fresh.write_topology_text(&yaml);
    let run_dir = fresh.dir.join("run");
    let output = run_in(&topology, &run_dir);
    let shown = text(&output);
    assert_ne!(output.status.code(), Some(0), "{shown}");
    assert!(!fresh.is_on(0) && !fresh.is_on(1), "nothing switched on");
    let journal = std::fs::read_to_string(run_dir.join(blackstart::journal::JOURNAL_FILE)).unwrap();
    assert!(journal.contains("refuses cipher suite 17"), "{journal}");
    assert!(journal.contains("set `cipher_suite: 3`"), "{journal}");
    let failed_on = read_journal(&run_dir)
        .iter()
        .filter(|r| {
            matches!(
                &r.entry,
                Entry::Event {
                    event: Event::PoweredOn { result: Err(_), .. },
                    ..
                }
            )
        })
        .count();
    assert_eq!(
        failed_on, 2,
        "each host's power-on failed once, with the reason"
    );
}

/// SIGKILL while the native client waits for the BMC's answer to a power-on (the lab's BMC
/// takes 2 s to answer here): the resume reads each such host's power before anything else
/// and starts each service once; no host gets more than the one power-on resent.
#[test]
fn a_resume_after_a_kill_mid_power_on_reads_the_power_first_and_starts_once() {
    use blackstart::event::{Action, Event};
    use blackstart::journal::Entry;
    use support::cli::{read_journal, spawn, spawn_run, text, wait_bounded, wait_for_journal};
    use support::lab::LabSecret;

    let lab = Lab::start("nh", (81, 24), 2);
    let hosts: Vec<String> = lab.hosts.iter().map(|h| format!("{:?}", h.name)).collect();
    let subsystems = format!(
        "subsystems:\n  - name: app\n    hosts: [{}]\n    start: {}\n    health: {{ tcp: 7202 }}\n    \
         health_policy: {{ interval: 100ms, timeout: 1s, successes: 1 }}\n",
        hosts.join(", "),
        serde_json::to_string(&lab.service_command(7202, 0.1, "")).unwrap()
    );
    let yaml = lab
        .topology_yaml(LabSecret::File, &subsystems)
        .replacen(
            "policy:\n",
            "policy:\n  bmc_timeout: 5s\n  bmc_attempts: 1\n",
            1,
        )
        .replacen("    boot: 10s\n", "    boot: 2s\n", 1);
    let topology = lab.write_topology_text(&yaml);

    // A BMC slow to answer a power-on: the same chassis control, 2 s late.
    let ctl = lab.dir.join("chassis-ctl");
    let real = lab.dir.join("chassis-ctl.real");
    std::fs::copy(&ctl, &real).unwrap();
    let slow = lab.dir.join("chassis-ctl.slow");
    std::fs::write(
        &slow,
        format!(
            "#!/bin/sh\n[ \"$3 $4\" = \"set power\" ] && [ \"$5\" = 1 ] && sleep 2\nexec {} \"$@\"\n",
            real.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&slow, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::rename(&slow, &ctl).unwrap();

    let run_dir = lab.dir.join("run");
    let child = spawn_run(&topology, &run_dir);
    let powering = |records: &[blackstart::journal::Record]| {
        records.iter().any(|r| {
            matches!(
                r.entry,
                Entry::Action {
                    action: Action::PowerOn { .. },
                    ..
                }
            )
        })
    };
    let mut child = child;
    let sent = wait_for_journal(&run_dir, Duration::from_secs(20), powering);
    child.kill().unwrap();
    let _ = child.wait();
    assert!(sent, "a power-on was sent");
    let before = read_journal(&run_dir);
    let answered = before.iter().any(|r| {
        matches!(
            r.entry,
            Entry::Event {
                event: Event::PoweredOn { .. },
                ..
            }
        )
    });
    assert!(!answered, "killed before any BMC answered");
    std::fs::copy(&real, &ctl).unwrap();

    let resumed = wait_bounded(
        spawn(&["run", "--resume", run_dir.to_str().unwrap()]),
        Duration::from_secs(60),
    );
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed));
    assert!((0..2).all(|i| lab.is_on(i)), "every host on");
    let records = read_journal(&run_dir);
    let resume_at = records
        .iter()
        .rposition(|r| matches!(r.entry, Entry::RunStarted { .. }))
        .unwrap();
    for host in 0..2 {
        let acts: Vec<&Action> = records[resume_at..]
            .iter()
            .filter_map(|r| match &r.entry {
                Entry::Action { action, .. } => Some(action),
                _ => None,
            })
            .filter(|a| {
                matches!(a, Action::CheckPower { host: h } | Action::PowerOn { host: h } if *h == host)
            })
            .collect();
        assert!(
            matches!(acts.first(), Some(Action::CheckPower { .. })),
            "host {host}: the resume reads the power first: {acts:?}"
        );
        let power_ons = records
            .iter()
            .filter(|r| matches!(&r.entry, Entry::Action { action: Action::PowerOn { host: h }, .. } if *h == host))
            .count();
        assert!(power_ons <= 2, "host {host}: {power_ons} power-ons");
    }
    let starts = support::cli::starts(&records);
    assert_eq!(starts.len(), 2, "each service started once: {starts:?}");
}
