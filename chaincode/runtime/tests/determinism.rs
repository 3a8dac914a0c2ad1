//! Endorsers must agree: the same module, input and state give the same
//! bytes and the same fuel, on every run, runtime and thread.

mod common;

use std::sync::Arc;

use common::*;

#[test]
fn same_input_gives_identical_outcome_and_fuel_across_runtimes() {
    let wasm = modes();
    let a = runtime().install(&wasm).unwrap();
    let b = runtime().install(&wasm).unwrap();
    let first = run(&a, &mode("o")).unwrap();
    for cc in [&a, &b, &a, &b] {
        let again = run(cc, &mode("o")).unwrap();
        assert_eq!(again, first);
        assert_eq!(again.fuel_used, first.fuel_used);
    }
}

#[test]
fn failures_are_identical_across_runs_too() {
    let wasm = modes();
    let a = runtime().install(&wasm).unwrap();
    let b = runtime().install(&wasm).unwrap();
    for m in ["s", "t", "p", "d", "h", "b"] {
        assert_eq!(
            run(&a, &mode(m)).unwrap_err(),
            run(&b, &mode(m)).unwrap_err(),
            "{m}"
        );
    }
}

#[test]
fn eight_threads_invoking_one_chaincode_at_once_all_agree() {
    let cc = install(&modes());
    let expected = run(&cc, &mode("o")).unwrap();
    let barrier = Arc::new(std::sync::Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let cc = cc.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                (0..20)
                    .map(|_| run(&cc, &mode("o")).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for h in handles {
        for out in h.join().unwrap() {
            assert_eq!(out, expected);
        }
    }
}

#[test]
fn a_failing_thread_does_not_disturb_the_others() {
    let cc = install(&modes());
    let expected = run(&cc, &mode("o")).unwrap();
    let handles: Vec<_> = ["s", "o", "g", "o", "d", "o", "p", "o"]
        .into_iter()
        .map(|m| {
            let cc = cc.clone();
            std::thread::spawn(move || (m, run(&cc, &mode(m))))
        })
        .collect();
    for h in handles {
        let (m, result) = h.join().unwrap();
        if m == "o" {
            assert_eq!(result.unwrap(), expected);
        } else {
            assert!(result.is_err(), "{m}");
        }
    }
}
