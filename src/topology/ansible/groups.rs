//! What both parsers build: groups, hosts, memberships and variables as declared, then, once
//! the file is read, the group graph checked for loops and each host's variables merged.

mod order;

use std::collections::{BTreeMap, HashMap};

use super::vars_files::VarsFiles;
use super::{
    Format, Group, Inventory, InventoryHost, Level, Problem, Value, MAX_GROUPS, MAX_HOSTS,
    MAX_MEMBERSHIPS,
};

const ALL: usize = 0;
const UNGROUPED: usize = 1;

struct GroupDecl {
    name: String,
    line: usize,
    vars: BTreeMap<String, Value>,
    /// `ansible_group_priority`: orders groups of one depth (default 1).
    priority: i64,
    /// Children with the line that made each one a child.
    children: Vec<(usize, usize)>,
    hosts: Vec<usize>,
    has_parent: bool,
}

struct HostDecl {
    name: String,
    line: usize,
    vars: BTreeMap<String, Value>,
    groups: Vec<usize>,
}

/// Collects declarations in file order, as Ansible's inventory object does.
pub(super) struct Builder {
    groups: Vec<GroupDecl>,
    group_index: HashMap<String, usize>,
    hosts: Vec<HostDecl>,
    host_index: HashMap<String, usize>,
    problems: Vec<Problem>,
    /// Variables from `group_vars/` and `host_vars/`, merged over the inventory's own.
    files: VarsFiles,
    /// Set once a cap is hit: the rest of the file is not read.
    pub(super) stopped: bool,
}

impl Builder {
    pub(super) fn new() -> Builder {
        let mut builder = Builder {
            groups: Vec::new(),
            group_index: HashMap::new(),
            hosts: Vec::new(),
            host_index: HashMap::new(),
            problems: Vec::new(),
            files: VarsFiles::default(),
            stopped: false,
        };
        builder.group("all", 0);
        builder.group("ungrouped", 0);
        builder.groups[UNGROUPED].has_parent = true;
        builder
    }

    /// The group called `name`, declared at `line` when new.
    pub(super) fn group(&mut self, name: &str, line: usize) -> Option<usize> {
        if let Some(&id) = self.group_index.get(name) {
            return Some(id);
        }
        if self.groups.len() >= MAX_GROUPS {
            self.cap(line, format!("more than {MAX_GROUPS} groups"));
            return None;
        }
        self.group_index.insert(name.to_string(), self.groups.len());
        self.groups.push(GroupDecl {
            name: name.to_string(),
            line,
            vars: BTreeMap::new(),
            priority: 1,
            children: Vec::new(),
            hosts: Vec::new(),
            has_parent: false,
        });
        Some(self.groups.len() - 1)
    }

    /// The names of the groups and of the hosts declared, in order.
    pub(super) fn names(&self) -> (Vec<String>, Vec<String>) {
        (
            self.groups.iter().map(|g| g.name.clone()).collect(),
            self.hosts.iter().map(|h| h.name.clone()).collect(),
        )
    }

    /// Adds the variables of `group_vars/` and `host_vars/`, and what reading them found.
    pub(super) fn add_files(&mut self, files: VarsFiles, problems: Vec<Problem>) {
        self.files = files;
        self.problems.extend(problems);
    }

    /// True when `name` is a declared group.
    pub(super) fn has_group(&self, name: &str) -> bool {
        self.group_index.contains_key(name)
    }

    /// Makes `child` a child of `parent`; loops are found once the file is read.
    pub(super) fn add_child(&mut self, parent: usize, child: usize, line: usize) {
        if child == ALL {
            self.error(
                line,
                "`all` cannot be a child group",
                "every group is already under `all`; remove this entry",
            );
            return;
        }
        if !self.groups[parent]
            .children
            .iter()
            .any(|(c, _)| *c == child)
        {
            self.groups[parent].children.push((child, line));
            self.groups[child].has_parent = true;
        }
    }

    /// Adds the hosts `names` (one line's expansion) to `group`, with the line's variables.
    pub(super) fn add_hosts(
        &mut self,
        names: &[String],
        group: usize,
        vars: &[(String, Value)],
        line: usize,
    ) {
        for name in names {
            let id = match self.host_index.get(name) {
                Some(&id) => id,
                None => {
                    if self.hosts.len() >= MAX_HOSTS {
                        self.cap(line, format!("more than {MAX_HOSTS} hosts"));
                        return;
                    }
                    self.host_index.insert(name.clone(), self.hosts.len());
                    self.hosts.push(HostDecl {
                        name: name.clone(),
                        line,
                        vars: BTreeMap::new(),
                        groups: Vec::new(),
                    });
                    self.hosts.len() - 1
                }
            };
            let host = &mut self.hosts[id];
            if !host.groups.contains(&group) {
                host.groups.push(group);
                self.groups[group].hosts.push(id);
            }
            for (key, value) in vars {
                host.vars.insert(key.clone(), value.clone());
            }
        }
    }

    /// Sets a group variable; `ansible_group_priority` orders the group instead.
    pub(super) fn set_group_var(&mut self, group: usize, key: &str, value: Value, line: usize) {
        if key == "ansible_group_priority" {
            let priority = match &value {
                Value::Number(number) => number.as_i64(),
                Value::String(text) => text.trim().parse().ok(),
                _ => None,
            };
            match priority {
                Some(priority) => self.groups[group].priority = priority,
                None => self.error(
                    line,
                    format!("ansible_group_priority {value} is not a whole number"),
                    "write a whole number such as 10",
                ),
            }
            return;
        }
        self.groups[group].vars.insert(key.to_string(), value);
    }

    pub(super) fn error(&mut self, line: usize, message: impl Into<String>, hint: &str) {
        self.problems.push(Problem {
            level: Level::Error,
            line,
            message: message.into(),
            hint: Some(hint.to_string()),
            file: None,
        });
    }

    pub(super) fn warning(&mut self, line: usize, message: impl Into<String>) {
        self.problems.push(Problem {
            level: Level::Warning,
            line,
            message: message.into(),
            hint: None,
            file: None,
        });
    }

    fn cap(&mut self, line: usize, what: String) {
        if !self.stopped {
            self.error(
                line,
                format!("the inventory declares {what}"),
                "split the inventory, or check its ranges for a typo",
            );
        }
        self.stopped = true;
    }

    /// Checks the group graph and merges every host's variables.
    pub(super) fn finish(mut self, format: Format) -> Result<Inventory, Vec<Problem>> {
        // Groups without a parent hang under `all`, as Ansible's reconciliation puts them.
        for id in 2..self.groups.len() {
            if !self.groups[id].has_parent {
                self.groups[ALL].children.push((id, 0));
            }
        }
        if self.groups[ALL]
            .children
            .iter()
            .all(|(c, _)| *c != UNGROUPED)
        {
            self.groups[ALL].children.insert(0, (UNGROUPED, 0));
        }
        let order = match self.topological_order() {
            Ok(order) => order,
            Err(problem) => {
                self.problems.push(problem);
                return Err(self.errors_only());
            }
        };
        if self.problems.iter().any(|p| p.level == Level::Error) {
            return Err(self.errors_only());
        }
        // Depth as Ansible counts it: the longest path from `all`.
        let mut depth = vec![0usize; self.groups.len()];
        for &id in &order {
            for &(child, _) in &self.groups[id].children {
                depth[child] = depth[child].max(depth[id] + 1);
            }
        }
        // Each group's ancestors, `all` included, parents before children in `order`.
        let mut parents: Vec<Vec<usize>> = vec![Vec::new(); self.groups.len()];
        for &id in &order {
            for &(child, _) in &self.groups[id].children {
                parents[child].push(id);
            }
        }
        let mut ancestors: Vec<Vec<usize>> = vec![Vec::new(); self.groups.len()];
        let mut counted = 0usize;
        for &id in &order {
            ancestors[id] =
                self.with_ancestors(id, parents[id].iter().copied(), &ancestors, &mut counted)?;
        }
        let hosts = self.merged_hosts(&ancestors, &depth)?;
        Ok(Inventory {
            format,
            groups: self.groups_out(),
            hosts,
            warnings: self.problems,
        })
    }

    /// `first` and the ancestors of each group of `groups` (themselves included), sorted and
    /// without repeats. `counted` adds up such sets over the whole inventory: past
    /// [`MAX_MEMBERSHIPS`] the inventory is refused rather than expanded.
    fn with_ancestors(
        &self,
        first: usize,
        groups: impl IntoIterator<Item = usize>,
        ancestors: &[Vec<usize>],
        counted: &mut usize,
    ) -> Result<Vec<usize>, Vec<Problem>> {
        let mut set = vec![first];
        for group in groups {
            set.extend(ancestors[group].iter().copied());
        }
        set.sort_unstable();
        set.dedup();
        *counted += set.len();
        if *counted > MAX_MEMBERSHIPS {
            return Err(vec![self.too_many_memberships()]);
        }
        Ok(set)
    }

    fn merged_hosts(
        &self,
        ancestors: &[Vec<usize>],
        depth: &[usize],
    ) -> Result<Vec<InventoryHost>, Vec<Problem>> {
        let mut counted = 0usize;
        let mut out = Vec::with_capacity(self.hosts.len());
        for host in &self.hosts {
            // A host in no group but `all` is ungrouped, and only then.
            let direct: Vec<usize> = host.groups.iter().copied().filter(|g| *g != ALL).collect();
            let direct = if direct.iter().any(|g| *g != UNGROUPED) {
                direct.into_iter().filter(|g| *g != UNGROUPED).collect()
            } else {
                vec![UNGROUPED]
            };
            let groups = self.with_ancestors(ALL, direct, ancestors, &mut counted)?;
            let groups_by_precedence = {
                let mut sorted = groups.clone();
                sorted.sort_by(|a, b| {
                    let key = |g: &usize| (depth[*g], self.groups[*g].priority);
                    key(a)
                        .cmp(&key(b))
                        .then_with(|| self.groups[*a].name.cmp(&self.groups[*b].name))
                });
                sorted
            };
            let vars = self.merged_vars(host, &groups_by_precedence);
            let mut names: Vec<String> = groups
                .iter()
                .filter(|g| **g != ALL)
                .map(|g| self.groups[*g].name.clone())
                .collect();
            names.sort();
            out.push(InventoryHost {
                name: host.name.clone(),
                line: host.line,
                groups: names,
                vars,
            });
        }
        Ok(out)
    }

    /// A host's variables in ansible-core's order (`all` sorts first): every group's own
    /// variables, then every group's `group_vars/` files, then the host's own, then its
    /// `host_vars/` files; a later value replaces an earlier one.
    fn merged_vars(&self, host: &HostDecl, groups: &[usize]) -> BTreeMap<String, Value> {
        let names = groups.iter().map(|g| self.groups[*g].name.as_str());
        let layers = groups
            .iter()
            .map(|g| Some(&self.groups[*g].vars))
            .chain(names.map(|name| self.files.groups.get(name)))
            .chain([Some(&host.vars), self.files.hosts.get(&host.name)]);
        let mut vars = BTreeMap::new();
        for layer in layers.flatten() {
            for (key, value) in layer {
                vars.insert(key.clone(), value.clone());
            }
        }
        vars
    }

    fn groups_out(&self) -> Vec<Group> {
        self.groups
            .iter()
            .map(|group| Group {
                name: group.name.clone(),
                line: group.line,
                children: group
                    .children
                    .iter()
                    .map(|(c, _)| self.groups[*c].name.clone())
                    .collect(),
                hosts: group
                    .hosts
                    .iter()
                    .map(|h| self.hosts[*h].name.clone())
                    .collect(),
                vars: group.vars.clone(),
            })
            .collect()
    }

    fn too_many_memberships(&self) -> Problem {
        Problem {
            level: Level::Error,
            line: 1,
            message: format!("hosts and groups nest into more than {MAX_MEMBERSHIPS} memberships"),
            hint: Some("split the inventory, or check `children` for a mistake".into()),
            file: None,
        }
    }

    fn errors_only(&mut self) -> Vec<Problem> {
        let mut errors: Vec<Problem> = self
            .problems
            .drain(..)
            .filter(|p| p.level == Level::Error)
            .collect();
        errors.sort_by_key(|p| (p.file.clone(), p.line));
        errors
    }
}
