//! An id that cannot be one (a NUL byte, here) is each dialect's
//! not-found, through the real router over a real socket, signed as the
//! SDKs sign. Run with `WEIR_TEST_STORE=postgres` to see why it matters:
//! PostgreSQL refuses a NUL byte in text, so before the shared check
//! (`weir_core::ids::well_formed`) these lookups failed with the store
//! error (500) instead.

#[path = "golden/harness.rs"]
mod harness;

use serde_json::json;

#[test]
fn every_dialect_answers_a_malformed_id_with_its_not_found() {
    let s = harness::start();
    let bad = "lb-\u{0}1";

    let zlb = s.zenlayer(
        "zlb",
        "2025-04-01",
        "DescribeListeners",
        &json!({"loadBalancerId": bad}),
    );
    assert_eq!(zlb.status, 404, "{}", zlb.text);
    assert_eq!(zlb.json()["code"], "INVALID_LB_NOT_FOUND", "{}", zlb.text);

    let ulb = s.ucloud(&[("Action", "DescribeULB"), ("ULBId", bad)]);
    let ret = ulb.json()["RetCode"].as_i64().unwrap();
    assert!(ret != 0 && ret != 5000, "{}", ulb.text);
    assert!(
        ulb.json()["Message"].as_str().unwrap().contains("not"),
        "{}",
        ulb.text
    );

    let slb = s.aliyun(
        "DescribeLoadBalancerAttribute",
        &[("LoadBalancerId", bad)],
        false,
    );
    assert_eq!(slb.status, 404, "{}", slb.text);
    assert_eq!(
        slb.json()["Code"],
        "InvalidLoadBalancerId.NotFound",
        "{}",
        slb.text
    );

    let (_, token) = s.keystone_token();
    let octavia = s.octavia(&token, "GET", "/loadbalancers/lb-%001", None);
    assert_eq!(octavia.status, 404, "{}", octavia.text);
    let huawei = s.huawei("GET", "/loadbalancers/lb-%001", None);
    assert_eq!(huawei.status, 404, "{}", huawei.text);
}
