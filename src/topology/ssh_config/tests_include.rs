//! `Include`, `Match final`/`canonical`/`exec`: compared with what `ssh -G` resolves.

use super::*;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

/// What `ssh -G -F file host` resolves, for the keywords blackstart reads (the first value
/// of each). The OpenSSH client is part of the lab; its absence fails the test.
fn ssh_g(file: &Path, host: &str) -> HashMap<String, String> {
    let out = Command::new("timeout")
        .args(["10", "ssh", "-G", "-F"])
        .arg(file)
        .arg(host)
        .output()
        .expect("the OpenSSH client (ssh) runs");
    assert!(
        out.status.success(),
        "ssh -G: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut map = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some((key, value)) = line.split_once(' ') {
            map.entry(key.to_string())
                .or_insert_with(|| value.to_string());
        }
    }
    map
}

/// Asserts that blackstart resolves `host` in `file` as ssh does, for what `file` sets.
fn same_as_ssh(file: &Path, home: &Path, host: &str) -> HostConfig {
    let text = std::fs::read_to_string(file).unwrap();
    let config = parse_file(&text, &file.display().to_string(), home).expect("parses");
    let ours = config.resolve(host);
    let theirs = ssh_g(file, host);
    let local = tokens::local_user();
    assert_eq!(
        ours.user.as_deref().unwrap_or(&local),
        theirs["user"],
        "{host}: user"
    );
    assert_eq!(
        ours.port.unwrap_or(22).to_string(),
        theirs["port"],
        "{host}: port"
    );
    assert_eq!(
        ours.host_name.as_deref().unwrap_or(host),
        theirs["hostname"],
        "{host}"
    );
    let timeout = ours.connect_timeout.map(|t| t.as_secs().to_string());
    assert_eq!(
        timeout.as_deref().unwrap_or("none"),
        theirs["connecttimeout"],
        "{host}"
    );
    if let Some(key) = &ours.identity_file {
        assert_eq!(key, &theirs["identityfile"], "{host}: identityfile");
    }
    ours
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn an_include_inside_a_host_block_applies_only_to_it_and_the_block_resumes_after() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "inc1", "User incuser\nHost other\n  Port 2200\n");
    let main = write(
        d,
        "main",
        &format!(
            "Host web\n  Include {}/inc1\n  HostName after-include\nHost *\n  Port 2222\n",
            d.display()
        ),
    );
    let web = same_as_ssh(&main, d, "web");
    assert_eq!(web.user.as_deref(), Some("incuser"));
    assert_eq!(web.host_name.as_deref(), Some("after-include"));
    let other = same_as_ssh(&main, d, "other");
    assert_eq!(
        other.port,
        Some(2222),
        "the included `Host other` is under `Host web`"
    );
    same_as_ssh(&main, d, "zzz");
}

#[test]
fn an_include_glob_reads_the_files_in_sorted_order_and_skips_hidden_ones() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "conf.d/20-b", "Host db*\n  User second\n  Port 2002\n");
    write(d, "conf.d/10-a", "Host db*\n  User first\n");
    write(d, "conf.d/.hidden", "Host *\n  ConnectTimeout 3\n");
    let main = write(
        d,
        "main",
        &format!(
            "Include {}/conf.d/*\nHost *\n  ConnectTimeout 9\n",
            d.display()
        ),
    );
    let db = same_as_ssh(&main, d, "db1");
    assert_eq!(db.user.as_deref(), Some("first"));
    assert_eq!(db.port, Some(2002));
    assert_eq!(db.connect_timeout, Some(Duration::from_secs(9)));
}

#[test]
fn relative_include_names_are_under_home_ssh_and_tilde_is_home() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    write(home, ".ssh/fleet.conf", "Host db1\n  User fromrelative\n");
    write(home, "extra.conf", "Host db2\n  User fromtilde\n");
    let text = "Include fleet.conf ~/extra.conf missing.conf\n";
    let c = parse_file(text, "cfg", home).unwrap();
    assert_eq!(c.resolve("db1").user.as_deref(), Some("fromrelative"));
    assert_eq!(c.resolve("db2").user.as_deref(), Some("fromtilde"));
    let (place, word) = &c.empty_includes[0];
    assert_eq!(
        (place.to_string(), word.as_str()),
        ("cfg:1".into(), "missing.conf")
    );
}

#[test]
fn include_errors_name_the_including_line_and_the_line_inside() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "bad", "Host a\n  Port 99999\n");
    let text = format!("Host *\n  User u\nInclude {}/bad\n", d.display());
    let err = parse_file(&text, "main", d).unwrap_err();
    assert_eq!(err.place().to_string(), "main:3");
    let inner = format!("{}/bad:2", d.display());
    assert!(err.message.contains(&inner), "{}", err.message);
    // A file including itself stops at the depth bound, with its place.
    let looped = write(d, "loop", &format!("Include {}/loop\n", d.display()));
    let text = std::fs::read_to_string(&looped).unwrap();
    let err = parse_file(&text, "loop", d).unwrap_err();
    assert!(err.message.contains("deep"), "{}", err.message);
    assert_eq!(err.line, 1);
    let err = parse("Include /etc/[ab]*\n").unwrap_err();
    assert!(err.message.contains("character classes"), "{}", err.message);
}

#[test]
fn match_final_reads_the_file_again_for_the_host_name_with_final_and_canonical_holding() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let main = write(
        d,
        "main",
        "Match final host real.example\n  User finaluser\nMatch canonical\n  Port 2022\n\
         Host web\n  HostName real.example\nHost real.example\n  IdentityFile /k/real\n\
         Match !final\n  ConnectTimeout 7\n",
    );
    let web = same_as_ssh(&main, d, "web");
    assert_eq!(web.user.as_deref(), Some("finaluser"));
    assert_eq!(web.port, Some(2022));
    assert_eq!(web.identity_file.as_deref(), Some("/k/real"));
    // Without `Match final` there is one pass: `canonical` never holds.
    let one = write(
        d,
        "one",
        "Match canonical\n  Port 2022\nHost web\n  HostName real.example\n",
    );
    assert_eq!(same_as_ssh(&one, d, "web").port, None);
    // A `final` behind a criterion that fails still asks for the second pass, as in ssh.
    let behind = write(
        d,
        "behind",
        "Match host nomatch final\n  User never\nHost web\n  HostName r.example\n\
         Host r.example\n  IdentityFile /k/r\n",
    );
    assert_eq!(
        same_as_ssh(&behind, d, "web").identity_file.as_deref(),
        Some("/k/r")
    );
}

#[test]
fn match_exec_is_asked_with_its_tokens_expanded_only_when_the_criteria_before_it_hold() {
    let c = parse(
        "Match host web exec \"probe %h %r %p\"\n  User ran\nMatch host zzz exec x\n  Port 1\n",
    )
    .unwrap();
    let mut asked = Vec::new();
    let web = c.resolve_with("web", "alice", &mut |request| {
        asked.push((request.place.line, request.command.clone()));
        true
    });
    assert_eq!(web.user.as_deref(), Some("ran"));
    assert_eq!(asked, vec![(1, Ok("probe web alice 22".to_string()))]);
    assert_eq!(
        c.resolve("web").user,
        None,
        "`resolve` runs nothing: the block does not apply"
    );
    let mut asked = 0;
    c.resolve_with("a;b", "alice", &mut |_| {
        asked += 1;
        false
    });
    assert_eq!(asked, 0, "`host web` failed first");
    let c = parse("Match exec \"probe %h\"\n  User x\n").unwrap();
    c.resolve_with("a;reboot", "alice", &mut |request| {
        assert!(
            request.command.is_err(),
            "a shell character is never handed on"
        );
        false
    });
    let err = parse("Host a\nMatch tagged x\n").unwrap_err();
    assert_eq!(err.line, 2);
    assert!(err.message.contains("client: openssh"), "{}", err.message);
}

/// The brief asked for `%d`/`%u`/`%h`/`%%` in `Include` names "as OpenSSH expands them":
/// OpenSSH 9.2 does not expand them there (ssh_config(5) lists no tokens for `Include`, and
/// `ssh -G` reads `Include .../%u.conf` as the file named `%u.conf`). blackstart reads the
/// name as ssh does, so both clients see the same files; `%` in a name that matches nothing
/// is warned of with the empty include.
#[test]
fn percent_in_an_include_name_is_literal_as_ssh_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let local = tokens::local_user();
    write(d, &format!("{local}.conf"), "Host *\n  User expanded\n");
    write(d, "%u.conf", "Host *\n  User literal\n");
    let main = write(d, "main", &format!("Include {}/%u.conf\n", d.display()));
    let resolved = same_as_ssh(&main, d, "web");
    assert_eq!(resolved.user.as_deref(), Some("literal"));

    std::fs::remove_file(d.join("%u.conf")).unwrap();
    let text = std::fs::read_to_string(&main).unwrap();
    let config = parse_file(&text, "main", d).unwrap();
    assert_eq!(
        config.empty_includes.len(),
        1,
        "nothing included, as in ssh"
    );
    let resolved = same_as_ssh(&main, d, "web");
    assert_eq!(resolved.user, None, "the user's own file is not read");
}
