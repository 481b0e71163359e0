//! The UDP flow bookkeeping (`weir_dataplane::udp::flows`) as a model
//! check: arbitrary sequences of datagrams, replies and cap changes on
//! two ports of one listener are run through the table, the admission and
//! the idle expiry the UDP proxy uses, and through a plain `HashMap`
//! model of the rules. Both must admit the same flows; no source ever
//! holds more than its cap on a port; a flow is admitted only under the
//! listener's cap, whose slots are exactly the live flows; a flow quiet
//! for its idle timeout is gone.
#![no_main]

use std::cell::Cell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use weir_dataplane::listener::{Slot, Slots};
use weir_dataplane::udp::flows::{admit, idle_left, FlowTable};

#[derive(Arbitrary, Debug)]
struct Case {
    listener_cap: u8,
    per_source_cap: u8,
    idle_ms: u16,
    events: Vec<Event>,
}

#[derive(Arbitrary, Debug)]
enum Event {
    /// A datagram from a client; opening its flow may fail (no backend
    /// answers the connect) or the descriptor budget may refuse it.
    Datagram {
        at: Client,
        after_ms: u16,
        open_fails: bool,
        budget_refuses: bool,
    },
    /// A reply from the backend of a client's flow, if it has one.
    Reply { at: Client, after_ms: u16 },
    /// The listener's cap changed (flows above a lowered one run on).
    Cap { cap: u8 },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
struct Client {
    second_port: bool,
    source: u8,
    port: u8,
}

impl Client {
    fn port(self) -> usize {
        usize::from(self.second_port)
    }

    fn address(self) -> SocketAddr {
        // Few sources and ports, so caps and reuse are actually reached.
        SocketAddr::from((
            [192, 0, 2, self.source % 4],
            40_000 + u16::from(self.port % 4),
        ))
    }
}

/// A flow as the proxy keeps it: the client's last datagram, its
/// backend's last reply, and the listener slot it holds until it ends.
struct Flow {
    last_seen: Cell<u64>,
    last_reply: Cell<u64>,
    _slot: Slot,
}

/// The model: when each flow last heard from either side.
type Model = HashMap<(usize, SocketAddr), u64>;

fuzz_target!(|case: Case| {
    let per_source_cap = usize::from(case.per_source_cap % 5);
    let idle = Duration::from_millis(1 + u64::from(case.idle_ms % 2_000));
    let slots = Arc::new(Slots::default());
    let mut cap = 1 + usize::from(case.listener_cap % 8);
    slots.set_limit(cap);
    let mut ports: [FlowTable<Flow>; 2] = Default::default();
    let mut model = Model::new();
    let mut now = 0u64;
    for event in case.events.iter().take(512) {
        let after = match event {
            Event::Datagram { after_ms, .. } | Event::Reply { after_ms, .. } => *after_ms,
            Event::Cap { .. } => 0,
        };
        now += u64::from(after % 1_000);
        expire(&mut ports, &mut model, now, idle);
        match *event {
            Event::Cap { cap: new } => {
                cap = 1 + usize::from(new % 8);
                slots.set_limit(cap);
            }
            Event::Reply { at, .. } => {
                if let Some(flow) = ports[at.port()].get(&at.address()) {
                    flow.last_reply.set(now);
                }
                if let Some(last) = model.get_mut(&(at.port(), at.address())) {
                    *last = now;
                }
            }
            Event::Datagram {
                at,
                open_fails,
                budget_refuses,
                ..
            } => {
                let table = &mut ports[at.port()];
                let client = at.address();
                if let Some(flow) = table.get(&client) {
                    flow.last_seen.set(now);
                    let last = model
                        .get_mut(&(at.port(), client))
                        .expect("the model has the flow");
                    *last = now;
                    continue;
                }
                assert!(
                    !model.contains_key(&(at.port(), client)),
                    "the model has a flow the table lost"
                );
                let from_source = model
                    .keys()
                    .filter(|(p, c)| *p == at.port() && c.ip() == client.ip())
                    .count();
                let expected = from_source < per_source_cap && model.len() < cap && !budget_refuses;
                let slot = admit(
                    table.from_source(client.ip()),
                    per_source_cap,
                    &slots,
                    || !budget_refuses,
                );
                assert_eq!(slot.is_some(), expected, "admission differs from the model");
                if let Some(slot) = slot {
                    // As the proxy does, a flow whose backend cannot be
                    // reached gives its slot straight back.
                    if !open_fails {
                        table.insert(
                            client,
                            Flow {
                                last_seen: Cell::new(now),
                                last_reply: Cell::new(now),
                                _slot: slot,
                            },
                        );
                        model.insert((at.port(), client), now);
                    }
                }
            }
        }
        check(&ports, &model, &slots, per_source_cap);
    }
});

/// Ends every flow quiet for `idle`, as each flow's reply task does when
/// its timer fires.
fn expire(ports: &mut [FlowTable<Flow>; 2], model: &mut Model, now: u64, idle: Duration) {
    for table in ports.iter_mut() {
        let quiet: Vec<SocketAddr> = table
            .iter()
            .filter(|(_, f)| {
                idle_left(now, f.last_seen.get().max(f.last_reply.get()), idle).is_none()
            })
            .map(|(c, _)| *c)
            .collect();
        for client in quiet {
            assert!(table.remove(client).is_some());
        }
    }
    let idle_ms = idle.as_millis() as u64;
    model.retain(|_, last| now - *last < idle_ms);
}

fn check(ports: &[FlowTable<Flow>; 2], model: &Model, slots: &Slots, per_source_cap: usize) {
    let total: usize = ports.iter().map(FlowTable::len).sum();
    assert_eq!(
        total,
        model.len(),
        "the table and the model hold different flows"
    );
    assert_eq!(
        slots.open(),
        total,
        "listener slots out of step with the flows"
    );
    for (port, table) in ports.iter().enumerate() {
        for (client, _) in table.iter() {
            assert!(model.contains_key(&(port, *client)));
            let n = table.from_source(client.ip());
            assert!(
                n <= per_source_cap,
                "a source holds {n} flows, cap {per_source_cap}"
            );
            let counted = model
                .keys()
                .filter(|(p, c)| *p == port && c.ip() == client.ip())
                .count();
            assert_eq!(n, counted, "per-source count drifted");
        }
        let sources: std::collections::HashSet<_> = table.iter().map(|(c, _)| c.ip()).collect();
        assert_eq!(
            table.sources(),
            sources.len(),
            "a source without flows is still counted"
        );
    }
}
