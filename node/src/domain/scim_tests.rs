//! SCIM writes mirrored into cosell users: roles from groups, deactivation, renames, deletes.

use super::*;

fn setup() -> (tempfile::TempDir, Store, RoleMap) {
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(&dir.path().join("db")).expect("store");
    let roles: RoleMap =
        toml::from_str("admin = [\"cosell-admins\"]\nviewer = [\"staff\"]").expect("roles");
    (dir, store, roles)
}

fn user(store: &Store, name: &str) -> users::User {
    users::get_user(store, name).expect("read").expect(name)
}

#[test]
fn groups_give_roles_and_deactivation_or_removal_takes_access_away() {
    let (_dir, store, roles) = setup();
    let base = "http://node";
    let ana = create(
        &store,
        &roles,
        Kind::User,
        &json!({"userName": "Ana@Example.com",
        "active": true, "emails": [{"value": "ana@example.com"}]}),
        base,
        1,
    )
    .expect("ana");
    let id = ana["id"].as_str().expect("id").to_string();
    assert_eq!(
        ana["meta"]["location"],
        json!(format!("http://node/scim/v2/Users/{id}"))
    );
    // In no mapped group, and `[roles] default` is none: provisioned but not let in.
    let u = user(&store, "ana@example.com");
    assert!(!u.active);
    assert_eq!(u.source, Source::Scim);
    let group = create(
        &store,
        &roles,
        Kind::Group,
        &json!({"displayName": "cosell-admins",
        "members": [{"value": id}]}),
        base,
        2,
    )
    .expect("group");
    let u = user(&store, "ana@example.com");
    assert!(u.active && u.role == Role::Admin, "{u:?}");
    let read = get(&store, Kind::User, &id).expect("get").expect("there");
    assert_eq!(read["groups"][0]["display"], json!("cosell-admins"));
    // Deactivated over PATCH.
    patch(
        &store,
        &roles,
        Kind::User,
        &id,
        &json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": false}]}),
        3,
    )
    .expect("patch");
    assert!(!user(&store, "ana@example.com").active);
    // Out of the group, back in as active: the group's role goes with the membership.
    patch(
        &store,
        &roles,
        Kind::User,
        &id,
        &json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": true}}]}),
        4,
    )
    .expect("patch");
    let gid = group["id"].as_str().expect("gid").to_string();
    patch(
        &store,
        &roles,
        Kind::Group,
        &gid,
        &json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]}),
        5,
    )
    .expect("remove member");
    assert!(!user(&store, "ana@example.com").active);
    // A rename moves the cosell user; a delete removes it.
    replace(
        &store,
        &roles,
        Kind::User,
        &id,
        &json!({"userName": "ana.li@example.com"}),
        6,
    )
    .expect("rename");
    assert!(users::get_user(&store, "ana@example.com")
        .expect("read")
        .is_none());
    user(&store, "ana.li@example.com");
    // What the node kept for the user (a saved mapping view, e-mail settings) follows a rename
    // and goes with a delete (bug: both stayed under the old name).
    let view = json!({"partner": "p"});
    crate::domain::mapping_views::put(&store, "ana.li@example.com", "Mine", &view, 6)
        .expect("view");
    let mail = crate::domain::notify::Settings {
        email: Some("ana@example.com".into()),
        ..Default::default()
    };
    crate::domain::notify::set_settings(&store, "ana.li@example.com", &mail).expect("settings");
    replace(
        &store,
        &roles,
        Kind::User,
        &id,
        &json!({"userName": "ana.lu@example.com"}),
        6,
    )
    .expect("rename");
    let views = |name: &str| crate::domain::mapping_views::list(&store, name).expect("views");
    assert!(views("ana.li@example.com").is_empty());
    assert_eq!(views("ana.lu@example.com").len(), 1);
    let settings = |name: &str| crate::domain::notify::settings(&store, name).expect("settings");
    assert_eq!(settings("ana.lu@example.com"), mail);
    assert_eq!(settings("ana.li@example.com"), Default::default());
    delete(&store, &roles, Kind::User, &id, 7).expect("delete");
    assert!(users::get_user(&store, "ana.lu@example.com")
        .expect("read")
        .is_none());
    assert!(views("ana.lu@example.com").is_empty());
    assert_eq!(settings("ana.lu@example.com"), Default::default());
    assert_eq!(
        delete(&store, &roles, Kind::User, &id, 8)
            .expect_err("gone")
            .status,
        404
    );
}

#[test]
fn names_are_unique_references_must_exist_and_local_users_are_not_taken_over() {
    let (_dir, store, roles) = setup();
    create(
        &store,
        &roles,
        Kind::User,
        &json!({"userName": "bo"}),
        "b",
        1,
    )
    .expect("bo");
    let e = create(
        &store,
        &roles,
        Kind::User,
        &json!({"userName": "BO"}),
        "b",
        2,
    )
    .expect_err("dup");
    assert_eq!((e.status, e.scim_type), (409, Some("uniqueness")));
    let e = create(
        &store,
        &roles,
        Kind::User,
        &json!({"displayName": "x"}),
        "b",
        2,
    )
    .expect_err("no name");
    assert_eq!((e.status, e.scim_type), (400, Some("invalidValue")));
    let e = create(
        &store,
        &roles,
        Kind::User,
        &json!({"userName": "has space"}),
        "b",
        2,
    )
    .expect_err("bad");
    assert_eq!(e.status, 400);
    let e = create(
        &store,
        &roles,
        Kind::Group,
        &json!({"displayName": "g",
        "members": [{"value": "nobody"}]}),
        "b",
        2,
    )
    .expect_err("dangling");
    assert_eq!(e.scim_type, Some("invalidValue"));
    users::create_user(&store, "carla", "a long password here", Role::Admin, 1).expect("local");
    let e = create(
        &store,
        &roles,
        Kind::User,
        &json!({"userName": "carla"}),
        "b",
        3,
    )
    .expect_err("local");
    assert_eq!(e.status, 409);
    assert_eq!(user(&store, "carla").source, Source::Local);
}

#[test]
fn scim_tokens_are_their_own_kind_and_can_be_revoked() {
    let (_dir, store, _) = setup();
    let t = create_token(&store, "idp", 1).expect("token");
    assert!(t.starts_with("cosell_scim_"));
    assert!(lookup_token(&store, &t).expect("lookup").is_some());
    assert!(crate::domain::auth::lookup_token(&store, &t)
        .expect("api")
        .is_none());
    let (id, _) = list_tokens(&store).expect("list").remove(0);
    assert!(revoke_token(&store, &id).expect("revoke"));
    assert!(lookup_token(&store, &t).expect("lookup").is_none());
}
