//! Every way a contract can fail ends as the matching `InvokeError`, quickly,
//! and leaves the installed chaincode able to serve the next invocation.

mod common;

use std::time::{Duration, Instant};

use cellchain_chaincode_runtime::{InvokeError, RuntimeConfig, SimError};
use common::*;

#[test]
fn a_behaving_invocation_writes_and_answers() {
    let cc = install(&modes());
    let out = run(&cc, &mode("o")).unwrap();
    assert_eq!(out.response.status, 200);
    assert_eq!(out.response.payload.as_slice(), b"ok");
    assert_eq!(out.output.rwset.writes.len(), 1);
    assert_eq!(out.output.rwset.writes[0].key, "k");
    assert_eq!(out.output.rwset.writes[0].value.as_slice(), b"v");
    assert!(out.fuel_used > 0);
}

#[test]
fn infinite_loop_runs_out_of_fuel_quickly() {
    let cc = install(&modes());
    let started = Instant::now();
    let err = run(&cc, &mode("s")).unwrap_err();
    assert_eq!(err, InvokeError::OutOfFuel { limit: 100_000_000 });
    assert!(err.is_deterministic());
    // 100 M fuel is well under the 2 s backstop: fuel, not the clock, stops it.
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn unbounded_memory_growth_hits_the_memory_limit() {
    let cc = install(&modes());
    assert_eq!(
        run(&cc, &mode("g")).unwrap_err(),
        InvokeError::MemoryLimit {
            limit: 64 * 1024 * 1024
        }
    );
}

#[test]
fn huge_value_write_is_refused_by_the_value_limit() {
    let cc = install(&modes());
    assert_eq!(
        run(&cc, &mode("h")).unwrap_err(),
        InvokeError::Limit(SimError::ValueTooLarge {
            key: "k".into(),
            len: 2 * 1024 * 1024,
            max: 1024 * 1024
        })
    );
}

#[test]
fn unreachable_is_a_trap_with_its_location() {
    let cc = install(&modes());
    match run(&cc, &mode("t")).unwrap_err() {
        InvokeError::Trap { message } => {
            assert!(message.contains("unreachable"), "{message}");
            assert!(message.contains("func"), "{message}");
        }
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn panic_reports_the_contracts_message() {
    let cc = install(&modes());
    assert_eq!(
        run(&cc, &mode("p")).unwrap_err(),
        InvokeError::Panic {
            message: "the batch record is inconsistent".into()
        }
    );
}

#[test]
fn deep_recursion_is_a_stack_overflow_trap_not_a_crash() {
    let cc = install(&modes());
    match run(&cc, &mode("d")).unwrap_err() {
        InvokeError::Trap { message } => {
            assert!(message.contains("call stack exhausted"), "{message}")
        }
        other => panic!("expected a stack overflow trap, got {other:?}"),
    }
}

#[test]
fn response_above_the_cap_is_refused() {
    let cc = install(&modes());
    assert_eq!(
        run(&cc, &mode("r")).unwrap_err(),
        InvokeError::ResponseTooLarge {
            size: 2 * 1024 * 1024,
            max: 1024 * 1024
        }
    );
}

#[test]
fn too_many_events_is_a_limit() {
    let cc = install(&modes());
    assert_eq!(
        run(&cc, &mode("e")).unwrap_err(),
        InvokeError::Limit(SimError::TooManyEvents { max: 16 })
    );
}

#[test]
fn wall_clock_backstop_ends_a_spin_when_fuel_would_not() {
    let cc = runtime_with(RuntimeConfig {
        fuel: u64::MAX / 2,
        wall_clock_ms: 50,
        ..test_config()
    })
    .install(&modes())
    .unwrap();
    let started = Instant::now();
    let err = run(&cc, &mode("s")).unwrap_err();
    assert_eq!(err, InvokeError::Timeout { millis: 50 });
    assert!(!err.is_deterministic());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn the_same_chaincode_serves_normally_after_every_failure() {
    let cc = install(&modes());
    let good = run(&cc, &mode("o")).unwrap();
    for m in [
        "s", "g", "h", "t", "p", "d", "b", "u", "r", "n", "x", "z", "e", "2",
    ] {
        let err = run(&cc, &mode(m)).unwrap_err();
        assert_eq!(err.to_response().status, 500, "{m}: {err}");
        assert_eq!(
            run(&cc, &mode("o")).unwrap(),
            good,
            "after mode {m} ({err})"
        );
    }
}

#[test]
fn a_full_instance_pool_refuses_cleanly_and_recovers() {
    let cc = runtime_with(RuntimeConfig {
        max_concurrent_instances: 1,
        fuel: u64::MAX / 2,
        wall_clock_ms: 500,
        ..test_config()
    })
    .install(&modes())
    .unwrap();
    let busy = {
        let cc = cc.clone();
        std::thread::spawn(move || run(&cc, &mode("s")))
    };
    std::thread::sleep(Duration::from_millis(100));
    let err = run(&cc, &mode("o")).unwrap_err();
    assert!(matches!(err, InvokeError::Instantiate { .. }), "{err:?}");
    assert!(!err.is_deterministic());
    assert_eq!(
        busy.join().unwrap().unwrap_err(),
        InvokeError::Timeout { millis: 500 }
    );
    assert!(run(&cc, &mode("o")).is_ok());
}
