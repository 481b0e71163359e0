//! Octavia's `tags` (API 2.5) over a real socket: kept on load balancers,
//! listeners, pools, members and health monitors, replaced on update,
//! cleared by `null` or `[]`, held to the tag rules in Octavia's words, and
//! filtered on by `tags`, `tags-any`, `not-tags` and `not-tags-any`.

// The golden suite's harness, shared whole; this suite drives Octavia only.
#[path = "golden/harness.rs"]
mod harness;
#[path = "golden/octavia.rs"]
mod octavia;

use serde_json::{json, Value};

use octavia::{status, text, Octavia};

impl Octavia {
    /// `POST /{plural}` with `{singular: body}`, expecting 201.
    fn create(&self, rest: &str, singular: &str, body: Value) -> Value {
        status(
            &self.call("POST", rest, Some(json!({ singular: body }))),
            201,
        )[singular]
            .clone()
    }

    /// `PUT` of one resource, expecting 200.
    fn update(&self, rest: &str, singular: &str, body: Value) -> Value {
        status(
            &self.call("PUT", rest, Some(json!({ singular: body }))),
            200,
        )[singular]
            .clone()
    }

    fn show(&self, rest: &str, singular: &str) -> Value {
        status(&self.call("GET", rest, None), 200)[singular].clone()
    }

    fn lb(&self, extra: Value) -> Value {
        let mut body = json!({"vip_subnet_id": self.server.inventory.subnet});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        self.create("/loadbalancers", "loadbalancer", body)
    }

    /// The names of what a listing answers, in order.
    fn names(&self, rest: &str, plural: &str) -> Vec<String> {
        status(&self.call("GET", rest, None), 200)[plural]
            .as_array()
            .unwrap_or_else(|| panic!("no {plural} list"))
            .iter()
            .map(|item| item["name"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn tags(list: &[&str]) -> Value {
    json!(list)
}

#[test]
fn every_resource_keeps_its_tags_and_an_update_replaces_them() {
    let o = Octavia::start();

    // Load balancer: duplicates collapse, an update replaces, absent
    // leaves, null clears; the update time moves.
    let lb = o.lb(json!({"name": "tagged", "tags": ["web", "prod", "web"]}));
    let lb_id = text(&lb, "/id");
    assert_eq!(lb["tags"], tags(&["web", "prod"]));
    let path = format!("/loadbalancers/{lb_id}");
    assert_eq!(
        o.show(&path, "loadbalancer")["tags"],
        tags(&["web", "prod"])
    );
    std::thread::sleep(std::time::Duration::from_millis(5));
    let updated = o.update(&path, "loadbalancer", json!({"tags": ["blue"]}));
    assert_eq!(updated["tags"], tags(&["blue"]));
    assert_ne!(updated["updated_at"], lb["updated_at"]);
    let renamed = o.update(&path, "loadbalancer", json!({"name": "renamed"}));
    assert_eq!(renamed["tags"], tags(&["blue"]), "absent leaves them");
    let cleared = o.update(&path, "loadbalancer", json!({"tags": null}));
    assert_eq!(cleared["tags"], json!([]));

    // Listener: tempest sends exactly a hundred; they all come back.
    let hundred: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    let listener = o.create(
        "/listeners",
        "listener",
        json!({"loadbalancer_id": lb_id, "protocol": "TCP", "protocol_port": 80,
               "tags": hundred.clone()}),
    );
    let l_path = format!("/listeners/{}", text(&listener, "/id"));
    assert_eq!(listener["tags"], json!(hundred));
    assert_eq!(o.show(&l_path, "listener")["tags"], json!(hundred));
    let updated = o.update(&l_path, "listener", json!({"tags": ["Hola", "Mundo"]}));
    assert_eq!(updated["tags"], tags(&["Hola", "Mundo"]));
    assert_eq!(
        o.show(&l_path, "listener")["tags"],
        tags(&["Hola", "Mundo"])
    );
    let cleared = o.update(&l_path, "listener", json!({"tags": []}));
    assert_eq!(cleared["tags"], json!([]));

    // Pool and its health monitor: each keeps its own.
    let pool = o.create(
        "/pools",
        "pool",
        json!({"loadbalancer_id": lb_id, "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN",
               "tags": ["pool"]}),
    );
    let pool_id = text(&pool, "/id");
    let p_path = format!("/pools/{pool_id}");
    assert_eq!(pool["tags"], tags(&["pool"]));
    let monitor = o.create(
        "/healthmonitors",
        "healthmonitor",
        json!({"pool_id": pool_id, "type": "TCP", "delay": 5, "timeout": 3, "max_retries": 2,
               "tags": ["hm"]}),
    );
    let m_path = format!("/healthmonitors/{}", text(&monitor, "/id"));
    assert_eq!(monitor["tags"], tags(&["hm"]));
    assert_eq!(o.show(&p_path, "pool")["tags"], tags(&["pool"]));
    let updated = o.update(&m_path, "healthmonitor", json!({"tags": ["hm2", "x"]}));
    assert_eq!(updated["tags"], tags(&["hm2", "x"]));
    let updated = o.update(&p_path, "pool", json!({"tags": ["pool2"]}));
    assert_eq!(updated["tags"], tags(&["pool2"]));
    assert_eq!(
        o.show(&m_path, "healthmonitor")["tags"],
        tags(&["hm2", "x"])
    );
    assert_eq!(o.show(&p_path, "pool")["tags"], tags(&["pool2"]));

    // A monitor deleted and made again starts without the old tags.
    status(&o.call("DELETE", &m_path, None), 204);
    let again = o.create(
        "/healthmonitors",
        "healthmonitor",
        json!({"pool_id": pool_id, "type": "TCP", "delay": 5, "timeout": 3, "max_retries": 2}),
    );
    assert_eq!(again["tags"], json!([]));

    // Members: one by one, then the declarative batch, which replaces
    // the tags of the members it names with tags and leaves the others'.
    let members = format!("{p_path}/members");
    let one = o.create(
        &members,
        "member",
        json!({"address": "10.0.1.11", "protocol_port": 80, "tags": ["m1"]}),
    );
    let one_path = format!("{members}/{}", text(&one, "/id"));
    assert_eq!(one["tags"], tags(&["m1"]));
    let updated = o.update(&one_path, "member", json!({"tags": ["m1", "edited"]}));
    assert_eq!(updated["tags"], tags(&["m1", "edited"]));
    let two = o.create(
        &members,
        "member",
        json!({"address": "10.0.1.12", "protocol_port": 80, "tags": ["m2"]}),
    );
    let two_path = format!("{members}/{}", text(&two, "/id"));
    status(
        &o.call(
            "PUT",
            &members,
            Some(json!({"members": [
                {"address": "10.0.1.11", "protocol_port": 80, "tags": ["batched"]},
                {"address": "10.0.1.12", "protocol_port": 80},
                {"address": "10.0.1.13", "protocol_port": 80, "tags": ["new"]},
            ]})),
        ),
        202,
    );
    assert_eq!(o.show(&one_path, "member")["tags"], tags(&["batched"]));
    assert_eq!(o.show(&two_path, "member")["tags"], tags(&["m2"]));
    let listed = status(&o.call("GET", &format!("{members}?tags=new"), None), 200);
    assert_eq!(listed["members"].as_array().unwrap().len(), 1);
    assert_eq!(listed["members"][0]["address"], "10.0.1.13");
    let cleared = o.update(&two_path, "member", json!({"tags": null}));
    assert_eq!(cleared["tags"], json!([]));
}

#[test]
fn bad_tags_are_refused_in_octavias_words() {
    let o = Octavia::start();
    let lb = o.lb(json!({}));
    let lb_id = text(&lb, "/id");
    let too_many: Vec<String> = (0..101).map(|i| i.to_string()).collect();
    let listener = |tags: Value| {
        o.call(
            "POST",
            "/listeners",
            Some(
                json!({"listener": {"loadbalancer_id": lb_id, "protocol": "TCP",
                                     "protocol_port": 81, "tags": tags}}),
            ),
        )
    };
    for bad in [
        json!(too_many.clone()),
        json!(["x".repeat(256)]),
        json!(["a\u{1}b"]),
        json!("a"),
        json!([1]),
    ] {
        let body = status(&listener(bad.clone()), 400);
        assert!(
            text(&body, "/faultstring").starts_with("Invalid input for field/attribute tags."),
            "{bad}: {body}"
        );
    }
    // 255 characters are Octavia's limit, counted as characters.
    status(&listener(json!(["é".repeat(255)])), 201);

    // The same rules on every resource and on update.
    let path = format!("/loadbalancers/{lb_id}");
    let body = status(
        &o.call(
            "PUT",
            &path,
            Some(json!({"loadbalancer": {"tags": ["y".repeat(256)]}})),
        ),
        400,
    );
    assert!(text(&body, "/faultstring").contains("tags"), "{body}");
    assert_eq!(
        o.show(&path, "loadbalancer")["tags"],
        json!([]),
        "unchanged"
    );
    let pool = o.create(
        "/pools",
        "pool",
        json!({"loadbalancer_id": lb_id, "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}),
    );
    let members = format!("/pools/{}/members", text(&pool, "/id"));
    let body = status(
        &o.call(
            "PUT",
            &members,
            Some(json!({"members": [
                {"address": "10.0.1.11", "protocol_port": 80},
                {"address": "10.0.1.12", "protocol_port": 80, "tags": too_many},
            ]})),
        ),
        400,
    );
    assert!(
        text(&body, "/faultstring").contains("members[1].tags"),
        "{body}"
    );
    assert_eq!(o.names(&members, "members").len(), 0, "all or nothing");
    let body = status(
        &o.call(
            "POST",
            "/healthmonitors",
            Some(
                json!({"healthmonitor": {"pool_id": text(&pool, "/id"), "type": "TCP",
                        "delay": 5, "timeout": 3, "max_retries": 2, "tags": {"a": 1}}}),
            ),
        ),
        400,
    );
    assert!(text(&body, "/faultstring").contains("tags"), "{body}");
}

#[test]
fn listings_filter_on_tags_as_octavia_does() {
    let o = Octavia::start();
    let lb = o.lb(json!({"name": "lb", "tags": ["English"]}));
    let lb_id = text(&lb, "/id");
    // Tempest's three listeners.
    for (port, name, tags) in [
        (80, "l1", ["English", "Mathematics", "Creativity"]),
        (81, "l2", ["English", "Spanish", "Creativity"]),
        (82, "l3", ["English", "Project_management", "Creativity"]),
    ] {
        o.create(
            "/listeners",
            "listener",
            json!({"loadbalancer_id": lb_id, "protocol": "TCP", "protocol_port": port,
                   "name": name, "tags": tags}),
        );
    }
    let listeners = |query: &str| o.names(&format!("/listeners?{query}"), "listeners");
    assert_eq!(listeners("tags=English,Creativity"), ["l1", "l2", "l3"]);
    assert_eq!(listeners("tags=English&tags=Spanish"), ["l2"]);
    assert_eq!(listeners("tags=English,Nope"), Vec::<String>::new());
    assert_eq!(listeners("tags-any=Spanish,Mathematics"), ["l1", "l2"]);
    assert_eq!(listeners("not-tags=English,Spanish"), ["l1", "l3"]);
    assert_eq!(listeners("not-tags-any=Spanish,Mathematics"), ["l3"]);
    assert_eq!(
        listeners("tags=English,Creativity&not-tags=Spanish"),
        ["l1", "l3"]
    );
    assert_eq!(listeners("tags="), Vec::<String>::new(), "no empty tag");
    // Tag filters combine with the other filters and with paging.
    assert_eq!(listeners("tags=Creativity&name=l3"), ["l3"]);
    assert_eq!(listeners("tags-any=Creativity&limit=1"), ["l1"]);

    // The same filters on the other resources.
    o.lb(json!({"name": "other"}));
    assert_eq!(
        o.names("/loadbalancers?tags=English", "loadbalancers"),
        ["lb"]
    );
    assert_eq!(
        o.names("/loadbalancers?not-tags-any=English", "loadbalancers"),
        ["other"]
    );
    for (name, tags) in [("p1", json!(["a"])), ("p2", json!(["b"]))] {
        let pool = o.create(
            "/pools",
            "pool",
            json!({"loadbalancer_id": lb_id, "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN",
                   "name": name, "tags": tags}),
        );
        o.create(
            "/healthmonitors",
            "healthmonitor",
            json!({"pool_id": text(&pool, "/id"), "type": "TCP", "delay": 5, "timeout": 3,
                   "max_retries": 2, "name": format!("hm-{name}"), "tags": tags}),
        );
    }
    assert_eq!(o.names("/pools?tags-any=b", "pools"), ["p2"]);
    assert_eq!(o.names("/pools?not-tags=a", "pools"), ["p2"]);
    assert_eq!(
        o.names("/healthmonitors?tags=a", "healthmonitors"),
        ["hm-p1"]
    );
}
