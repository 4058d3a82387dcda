//! Do-not-call files imported through the same machinery as lead files: numbers suppressed with
//! the file's reason and the import as their source, entries already there kept, every row
//! counted and reported, a dry run suppressing nothing, an upload URL for a large file, and a
//! lead import afterwards marking the numbers suppressed.

use gobi_tests::{TestApp, spawn_app, tokens};
use http::StatusCode;
use serde_json::json;

async fn check(app: &TestApp, tenant: &str, number: &str) -> serde_json::Value {
    let answer = app
        .get(
            &format!("/api/tenants/{tenant}/suppressions/{number}"),
            &tokens::admin(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.body["data"].clone()
}

#[tokio::test]
async fn a_do_not_call_file_suppresses_its_numbers_and_reports_every_row() {
    let app = spawn_app().await;
    let tenant = app.new_tenant("Dnc", "dnc").await;
    let base = format!("/api/tenants/{tenant}/suppressions/imports");
    let earlier = app
        .post(
            &format!("/api/tenants/{tenant}/suppressions"),
            &tokens::admin(),
            json!({"phoneNumber": "+14155550111", "reason": "optOut"}),
        )
        .await;
    assert_eq!(earlier.status, StatusCode::CREATED);

    let viewer = app
        .post_csv(
            &base,
            &tokens::client_viewer(&tenant),
            b"phone\n+14155550100\n",
        )
        .await;
    assert_eq!(viewer.status, StatusCode::FORBIDDEN, "{}", viewer.text);

    let file = "Phone,Note\n+1 415 555 0100,a\n020 7946 0018,uk national\n1 415 555 0100,dup\nnot a number,=cmd()\n+14155550111,already\n";
    let created = app
        .post_csv(
            &format!("{base}?reason=complaint&defaultCountry=gb"),
            &tokens::admin(),
            file.as_bytes(),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.body["data"]["kind"], "suppressions");
    assert_eq!(created.body["data"]["reason"], "complaint");
    assert_eq!(created.body["data"]["defaultCountry"], "GB");
    let import = created.body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(app.drain_lead_imports().await, 1);

    let done = app.get(&format!("{base}/{import}"), &tokens::admin()).await;
    assert_eq!(
        done.body["data"]["state"], "completedWithErrors",
        "{}",
        done.text
    );
    assert_eq!(
        done.body["data"]["counters"],
        json!({"rows": 5, "accepted": 2, "updated": 0, "duplicateInFile": 1, "alreadyInList": 1,
               "invalidNumber": 1, "invalidTimezone": 0, "suppressed": 0, "tooLarge": 0})
    );
    let report = app
        .get(&format!("{base}/{import}/errors"), &tokens::admin())
        .await;
    assert_eq!(report.status, StatusCode::OK);
    assert_eq!(
        report.text,
        "line,reason,Phone,Note\n\
         4,duplicateInFile,1 415 555 0100,dup\n\
         5,invalidNumber,not a number,'=cmd()\n\
         6,alreadyInList,'+14155550111,already\n"
    );

    let us = check(&app, &tenant, "+14155550100").await;
    assert_eq!(us["suppressed"], true);
    assert_eq!(us["suppression"]["reason"], "complaint");
    assert_eq!(us["suppression"]["source"], format!("import:{import}"));
    assert_eq!(
        check(&app, &tenant, "+442079460018").await["suppressed"],
        true
    );
    // The entry already there keeps its own reason.
    let kept = check(&app, &tenant, "+14155550111").await;
    assert_eq!(kept["suppression"]["reason"], "optOut");

    // A dry run counts and suppresses nothing.
    let dry = app
        .post_csv(
            &format!("{base}?dryRun=true"),
            &tokens::admin(),
            b"phone\n+14155550122\n",
        )
        .await;
    let dry_id = dry.body["data"]["id"].as_str().unwrap().to_owned();
    app.drain_lead_imports().await;
    let dry = app.get(&format!("{base}/{dry_id}"), &tokens::admin()).await;
    assert_eq!(dry.body["data"]["state"], "completed");
    assert_eq!(dry.body["data"]["counters"]["accepted"], 1);
    assert_eq!(
        check(&app, &tenant, "+14155550122").await["suppressed"],
        false
    );

    // Another tenant's import of the same numbers is its own.
    let other = app.new_tenant("Other", "other-dnc").await;
    assert_eq!(
        check(&app, &other, "+14155550100").await["suppressed"],
        false
    );
    let hidden = app
        .get(
            &format!("/api/tenants/{other}/suppressions/imports/{import}"),
            &tokens::admin(),
        )
        .await;
    assert_eq!(
        (hidden.status, hidden.code()),
        (StatusCode::NOT_FOUND, "IMPORT_NOT_FOUND")
    );

    // A lead file afterwards: the suppressed numbers are marked at import.
    let list = app
        .post(
            &format!("/api/tenants/{tenant}/lead-lists"),
            &tokens::admin(),
            json!({"name": "After DNC", "defaultCountry": "US"}),
        )
        .await;
    let list = list.body["data"]["id"].as_str().unwrap().to_owned();
    let leads = app
        .post_csv(
            &format!("/api/tenants/{tenant}/lead-lists/{list}/imports"),
            &tokens::admin(),
            b"phone\n4155550100\n4155550133\n",
        )
        .await;
    let leads = leads.body["data"]["id"].as_str().unwrap().to_owned();
    app.drain_lead_imports().await;
    let leads = app
        .get(
            &format!("/api/tenants/{tenant}/lead-lists/{list}/imports/{leads}"),
            &tokens::admin(),
        )
        .await;
    assert_eq!(leads.body["data"]["counters"]["suppressed"], 1);
    assert_eq!(leads.body["data"]["counters"]["accepted"], 1);
}

#[tokio::test]
async fn a_large_do_not_call_file_goes_to_its_upload_url() {
    let app = spawn_app().await;
    let tenant = app.new_tenant("Dnc upload", "dnc-upload").await;
    let base = format!("/api/tenants/{tenant}/suppressions/imports");
    let mut file = String::from("number\n");
    for i in 0..300 {
        file.push_str(&format!("415555{:04}\n", 4000 + i));
    }
    let created = app
        .post(
            &base,
            &tokens::admin(),
            json!({"sizeBytes": file.len(), "defaultCountry": "US", "reason": "manual"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.body["data"]["state"], "awaitingUpload");
    let import = created.body["data"]["id"].as_str().unwrap().to_owned();
    let url = created.body["data"]["uploadUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(app.upload(&url, file).await.is_success());
    let started = app
        .post(
            &format!("{base}/{import}/start"),
            &tokens::admin(),
            json!({}),
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.text);
    assert_eq!(app.drain_lead_imports().await, 1);
    let done = app.get(&format!("{base}/{import}"), &tokens::admin()).await;
    assert_eq!(done.body["data"]["state"], "completed", "{}", done.text);
    assert_eq!(done.body["data"]["counters"]["accepted"], 300);
    let page = app
        .get(
            &format!("/api/tenants/{tenant}/suppressions?limit=100"),
            &tokens::admin(),
        )
        .await;
    assert_eq!(page.body["data"].as_array().unwrap().len(), 100);
    assert!(page.body["nextCursor"].is_string());
}
