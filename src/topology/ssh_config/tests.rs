use super::*;
use crate::topology::names::glob_match;
use std::time::Duration;

fn config(text: &str) -> SshConfig {
    parse(text).expect("the configuration parses")
}

fn hop(user: Option<&str>, host: &str, port: Option<u16>) -> JumpSpec {
    JumpSpec {
        user: user.map(String::from),
        host: host.into(),
        port,
    }
}

#[test]
fn the_first_value_obtained_wins_across_blocks_in_file_order() {
    let c = config(
        "Host db*\n  User dba\n  Port 2222\nHost *\n  User root\n  Port 22\n  IdentityFile ~/.ssh/fleet\n",
    );
    let db = c.resolve("db1");
    assert_eq!(db.user.as_deref(), Some("dba"));
    assert_eq!(db.port, Some(2222));
    assert_eq!(db.identity_file.as_deref(), Some("~/.ssh/fleet"));
    let web = c.resolve("web1");
    assert_eq!(web.user.as_deref(), Some("root"));
    assert_eq!(web.port, Some(22));
}

#[test]
fn a_later_host_star_does_not_override_an_earlier_specific_block() {
    let c = config("Host *\n User everyone\nHost db1\n User dba\n");
    assert_eq!(c.resolve("db1").user.as_deref(), Some("everyone"));
}

#[test]
fn lines_before_the_first_host_apply_to_every_host() {
    let c = config("ConnectTimeout 7\nHost db1\n ConnectTimeout 3\n");
    assert_eq!(
        c.resolve("db1").connect_timeout,
        Some(Duration::from_secs(7))
    );
}

#[test]
fn question_mark_matches_exactly_one_character() {
    let c = config("Host web?\n User w\n");
    assert_eq!(c.resolve("web1").user.as_deref(), Some("w"));
    assert_eq!(c.resolve("web12").user, None);
    assert_eq!(c.resolve("web").user, None);
}

#[test]
fn several_patterns_on_one_line_any_of_them_matches() {
    let c = config("Host db* cache?  10.0.*\n User ops\n");
    for host in ["db7", "cache1", "10.0.3.4"] {
        assert_eq!(c.resolve(host).user.as_deref(), Some("ops"), "{host}");
    }
    assert_eq!(c.resolve("web1").user, None);
}

#[test]
fn a_negated_pattern_excludes_a_host_the_others_match() {
    let c = config("Host * !bastion\n ProxyJump bastion\nHost bastion\n HostName 10.0.0.1\n");
    assert_eq!(
        c.resolve("db1").proxy_jump,
        Some(ProxyJump::Hops(vec![hop(None, "bastion", None)]))
    );
    let bastion = c.resolve("bastion");
    assert_eq!(bastion.proxy_jump, None);
    assert_eq!(bastion.host_name.as_deref(), Some("10.0.0.1"));
}

#[test]
fn a_negated_pattern_alone_matches_nothing() {
    let c = config("Host !db1\n User x\n");
    assert_eq!(c.resolve("web1").user, None);
    assert_eq!(c.resolve("db1").user, None);
}

#[test]
fn keywords_ignore_case_and_hostname_expands_percent_h() {
    let c = config("HOST db*\n hostname %h.dc1.example\n USER=dba\n");
    let db = c.resolve("db1");
    assert_eq!(db.host_name.as_deref(), Some("db1.dc1.example"));
    assert_eq!(db.user.as_deref(), Some("dba"));
}

#[test]
fn host_patterns_match_case_sensitively_as_openssh_does() {
    let c = config("Host DB*\n User upper\nHost db*\n User lower\n");
    assert_eq!(c.resolve("DB1").user.as_deref(), Some("upper"));
    assert_eq!(c.resolve("db1").user.as_deref(), Some("lower"));
    assert_eq!(c.resolve("Db1").user, None);
}

#[test]
fn a_comment_at_the_end_of_a_line_is_no_pattern_and_no_value() {
    let c = config("Host web # prod\n User ops # the operators\nHost *\n User other\n");
    assert_eq!(c.resolve("web").user.as_deref(), Some("ops"));
    for host in ["#", "prod"] {
        assert_eq!(c.resolve(host).user.as_deref(), Some("other"), "{host}");
    }
    let quoted = config("Host a\n IdentityFile \"/keys/#1\"\n");
    assert_eq!(
        quoted.resolve("a").identity_file.as_deref(),
        Some("/keys/#1")
    );
}

#[test]
fn file_name_tokens_are_kept_for_later_and_unknown_ones_refused_at_their_line() {
    let c = config("Host *\n IdentityFile ~/.ssh/%h_%r\n");
    assert_eq!(
        c.resolve("db1").identity_file.as_deref(),
        Some("~/.ssh/%h_%r")
    );
    let err = parse("Host a\n UserKnownHostsFile ~/.ssh/kh-%C\n").unwrap_err();
    assert_eq!(err.line, 2);
    assert!(err.message.contains("%C"), "{}", err.message);
}

#[test]
fn proxy_jump_chains_with_users_and_ports() {
    let c = config("Host db1\n ProxyJump ops@jump1:2200,jump2,root@[fd00::1]:22\n");
    assert_eq!(
        c.resolve("db1").proxy_jump,
        Some(ProxyJump::Hops(vec![
            hop(Some("ops"), "jump1", Some(2200)),
            hop(None, "jump2", None),
            hop(Some("root"), "fd00::1", Some(22)),
        ]))
    );
}

#[test]
fn proxy_jump_none_is_obtained_and_stops_a_later_host_star() {
    let c = config("Host db1\n ProxyJump none\nHost *\n ProxyJump bastion\n");
    assert_eq!(c.resolve("db1").proxy_jump, Some(ProxyJump::None));
    assert_eq!(
        c.resolve("db2").proxy_jump,
        Some(ProxyJump::Hops(vec![hop(None, "bastion", None)]))
    );
}

#[test]
fn match_host_user_originalhost_localuser_and_all_apply_as_ssh_evaluates_them() {
    let c = config(
        "Host db*\n HostName %h.internal\n\
         Match host db1.internal\n User fromhostname\nMatch originalhost db2 !localuser root\n \
         User fromoriginal\nMatch user fromhostname\n Port 2201\nMatch !host *.internal\n \
         Port 2299\nMatch all\n ConnectTimeout 7\nMatch exec \"test -e /x\"\n User never\n",
    );
    let db1 = c.resolve_as("db1", "alice");
    assert_eq!(
        db1.user.as_deref(),
        Some("fromhostname"),
        "host sees HostName so far"
    );
    assert_eq!(db1.port, Some(2201), "user sees the User obtained so far");
    assert_eq!(db1.connect_timeout, Some(Duration::from_secs(7)));
    let db2 = c.resolve_as("db2", "alice");
    assert_eq!(db2.user.as_deref(), Some("fromoriginal"));
    assert_eq!(
        db2.port, None,
        "no negated host match: db2.internal is internal"
    );
    assert_eq!(
        c.resolve_as("db2", "root").user,
        None,
        "`!localuser root` excludes root; `exec` is not run by `resolve`"
    );
    assert_eq!(c.resolve_as("web", "alice").port, Some(2299));
    assert!(
        parse("Match host\n").is_err(),
        "a criterion without patterns"
    );
}

#[test]
fn strict_host_key_checking_accept_new_stays_strict() {
    let c =
        config("Host a\n StrictHostKeyChecking accept-new\nHost b\n StrictHostKeyChecking no\n");
    assert_eq!(c.resolve("a").strict_host_key_checking, Some(true));
    assert_eq!(c.resolve("b").strict_host_key_checking, Some(false));
}

#[test]
fn quoted_values_keep_their_spaces_and_comments_are_skipped() {
    let c = config("# fleet\nHost db1\n  # key below\n  IdentityFile \"/keys/my key\"\n  UserKnownHostsFile /k/known /k/other\n");
    let db = c.resolve("db1");
    assert_eq!(db.identity_file.as_deref(), Some("/keys/my key"));
    assert_eq!(db.user_known_hosts_file.as_deref(), Some("/k/known"));
}

#[test]
fn bad_values_are_refused_with_their_line() {
    for (text, line, needle) in [
        ("Host a\n Port 70000\n", 2, "not a port"),
        ("Host a\n\n ConnectTimeout 5s\n", 3, "seconds"),
        ("Host a\n ProxyJump @jump\n", 2, "[user@]host[:port]"),
        ("Host a\n ProxyJump jump:x\n", 2, "not a port"),
        ("Host\n", 1, "without a pattern"),
        ("Host a\n User \"ops\n", 2, "unterminated quote"),
        ("Host a\n StrictHostKeyChecking maybe\n", 2, "accept-new"),
    ] {
        let err = parse(text).expect_err(text);
        assert_eq!(err.line, line, "{text}");
        assert!(err.message.contains(needle), "{text}: {}", err.message);
    }
}

#[test]
fn unknown_keywords_are_ignored() {
    let c = config("Host db1\n ForwardAgent yes\n ControlMaster auto\n User dba\n");
    assert_eq!(c.resolve("db1").user.as_deref(), Some("dba"));
}

#[test]
fn a_pathological_glob_still_answers() {
    let glob = "*a*a*a*a*a*a*a*a*b";
    let text = "a".repeat(200);
    let glob_match = |glob: &[u8], text: &[u8]| glob_match(glob, text, b'*', b'?');
    assert!(!glob_match(glob.as_bytes(), text.as_bytes()));
    assert!(glob_match(b"*a*", text.as_bytes()));
}

#[test]
fn proxy_command_and_proxy_jump_compete_and_the_first_obtained_wins() {
    let c = config(
        "Host a\n ProxyCommand ssh -W %h:%p gw\nHost b\n ProxyJump j1\nHost c\n ProxyCommand none\n\
         Host *\n ProxyJump later\n ProxyCommand nc -X 5 %h %p\n",
    );
    let a = c.resolve("a");
    let at = Place {
        file: String::new(),
        line: 2,
    };
    assert_eq!(a.proxy_command, Some(("ssh -W %h:%p gw".to_string(), at)));
    assert_eq!(a.proxy_jump, None, "a later ProxyJump is not taken");
    let b = c.resolve("b");
    assert_eq!(
        b.proxy_jump,
        Some(ProxyJump::Hops(vec![hop(None, "j1", None)]))
    );
    assert_eq!(b.proxy_command, None, "a later ProxyCommand is not taken");
    let direct = c.resolve("c");
    assert_eq!(direct.proxy_jump, Some(ProxyJump::None));
    assert_eq!(direct.proxy_command, None);
    assert_eq!(
        c.resolve("d").proxy_jump,
        Some(ProxyJump::Hops(vec![hop(None, "later", None)]))
    );
}

#[test]
fn certificate_file_is_taken_from_the_first_block_that_gives_one() {
    let c = config(
        "Host a\n CertificateFile ~/.ssh/%h-cert.pub\n User u\nHost *\n CertificateFile other\n",
    );
    let a = c.resolve("a");
    assert_eq!(a.certificate_file.as_deref(), Some("~/.ssh/%h-cert.pub"));
    assert_eq!(a.user.as_deref(), Some("u"));
    assert_eq!(c.resolve("b").certificate_file.as_deref(), Some("other"));
}
