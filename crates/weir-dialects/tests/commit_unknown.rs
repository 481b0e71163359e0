//! A commit whose outcome is unknown (the store connection died during
//! COMMIT) reads as such in every dialect's one error table: a retryable
//! server-side error whose message says the write may have happened and
//! to retry with the same client token, never "nothing was written".

use axum::http::StatusCode;
use weir_control::ControlError;
use weir_dialects::aliyun::AliError;
use weir_dialects::lbaas::LbaasError;
use weir_dialects::ucloud::{codes, UcError};
use weir_dialects::zenlayer::{Service, ZcError};

fn unknown() -> ControlError {
    ControlError::CommitOutcomeUnknown("connection reset by peer (internal detail)".into())
}

#[track_caller]
fn says_it_may_have_happened(message: &str) {
    assert!(message.contains("may have happened"), "{message}");
    assert!(message.contains("same client token"), "{message}");
    assert!(!message.contains("nothing was written"), "{message}");
    assert!(!message.contains("internal detail"), "{message}");
}

#[test]
fn every_dialect_reports_an_unknown_commit_outcome_as_retryable() {
    for service in [Service::Zlb, Service::Bmc] {
        let zc = ZcError::from_control(unknown(), service);
        assert_eq!(zc.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(zc.code, "SERVICE_UNAVAILABLE");
        says_it_may_have_happened(&zc.message);
    }
    let uc = UcError::from_control(unknown());
    assert_eq!(uc.code, codes::INTERNAL);
    says_it_may_have_happened(&uc.message);
    let ali = AliError::from_control(unknown());
    assert_eq!(ali.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ali.code, "ServiceUnavailable");
    says_it_may_have_happened(&ali.message);
    // Octavia and Huawei ELB share the LBaaS table.
    let lbaas = LbaasError::from_control(unknown());
    assert_eq!(lbaas.status, StatusCode::SERVICE_UNAVAILABLE);
    says_it_may_have_happened(&lbaas.message);
}
