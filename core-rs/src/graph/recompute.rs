//! The memory–compute trade-off of a training graph: which forward outputs to recompute in
//! the backward instead of keeping them alive across it, so that the peak of live bytes
//! fits a budget for as few extra FLOPs as possible.
//!
//! The model: a schedule of nodes, each producing one output of `out_bytes` and reading the
//! outputs of earlier nodes; nodes before `backward_start` are the forward. An output lives
//! from its node to its last reader (an output nobody reads is a result of the graph and
//! lives to the end). A recomputed forward output is freed after its last forward reader and
//! computed again just before its first backward reader (its own inputs then read once more,
//! recomputed first when they are recomputed too), living from there to its last reader.
//! The plan is greedy: while the peak exceeds the budget, recompute the output that lowers
//! the peak most per FLOP spent recomputing it.

/// One node of the schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Work to compute the node (what recomputing it costs).
    pub flops: u64,
    pub out_bytes: usize,
    /// The earlier nodes whose outputs it reads. A forward node that reads nothing is an
    /// input of the graph (data, a parameter) and is never recomputed.
    pub reads: Vec<usize>,
}

/// What `plan_recompute` chose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecomputePlan {
    /// Forward nodes whose outputs are kept across the backward (read there).
    pub kept: Vec<usize>,
    /// Forward nodes recomputed in the backward.
    pub recomputed: Vec<usize>,
    pub extra_flops: u64,
    /// The peak of live bytes with the plan (without it: `peak_bytes(nodes, start, &[])`).
    pub peak: usize,
    /// Whether the peak fits the budget (the greedy stops when no recomputation helps).
    pub fits: bool,
}

/// The peak of live bytes when the forward nodes in `recompute` are recomputed in the backward.
pub fn peak_bytes(nodes: &[Node], backward_start: usize, recompute: &[usize]) -> usize {
    let n = nodes.len();
    let mut remat = vec![false; n];
    for &f in recompute {
        remat[f] = true;
    }
    // Time runs in half steps: node i at 2i+1; recomputations just before their first
    // backward reader, at 2b (ordered among themselves by node index, inputs first).
    let end = 2 * n + 1;
    // each node's readers, in schedule order (one pass over the edges, not a scan per node)
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (j, node) in nodes.iter().enumerate() {
        for &r in &node.reads {
            if r < j && readers[r].last() != Some(&j) {
                readers[r].push(j);
            }
        }
    }
    // when each recomputed node is recomputed: before the earliest backward reader, itself
    // possibly a recomputation (readers come later in the schedule, so go backwards)
    let mut at = vec![usize::MAX; n];
    for i in (0..n).rev() {
        if !remat[i] {
            continue;
        }
        let mut first = usize::MAX;
        for &j in &readers[i] {
            let t = if j >= backward_start { 2 * j } else if remat[j] && at[j] != usize::MAX { at[j] } else { usize::MAX };
            first = first.min(t);
        }
        at[i] = first;
    }
    // each output's live intervals [from, to] in half steps
    let mut delta = vec![0i64; end + 2];
    let mut add = |from: usize, to: usize, bytes: usize| {
        delta[from] += bytes as i64;
        delta[to + 1] -= bytes as i64;
    };
    for i in 0..n {
        let born = 2 * i + 1;
        // readers: (time, is backward) for the schedule's readers and the recomputations' reads
        let mut reads: Vec<(usize, bool)> = Vec::new();
        for &j in &readers[i] {
            reads.push((2 * j + 1, j >= backward_start));
            if remat[j] && at[j] != usize::MAX {
                reads.push((at[j], true));
            }
        }
        if reads.is_empty() {
            add(born, end, nodes[i].out_bytes);
            continue;
        }
        if remat[i] && at[i] != usize::MAX {
            let fwd_last = reads.iter().filter(|r| !r.1 && r.0 < at[i]).map(|r| r.0).max().unwrap_or(born);
            add(born, fwd_last, nodes[i].out_bytes);
            let last = reads.iter().map(|r| r.0).max().unwrap();
            add(at[i], last, nodes[i].out_bytes);
        } else {
            add(born, reads.iter().map(|r| r.0).max().unwrap(), nodes[i].out_bytes);
        }
    }
    let mut live = 0i64;
    let mut peak = 0i64;
    for d in delta {
        live += d;
        peak = peak.max(live);
    }
    peak as usize
}

/// Chooses the forward outputs to recompute so that the peak fits `budget` bytes (see the
/// module docs); `fits` is false when no further recomputation lowers the peak.
pub fn plan_recompute(nodes: &[Node], backward_start: usize, budget: usize) -> RecomputePlan {
    plan_recompute_among(nodes, backward_start, budget, &|_| true)
}

/// `plan_recompute`, recomputing only nodes `allowed` accepts (the others are always kept).
pub fn plan_recompute_among(nodes: &[Node], backward_start: usize, budget: usize, allowed: &dyn Fn(usize) -> bool) -> RecomputePlan {
    let read_in_backward = |i: usize| nodes[backward_start..].iter().any(|b| b.reads.contains(&i));
    let candidates: Vec<usize> = (0..backward_start.min(nodes.len())).filter(|&i| !nodes[i].reads.is_empty() && read_in_backward(i)).collect();
    let choosable: Vec<usize> = candidates.iter().copied().filter(|&i| allowed(i)).collect();
    let mut chosen: Vec<usize> = Vec::new();
    let mut peak = peak_bytes(nodes, backward_start, &chosen);
    while peak > budget {
        let mut best: Option<(f64, usize, usize)> = None;
        for &c in choosable.iter().filter(|c| !chosen.contains(c)) {
            let mut trial = chosen.clone();
            trial.push(c);
            let p = peak_bytes(nodes, backward_start, &trial);
            if p >= peak {
                continue;
            }
            let score = (peak - p) as f64 / nodes[c].flops.max(1) as f64;
            if best.is_none_or(|(s, _, _)| score > s) {
                best = Some((score, c, p));
            }
        }
        if best.is_none() {
            // no single result helps when recomputing it keeps its own inputs alive instead
            // (an activation of a matmul's output): try each with the producers it reads
            for &c in choosable.iter().filter(|c| !chosen.contains(c)) {
                let with: Vec<usize> = nodes[c].reads.iter().copied().filter(|&r| r < backward_start && allowed(r) && !chosen.contains(&r)).collect();
                if with.is_empty() {
                    continue;
                }
                let mut trial = chosen.clone();
                trial.push(c);
                trial.extend(&with);
                let p = peak_bytes(nodes, backward_start, &trial);
                if p >= peak {
                    continue;
                }
                let cost: u64 = nodes[c].flops + with.iter().map(|&r| nodes[r].flops).sum::<u64>();
                let score = (peak - p) as f64 / cost.max(1) as f64;
                if best.is_none_or(|(s, _, _)| score > s) {
                    best = Some((score, c, p));
                }
            }
            let Some((_, c, p)) = best else { break };
            chosen.push(c);
            chosen.extend(nodes[c].reads.iter().copied().filter(|&r| r < backward_start && allowed(r) && !chosen.contains(&r)).collect::<Vec<_>>());
            peak = p;
            continue;
        }
        let Some((_, c, p)) = best else { break };
        chosen.push(c);
        peak = p;
    }
    chosen.sort_unstable();
    let kept = candidates.iter().copied().filter(|c| !chosen.contains(c)).collect();
    let extra_flops = chosen.iter().map(|&c| nodes[c].flops).sum();
    RecomputePlan { kept, recomputed: chosen, extra_flops, peak, fits: peak <= budget }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A forward chain x -> f1 -> ... -> fk -> loss and its backward: the gradient of f_i
    /// reads the gradient after it and f_i's input (as a linear layer's would).
    fn chain(sizes: &[usize], flops: &[u64]) -> (Vec<Node>, usize) {
        let k = sizes.len();
        let mut nodes = vec![Node { flops: 0, out_bytes: sizes[0], reads: vec![] }];
        for i in 1..k {
            nodes.push(Node { flops: flops[i], out_bytes: sizes[i], reads: vec![i - 1] });
        }
        nodes.push(Node { flops: 1, out_bytes: 1, reads: vec![k - 1] }); // the loss
        let start = nodes.len();
        let mut grad = k; // the loss's node
        for i in (1..k).rev() {
            nodes.push(Node { flops: flops[i], out_bytes: sizes[i - 1], reads: vec![grad, i - 1] });
            grad = nodes.len() - 1;
        }
        (nodes, start)
    }

    /// The least extra FLOPs over every subset of the candidates that fits (None: none fits).
    fn brute_force(nodes: &[Node], start: usize, budget: usize) -> Option<u64> {
        let cands: Vec<usize> = (0..start).filter(|&i| !nodes[i].reads.is_empty()).collect();
        (0u32..1 << cands.len())
            .filter_map(|m| {
                let set: Vec<usize> = cands.iter().enumerate().filter(|(b, _)| m >> b & 1 == 1).map(|(_, &c)| c).collect();
                (peak_bytes(nodes, start, &set) <= budget).then(|| set.iter().map(|&c| nodes[c].flops).sum())
            })
            .min()
    }

    #[test]
    fn a_roomy_budget_recomputes_nothing() {
        let (nodes, start) = chain(&[10, 10, 10, 10], &[0, 5, 5, 5]);
        let p = plan_recompute(&nodes, start, usize::MAX);
        assert!(p.recomputed.is_empty() && p.fits && p.extra_flops == 0);
        assert_eq!(p.peak, peak_bytes(&nodes, start, &[]));
    }

    #[test]
    fn the_large_cheap_activation_goes_first() {
        // four activations of one size alive at the backward's start; f2's is the cheap one
        // to recompute, and recomputing it alone is the optimum for this budget
        let (nodes, start) = chain(&[10, 300, 300, 300, 300, 10], &[0, 100, 1, 100, 100, 100]);
        let full = peak_bytes(&nodes, start, &[]);
        let budget = peak_bytes(&nodes, start, &[2]);
        assert!(budget < full);
        let p = plan_recompute(&nodes, start, budget);
        assert_eq!((p.recomputed.clone(), p.extra_flops, p.fits), (vec![2], 1, true));
        assert_eq!(Some(p.extra_flops), brute_force(&nodes, start, budget));
    }

    #[test]
    fn greedy_matches_the_optimum_on_small_uniform_chains() {
        for k in 3..7 {
            let (nodes, start) = chain(&vec![100; k], &vec![10; k]);
            let full = peak_bytes(&nodes, start, &[]);
            for budget in (0..=full).rev().step_by(50) {
                let p = plan_recompute(&nodes, start, budget);
                assert_eq!(p.peak, peak_bytes(&nodes, start, &p.recomputed));
                match brute_force(&nodes, start, budget) {
                    Some(best) => {
                        assert!(p.fits, "k={k} budget={budget}: a plan fits but the greedy found none");
                        assert!(p.extra_flops == best, "k={k} budget={budget}: {} vs optimum {best}", p.extra_flops);
                    }
                    None => assert!(!p.fits),
                }
            }
        }
    }

    #[test]
    fn live_bytes_follow_the_schedule() {
        // x (8 B) -> a (100 B) -> loss (1 B); the backward's one node reads loss and a.
        // Kept: x lives to a, a to the backward, the gradient (read by nobody) to the end:
        // the peak is at the backward node, a + loss + gradient = 109.
        // Recomputing a frees it after loss and makes it again from x (kept alive for
        // that) just before the backward: x + a + loss = 109 at the recomputation.
        let nodes = vec![
            Node { flops: 0, out_bytes: 8, reads: vec![] },
            Node { flops: 5, out_bytes: 100, reads: vec![0] },
            Node { flops: 1, out_bytes: 1, reads: vec![1] },
            Node { flops: 5, out_bytes: 8, reads: vec![2, 1] },
        ];
        assert_eq!(peak_bytes(&nodes, 3, &[]), 109);
        assert_eq!(peak_bytes(&nodes, 3, &[1]), 109);
        let p = plan_recompute(&nodes, 3, 108);
        assert!(!p.fits && p.recomputed.is_empty() && p.kept == [1, 2]);
    }
}
