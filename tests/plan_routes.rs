//! The plan shows how each host is reached: `plan --format json` gives each host's client,
//! user, port, key path (never the key), jump chain and host-key checking; the text plan
//! groups hosts by route and flags a group whose host keys are not checked.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_blackstart");

const TOPOLOGY: &str = r#"version: 1
name: routes
defaults:
  host:
    ssh: { user: ops, key: id_ops, known_hosts: known, config: none }
hosts:
  - name: web[1:3]
  - name: db[1:2]
    ssh: { port: 2222, proxy_jump: "jump@bastion:2200" }
  - name: lab1
    ssh: { user: root, strict_host_key_checking: false }
subsystems:
  - name: app
    hosts: ["web[1:3]", "db[1:2]", lab1]
    health: { command: "true" }
"#;

#[test]
fn the_plan_gives_each_hosts_route_and_flags_unchecked_host_keys() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("id_ops"), "PRIVATE-KEY-CONTENT\n").unwrap();
    std::fs::write(dir.path().join("known"), "").unwrap();
    let file = dir.path().join("routes.yaml");
    std::fs::write(&file, TOPOLOGY).unwrap();

    let json = Command::new(BIN)
        .args(["plan", "--format", "json"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&json.stdout).to_string();
    assert!(
        json.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&json.stderr)
    );
    assert!(
        !text.contains("PRIVATE-KEY-CONTENT"),
        "the key's content is never shown"
    );
    let plan: serde_json::Value = serde_json::from_str(&text).unwrap();
    let routes = plan["routes"].as_array().unwrap();
    assert_eq!(routes.len(), 6);
    let route = |name: &str| routes.iter().find(|r| r["host"] == name).unwrap().clone();
    let db1 = route("db1");
    assert_eq!(db1["client"], "builtin");
    assert_eq!(
        (db1["user"].as_str(), db1["port"].as_u64()),
        (Some("ops"), Some(2222))
    );
    assert_eq!(
        db1["key_file"].as_str().unwrap(),
        dir.path().join("id_ops").to_str().unwrap()
    );
    assert_eq!(db1["host_key_checking"], true);
    assert_eq!(db1["jumps"][0]["address"], "bastion");
    assert_eq!(db1["jumps"][0]["user"], "jump");
    assert_eq!(db1["jumps"][0]["port"], 2200);
    let lab1 = route("lab1");
    assert_eq!(
        (lab1["user"].as_str(), lab1["host_key_checking"].as_bool()),
        (Some("root"), Some(false))
    );
    assert_eq!(route("web2")["jumps"], serde_json::json!([]));

    let output = Command::new(BIN).arg("plan").arg(&file).output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "{text}");
    assert!(!text.contains("PRIVATE-KEY-CONTENT"));
    // Three routes, three groups; only lab1's is flagged.
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(
            "2 hosts (db[1:2]): ops@HOST:2222 via jump@bastion:2200, built-in client, key"
        ),
        "{text}"
    );
    assert!(
        flat.contains("ssh routes 3 hosts (web[1:3]): ops@HOST:22, built-in client"),
        "{text}"
    );
    assert!(
        flat.contains("1 host (lab1): root@HOST:22, built-in client")
            && flat.contains("HOST KEYS NOT CHECKED for the hosts (strict_host_key_checking off)"),
        "{text}"
    );
    assert_eq!(flat.matches("HOST KEYS NOT CHECKED").count(), 1, "{text}");
}
