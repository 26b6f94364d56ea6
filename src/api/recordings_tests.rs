//! The recording routes over a real listener: download and hold are
//! journalled with the token's name; bad ids, unknown recordings and
//! missing tokens are refused.

use super::*;
use crate::api::tests::{send, tokens, TOKEN};
use crate::labels::TenantId;
use std::net::SocketAddr;
use std::sync::mpsc::{channel, Receiver};
use tokio::net::TcpListener;

type Events = Receiver<(String, String, serde_json::Value)>;

async fn serve(dir: &std::path::Path) -> (SocketAddr, Events) {
    let (tx, rx) = channel();
    let sink: EventSink = Box::new(move |kind, subject, data| {
        let _ = tx.send((kind.to_string(), subject.to_string(), data));
    });
    let app = recordings_router(Store::new(dir), sink, tokens());
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, rx)
}

fn recording(dir: &std::path::Path) -> StoredFile {
    let store = Store::new(dir);
    let (tenant, id) = (TenantId::new("odense"), RecordingId::from_random(0xfeed));
    std::fs::create_dir_all(store.tenant_dir(&tenant)).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(store.wav(&tenant, &id), b"RIFF....WAVE").unwrap_or_else(|e| panic!("{e}"));
    store.find(&id).unwrap_or_else(|| panic!("stored"))
}

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("alarmgate-api-rec-{name}-{}", std::process::id()))
}

#[tokio::test]
async fn a_download_is_the_file_and_an_event_naming_the_token() {
    let dir = temp("get");
    let file = recording(&dir);
    let (addr, events) = serve(&dir).await;
    let path = format!("/api/v1/recordings/{}", file.id);
    let answer = send(addr, "GET", &path, Some(TOKEN), None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.header("content-type"), Some("audio/wav"));
    assert_eq!(answer.body, "RIFF....WAVE");
    let (kind, subject, data) = events.try_recv().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(kind, "alarmgate.recording.accessed");
    assert_eq!(subject, file.id.as_str());
    assert_eq!(data["by"], "console");
    assert_eq!(data["tenant"], "odense");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_hold_marks_the_file_for_retention_and_is_journalled() {
    let dir = temp("hold");
    let file = recording(&dir);
    let (addr, events) = serve(&dir).await;
    let path = format!("/api/v1/recordings/{}/hold", file.id);
    let answer = send(addr, "POST", &path, Some(TOKEN), None).await;
    assert_eq!(answer.status, 204, "{}", answer.body);
    assert!(Store::new(&dir).find(&file.id).is_some_and(|f| f.held));
    let (kind, _, data) = events.try_recv().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (kind.as_str(), data["by"].as_str()),
        ("alarmgate.recording.held", Some("console"))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn bad_ids_unknown_recordings_and_missing_tokens_are_refused() {
    let dir = temp("refuse");
    let file = recording(&dir);
    let (addr, events) = serve(&dir).await;
    let get =
        |path: String, token| async move { send(addr, "GET", &path, token, None).await.status };
    assert_eq!(
        get("/api/v1/recordings/..%2Fsecret".into(), Some(TOKEN)).await,
        400
    );
    let unknown = RecordingId::from_random(1);
    assert_eq!(
        get(format!("/api/v1/recordings/{unknown}"), Some(TOKEN)).await,
        404
    );
    assert_eq!(
        get(format!("/api/v1/recordings/{}", file.id), None).await,
        401
    );
    assert!(events.try_recv().is_err(), "nothing was accessed");
    let _ = std::fs::remove_dir_all(&dir);
}
