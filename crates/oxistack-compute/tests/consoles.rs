//! Remote consoles: Nova's `POST /servers/{id}/remote-consoles` and
//! `os-getSerialConsole`, and the serial proxy their URLs point to, over a
//! real listener with the fake driver's login prompt behind it.

#[allow(dead_code)] // each test crate uses its own part of the shared support
mod support;

use std::time::Duration;

use axum::http::Method;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use support::{Cloud, IMAGE};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

fn serial() -> Value {
    json!({"remote_console": {"protocol": "serial", "type": "serial"}})
}

/// A cloud with an ACTIVE server of alice's (project-a), answering its id.
async fn cloud_with_server() -> (Cloud, String) {
    let cloud = Cloud::new();
    let network = cloud.networking.add_network("net", "project-a", false, 20);
    let id = cloud
        .create_server(
            "alice",
            "2.1",
            json!({"name": "vm", "imageRef": IMAGE, "flavorRef": "d1",
                   "networks": [{"uuid": network}]}),
        )
        .await;
    cloud.wait_for(&id, "ACTIVE").await;
    (cloud, id)
}

/// The token of a console URL, checking its shape.
fn token_of(url: &str) -> String {
    let token = url
        .strip_prefix("ws://127.0.0.1:8080/compute/serial-console?token=")
        .unwrap_or_else(|| panic!("unexpected console URL {url}"));
    assert_eq!(token.len(), 43, "{url}");
    token.to_owned()
}

#[tokio::test]
async fn remote_consoles_give_serial_urls_and_refuse_as_nova_does() {
    let (cloud, id) = cloud_with_server().await;
    let path = format!("/v2.1/servers/{id}/remote-consoles");

    let reply = cloud
        .post(&path, "alice", "2.6", serial())
        .await
        .expect(200);
    let console = &reply["remote_console"];
    assert_eq!(console["protocol"], "serial");
    assert_eq!(console["type"], "serial");
    let first = token_of(console["url"].as_str().unwrap());
    let again = cloud
        .post(&path, "alice", "2.100", serial())
        .await
        .expect(200);
    assert_ne!(
        token_of(again["remote_console"]["url"].as_str().unwrap()),
        first
    );

    // Before 2.6 there is no such method; from 2.6 no such action.
    let message = cloud.post(&path, "alice", "2.5", serial()).await.error(404);
    assert_eq!(message, "API version 2.5 is not supported on this method.");
    let action = format!("/v2.1/servers/{id}/action");
    let old = json!({"os-getSerialConsole": {"type": "serial"}});
    let message = cloud
        .post(&action, "alice", "2.6", old.clone())
        .await
        .error(404);
    assert_eq!(message, "API version 2.6 is not supported on this method.");
    let reply = cloud
        .post(&action, "alice", "2.1", old.clone())
        .await
        .expect(200);
    assert_eq!(reply["console"]["type"], "serial");
    token_of(reply["console"]["url"].as_str().unwrap());
    let bad = json!({"os-getSerialConsole": {"type": "novnc"}});
    cloud.post(&action, "alice", "2.1", bad).await.error(400);
    let missing = json!({"os-getSerialConsole": {}});
    cloud
        .post(&action, "alice", "2.1", missing)
        .await
        .error(400);
    // VNC and SPICE are unavailable, as in a Nova with their proxies off.
    let vnc = json!({"os-getVNCConsole": {"type": "novnc"}});
    let message = cloud.post(&action, "alice", "2.1", vnc).await.error(400);
    assert_eq!(message, "Unavailable console type novnc.");

    for (protocol, kind, version, expected) in [
        ("vnc", "novnc", "2.6", "Unavailable console type novnc."),
        (
            "spice",
            "spice-html5",
            "2.6",
            "Unavailable console type spice-html5.",
        ),
        ("rdp", "rdp-html5", "2.6", "Unavailable console type rdp."),
        ("mks", "webmks", "2.8", "Unavailable console type webmks."),
        ("serial", "novnc", "2.6", "Invalid console type novnc"),
    ] {
        let body = json!({"remote_console": {"protocol": protocol, "type": kind}});
        let message = cloud.post(&path, "alice", version, body).await.error(400);
        assert_eq!(message, expected, "{protocol}/{kind}");
    }
    // The schema: mks only from 2.8, nothing unknown, both members required.
    for body in [
        json!({"remote_console": {"protocol": "mks", "type": "webmks"}}),
        json!({"remote_console": {"protocol": "telnet", "type": "serial"}}),
        json!({"remote_console": {"protocol": "serial"}}),
        json!({"remote_console": {"protocol": "serial", "type": "serial", "x": 1}}),
        json!({"remote_console": "serial"}),
        json!({"console": {}}),
    ] {
        cloud.post(&path, "alice", "2.6", body).await.error(400);
    }

    // Another project's server does not exist; a reader may not connect.
    let message = cloud.post(&path, "bob", "2.6", serial()).await.error(404);
    assert_eq!(message, format!("Instance {id} could not be found."));
    let message = cloud
        .post(&path, "reader", "2.6", serial())
        .await
        .error(403);
    assert!(
        message.contains("os_compute_api:os-remote-consoles"),
        "{message}"
    );
    cloud
        .post(&path, "carol", "2.6", serial())
        .await
        .expect(200);
    cloud
        .post(&path, "admin", "2.6", serial())
        .await
        .expect(200);
    cloud
        .send(Method::POST, &path, None, Some("2.6"), Some(serial()))
        .await
        .error(401);

    // A stopped server is not ready.
    cloud
        .post(&action, "alice", "2.1", json!({"os-stop": null}))
        .await
        .expect(202);
    cloud.wait_for(&id, "SHUTOFF").await;
    let message = cloud.post(&path, "alice", "2.6", serial()).await.error(409);
    assert_eq!(message, format!("Instance {id} is not ready"));
    let message = cloud.post(&action, "alice", "2.1", old).await.error(409);
    assert_eq!(message, format!("Instance {id} is not ready"));
}

/// Serves the cloud's router on a loopback port, answering its address.
async fn serve(cloud: &Cloud) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = cloud.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    address
}

/// The path and query of a console URL, at `address`.
fn at(address: std::net::SocketAddr, url: &str) -> String {
    let path = url.strip_prefix("ws://127.0.0.1:8080").unwrap();
    format!("ws://{address}{path}")
}

/// Reads binary frames until what came ends with `end`.
async fn read_until<S>(socket: &mut S, end: &str) -> String
where
    S: StreamExt<Item = Result<Message, tungstenite::Error>> + Unpin,
{
    let mut seen = String::new();
    while !seen.ends_with(end) {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .unwrap_or_else(|_| panic!("no {end:?} after {seen:?}"))
            .expect("the console closed")
            .unwrap();
        match message {
            Message::Binary(bytes) => seen.push_str(&String::from_utf8_lossy(&bytes)),
            other => panic!("unexpected frame {other:?}"),
        }
    }
    seen
}

#[tokio::test]
async fn the_serial_proxy_relays_the_console_for_its_token_only() {
    let (cloud, id) = cloud_with_server().await;
    let address = serve(&cloud).await;
    let path = format!("/v2.1/servers/{id}/remote-consoles");
    let reply = cloud
        .post(&path, "alice", "2.6", serial())
        .await
        .expect(200);
    let url = at(address, reply["remote_console"]["url"].as_str().unwrap());

    // websockify's clients ask for the binary subprotocol; no X-Auth-Token.
    let mut request = url.as_str().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "binary".parse().unwrap());
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "binary");
    read_until(&mut socket, "vm login: ").await;
    socket.send(Message::text("root\r")).await.unwrap();
    read_until(&mut socket, "root\r\nvm login: ").await;
    socket.send(Message::binary(b"x\n".to_vec())).await.unwrap();
    read_until(&mut socket, "x\r\nvm login: ").await;
    socket.close(None).await.unwrap();

    // The token may be used again until it expires; no subprotocol is fine.
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    read_until(&mut socket, "login: ").await;
    drop(socket);

    // A browser on another site may not use it.
    let mut request = url.as_str().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", "http://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("a foreign origin was let in: {other:?}"),
    }
    let mut request = url.as_str().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", "http://127.0.0.1:9999".parse().unwrap());
    tokio_tungstenite::connect_async(request).await.unwrap();

    // Unknown tokens and none at all are refused before the upgrade.
    for bad in [
        format!("ws://{address}/compute/serial-console?token=forged"),
        format!("ws://{address}/compute/serial-console"),
    ] {
        match tokio_tungstenite::connect_async(bad.as_str()).await {
            Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
            other => panic!("{bad} was let in: {other:?}"),
        }
    }
    // What is not a websocket is refused in Nova's format.
    let reply = cloud
        .send(
            Method::GET,
            "/serial-console?token=forged",
            None,
            None,
            None,
        )
        .await;
    let message = reply.error(400);
    assert_eq!(message, "Connection header did not include 'upgrade'");

    // A token is bound to its server: once it is gone, so is its console.
    cloud
        .delete(&format!("/v2.1/servers/{id}"), "alice", "2.1")
        .await
        .expect(204);
    cloud.wait_gone(&id).await;
    match tokio_tungstenite::connect_async(url.as_str()).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("a deleted server's console opened: {other:?}"),
    }
}

#[tokio::test]
async fn console_tokens_expire_after_ten_minutes() {
    let (cloud, id) = cloud_with_server().await;
    let address = serve(&cloud).await;
    let path = format!("/v2.1/servers/{id}/remote-consoles");
    let reply = cloud
        .post(&path, "alice", "2.6", serial())
        .await
        .expect(200);
    let url = at(address, reply["remote_console"]["url"].as_str().unwrap());

    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(599)).await;
    tokio::time::resume();
    let (socket, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    drop(socket);

    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(2)).await;
    tokio::time::resume();
    match tokio_tungstenite::connect_async(url.as_str()).await {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401);
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                .into_owned();
            assert!(body.contains("is invalid or has expired"), "{body}");
        }
        other => panic!("an expired token was let in: {other:?}"),
    }
}
