//! Redfish power against real Redfish BMCs: sushy-tools' emulator over TLS with basic auth,
//! its power changes switching the lab hosts' sshd. Each test reads like the incident it
//! guards against.

mod support;

use std::time::{Duration, Instant};

use blackstart::event::Event;
use blackstart::journal::Entry;
use blackstart::run::transport::bmc::BmcPower;
use blackstart::run::transport::bmc_calls::BmcCalls;
use blackstart::run::transport::{Power, PowerAction, PowerState, TransportError};
use support::cli::{read_journal, run_in, text};
use support::lab::{wait_until, Lab, LabSecret};
use support::redfish::RedfishBmcs;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// One subsystem per host, a TCP service on each, then the lab topology.
fn topology(lab: &Lab, redfish: &RedfishBmcs) -> std::path::PathBuf {
    let hosts: Vec<String> = lab.hosts.iter().map(|h| format!("{:?}", h.name)).collect();
    let subsystems = format!(
        "subsystems:\n  - name: app\n    hosts: [{}]\n    start: {}\n    health: {{ tcp: 7101 }}\n    \
         health_policy: {{ interval: 100ms, timeout: 1s, successes: 1 }}\n",
        hosts.join(", "),
        serde_json::to_string(&lab.service_command(7101, 0.1, "")).unwrap()
    );
    let yaml = lab.topology_yaml(LabSecret::Env, &subsystems);
    let yaml = redfish.redfish_topology(lab, &yaml, &redfish.ca_file);
    let path = lab.dir.join("topology.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

fn powered_on(records: &[blackstart::journal::Record]) -> usize {
    records
        .iter()
        .filter(|r| {
            matches!(
                &r.entry,
                Entry::Event {
                    event: Event::PoweredOn { result: Ok(()), .. },
                    ..
                }
            )
        })
        .count()
}

#[test]
fn redfish_reads_power_switches_a_host_on_and_off_and_keeps_pace_with_ipmitool() {
    let lab = Lab::start("fa", (97, 10), 2);
    let redfish = RedfishBmcs::start(&lab, &[1]);
    let power = BmcPower::shared(BmcCalls::new(4).with_timeout(Duration::from_secs(5)));
    let rf_host = redfish.host(&lab, 1, &redfish.ca_file);
    let ipmi_host = lab.host(0);
    let rt = runtime();
    rt.block_on(async {
        assert_eq!(
            power.power(&rf_host, PowerAction::Status).await,
            Ok(PowerState::Off)
        );
        // Latency of a status read, Redfish (TLS, discovery cached) against ipmitool.
        let timing = |host| {
            let power = &power;
            async move {
                let began = Instant::now();
                for _ in 0..5 {
                    power.power(host, PowerAction::Status).await.unwrap();
                }
                began.elapsed() / 5
            }
        };
        let rf = timing(&rf_host).await;
        let ipmi = timing(&ipmi_host).await;
        eprintln!("status read: redfish {rf:?}, ipmitool {ipmi:?}");
        assert!(rf < Duration::from_secs(2), "a Redfish read took {rf:?}");
        assert_eq!(
            power.power(&rf_host, PowerAction::On).await,
            Ok(PowerState::On)
        );
    });
    // The emulator applies a power change after 1-11 s, like a real BMC.
    assert!(
        wait_until(Duration::from_secs(20), || lab.is_on(1)),
        "the host's sshd came up after Reset On"
    );
    assert!(!lab.is_on(0), "the IPMI host was left alone");
    rt.block_on(async {
        assert_eq!(
            power.power(&rf_host, PowerAction::Status).await,
            Ok(PowerState::On)
        );
        assert_eq!(
            power.power(&rf_host, PowerAction::Off).await,
            Ok(PowerState::Off)
        );
    });
    assert!(
        wait_until(Duration::from_secs(20), || !lab.is_on(1)),
        "the host's sshd stopped after Reset ForceOff"
    );
}

#[test]
fn a_bmc_certificate_from_another_ca_is_refused_and_the_ca_named_and_a_wrong_password_is_not_retried(
) {
    let lab = Lab::start("fb", (97, 12), 1);
    let redfish = RedfishBmcs::start(&lab, &[0]);
    let power = BmcPower::shared(BmcCalls::new(4).with_timeout(Duration::from_secs(5)));
    let rt = runtime();
    let impostor = redfish.host(&lab, 0, &redfish.wrong_ca_file);
    let err = rt
        .block_on(power.power(&impostor, PowerAction::On))
        .unwrap_err();
    let TransportError::Tls { detail, .. } = &err else {
        panic!("expected a TLS refusal, got {err:?}");
    };
    assert!(
        detail.contains(redfish.wrong_ca_file.to_str().unwrap())
            && detail.contains("UnknownIssuer"),
        "{detail}"
    );
    let wrong_pw = lab.dir.join("wrong-password");
    std::fs::write(&wrong_pw, "not-the-password\n").unwrap();
    let mut host = redfish.host(&lab, 0, &redfish.ca_file);
    host.bmc.as_mut().unwrap().password =
        blackstart::topology::SecretSource::File(wrong_pw.clone());
    let began = Instant::now();
    let err = rt
        .block_on(power.power(&host, PowerAction::Status))
        .unwrap_err();
    assert!(matches!(err, TransportError::Auth { .. }), "{err:?}");
    assert!(!err.to_string().contains("not-the-password"), "{err}");
    assert!(
        began.elapsed() < Duration::from_millis(250),
        "a refused password is not retried (the 250 ms retry pause was not taken): {:?}",
        began.elapsed()
    );
    assert!(!lab.is_on(0), "nothing was switched on");
}

#[test]
fn cold_start_of_a_mixed_ipmi_and_redfish_fleet_completes_and_the_password_stays_secret() {
    let lab = Lab::start("fc", (97, 14), 3);
    let redfish = RedfishBmcs::start(&lab, &[1, 2]);
    let topology = topology(&lab, &redfish);
    let run_dir = lab.dir.join("run");
    let output = run_in(&topology, &run_dir);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!((0..3).all(|i| lab.is_on(i)), "every host powered on");
    let records = read_journal(&run_dir);
    assert_eq!(powered_on(&records), 3, "three hosts powered on");
    let journal = std::fs::read_to_string(run_dir.join(blackstart::journal::JOURNAL_FILE)).unwrap();
    assert!(
        journal.contains("native IPMI"),
        "host 1 through the native IPMI client"
    );
    assert!(
        journal.contains(&format!(
            "redfish POST https://{}/redfish/v1/Systems/{{only member}}/Actions/ComputerSystem.Reset",
            redfish.address(1)
        )),
        "the journal records the Redfish request"
    );
    // And what was done: the system actually reset, the ResetType sent, the BMC's status.
    let exchanges: Vec<_> = records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Event {
                event: Event::PoweredOn { .. },
                output: Some(output),
                ..
            } => output.bmc.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(exchanges.len(), 2, "both Redfish power-ons recorded");
    for exchange in &exchanges {
        assert!(
            [1, 2].iter().any(|&i| exchange.system
                == format!(
                    "https://{}/redfish/v1/Systems/{}",
                    redfish.address(i),
                    support::redfish::system_uuid(i)
                )),
            "{exchange:?}"
        );
        assert_eq!(exchange.reset_type.as_deref(), Some("On"), "{exchange:?}");
        assert!(matches!(exchange.status, Some(200..=204)), "{exchange:?}");
    }
    assert!(!journal.contains(&lab.password), "password in the journal");
    assert!(
        !text(&output).contains(&lab.password),
        "password in the output"
    );
    let notified = std::fs::read_to_string(lab.dir.join("redfish/notify.log")).unwrap();
    assert!(
        notified.contains("h2 On applied") && notified.contains("h3 On applied"),
        "the emulators switched both Redfish hosts: {notified}"
    );
}
