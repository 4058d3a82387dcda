//! Lead files imported through the API: a `text/csv` body queued to the `lead-import` worker
//! (moto's SQS and S3), a large file put to its presigned upload URL and started, the import's
//! state and counters, the error report with formula cells neutralised, a duplicate delivery
//! that changes nothing, and a file that cannot be read failing without touching the list.

use axum::body::Body;
use gobi_domain::leads::jobs;
use gobi_domain::leads::model::LeadJob;
use gobi_shared::events::Publisher;
use gobi_tests::{Answer, TestApp, spawn_app, tokens};
use http::{Request, StatusCode};
use serde_json::json;

async fn new_list(app: &TestApp, tenant: &str) -> String {
    let created = app
        .post(
            &format!("/api/tenants/{tenant}/lead-lists"),
            &tokens::admin(),
            json!({"name": "Imports", "defaultCountry": "US"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    created.body["data"]["id"].as_str().unwrap().to_owned()
}

async fn post_csv(app: &TestApp, path: &str, body: &[u8]) -> Answer {
    app.post_csv(path, &tokens::admin(), body).await
}

#[tokio::test]
async fn a_csv_body_is_imported_by_the_worker_with_a_safe_error_report() {
    let app = spawn_app().await;
    let tenant = app.new_tenant("Csv", "csv").await;
    let list = new_list(&app, &tenant).await;
    let base = format!("/api/tenants/{tenant}/lead-lists/{list}/imports");
    let file = "Phone;Name;Note\n415 555 0101;Ann;ok\n=HYPERLINK(\"http://x\");Mallory;@SUM(A1)\n415.555.0102;Bo;fine\n415 555 0101;Ann again;dup\n";
    let created = post_csv(&app, &base, file.as_bytes()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.body["data"]["state"], "queued");
    let import = created.body["data"]["id"].as_str().unwrap().to_owned();

    assert_eq!(app.drain_lead_imports().await, 1);
    let done = app.get(&format!("{base}/{import}"), &tokens::admin()).await;
    assert_eq!(
        done.body["data"]["state"], "completedWithErrors",
        "{}",
        done.text
    );
    assert!(
        done.body["data"].get("objectKey").is_none(),
        "the bucket key stays inside"
    );
    assert_eq!(
        done.body["data"]["counters"],
        json!({"rows": 4, "accepted": 2, "updated": 0, "duplicateInFile": 1, "alreadyInList": 0,
               "invalidNumber": 1, "invalidTimezone": 0, "suppressed": 0, "tooLarge": 0})
    );
    let list_counts = app
        .get(
            &format!("/api/tenants/{tenant}/lead-lists/{list}"),
            &tokens::admin(),
        )
        .await;
    assert_eq!(list_counts.body["data"]["counts"]["total"], 2);

    let report = app
        .get(&format!("{base}/{import}/errors"), &tokens::admin())
        .await;
    assert_eq!(report.status, StatusCode::OK);
    assert!(
        report.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert_eq!(
        report.text,
        "line,reason,Phone,Name,Note\n\
         3,invalidNumber,\"'=HYPERLINK(\"\"http://x\"\")\",Mallory,'@SUM(A1)\n\
         5,duplicateInFile,415 555 0101,Ann again,dup\n"
    );

    // The same message delivered again changes nothing.
    let jobs = Publisher::new(
        app.sqs.clone(),
        app.config.lead_import_queue_url.clone().unwrap(),
    );
    jobs::queue(
        &jobs,
        tenant.parse().unwrap(),
        LeadJob::Import {
            list_id: Some(list.parse().unwrap()),
            import_id: import.parse().unwrap(),
        },
        app.clock.now(),
    )
    .await
    .unwrap();
    assert_eq!(app.drain_lead_imports().await, 1);
    let again = app.get(&format!("{base}/{import}"), &tokens::admin()).await;
    assert_eq!(
        again.body["data"]["counters"],
        done.body["data"]["counters"]
    );
    let list_again = app
        .get(
            &format!("/api/tenants/{tenant}/lead-lists/{list}"),
            &tokens::admin(),
        )
        .await;
    assert_eq!(list_again.body["data"]["counts"]["total"], 2);
}

#[tokio::test]
async fn a_large_file_goes_to_its_upload_url_and_starts_when_it_is_there() {
    let app = spawn_app().await;
    let tenant = app.new_tenant("Upload", "upload").await;
    let list = new_list(&app, &tenant).await;
    let base = format!("/api/tenants/{tenant}/lead-lists/{list}/imports");
    let mut file = String::from("phone,first name,last name\n");
    for i in 0..250 {
        file.push_str(&format!("+1415555{:04},Lead,{i}\n", 3000 + i));
    }
    let created = app
        .post(
            &base,
            &tokens::admin(),
            json!({"sizeBytes": file.len(), "onDuplicate": "update"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.body["data"]["state"], "awaitingUpload");
    assert_eq!(created.body["data"]["sizeBytes"], file.len());
    let import = created.body["data"]["id"].as_str().unwrap().to_owned();
    let url = created.body["data"]["uploadUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    // The length is signed, so S3 takes a body of exactly the declared size and no other.
    let signed: String = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "X-Amz-SignedHeaders")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    assert!(signed.split(';').any(|h| h == "content-length"), "{signed}");

    let early = app
        .post(
            &format!("{base}/{import}/start"),
            &tokens::admin(),
            json!({}),
        )
        .await;
    assert_eq!(
        (early.status, early.code()),
        (StatusCode::CONFLICT, "IMPORT_NOT_UPLOADED")
    );

    assert!(app.upload(&url, file).await.is_success());

    let started = app
        .post(
            &format!("{base}/{import}/start"),
            &tokens::admin(),
            json!({}),
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.text);
    assert_eq!(started.body["data"]["state"], "queued");
    assert_eq!(app.drain_lead_imports().await, 1);
    let done = app.get(&format!("{base}/{import}"), &tokens::admin()).await;
    assert_eq!(done.body["data"]["state"], "completed", "{}", done.text);
    assert_eq!(done.body["data"]["counters"]["accepted"], 250);
    let lead = app
        .get(
            &format!("/api/tenants/{tenant}/lead-lists/{list}/leads/14155553007"),
            &tokens::admin(),
        )
        .await;
    assert_eq!(lead.body["data"]["name"], "Lead 7");
}

#[tokio::test]
async fn an_upload_of_another_size_than_declared_is_not_started() {
    let app = spawn_app().await;
    let tenant = app.new_tenant("Sizes", "sizes").await;
    let list = new_list(&app, &tenant).await;
    let base = format!("/api/tenants/{tenant}/lead-lists/{list}/imports");
    for (size, code) in [(0, "VALIDATION_ERROR"), (104_857_601, "VALIDATION_ERROR")] {
        let refused = app
            .post(&base, &tokens::admin(), json!({"sizeBytes": size}))
            .await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::BAD_REQUEST, code)
        );
    }
    let created = app
        .post(&base, &tokens::admin(), json!({"sizeBytes": 20}))
        .await;
    let import = created.body["data"]["id"].as_str().unwrap().to_owned();
    let url = created.body["data"]["uploadUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    // moto does not check signatures, so a longer body lands; start refuses it.
    assert!(
        app.upload(&url, "phone\n+14155550100\n+14155550101\n")
            .await
            .is_success()
    );
    let started = app
        .post(
            &format!("{base}/{import}/start"),
            &tokens::admin(),
            json!({}),
        )
        .await;
    assert_eq!(
        (started.status, started.code()),
        (StatusCode::CONFLICT, "IMPORT_SIZE_MISMATCH"),
        "{}",
        started.text
    );
}

#[tokio::test]
async fn a_file_that_cannot_be_read_fails_and_leaves_the_list_alone() {
    let app = spawn_app().await;
    let tenant = app.new_tenant("Bad", "bad").await;
    let list = new_list(&app, &tenant).await;
    let base = format!("/api/tenants/{tenant}/lead-lists/{list}/imports");
    let created = post_csv(&app, &base, b"\xFF\xFEp\x00h\x00o\x00n\x00e\x00\n\x00").await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let import = created.body["data"]["id"].as_str().unwrap().to_owned();
    app.drain_lead_imports().await;
    let failed = app.get(&format!("{base}/{import}"), &tokens::admin()).await;
    assert_eq!(failed.body["data"]["state"], "failed");
    assert!(
        failed.body["data"]["failure"]
            .as_str()
            .unwrap()
            .contains("UTF-16"),
        "{}",
        failed.text
    );
    let report = app
        .get(&format!("{base}/{import}/errors"), &tokens::admin())
        .await;
    assert_eq!(
        (report.status, report.code()),
        (StatusCode::CONFLICT, "IMPORT_NOT_FINISHED")
    );
    let counts = app
        .get(
            &format!("/api/tenants/{tenant}/lead-lists/{list}"),
            &tokens::admin(),
        )
        .await;
    assert_eq!(counts.body["data"]["counts"]["total"], 0);
    let unsupported = app
        .send(
            Request::post(&base)
                .header("authorization", format!("Bearer {}", tokens::admin()))
                .header("content-type", "application/xml")
                .body(Body::from("<a/>"))
                .unwrap(),
        )
        .await;
    assert_eq!(unsupported.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn a_report_too_large_to_answer_inline_redirects_to_a_download_url() {
    let app = spawn_app().await;
    let tenant = app.new_tenant("Big report", "big-report").await;
    let list = new_list(&app, &tenant).await;
    let base = format!("/api/tenants/{tenant}/lead-lists/{list}/imports");
    let created = post_csv(&app, &base, b"phone\nnot a number\n").await;
    let import = created.body["data"]["id"].as_str().unwrap().to_owned();
    app.drain_lead_imports().await;
    // The worker's report, as large as a file of many rejected rows makes it.
    let key = gobi_domain::leads::files::report_key(
        tenant.parse().unwrap(),
        Some(list.parse().unwrap()),
        import.parse().unwrap(),
    );
    let big = "line,reason,phone\n".to_owned() + &"2,invalidNumber,x\n".repeat(330_000);
    assert!(big.len() > 5 * 1024 * 1024);
    gobi_domain::leads::files::ImportFiles::new(
        app.s3.clone(),
        app.config.imports_bucket.clone().unwrap(),
    )
    .put(&key, big.clone().into_bytes())
    .await
    .unwrap();
    let answer = app
        .get(&format!("{base}/{import}/errors"), &tokens::admin())
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text);
    let location = answer.headers["location"].to_str().unwrap().to_owned();
    let download = gobi_shared::https::client()
        .get(&location)
        .send()
        .await
        .unwrap();
    assert!(download.status().is_success());
    assert_eq!(download.text().await.unwrap(), big);
}

#[tokio::test]
async fn a_report_of_thousands_of_rows_is_streamed_to_the_bucket() {
    let app = spawn_app().await;
    let tenant = app.new_tenant("Many rejects", "many-rejects").await;
    let list = new_list(&app, &tenant).await;
    let base = format!("/api/tenants/{tenant}/lead-lists/{list}/imports");
    let mut file = String::from("phone,note\n");
    for i in 0..4000 {
        file.push_str(&format!(
            "not a number {i},a note long enough to make the report big\n"
        ));
    }
    let created = post_csv(&app, &base, file.as_bytes()).await;
    let import = created.body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(app.drain_lead_imports().await, 1);
    let done = app.get(&format!("{base}/{import}"), &tokens::admin()).await;
    assert_eq!(
        done.body["data"]["state"], "completedWithErrors",
        "{}",
        done.text
    );
    let report = app
        .get(&format!("{base}/{import}/errors"), &tokens::admin())
        .await;
    assert!(report.text.len() > 250_000);
    assert_eq!(report.text.lines().count(), 4001);
    assert!(
        report
            .text
            .lines()
            .nth(4000)
            .unwrap()
            .starts_with("4001,invalidNumber,")
    );
}
