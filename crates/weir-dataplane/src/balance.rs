//! Selection algorithms, pure: they turn weights into lookup tables that
//! the connection path reads without locks.
//!
//! - Smooth weighted round robin (nginx's algorithm) is unrolled into its
//!   full cycle once per snapshot; a pick is one atomic increment and an
//!   index. The cycle is exactly nginx's order (`5:1:1` -> `a a b a c a a`).
//! - Source hashing uses a Maglev table: each backend fills slots in its own
//!   permutation order, weighted, so a change of the backend set moves only
//!   about its share of keys. The key is the client address, or address and
//!   port ([`source_key`]).
//! - Least connections compares `active / weight` across the candidates.
//! - Slow start ([`ramped_weights`]) shrinks the weight of a backend that
//!   has just joined or recovered, in proportion to how far into its ramp
//!   it is; every algorithm above then works on the ramped weights.

use std::net::{IpAddr, SocketAddr};

/// The longest SWRR cycle kept; larger weight sums are scaled down
/// proportionally (shares stay within 1/`MAX_CYCLE` of exact).
pub const MAX_CYCLE: u64 = 4096;

/// Above this many steps (cycle length × backends) the exact nginx
/// construction, O(cycle × backends), gives way to stride scheduling,
/// O(cycle × log backends), which is as smooth but orders ties differently.
const EXACT_BUDGET: u64 = 1 << 18;

/// The smooth-WRR order for `weights` over one full cycle: nginx's exact
/// order for small pools, stride scheduling for large ones, plain rotation
/// when all weights are equal. Zero weights never appear. Empty when every
/// weight is zero.
pub fn swrr_cycle(weights: &[u32]) -> Vec<u32> {
    let weights = scale(weights);
    let active: Vec<u32> = (0..weights.len() as u32)
        .filter(|&i| weights[i as usize] > 0)
        .collect();
    let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
    if active
        .iter()
        .all(|&i| weights[i as usize] == weights[active[0] as usize])
    {
        // Equal weights (the common case) reduce to 1 each: a rotation.
        return active;
    }
    if total * active.len() as u64 <= EXACT_BUDGET {
        nginx_cycle(&weights, total)
    } else {
        stride_cycle(&weights, total)
    }
}

/// nginx's algorithm, step by step: every backend gains its weight, the
/// largest current weight is picked and loses the total.
fn nginx_cycle(weights: &[u32], total: u64) -> Vec<u32> {
    let total = total as i64;
    let mut current = vec![0i64; weights.len()];
    let mut cycle = Vec::with_capacity(total as usize);
    for _ in 0..total {
        let mut best = 0;
        for (i, w) in weights.iter().enumerate() {
            current[i] += i64::from(*w);
            if current[i] > current[best] {
                best = i;
            }
        }
        current[best] -= total;
        cycle.push(best as u32);
    }
    cycle
}

/// Stride scheduling: each backend's k-th turn falls at (k + 1/2) / weight
/// of the cycle; turns are taken in that order (ties by index).
fn stride_cycle(weights: &[u32], total: u64) -> Vec<u32> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    // Positions as exact fractions (2k + 1) / (2w), compared by cross
    // multiplication: (num, den, index).
    #[derive(PartialEq, Eq)]
    struct Turn(u64, u64, u32);
    impl Ord for Turn {
        fn cmp(&self, other: &Self) -> std::cmp::Ordering {
            (u128::from(self.0) * u128::from(other.1))
                .cmp(&(u128::from(other.0) * u128::from(self.1)))
                .then(self.2.cmp(&other.2))
        }
    }
    impl PartialOrd for Turn {
        fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }
    let mut heap: BinaryHeap<Reverse<Turn>> = weights
        .iter()
        .enumerate()
        .filter(|(_, w)| **w > 0)
        .map(|(i, w)| Reverse(Turn(1, 2 * u64::from(*w), i as u32)))
        .collect();
    let mut cycle = Vec::with_capacity(total as usize);
    while let Some(Reverse(Turn(num, den, i))) = heap.pop() {
        cycle.push(i);
        let next = num + 2;
        // The backend's last turn in the cycle is its weight-th.
        if next < den {
            heap.push(Reverse(Turn(next, den, i)));
        }
    }
    cycle
}

/// Divides weights by their gcd, then scales them down so their sum fits
/// [`MAX_CYCLE`], keeping every non-zero weight at least 1.
fn scale(weights: &[u32]) -> Vec<u32> {
    let g = weights.iter().fold(0u32, |a, &b| gcd(a, b)).max(1);
    let reduced: Vec<u32> = weights.iter().map(|w| w / g).collect();
    let sum: u64 = reduced.iter().map(|w| u64::from(*w)).sum();
    if sum <= MAX_CYCLE {
        return reduced;
    }
    reduced
        .iter()
        .map(|&w| {
            if w == 0 {
                0
            } else {
                u32::try_from((u64::from(w) * MAX_CYCLE / sum).max(1)).unwrap_or(1)
            }
        })
        .collect()
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Maglev table sizes (primes); the smallest at least 100 slots per
/// backend is used, as the Maglev paper advises.
const TABLE_SIZES: [u64; 5] = [1031, 4099, 16411, 65537, 262_147];

/// FNV-1a, enough to spread ids and client addresses (not adversarial
/// input: a client only picks its own backend).
pub fn hash(bytes: &[u8], seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // A final avalanche so nearby inputs land far apart.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

/// The opaque token an HTTP_COOKIE cookie names a backend by: a hash of
/// the pool and backend ids, so the cookie says nothing of the backend's
/// address, and the same backend in another pool has another token.
pub fn cookie_token(pool: &str, backend: &str) -> u64 {
    let mut bytes = Vec::with_capacity(pool.len() + backend.len() + 1);
    bytes.extend_from_slice(pool.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(backend.as_bytes());
    hash(&bytes, 3)
}

/// The key a hashing scheduler looks up in the Maglev table: the client
/// address, and with `with_port` (SOURCE_IP_PORT) its port too, so each
/// connection or UDP flow of one client hashes on its own.
pub fn source_key(client: SocketAddr, with_port: bool) -> u64 {
    let mut bytes = [0u8; 18];
    let len = match client.ip() {
        IpAddr::V4(v4) => {
            bytes[..4].copy_from_slice(&v4.octets());
            4
        }
        IpAddr::V6(v6) => {
            bytes[..16].copy_from_slice(&v6.octets());
            16
        }
    };
    if with_port {
        bytes[len..len + 2].copy_from_slice(&client.port().to_be_bytes());
        hash(&bytes[..len + 2], 0)
    } else {
        hash(&bytes[..len], 0)
    }
}

/// A Maglev lookup table over backends identified by `keys` (stable ids)
/// with `weights`; each slot holds a backend index. Empty when every
/// weight is zero.
pub fn maglev_table(keys: &[&str], weights: &[u32]) -> Vec<u32> {
    let active: Vec<usize> = (0..keys.len()).filter(|&i| weights[i] > 0).collect();
    if active.is_empty() {
        return Vec::new();
    }
    let size = TABLE_SIZES
        .iter()
        .copied()
        .find(|s| *s >= 100 * active.len() as u64)
        .unwrap_or(TABLE_SIZES[TABLE_SIZES.len() - 1]);
    let max_weight = active.iter().map(|&i| weights[i]).max().unwrap_or(1);
    let perm: Vec<(u64, u64)> = active
        .iter()
        .map(|&i| {
            let offset = hash(keys[i].as_bytes(), 1) % size;
            let skip = hash(keys[i].as_bytes(), 2) % (size - 1) + 1;
            (offset, skip)
        })
        .collect();
    let mut next = vec![0u64; active.len()];
    let mut credit = vec![0u64; active.len()];
    let mut table = vec![u32::MAX; size as usize];
    let mut filled = 0u64;
    while filled < size {
        for (n, &i) in active.iter().enumerate() {
            // Weighted Maglev: a backend takes a turn when its accumulated
            // credit reaches the largest weight.
            credit[n] += u64::from(weights[i]);
            if credit[n] < u64::from(max_weight) {
                continue;
            }
            credit[n] -= u64::from(max_weight);
            let (offset, skip) = perm[n];
            loop {
                let slot = ((offset + next[n] * skip) % size) as usize;
                next[n] += 1;
                if table[slot] == u32::MAX {
                    table[slot] = i as u32;
                    filled += 1;
                    break;
                }
            }
            if filled == size {
                break;
            }
        }
    }
    table
}

/// Index of the candidate with the fewest active connections per unit of
/// weight, starting the scan at `start` so ties rotate. `None` when empty.
pub fn least_connections(candidates: &[(u64, u32)], start: usize) -> Option<usize> {
    let n = candidates.len();
    let mut best: Option<usize> = None;
    for k in 0..n {
        let i = (start + k) % n;
        let (active, weight) = candidates[i];
        if weight == 0 {
            continue;
        }
        best = match best {
            None => Some(i),
            Some(b) => {
                let (b_active, b_weight) = candidates[b];
                // active/weight < b_active/b_weight, without division.
                if u128::from(active) * u128::from(b_weight)
                    < u128::from(b_active) * u128::from(weight)
                {
                    Some(i)
                } else {
                    Some(b)
                }
            }
        };
    }
    best
}

/// Weights are multiplied by this while any backend of a tier ramps, so a
/// backend of weight 1 can still start at a fraction of its neighbours.
pub const RAMP_SCALE: u32 = 16;

/// Progress through a slow-start ramp, in thousandths.
pub const RAMP_DONE: u32 = 1000;

/// The weights to select with when `ramp[i]` says how far backend `i` is
/// into its slow start (`None`: not ramping). A ramping backend gets its
/// weight times its progress, never less than one step, as HAProxy's
/// `slowstart` does; with nobody ramping the weights are unchanged.
pub fn ramped_weights(weights: &[u32], ramp: &[Option<u32>]) -> Vec<u32> {
    if ramp.iter().all(|r| r.is_none_or(|p| p >= RAMP_DONE)) {
        return weights.to_vec();
    }
    weights
        .iter()
        .zip(ramp)
        .map(|(&w, progress)| {
            let full = u64::from(w) * u64::from(RAMP_SCALE);
            let weight = match progress {
                Some(p) if w > 0 && *p < RAMP_DONE => {
                    (full * u64::from(*p) / u64::from(RAMP_DONE)).max(1)
                }
                _ => full,
            };
            u32::try_from(weight).unwrap_or(u32::MAX)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn source_keys_with_and_without_the_port() {
        let a: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:40001".parse().unwrap();
        // SOURCE_IP: the port does not matter, and the key is the one the
        // address alone always hashed to.
        assert_eq!(source_key(a, false), source_key(b, false));
        assert_eq!(source_key(a, false), hash(&[127, 0, 0, 1], 0));
        // SOURCE_IP_PORT: one connection is one key, its neighbour another.
        assert_eq!(source_key(a, true), source_key(a, true));
        assert_ne!(source_key(a, true), source_key(b, true));
        assert_ne!(source_key(a, true), source_key(a, false));
        let v6: SocketAddr = "[2001:db8::1]:40000".parse().unwrap();
        assert_ne!(source_key(v6, true), source_key(v6, false));
        // Over a table of two equal backends, a few hundred ports of one
        // address reach both, each about half the time.
        let table = maglev_table(&["x", "y"], &[1, 1]);
        let n = table.len() as u64;
        let mut seen = [0u32; 2];
        for port in 40_000..40_400u16 {
            let key = source_key(SocketAddr::from(([127, 0, 0, 1], port)), true);
            seen[table[(key % n) as usize] as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 120), "{seen:?}");
    }

    #[test]
    fn swrr_matches_nginx_order() {
        assert_eq!(swrr_cycle(&[5, 1, 1]), vec![0, 0, 1, 0, 2, 0, 0]);
        assert_eq!(swrr_cycle(&[1, 1]), vec![0, 1]);
        assert_eq!(swrr_cycle(&[0, 3]), vec![1]);
        assert!(swrr_cycle(&[0, 0]).is_empty());
        assert_eq!(swrr_cycle(&[100, 100]).len(), 2, "gcd reduces the cycle");
    }

    #[test]
    fn large_pools_stay_proportional_and_cheap() {
        // 1,000 backends of weights 1..=4: past the exact budget, within
        // the cycle cap.
        let weights: Vec<u32> = (0..1000).map(|i| 1 + i % 4).collect();
        let cycle = swrr_cycle(&weights);
        assert_eq!(cycle.len() as u32, weights.iter().sum::<u32>());
        let mut counts = vec![0u32; weights.len()];
        for &i in &cycle {
            counts[i as usize] += 1;
        }
        assert_eq!(counts, weights, "each backend exactly its weight per cycle");
        // Smooth: the heaviest backend's turns are spread, not bunched.
        let turns: Vec<usize> = cycle
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == 3)
            .map(|(k, _)| k)
            .collect();
        let gaps: Vec<usize> = turns.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().all(|g| *g > 100), "{gaps:?}");
        assert_eq!(
            swrr_cycle(&vec![100; 5000]).len(),
            5000,
            "equal weights rotate"
        );
    }

    #[test]
    fn huge_weights_are_scaled_into_the_cycle() {
        let cycle = swrr_cycle(&[65_535, 1, 30_000]);
        assert!(cycle.len() as u64 <= MAX_CYCLE + 3);
        let count = |i| cycle.iter().filter(|c| **c == i).count();
        assert!(count(1) >= 1, "a small weight still gets turns");
        let ratio = count(0) as f64 / count(2) as f64;
        assert!((ratio - 65_535.0 / 30_000.0).abs() < 0.01, "{ratio}");
    }

    #[test]
    fn maglev_spreads_by_weight_and_moves_little() {
        let keys: Vec<String> = (0..10).map(|i| format!("backend-{i}")).collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let weights = vec![1u32; 10];
        let table = maglev_table(&refs, &weights);
        assert_eq!(table.len(), 1031);
        for i in 0..10u32 {
            let share = table.iter().filter(|s| **s == i).count();
            assert!((90..=120).contains(&share), "backend {i}: {share}");
        }
        // Remove backend 3: only its slots (and a few others) move.
        let mut fewer = weights.clone();
        fewer[3] = 0;
        let after = maglev_table(&refs, &fewer);
        let moved = table
            .iter()
            .zip(&after)
            .filter(|(a, b)| a != b && **a != 3)
            .count();
        assert!(moved < table.len() / 10, "moved {moved}");
        // Weighted: 3:1.
        let t = maglev_table(&refs[..2], &[3, 1]);
        let share0 = t.iter().filter(|s| **s == 0).count() as f64 / t.len() as f64;
        assert!((share0 - 0.75).abs() < 0.03, "{share0}");
    }

    #[test]
    fn least_connections_weighs_and_rotates_ties() {
        assert_eq!(least_connections(&[(4, 1), (1, 1), (2, 1)], 0), Some(1));
        assert_eq!(
            least_connections(&[(4, 4), (2, 1)], 0),
            Some(0),
            "1 per weight beats 2"
        );
        assert_eq!(
            least_connections(&[(0, 1), (0, 1)], 1),
            Some(1),
            "ties start at the rotation"
        );
        assert_eq!(least_connections(&[(0, 0)], 0), None);
        assert_eq!(least_connections(&[], 0), None);
    }

    proptest! {
        /// Over one cycle every backend is picked exactly its (reduced)
        /// weight's share, for weights small enough not to be scaled.
        #[test]
        fn ramps_grow_to_the_full_weight(weight in 1u32..1000, others in 1u32..1000, p in 0u32..=1000) {
            let ramped = ramped_weights(&[others, weight], &[None, Some(p)]);
            if p >= RAMP_DONE {
                prop_assert_eq!(ramped, vec![others, weight]);
            } else {
                // The others keep their full weight; the ramping one gets
                // its share of it, at least one step.
                prop_assert_eq!(ramped[0], others * RAMP_SCALE);
                prop_assert!(ramped[1] >= 1);
                prop_assert!(ramped[1] <= weight * RAMP_SCALE * p / RAMP_DONE + 1);
                let later = ramped_weights(&[others, weight], &[None, Some((p + 100).min(999))]);
                prop_assert!(later[1] >= ramped[1]);
            }
        }

        #[test]
        fn swrr_cycle_honours_weights(weights in prop::collection::vec(0u32..50, 1..12)) {
            let cycle = swrr_cycle(&weights);
            let g = weights.iter().fold(0u32, |a, &b| gcd(a, b)).max(1);
            for (i, w) in weights.iter().enumerate() {
                let picks = cycle.iter().filter(|c| **c as usize == i).count() as u32;
                prop_assert_eq!(picks, w / g);
            }
        }
    }
}
