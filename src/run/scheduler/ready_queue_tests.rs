//! The ready queue alone: priorities computed once, quorum demotion, caps.

use std::collections::HashSet;

use super::{priorities, GroupSpec, Priority, Readiness, ReadyQueue};

fn group(cost: u64, tier: u8, deps: &[usize]) -> GroupSpec {
    GroupSpec {
        cost,
        tier,
        deps: deps.to_vec(),
    }
}

/// A policy over a fixed table: members in `gone` no longer want to start; `healthy` per
/// group.
#[derive(Default)]
struct Table {
    gone: HashSet<usize>,
    healthy: Vec<usize>,
    asked: Vec<usize>,
}

impl Readiness<usize> for Table {
    fn still_ready(&mut self, member: usize) -> bool {
        self.asked.push(member);
        !self.gone.contains(&member)
    }
    fn healthy(&self, group: usize) -> usize {
        self.healthy.get(group).copied().unwrap_or(0)
    }
}

fn table(groups: usize) -> Table {
    Table {
        healthy: vec![0; groups],
        ..Table::default()
    }
}

fn drain(queue: &mut ReadyQueue<usize>, policy: &mut Table) -> Vec<(usize, usize)> {
    std::iter::from_fn(|| queue.dequeue(policy))
        .take(100)
        .collect()
}

#[test]
fn a_dependency_ranks_by_the_longest_chain_that_waits_for_it() {
    // 0 <- 1 (cost 5) and 0 <- 2 (cost 50 <- 3 cost 7): 0 carries 2's chain.
    let groups = [
        group(10, 9, &[]),
        group(5, 9, &[0]),
        group(50, 9, &[0]),
        group(7, 9, &[2]),
    ];
    let ranks: Vec<u64> = priorities(&groups, 0).iter().map(|p| p.rank).collect();
    assert_eq!(ranks, vec![67, 5, 57, 7]);
}

#[test]
fn a_dependency_inherits_the_most_severe_tier_of_what_needs_it() {
    let groups = [group(1, 4, &[]), group(1, 1, &[0]), group(1, 3, &[0])];
    let tiers: Vec<u8> = priorities(&groups, 0).iter().map(|p| p.tier).collect();
    assert_eq!(tiers, vec![1, 1, 3]);
}

#[test]
fn with_a_tier_weight_severity_outweighs_any_chain() {
    // A long S4 chain against a short S1 step: the S1 step comes first.
    let groups = [group(1_000_000, 4, &[]), group(1, 1, &[])];
    let with_weight = priorities(&groups, 1_000_000_000_000);
    assert!(with_weight[1].rank > with_weight[0].rank, "{with_weight:?}");
    let without = priorities(&groups, 0);
    assert!(without[0].rank > without[1].rank, "{without:?}");
}

#[test]
fn the_spare_rank_is_the_own_cost_and_inherited_severity_only() {
    let groups = [group(10, 9, &[]), group(500, 9, &[0])];
    let p = priorities(&groups, 0);
    assert_eq!(p[0].rank, 510);
    assert_eq!(p[0].spare_rank, 10);
}

#[test]
fn groups_listed_before_their_dependencies_rank_the_same() {
    // The same graph, listed dependents first: order of listing changes nothing.
    let forward = priorities(&[group(3, 5, &[]), group(4, 2, &[0])], 10);
    let backward = priorities(&[group(4, 2, &[1]), group(3, 5, &[])], 10);
    assert_eq!(forward[0], backward[1]);
    assert_eq!(forward[1], backward[0]);
}

#[test]
fn a_cycle_does_not_hang_and_keeps_each_group_its_own_cost() {
    let p = priorities(&[group(3, 9, &[1]), group(4, 9, &[0])], 0);
    assert_eq!(p.iter().map(|p| p.rank).collect::<Vec<_>>(), vec![3, 4]);
}

fn flat(ranks: &[u64]) -> Vec<Priority> {
    ranks
        .iter()
        .map(|&rank| Priority {
            rank,
            tier: 9,
            spare_rank: 0,
        })
        .collect()
}

#[test]
fn the_critical_path_is_handed_out_first() {
    let mut queue = ReadyQueue::new(flat(&[5, 50, 20]), &[9, 9, 9], &[9, 9, 9]);
    queue.push(0, 10);
    queue.push(1, 11);
    queue.push(2, 12);
    let mut policy = table(3);
    assert_eq!(
        drain(&mut queue, &mut policy),
        vec![(1, 11), (2, 12), (0, 10)]
    );
    assert!(queue.is_empty());
}

#[test]
fn equal_ranks_go_in_member_order() {
    let mut queue = ReadyQueue::new(flat(&[5]), &[9], &[9]);
    for member in [7, 3, 5] {
        queue.push(0, member);
    }
    let order: Vec<usize> = drain(&mut queue, &mut table(1))
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    assert_eq!(order, vec![3, 5, 7]);
}

#[test]
fn a_member_that_no_longer_wants_to_start_is_dropped_not_counted() {
    let mut queue = ReadyQueue::new(flat(&[5]), &[9], &[9]);
    queue.push(0, 1);
    queue.push(0, 2);
    let mut policy = table(1);
    policy.gone.insert(1);
    assert_eq!(drain(&mut queue, &mut policy), vec![(0, 2)]);
    assert_eq!(queue.starting(0), 1);
    assert_eq!(policy.asked, vec![1, 2]);
}

#[test]
fn members_beyond_a_covered_quorum_yield_to_work_a_dependent_waits_for() {
    // Group 0 needs 1 healthy and has one already: its members drop to the spare rank.
    let priorities = vec![
        Priority {
            rank: 100,
            tier: 9,
            spare_rank: 1,
        },
        Priority {
            rank: 50,
            tier: 9,
            spare_rank: 50,
        },
    ];
    let mut queue = ReadyQueue::new(priorities, &[1, 1], &[9, 9]);
    queue.push(0, 0);
    queue.push(1, 1);
    let mut policy = table(2);
    policy.healthy[0] = 1;
    assert_eq!(drain(&mut queue, &mut policy), vec![(1, 1), (0, 0)]);
}

#[test]
fn a_quorum_covered_by_starts_in_flight_also_demotes() {
    let priorities = vec![
        Priority {
            rank: 100,
            tier: 9,
            spare_rank: 1,
        },
        Priority {
            rank: 50,
            tier: 9,
            spare_rank: 50,
        },
    ];
    let mut queue = ReadyQueue::new(priorities, &[1, 1], &[9, 9]);
    queue.push(0, 0);
    queue.push(0, 2);
    queue.push(1, 1);
    let mut policy = table(2);
    // Member 0 starts at full rank; member 2 is then beyond the quorum and yields to 1.
    assert_eq!(drain(&mut queue, &mut policy), vec![(0, 0), (1, 1), (0, 2)]);
}

#[test]
fn a_capped_group_holds_members_aside_until_a_start_ends() {
    let mut queue = ReadyQueue::new(flat(&[5]), &[9], &[1]);
    queue.push(0, 1);
    queue.push(0, 2);
    let mut policy = table(1);
    assert_eq!(drain(&mut queue, &mut policy), vec![(0, 1)]);
    assert!(
        queue.is_empty(),
        "the second member waits aside, not in ready"
    );
    queue.start_ended(0, |_| true);
    assert_eq!(queue.starting(0), 0);
    assert_eq!(drain(&mut queue, &mut policy), vec![(0, 2)]);
}

#[test]
fn a_start_ending_skips_capped_members_that_moved_on() {
    let mut queue = ReadyQueue::new(flat(&[5]), &[9], &[1]);
    for member in 1..=3 {
        queue.push(0, member);
    }
    let mut policy = table(1);
    assert_eq!(drain(&mut queue, &mut policy), vec![(0, 1)]);
    queue.start_ended(0, |member| member != 2);
    assert_eq!(drain(&mut queue, &mut policy), vec![(0, 3)]);
}

#[test]
fn a_start_counted_outside_the_queue_fills_the_cap() {
    let mut queue = ReadyQueue::new(flat(&[5]), &[9], &[1]);
    queue.count_start(0);
    queue.push(0, 4);
    assert_eq!(drain(&mut queue, &mut table(1)), vec![]);
    queue.start_ended(0, |_| true);
    assert_eq!(drain(&mut queue, &mut table(1)), vec![(0, 4)]);
}

#[test]
fn clearing_forgets_members_and_starts() {
    let mut queue = ReadyQueue::new(flat(&[5]), &[9], &[1]);
    queue.push(0, 1);
    queue.push(0, 2);
    assert_eq!(drain(&mut queue, &mut table(1)).len(), 1);
    queue.clear();
    assert!(queue.is_empty());
    assert_eq!(queue.starting(0), 0);
    queue.start_ended(0, |_| true);
    assert_eq!(
        drain(&mut queue, &mut table(1)),
        vec![],
        "capped member forgotten"
    );
}
