//! `cellchain policy eval|check`: exit codes 0 (satisfied / valid), 1 (not
//! satisfied), 2 (malformed policy or argument), and what is printed.

mod common;
use common::*;

const TWO_OF_THREE: &str = "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')";

#[test]
fn eval_satisfied_exits_0() {
    let out = cellchain(&[
        "policy",
        "eval",
        "--policy",
        TWO_OF_THREE,
        "--signers",
        "Org1MSP.peer,Org3MSP.peer",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "satisfied\n");
}

#[test]
fn eval_not_satisfied_exits_1() {
    let out = cellchain(&[
        "policy",
        "eval",
        "--policy",
        TWO_OF_THREE,
        "--signers",
        "Org1MSP.peer,Org2MSP.admin",
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(stdout(&out), "not satisfied\n");
}

#[test]
fn eval_without_signers_is_not_satisfied() {
    let out = cellchain(&["policy", "eval", "--policy", "'Org1MSP.member'"]);
    assert_eq!(code(&out), 1);
    assert_eq!(stdout(&out), "not satisfied\n");
}

#[test]
fn eval_finds_the_assignment_greedy_evaluation_misses() {
    let out = cellchain(&[
        "policy",
        "eval",
        "--policy",
        "AND('A.member', 'A.peer')",
        "--signers",
        "A.peer, A.admin",
        "--explain",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "satisfied\n  'A.member' (principal 1) <- signer 2 (A.admin)\n  'A.peer' (principal 2) <- signer 1 (A.peer)\n"
    );
}

#[test]
fn eval_malformed_policy_exits_2_with_a_caret() {
    let out = cellchain(&[
        "policy",
        "eval",
        "--policy",
        "AND('Org1MSP.peer', )",
        "--signers",
        "Org1MSP.peer",
    ]);
    assert_eq!(code(&out), 2);
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        "error: invalid policy at column 21: expected a quoted principal like 'Org1MSP.peer' or AND/OR/OutOf, found \")\"\n\
         \x20 AND('Org1MSP.peer', )\n\
         \x20                     ^\n"
    );
}

#[test]
fn eval_member_signer_exits_2() {
    let out = cellchain(&[
        "policy",
        "eval",
        "--policy",
        TWO_OF_THREE,
        "--signers",
        "Org1MSP.member",
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("member is not a signer role"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn eval_bad_signer_exits_2() {
    for signer in ["Org1MSP", "Org1MSP.boss", ".peer"] {
        let out = cellchain(&[
            "policy",
            "eval",
            "--policy",
            TWO_OF_THREE,
            "--signers",
            signer,
        ]);
        assert_eq!(code(&out), 2, "{signer}");
        assert!(
            stderr(&out).starts_with(&format!("error: signer {signer:?}")),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn eval_implicit_meta_policy_exits_2() {
    let out = cellchain(&[
        "policy",
        "eval",
        "--policy",
        "MAJORITY Admins",
        "--signers",
        "A.admin",
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("implicit meta policy"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn check_prints_the_canonical_form() {
    let out = cellchain(&[
        "policy",
        "check",
        "--policy",
        "outof(1, 'A.peer', \"B.admin\")",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "OR('A.peer', 'B.admin')\n");

    let out = cellchain(&["policy", "check", "--policy", "ANY Readers"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "ANY Readers\n");
}

#[test]
fn check_with_known_orgs_accepts_them() {
    let out = cellchain(&[
        "policy",
        "check",
        "--policy",
        TWO_OF_THREE,
        "--orgs",
        "Org1MSP,Org2MSP,Org3MSP",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{TWO_OF_THREE}\n"));
}

#[test]
fn check_refuses_an_unknown_org() {
    let out = cellchain(&[
        "policy",
        "check",
        "--policy",
        TWO_OF_THREE,
        "--orgs",
        "Org1MSP,Org2MSP",
    ]);
    assert_eq!(code(&out), 2);
    assert_eq!(stdout(&out), "");
    assert!(
        stderr(&out)
            .contains("policy names organisation Org3MSP which is not a member of the channel"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn check_malformed_policy_exits_2() {
    let out = cellchain(&["policy", "check", "--policy", "OutOf(0, 'A.peer')"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("at column 7: expected a threshold of at least 1"),
        "{err}"
    );
    assert!(err.ends_with("  OutOf(0, 'A.peer')\n        ^\n"), "{err}");
}
