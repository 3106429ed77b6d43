//! Account-mapping populations through the API (`PUT /api/v1/populations/{name}`).
//!
//! Goal: a population is named by its path alone, and a body naming another or holding an
//! unknown key is refused naming each. Method: a real `cosell` process on loopback and
//! `PUT` requests with the name in the path, in the body, or different.

use cosell_e2e::{detail_fields, Node};
use serde_json::json;

#[test]
fn a_population_is_named_by_its_path() {
    // Bugs: `PUT /populations/{name}` required `name` in the body too, ignored a different one,
    // and ignored unknown keys.
    let mut node = Node::init("Acme");
    node.serve();
    let put = |body: serde_json::Value| {
        let bytes = serde_json::to_vec(&body).expect("JSON");
        node.request(
            "PUT",
            "/api/v1/populations/eu",
            Some("application/json"),
            Some(&bytes),
        )
    };
    let r = put(json!({"countries": ["FR", "DE"]}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["name"], "eu");
    let r = put(json!({"name": "eu", "countries": ["FR"]}));
    assert_eq!(r.status, 200, "{}", r.text);
    let r = put(json!({"name": "apac", "contries": ["JP"]}));
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(detail_fields(&r.json), ["name", "contries"], "{}", r.text);
}
