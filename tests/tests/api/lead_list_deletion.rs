//! Deleting a lead list: gone for the API at once, its leads, imports and files removed by the
//! worker a bounded round at a time, an import caught in the middle failing cleanly, and the
//! deletion refused while a running campaign holds the list.

use gobi_domain::leads::files::{self, ImportFiles};
use gobi_domain::leads::store::LeadStore;
use gobi_shared::ids::TenantId;
use gobi_tests::{TestApp, spawn_app, tokens};
use http::StatusCode;
use serde_json::json;

fn store(app: &TestApp) -> LeadStore {
    LeadStore::new(app.dynamodb.clone(), &app.config.tables.leads)
}

/// A list with `rows` leads imported through the API; its id and the import's.
async fn imported_list(app: &TestApp, tenant: &str, rows: usize) -> (String, String) {
    let created = app
        .post(
            &format!("/api/tenants/{tenant}/lead-lists"),
            &tokens::admin(),
            json!({"name": "To delete", "defaultCountry": "US"}),
        )
        .await;
    let list = created.body["data"]["id"].as_str().unwrap().to_owned();
    let mut text = String::from("phone,name\n");
    for i in 0..rows {
        text.push_str(&format!(
            "+1415555{:04},Lead {i}\nnot a number,Bad {i}\n",
            1000 + i
        ));
    }
    let import = app
        .post_csv(
            &format!("/api/tenants/{tenant}/lead-lists/{list}/imports"),
            &tokens::admin(),
            text.as_bytes(),
        )
        .await;
    assert_eq!(import.status, StatusCode::CREATED, "{}", import.text);
    let import = import.body["data"]["id"].as_str().unwrap().to_owned();
    app.drain_lead_imports().await;
    (list, import)
}

/// Every item left in the list's partition of the leads table.
async fn items_left(app: &TestApp, list: &str) -> usize {
    let mut count = 0;
    let mut start = None;
    loop {
        let page = app
            .dynamodb
            .query()
            .table_name(&app.config.tables.leads)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(
                ":pk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("LIST#{list}")),
            )
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        count += page.items().len();
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return count,
        }
    }
}

#[tokio::test]
async fn a_deleted_list_is_gone_at_once_and_emptied_in_the_background() {
    let app = spawn_app().await;
    let tenant = app.new_tenant("Deleting", "deleting").await;
    let (list, import) = imported_list(&app, &tenant, 120).await;
    let (kept, _) = imported_list(&app, &tenant, 3).await;
    let path = format!("/api/tenants/{tenant}/lead-lists/{list}");
    assert!(items_left(&app, &list).await > 120);
    let tenant_id: TenantId = tenant.parse().unwrap();
    let bucket = ImportFiles::new(app.s3.clone(), app.config.imports_bucket.clone().unwrap());
    let list_uuid: uuid::Uuid = list.parse().unwrap();
    let import_uuid: uuid::Uuid = import.parse().unwrap();
    let upload = files::upload_key(tenant_id, Some(list_uuid), import_uuid);
    let report = files::report_key(tenant_id, Some(list_uuid), import_uuid);
    assert!(bucket.size(&upload).await.unwrap().is_some());
    assert!(bucket.size(&report).await.unwrap().is_some());

    let viewer = app.delete(&path, &tokens::client_viewer(&tenant)).await;
    assert_eq!(viewer.status, StatusCode::FORBIDDEN, "{}", viewer.text);
    let deleted = app.delete(&path, &tokens::admin()).await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED, "{}", deleted.text);
    assert_eq!(deleted.body["data"]["id"], list);

    // Gone for the API before the worker ran: read, listed, changed, imported into, deleted.
    for answer in [
        app.get(&path, &tokens::admin()).await,
        app.get(&format!("{path}/leads"), &tokens::admin()).await,
        app.put(&path, &tokens::admin(), json!({"name": "back"}))
            .await,
        app.post(
            &format!("{path}/leads"),
            &tokens::admin(),
            json!({"phoneNumber": "+14155559999"}),
        )
        .await,
        app.post_csv(
            &format!("{path}/imports"),
            &tokens::admin(),
            b"phone\n+14155559998\n",
        )
        .await,
        app.delete(&path, &tokens::admin()).await,
    ] {
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::NOT_FOUND, "LEAD_LIST_NOT_FOUND"),
            "{}",
            answer.text
        );
    }
    let lists = app
        .get(
            &format!("/api/tenants/{tenant}/lead-lists"),
            &tokens::admin(),
        )
        .await;
    let ids: Vec<&str> = lists.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [kept.as_str()]);

    assert_eq!(app.drain_lead_imports().await, 1);
    assert_eq!(items_left(&app, &list).await, 0);
    assert_eq!(bucket.size(&upload).await.unwrap(), None);
    assert_eq!(bucket.size(&report).await.unwrap(), None);
    let record = gobi_shared::dynamo::read_item(
        &app.dynamodb,
        &app.config.tables.leads,
        format!("TENANT#{tenant}"),
        format!("LIST#{list}"),
        "test",
    )
    .await
    .unwrap();
    assert!(record.is_none(), "the list's own record goes last");
    // The other list is untouched.
    let other = app
        .get(
            &format!("/api/tenants/{tenant}/lead-lists/{kept}"),
            &tokens::admin(),
        )
        .await;
    assert_eq!(other.body["data"]["counts"]["total"], 3);
}

#[tokio::test]
async fn a_large_list_is_emptied_a_bounded_round_at_a_time() {
    let app = spawn_app().await;
    let tenant = app.new_tenant("Rounds", "rounds").await;
    let (list, _) = imported_list(&app, &tenant, 230).await;
    let tenant_id: TenantId = tenant.parse().unwrap();
    let list_id: uuid::Uuid = list.parse().unwrap();
    let store = store(&app);
    let before = items_left(&app, &list).await;

    // A round on a list nobody deleted removes nothing.
    let untouched = store
        .delete_list_items(tenant_id, list_id, 100)
        .await
        .unwrap();
    assert_eq!((untouched.items, untouched.finished), (0, true));
    assert_eq!(items_left(&app, &list).await, before);

    store
        .begin_delete(tenant_id, list_id, app.clock.now())
        .await
        .unwrap();
    let mut rounds = 0;
    let mut removed = 0;
    loop {
        let round = store
            .delete_list_items(tenant_id, list_id, 100)
            .await
            .unwrap();
        assert!(round.items <= 100);
        removed += round.items;
        rounds += 1;
        if round.finished {
            break;
        }
    }
    assert_eq!(removed, before);
    assert_eq!(rounds, before / 100 + 1);
    assert_eq!(items_left(&app, &list).await, 0);
    // A redelivered round after the end changes nothing and says it is done.
    let again = store
        .delete_list_items(tenant_id, list_id, 100)
        .await
        .unwrap();
    assert_eq!((again.items, again.finished), (0, true));
}

#[tokio::test]
async fn an_import_caught_by_the_deletion_fails_and_leaves_nothing_behind() {
    let app = spawn_app().await;
    let tenant = app.new_tenant("Caught", "caught").await;
    let (list, _) = imported_list(&app, &tenant, 5).await;
    let path = format!("/api/tenants/{tenant}/lead-lists/{list}");
    // Queued, not yet run, when the list is deleted.
    let queued = app
        .post_csv(
            &format!("{path}/imports"),
            &tokens::admin(),
            b"phone\n+14155550001\n+14155550002\n",
        )
        .await;
    assert_eq!(queued.status, StatusCode::CREATED);
    let deleted = app.delete(&path, &tokens::admin()).await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED);
    assert_eq!(app.drain_lead_imports().await, 2);
    assert_eq!(items_left(&app, &list).await, 0);
}

#[tokio::test]
async fn a_list_a_running_campaign_holds_is_not_deleted() {
    let app = spawn_app().await;
    let tenant = app.new_tenant("Held", "held").await;
    let (list, _) = imported_list(&app, &tenant, 2).await;
    let path = format!("/api/tenants/{tenant}/lead-lists/{list}");
    let store = store(&app);
    let tenant_id: TenantId = tenant.parse().unwrap();
    let list_id: uuid::Uuid = list.parse().unwrap();
    let campaign = uuid::Uuid::now_v7();
    store.hold_list(tenant_id, list_id, campaign).await.unwrap();
    // Holding twice is holding once.
    store.hold_list(tenant_id, list_id, campaign).await.unwrap();

    let refused = app.delete(&path, &tokens::admin()).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::CONFLICT, "LEAD_LIST_IN_USE"),
        "{}",
        refused.text
    );
    assert_eq!(
        app.get(&path, &tokens::admin()).await.status,
        StatusCode::OK
    );

    store
        .release_list(tenant_id, list_id, campaign)
        .await
        .unwrap();
    let deleted = app.delete(&path, &tokens::admin()).await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED, "{}", deleted.text);
    // A campaign cannot take hold of a list being deleted.
    let late = store
        .hold_list(tenant_id, list_id, uuid::Uuid::now_v7())
        .await;
    assert!(
        matches!(late, Err(gobi_domain::error::StoreError::NotFound { .. })),
        "{late:?}"
    );
}
