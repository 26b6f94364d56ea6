//! The API's per-request call index against the scans it replaced.
use super::*;
use crate::call::CallHandle;
use crate::routing::{CallClass, QueueId};

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn call(rng: &mut Rng, n: u64) -> routing::CallView {
    let phases = [
        CallPhase::Waiting,
        CallPhase::Ringing,
        CallPhase::Connected,
        CallPhase::Forwarding,
    ];
    let queue = rng.below(5);
    routing::CallView {
        call: CallRef::Device(CallHandle(n)),
        tenant: TenantId::new("demo"),
        queue: (queue < 4).then(|| QueueId::new(format!("q{queue}"))),
        class: CallClass::Voice,
        event_code: None,
        caller: Caller::new("4512345678"),
        state: phases[rng.below(4) as usize],
        operator: None,
        target: None,
        waited_ms: 0,
        in_state_ms: 0,
    }
}

/// The per-request index against the scans it replaced (O(queues ×
/// calls) for ringing, O(waiting × calls) for the waiting ones).
#[test]
fn the_queue_view_index_matches_the_scans() {
    for seed in [21_u64, 0xc0ff_ee00, 0x1357_9bdf] {
        let mut rng = Rng(seed);
        let calls: Vec<_> = (0..300).map(|n| call(&mut rng, n)).collect();
        let view = routing::RouterView {
            queues: Vec::new(),
            operators: Vec::new(),
            calls,
        };
        let index = CallIndex::new(&view);
        for q in 0..5 {
            let id = QueueId::new(format!("q{q}"));
            let scan: Vec<_> = view
                .calls
                .iter()
                .filter(|c| c.queue.as_ref() == Some(&id) && c.state == CallPhase::Ringing)
                .collect();
            let got: Vec<_> = index
                .ringing
                .get(&id)
                .into_iter()
                .flatten()
                .copied()
                .collect();
            assert_eq!(got, scan, "seed {seed} queue {q}: same calls, same order");
        }
        for n in 0..400 {
            let want = CallRef::Device(CallHandle(n));
            let scan = view.calls.iter().find(|c| c.call == want);
            assert_eq!(index.by_call.get(&want).copied(), scan, "seed {seed}");
        }
    }
}
