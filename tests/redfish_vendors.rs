//! Redfish as real BMCs behave, against a stand-in BMC of our own (sushy-tools does none of
//! this): iLO's 308 redirects to slashed paths, resets followed through a task monitor, a
//! read-only account, a blade enclosure and a wrong password, reset types the BMC restricts,
//! a pinned self-signed certificate. Addresses in 127.84.0.0/16, ports chosen by the OS.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use blackstart::run::transport::bmc::BmcPower;
use blackstart::run::transport::bmc_calls::BmcCalls;
use blackstart::run::transport::{Power, PowerAction, PowerState, TransportError};
use blackstart::topology::Host;
use support::redfish::{self_signed, tls_material};
use support::redfish_standin::{Behaviour, StandIn};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn power() -> BmcPower {
    BmcPower::shared(BmcCalls::new(4).with_timeout(Duration::from_secs(5)))
}

/// A stand-in on `ip` with a certificate from a fresh lab CA; returns it and the CA file.
fn standin(dir: &Path, ip: &str, behaviour: Behaviour) -> (StandIn, PathBuf) {
    let (ca, cert, key) = tls_material(dir, "bmc", &[ip.to_string()]);
    (StandIn::start(ip, &cert, &key, behaviour), ca)
}

/// Hosts whose BMCs are the given `bmc:` blocks (YAML flow mappings without braces), loaded
/// through the topology loader as a user's file would be. Password "pw" unless a block says
/// otherwise.
fn hosts(dir: &Path, bmcs: &[String]) -> Vec<Host> {
    std::fs::write(dir.join("pw"), "pw\n").unwrap();
    std::fs::write(dir.join("wrong-pw"), "not-the-password\n").unwrap();
    let mut yaml = String::from("version: 1\nname: standin\nhosts:\n");
    for (i, bmc) in bmcs.iter().enumerate() {
        let password = if bmc.contains("password_file") {
            ""
        } else {
            "password_file: pw, "
        };
        yaml.push_str(&format!(
            "  - name: h{}\n    address: 127.84.200.{}\n    bmc: {{ protocol: redfish, user: admin, {password}{bmc} }}\n",
            i + 1,
            i + 1
        ));
    }
    let names: Vec<String> = (1..=bmcs.len()).map(|i| format!("h{i}")).collect();
    yaml.push_str(&format!(
        "subsystems:\n  - name: app\n    hosts: [{}]\n    start: \"true\"\n    health: {{ tcp: 7101 }}\n",
        names.join(", ")
    ));
    let path = dir.join("topology.yaml");
    std::fs::write(&path, &yaml).unwrap();
    match blackstart::load::load_str(&yaml, &path) {
        Ok(loaded) => loaded.topology.hosts,
        Err(diagnostics) => panic!("{yaml}\n{diagnostics:?}"),
    }
}

fn block(address: &str, ca: &Path, more: &str) -> String {
    format!(
        "address: \"{address}\", ca_file: {}{more}",
        serde_json::to_string(ca.to_str().unwrap()).unwrap()
    )
}

#[test]
fn an_ilo_answering_308_to_unslashed_urls_is_followed_and_an_explicit_slashed_system_kept() {
    let dir = tempfile::tempdir().unwrap();
    let slashed = Behaviour {
        slash_redirects: true,
        ..Behaviour::default()
    };
    let (discovered, ca1) = standin(&dir.path().join("a"), "127.84.1.1", slashed.clone());
    let (explicit, ca2) = standin(&dir.path().join("b"), "127.84.1.2", slashed);
    let hosts = hosts(
        dir.path(),
        &[
            block(&discovered.address, &ca1, ""),
            block(&explicit.address, &ca2, ", system: /redfish/v1/Systems/1/"),
        ],
    );
    let power = power();
    let rt = runtime();
    let (result, record) = rt.block_on(power.power_recorded(&hosts[0], PowerAction::On));
    assert_eq!(result, Ok(PowerState::On), "{:?}", discovered.hits());
    assert!(discovered.is_on("1"), "the reset reached the BMC");
    let record = record.expect("a Redfish call is recorded");
    assert_eq!(
        record.system,
        format!("https://{}/redfish/v1/Systems/1/", discovered.address)
    );
    assert!(discovered.count(308) >= 1, "the stand-in redirected");
    let posts: Vec<_> = discovered
        .hits()
        .into_iter()
        .filter(|h| h.method == "POST")
        .collect();
    assert_eq!(posts.len(), 1, "one reset, not retried: {posts:?}");
    assert!(
        posts[0].path.ends_with("ComputerSystem.Reset/"),
        "{posts:?}"
    );

    // The slashed path written in the topology is used as written: never redirected.
    let result = rt.block_on(power.power(&hosts[1], PowerAction::On));
    assert_eq!(result, Ok(PowerState::On), "{:?}", explicit.hits());
    assert_eq!(explicit.count(308), 0, "{:?}", explicit.hits());
    assert!(explicit.is_on("1"));
}

#[test]
fn a_reset_answered_202_is_followed_to_its_task_and_a_failed_task_is_the_bmcs_error() {
    let dir = tempfile::tempdir().unwrap();
    let (good, ca1) = standin(
        &dir.path().join("a"),
        "127.84.2.1",
        Behaviour {
            task: Some(true),
            ..Behaviour::default()
        },
    );
    let (bad, ca2) = standin(
        &dir.path().join("b"),
        "127.84.2.2",
        Behaviour {
            task: Some(false),
            ..Behaviour::default()
        },
    );
    let hosts = hosts(
        dir.path(),
        &[
            block(&good.address, &ca1, ""),
            block(&bad.address, &ca2, ""),
        ],
    );
    let power = power();
    let rt = runtime();
    let (result, record) = rt.block_on(power.power_recorded(&hosts[0], PowerAction::On));
    assert_eq!(result, Ok(PowerState::On), "{:?}", good.hits());
    let record = record.unwrap();
    assert_eq!(record.status, Some(202));
    assert_eq!(record.reset_type.as_deref(), Some("On"));
    assert_eq!(
        record.task.as_deref(),
        Some(
            format!(
                "https://{}/redfish/v1/TaskService/TaskMonitors/1",
                good.address
            )
            .as_str()
        )
    );
    assert_eq!(record.task_state.as_deref(), Some("Completed"));
    assert_eq!(
        record.power_state.as_deref(),
        Some("On"),
        "PowerState read again"
    );
    let polls = good
        .hits()
        .iter()
        .filter(|h| h.path.contains("TaskMonitors"))
        .count();
    assert_eq!(polls, 3, "polled until the task ended: {:?}", good.hits());
    let last = good.hits().last().unwrap().clone();
    assert!(
        last.method == "GET" && last.path == "/redfish/v1/Systems/1",
        "PowerState confirmed after the task: {last:?}"
    );

    let (result, record) = rt.block_on(power.power_recorded(&hosts[1], PowerAction::On));
    let err = result.unwrap_err();
    let TransportError::Refused { detail, .. } = &err else {
        panic!("expected the BMC's refusal, got {err:?}");
    };
    assert!(
        detail.contains("ended Exception")
            && detail.contains(
                "Unable to power on the server because the power supply units are not available"
            )
            && detail.contains("TaskMonitors/1"),
        "{detail}"
    );
    let reason = err.clone().bmc_reason();
    assert!(
        matches!(reason, blackstart::event::Reason::BmcError { .. }),
        "a failed task is a BMC error, not SSH's: {reason:?}"
    );
    assert_eq!(record.unwrap().task_state.as_deref(), Some("Exception"));
    assert!(!bad.is_on("1"));
    let posts = bad.hits().iter().filter(|h| h.method == "POST").count();
    assert_eq!(posts, 1, "a failed task is not retried");
}

#[test]
fn a_read_only_account_is_a_privilege_problem_in_the_bmcs_own_words() {
    let dir = tempfile::tempdir().unwrap();
    let (bmc, ca) = standin(
        dir.path(),
        "127.84.3.1",
        Behaviour {
            users: vec![("admin".into(), "pw".into(), false)],
            ..Behaviour::default()
        },
    );
    let hosts = hosts(dir.path(), &[block(&bmc.address, &ca, "")]);
    let rt = runtime();
    let power = power();
    assert_eq!(
        rt.block_on(power.power(&hosts[0], PowerAction::Status)),
        Ok(PowerState::Off),
        "a read-only account reads"
    );
    let err = rt
        .block_on(power.power(&hosts[0], PowerAction::On))
        .unwrap_err();
    let TransportError::Refused { detail, .. } = &err else {
        panic!("expected a privilege refusal, not a bad password: {err:?}");
    };
    assert!(
        detail.contains("403")
            && detail.contains("privilege problem")
            && detail.contains("the password is right")
            && detail.contains("There are insufficient privileges for the account")
            && detail.contains("Base.1.8.InsufficientPrivilege"),
        "{detail}"
    );
    assert_eq!(bmc.count(403), 1, "not retried");
}

#[test]
fn a_blade_enclosure_with_a_wrong_password_sees_exactly_one_401() {
    let dir = tempfile::tempdir().unwrap();
    let (bmc, ca) = standin(
        dir.path(),
        "127.84.4.1",
        Behaviour {
            systems: vec!["Blade1".into(), "Blade2".into(), "Blade3".into()],
            ..Behaviour::default()
        },
    );
    let bmcs: Vec<String> = (1..=3)
        .map(|i| {
            block(&bmc.address, &ca, &format!(", system: Blade{i}"))
                .replace("\", ca_file", "\", password_file: wrong-pw, ca_file")
        })
        .collect();
    let hosts = hosts(dir.path(), &bmcs);
    let power = power();
    let rt = runtime();
    let results = rt.block_on(async {
        // The enclosure's hosts are asked at once, as a run's first status reads are.
        let (a, b, c) = tokio::join!(
            power.power(&hosts[0], PowerAction::Status),
            power.power(&hosts[1], PowerAction::Status),
            power.power(&hosts[2], PowerAction::Status)
        );
        let mut all = vec![a, b, c];
        for host in &hosts {
            all.push(power.power(host, PowerAction::On).await);
        }
        all
    });
    assert_eq!(results.len(), 6);
    for result in &results {
        let Err(TransportError::Auth { detail, .. }) = result else {
            panic!("expected an authentication failure: {result:?}");
        };
        assert!(!detail.contains("not-the-password"), "{detail}");
    }
    assert_eq!(
        bmc.count(401),
        1,
        "one wrong password per BMC, not per host: {:?}",
        bmc.hits()
    );
    let told = results
        .iter()
        .filter(|r| format!("{r:?}").contains("not tried: BMC"))
        .count();
    assert_eq!(told, 5, "the others say why they did not try: {results:?}");
}

#[test]
fn the_reset_type_is_one_the_bmc_allows_and_the_journal_record_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let force_on = vec![
        "ForceOn".to_string(),
        "ForceOff".into(),
        "GracefulShutdown".into(),
    ];
    let (listed, ca1) = standin(
        &dir.path().join("a"),
        "127.84.5.1",
        Behaviour {
            allowed: Some(force_on.clone()),
            ..Behaviour::default()
        },
    );
    let (info, ca2) = standin(
        &dir.path().join("b"),
        "127.84.5.2",
        Behaviour {
            action_info: Some(force_on),
            ..Behaviour::default()
        },
    );
    let (nmi_only, ca3) = standin(
        &dir.path().join("c"),
        "127.84.5.3",
        Behaviour {
            allowed: Some(vec!["Nmi".into()]),
            ..Behaviour::default()
        },
    );
    let hosts = hosts(
        dir.path(),
        &[
            block(&listed.address, &ca1, ""),
            block(&info.address, &ca2, ""),
            block(&nmi_only.address, &ca3, ""),
        ],
    );
    let power = power();
    let rt = runtime();
    for (host, bmc) in [(&hosts[0], &listed), (&hosts[1], &info)] {
        let (result, record) = rt.block_on(power.power_recorded(host, PowerAction::On));
        assert_eq!(result, Ok(PowerState::On), "{:?}", bmc.hits());
        let record = record.unwrap();
        assert_eq!(record.reset_type.as_deref(), Some("ForceOn"));
        assert!(
            record
                .reset_chosen
                .as_deref()
                .unwrap()
                .contains("ForceOn, ForceOff"),
            "{record:?}"
        );
        assert_eq!(record.status, Some(204));
        let post = bmc.hits().into_iter().find(|h| h.method == "POST").unwrap();
        assert_eq!(post.body, r#"{"ResetType":"ForceOn"}"#);
        assert!(bmc.is_on("1"));
    }
    let err = rt
        .block_on(power.power(&hosts[2], PowerAction::On))
        .unwrap_err();
    assert!(
        matches!(&err, TransportError::Refused { detail, .. } if detail.contains("allows ResetType Nmi only") && detail.contains("On, ForceOn, PushPowerButton")),
        "{err:?}"
    );
    assert_eq!(
        nmi_only
            .hits()
            .iter()
            .filter(|h| h.method == "POST")
            .count(),
        0
    );
}

#[test]
fn a_pinned_self_signed_bmc_certificate_is_accepted_and_another_refused_readably() {
    let dir = tempfile::tempdir().unwrap();
    let ip = "127.84.6.1";
    let (cert, key) = self_signed(dir.path(), "bmc", ip);
    let (other, _) = self_signed(dir.path(), "other", ip);
    let bmc = StandIn::start(ip, &cert, &key, Behaviour::default());
    let hosts = hosts(
        dir.path(),
        &[
            block(&bmc.address, &cert, ""),
            block(&bmc.address, &other, ""),
        ],
    );
    let power = power();
    let rt = runtime();
    assert_eq!(
        rt.block_on(power.power(&hosts[0], PowerAction::Status)),
        Ok(PowerState::Off),
        "the BMC's own certificate given as ca_file is pinned"
    );
    let err = rt
        .block_on(power.power(&hosts[1], PowerAction::Status))
        .unwrap_err();
    let TransportError::Tls { detail, .. } = &err else {
        panic!("expected a TLS refusal: {err:?}");
    };
    assert!(
        detail.contains(other.to_str().unwrap())
            && detail.contains("give it as `ca_file` to pin it"),
        "{detail}"
    );
}
