//! The release rule, as plain functions over records: which required tests
//! still lack a passing latest result, which deviations are open, and what is
//! wrong with the case. `EVIDENCE_COMPLETE` is exactly "nothing missing".

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use therapy_common::CaseSummary;

use crate::state::{Batch, QcResult, SpecBody};

/// The case state a batch is released from.
pub const CASE_STATE_FOR_RELEASE: &str = "QC_PENDING";

/// Why a required test does not count as passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestGap {
    pub code: String,
    /// `None`: no result yet; `Some(id)`: its latest result `id` failed.
    pub failed_result: Option<String>,
}

/// What stands between a batch and `EVIDENCE_COMPLETE`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missing {
    pub tests_not_passed: Vec<TestGap>,
    /// Ids of open release deviations.
    pub open_deviations: Vec<String>,
    /// What is wrong with the case, in words.
    pub case_not_clean: Vec<String>,
}

impl Missing {
    pub fn is_empty(&self) -> bool {
        self.tests_not_passed.is_empty()
            && self.open_deviations.is_empty()
            && self.case_not_clean.is_empty()
    }
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.tests_not_passed.is_empty() {
            let tests: Vec<String> = self
                .tests_not_passed
                .iter()
                .map(|g| match &g.failed_result {
                    None => format!("{} (no result)", g.code),
                    Some(id) => format!("{} (result {id} failed)", g.code),
                })
                .collect();
            parts.push(format!("tests not passed: {}", tests.join(", ")));
        }
        if !self.open_deviations.is_empty() {
            parts.push(format!(
                "open deviations: {}",
                self.open_deviations.join(", ")
            ));
        }
        if !self.case_not_clean.is_empty() {
            parts.push(format!(
                "case not clean: {}",
                self.case_not_clean.join(", ")
            ));
        }
        if parts.is_empty() {
            f.write_str("nothing")
        } else {
            f.write_str(&parts.join("; "))
        }
    }
}

/// The result that counts for each test: the latest recorded for that test
/// (a retest replaces the original and any earlier retest).
pub fn latest_results(batch: &Batch) -> BTreeMap<&str, &QcResult> {
    let mut latest = BTreeMap::new();
    for r in &batch.results {
        latest.insert(r.test_code.as_str(), r);
    }
    latest
}

/// Required tests whose latest result is missing or failed, in spec order.
pub fn tests_not_passed(spec: &SpecBody, batch: &Batch) -> Vec<TestGap> {
    let latest = latest_results(batch);
    spec.tests
        .iter()
        .filter(|t| t.required)
        .filter_map(|t| match latest.get(t.code.as_str()) {
            Some(r) if r.passed => None,
            Some(r) => Some(TestGap {
                code: t.code.clone(),
                failed_result: Some(r.id.clone()),
            }),
            None => Some(TestGap {
                code: t.code.clone(),
                failed_result: None,
            }),
        })
        .collect()
}

/// Every required test passed on its latest result (`BatchSummary::qc_passed`).
pub fn qc_passed(spec: &SpecBody, batch: &Batch) -> bool {
    tests_not_passed(spec, batch).is_empty()
}

/// Tests (required or not) whose latest result failed.
pub fn failing_tests(batch: &Batch) -> Vec<String> {
    latest_results(batch)
        .into_values()
        .filter(|r| !r.passed)
        .map(|r| r.test_code.clone())
        .collect()
}

/// What is wrong with the case for release, in words (empty: clean).
pub fn case_gaps(case: &CaseSummary) -> Vec<String> {
    let mut gaps = Vec::new();
    if case.state != CASE_STATE_FOR_RELEASE {
        gaps.push(format!(
            "state is {}, not {CASE_STATE_FOR_RELEASE}",
            case.state
        ));
    }
    if !case.custody_clean {
        gaps.push("custody record not clean".to_string());
    }
    if !case.condition_clean {
        gaps.push("condition record not clean (excursion or missed window)".to_string());
    }
    if case.open_deviations > 0 {
        gaps.push(format!("{} open case deviation(s)", case.open_deviations));
    }
    gaps
}

/// Everything missing for `EVIDENCE_COMPLETE`.
pub fn missing(spec: &SpecBody, batch: &Batch, case: &CaseSummary) -> Missing {
    Missing {
        tests_not_passed: tests_not_passed(spec, batch),
        open_deviations: batch
            .deviations
            .iter()
            .filter(|d| d.closure.is_none())
            .map(|d| d.id.clone())
            .collect(),
        case_not_clean: case_gaps(case),
    }
}
