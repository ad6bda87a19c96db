use super::*;

fn ini(text: &str) -> Inventory {
    parse(text, Some(Format::Ini)).unwrap_or_else(|problems| panic!("{problems:?}"))
}

fn yaml(text: &str) -> Inventory {
    parse(text, Some(Format::Yaml)).unwrap_or_else(|problems| panic!("{problems:?}"))
}

fn host<'a>(inventory: &'a Inventory, name: &str) -> &'a InventoryHost {
    inventory
        .hosts
        .iter()
        .find(|h| h.name == name)
        .unwrap_or_else(|| panic!("no host {name}"))
}

fn first_error(result: Result<Inventory, Vec<Problem>>) -> Problem {
    result.expect_err("should be refused").remove(0)
}

/// The first error of each case's text, checked to stand on the case's line and to say its
/// words.
fn located_errors(format: Format, cases: &[(&str, usize, &str)]) -> Vec<Problem> {
    let located = |&(text, line, words): &(&str, usize, &str)| {
        let problem = first_error(parse(text, Some(format)));
        assert_eq!(problem.line, line, "{text:?}: {problem:?}");
        assert!(problem.message.contains(words), "{text:?}: {problem:?}");
        problem
    };
    cases.iter().map(located).collect()
}

#[test]
fn ini_ranges_ports_and_children_expand_as_ansible_does() {
    let inventory = ini(
        "loose ansible_host=10.0.0.1\n\n[web]\nweb[01:03].example.com ansible_user=deploy\n\
         [db]\ndb-[a:c]\ndb-x:2200\n[dc1:children]\nweb\ndb\n",
    );
    let names: Vec<&str> = inventory.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "loose",
            "web01.example.com",
            "web02.example.com",
            "web03.example.com",
            "db-a",
            "db-b",
            "db-c",
            "db-x"
        ]
    );
    assert_eq!(host(&inventory, "loose").groups, ["ungrouped"]);
    assert_eq!(
        host(&inventory, "loose").address().as_deref(),
        Some("10.0.0.1")
    );
    assert_eq!(host(&inventory, "web02.example.com").groups, ["dc1", "web"]);
    assert_eq!(host(&inventory, "db-x").port(), Ok(Some(2200)));
    assert_eq!(
        host(&inventory, "web01.example.com").user().as_deref(),
        Some("deploy")
    );
}

#[test]
fn host_vars_beat_child_groups_which_beat_parents_which_beat_all() {
    let inventory = ini("[web]\nw1 ansible_user=own\nw2\n[dc:children]\nweb\n\
         [web:vars]\nansible_port=2201\n[dc:vars]\nansible_port=2202\nansible_user=dc\nansible_host=dc-host\n\
         [all:vars]\nansible_user=everyone\nansible_host=all-host\n[lonely]\nl1\n");
    let w1 = host(&inventory, "w1");
    assert_eq!(w1.user().as_deref(), Some("own"));
    assert_eq!(w1.port(), Ok(Some(2201)));
    assert_eq!(w1.address().as_deref(), Some("dc-host"));
    assert_eq!(host(&inventory, "w2").user().as_deref(), Some("dc"));
    assert_eq!(host(&inventory, "l1").user().as_deref(), Some("everyone"));
    assert_eq!(host(&inventory, "l1").port(), Ok(None));
}

#[test]
fn groups_of_one_depth_follow_priority_then_name() {
    let inventory =
        ini("[b]\nh\n[a]\nh\n[a:vars]\nansible_user=from_a\n[b:vars]\nansible_user=from_b\n");
    assert_eq!(host(&inventory, "h").user().as_deref(), Some("from_b"));
    let inventory = ini(
        "[b]\nh\n[a]\nh\n[a:vars]\nansible_user=from_a\nansible_group_priority=5\n\
         [b:vars]\nansible_user=from_b\n",
    );
    assert_eq!(host(&inventory, "h").user().as_deref(), Some("from_a"));
}

#[test]
fn ini_values_read_as_python_literals_and_comments_end_lines() {
    let inventory = ini(
        "[a]\nh1 x=\"5\" y='a b' z=abc # trailing\n[a:vars]\nq=\"quoted\"\nr=5 # c\ns=abc # kept\n",
    );
    let h1 = host(&inventory, "h1");
    assert_eq!(h1.vars["x"], Value::from(5));
    assert_eq!(h1.vars["y"], Value::from("a b"));
    assert_eq!(h1.vars["z"], Value::from("abc"));
    assert_eq!(h1.vars["q"], Value::from("quoted"));
    assert_eq!(h1.vars["r"], Value::from(5));
    assert_eq!(h1.vars["s"], Value::from("abc # kept"));
}

#[test]
fn a_children_loop_is_refused_with_its_whole_path_and_line() {
    let problem = first_error(parse(
        "[a:children]\nb\n[b:children]\nc\n[c:children]\na\n[c]\nh\n",
        Some(Format::Ini),
    ));
    assert!(problem.message.contains("loop"), "{problem:?}");
    assert!(problem.message.contains("a -> b -> c -> a"), "{problem:?}");
    assert_eq!(problem.line, 6);
    let problem = first_error(parse(
        "all:\n  children:\n    a:\n      children:\n        a:\n",
        Some(Format::Yaml),
    ));
    assert!(problem.message.contains("a -> a"), "{problem:?}");
    assert_eq!(problem.line, 5);
}

#[test]
fn malformed_ini_lines_are_located() {
    let cases = [
        ("[a]\nh1\n[a:bogus]\nh2\n", 3, "unknown type"),
        ("[a]\nh1 novalue\n", 2, "key=value"),
        ("[a]\nh1 x='open\n", 2, "quotation"),
        ("[a]\nweb[5:1]\n", 2, "backwards"),
        ("[a]\nh\n[x:vars]\nk=v\n", 3, "never declared"),
        ("[a:children]\nb\n[a]\nh\n", 2, "never declared"),
        ("[a]\nh\n[a:vars]\njust-a-word\n", 4, "key=value"),
        ("[bad group]\nh\n", 1, "invalid section"),
        ("[a]\nh[1:100000][1:100000]\n", 2, "more than"),
    ];
    for problem in located_errors(Format::Ini, &cases) {
        assert!(problem.hint.is_some(), "{problem:?}");
    }
}

#[test]
fn yaml_groups_vars_children_and_ranges() {
    let inventory = yaml(
        "all:\n  hosts:\n    solo:\n      ansible_host: 10.0.0.5\n  vars:\n    ansible_user: root2\n  children:\n\
         \x20   dc1:\n      vars: { ansible_port: 2022 }\n      children:\n        web:\n          hosts:\n\
         \x20           web[1:2]:\n            special:2222:\n              ansible_user: sp\n\
         \x20       db:\n          hosts: db-[a:b]\n          vars:\n            ansible_port: 5432\n",
    );
    let names: Vec<&str> = inventory.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["solo", "web1", "web2", "special", "db-a", "db-b"]);
    assert_eq!(host(&inventory, "solo").groups, ["ungrouped"]);
    assert_eq!(host(&inventory, "web1").groups, ["dc1", "web"]);
    assert_eq!(host(&inventory, "web1").port(), Ok(Some(2022)));
    assert_eq!(host(&inventory, "web1").user().as_deref(), Some("root2"));
    assert_eq!(host(&inventory, "special").port(), Ok(Some(2222)));
    assert_eq!(host(&inventory, "special").user().as_deref(), Some("sp"));
    assert_eq!(host(&inventory, "db-b").port(), Ok(Some(5432)));
}

#[test]
fn malformed_yaml_is_located() {
    let cases = [
        ("all:\n  hosts:\n    - web1\n", 2, "must be a mapping"),
        ("all:\n  hosts:\n    web1: 5\n", 3, "must be a mapping"),
        ("all:\n  hosts:\n    web[3:1]:\n", 3, "backwards"),
        ("all:\n  hosts: {\n", 3, "invalid YAML"),
        ("- a\n- b\n", 1, "mapping of groups"),
        ("plugin: aws_ec2\n", 1, "plugin"),
    ];
    located_errors(Format::Yaml, &cases);
}

#[test]
fn a_file_without_extension_is_tried_as_yaml_then_ini() {
    assert_eq!(
        parse("all:\n  hosts: { a: }\n", None).unwrap().format,
        Format::Yaml
    );
    let inventory = parse("[web]\na\n", None).unwrap();
    assert_eq!(inventory.format, Format::Ini);
    assert_eq!(inventory.hosts[0].groups, ["web"]);
}

#[test]
fn ports_that_are_no_ports_are_named() {
    let inventory = ini("[a]\nh1 ansible_port=70000\nh2 ansible_port=ssh\nh3:0\n");
    for name in ["h1", "h2", "h3"] {
        let why = host(&inventory, name).port().expect_err(name);
        assert!(why.contains("ansible_port"), "{why}");
    }
}

#[test]
fn hostile_nesting_and_sizes_are_refused_not_expanded() {
    let mut deep = String::from("all:\n");
    for level in 0..100 {
        deep.push_str(&format!(
            "{}children:\n{}g{level}:\n",
            "  ".repeat(2 * level + 1),
            "  ".repeat(2 * level + 2)
        ));
    }
    assert!(parse(&deep, Some(Format::Yaml)).is_err());
    let mut many = String::from("[a]\n");
    for _ in 0..3 {
        many.push_str("h[00000:99999]\n");
    }
    many.push_str("x[00000:99999]\n");
    let problem = first_error(parse(&many, Some(Format::Ini)));
    assert!(problem.message.contains("more than"), "{problem:?}");
}

#[test]
fn legacy_ansible_ssh_variables_are_honoured_and_the_modern_ones_win() {
    let inventory = ini(
        "[web]\nold ansible_ssh_host=10.0.0.7 ansible_ssh_port=2207 ansible_ssh_user=legacy\n\
         both ansible_ssh_host=10.0.0.8 ansible_host=10.0.0.9 ansible_ssh_user=legacy\n\
         bad ansible_ssh_port=ssh\n[new]\nboth\n[new:vars]\nansible_user=modern\n",
    );
    let old = host(&inventory, "old");
    assert_eq!(old.address().as_deref(), Some("10.0.0.7"));
    assert_eq!(old.port(), Ok(Some(2207)));
    assert_eq!(old.user().as_deref(), Some("legacy"));
    let both = host(&inventory, "both");
    assert_eq!(both.address().as_deref(), Some("10.0.0.9"));
    assert_eq!(both.user().as_deref(), Some("modern"));
    let why = host(&inventory, "bad").port().unwrap_err();
    assert!(why.contains("ansible_ssh_port"), "{why}");
}

/// Writes `files` (path, text) under a scratch directory and loads its `inventory.ini`.
fn load_tree(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<Inventory, LoadError>) {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let loaded = load(&dir.path().join("inventory.ini"));
    (dir, loaded)
}

#[test]
fn group_vars_and_host_vars_beside_the_inventory_merge_in_ansible_core_order() {
    let (_dir, loaded) = load_tree(&[
        (
            "inventory.ini",
            "[web]\nw1\nw2 ansible_port=2202\nw3 ansible_user=inline\n[dc:children]\nweb\n\
             [dc:vars]\nansible_port=2200\n[web:vars]\nblackstart_rack=inline\n",
        ),
        (
            "group_vars/all.yml",
            "ansible_user: deploy\nblackstart_rack: from-all\n",
        ),
        ("group_vars/dc/10-net.yaml", "ansible_host: dc-host\n"),
        ("group_vars/dc/20-more", "ansible_host: dc-host-2\n"),
        ("group_vars/dc/.hidden.yml", "ansible_host: hidden\n"),
        ("group_vars/web", "---\n"),
        ("host_vars/w2.yml", "ansible_port: 2299\n"),
        ("host_vars/w3.json", "{\"ansible_user\": \"from-file\"}\n"),
        ("host_vars/nobody.yml", "ansible_user: [unused\n"),
    ]);
    let inventory = loaded.unwrap();
    let w1 = host(&inventory, "w1");
    assert_eq!(w1.user().as_deref(), Some("deploy"), "group_vars/all.yml");
    assert_eq!(
        w1.address().as_deref(),
        Some("dc-host-2"),
        "a directory's files in name order"
    );
    assert_eq!(w1.port(), Ok(Some(2200)));
    // ansible-core's default order: every group's inventory vars, then group_vars/all, then
    // the other groups' files; so group_vars/all.yml wins over `[web:vars]`.
    assert_eq!(w1.text_var("blackstart_rack").as_deref(), Some("from-all"));
    assert_eq!(
        host(&inventory, "w2").port(),
        Ok(Some(2299)),
        "host_vars over the line"
    );
    let w3 = host(&inventory, "w3");
    assert_eq!(
        w3.user().as_deref(),
        Some("from-file"),
        "host_vars over the line"
    );
}

#[test]
fn a_broken_vars_file_is_an_error_at_its_line_and_a_vaulted_one_is_warned_of() {
    let (_dir, loaded) = load_tree(&[
        ("inventory.ini", "[web]\nw1\n"),
        (
            "group_vars/web.yml",
            "ansible_user: ok\nansible_port: [2200\n",
        ),
    ]);
    let Err(LoadError::Invalid { path, problems }) = loaded else {
        panic!("{loaded:?}");
    };
    let place = problems[0].place(&path);
    assert!(place.ends_with("group_vars/web.yml:3"), "{place}");
    assert!(problems[0].message.contains("invalid YAML"), "{problems:?}");
    let (_dir, loaded) = load_tree(&[
        ("inventory.ini", "[web]\nw1\n"),
        ("group_vars/all.yml", "$ANSIBLE_VAULT;1.1;AES256\n6162\n"),
    ]);
    let inventory = loaded.unwrap();
    let warning = &inventory.warnings[0];
    assert!(warning.message.contains("vault-encrypted"), "{warning:?}");
    assert!(warning.place("x").ends_with("group_vars/all.yml:1"));
}
