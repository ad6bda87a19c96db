//! The small fleet the game day tests rehearse on, shared by tests/gameday.rs and
//! tests/gameday_scorecard.rs so both score the same night.

/// Two LDAP servers the application needs, and a batch job of four simulated minutes that
/// keeps the game day going while people repair LDAP.
pub const FLEET: &str = r#"
name: gameday
policy: { parallelism: 16, power_on: { count: 100, per: 1s } }
defaults:
  host: { boot: 30s, bmc: { password_env: GAMEDAY_BMC } }
  subsystem:
    expect: 20s
    retry: { attempts: 2, backoff: 10s, max_backoff: 10s }
hosts:
  - { name: "ldap[1:2]", address: "10.0.0.[1:2]", bmc: { address: "10.1.0.[1:2]" } }
  - { name: app1, address: 10.0.1.1, bmc: { address: 10.1.1.1 } }
  - { name: batch1, address: 10.0.2.1, bmc: { address: 10.1.2.1 } }
subsystems:
  - { name: ldap, tier: S1, hosts: ["ldap[1:2]"], start: "true" }
  - { name: app, tier: S1, hosts: [app1], requires: [ldap], start: "true" }
  - { name: batch, tier: S3, hosts: [batch1], start: "true", expect: 4m }
"#;

/// A gate before the application, on `fleet.yaml` beside it: nothing moves past it until a
/// person acknowledges.
pub const GATED: &str = r#"
version: 1
playbook: gated
topology: fleet.yaml
gates:
  - name: approve-app
    before: app
    instructions: check that both LDAP servers answer
    expect: 1m
"#;

/// [`FLEET`] without the batch job: behind [`GATED`]'s gate nothing else runs, so the game
/// day can only go on when a person acknowledges.
pub fn fleet_without_batch() -> String {
    let lines: Vec<&str> = FLEET.lines().filter(|l| !l.contains("batch")).collect();
    lines.join("\n")
}
