//! The demo page at `/`: served as HTML, links to the API docs, and every asset it references is
//! served with its content type. (Its behaviour in a browser is tested by `scripts/e2e.sh`.)

use reqwest::Method;

use crate::helpers::{TIMEOUT, TestApp};

/// Sends `method path`; returns the status, the `content-type` and `allow` headers, and the body.
async fn fetch(app: &TestApp, method: Method, path: &str) -> (u16, String, String, String) {
    let resp = tokio::time::timeout(TIMEOUT, app.http.request(method, app.url(path)).send())
        .await
        .expect("request timed out")
        .unwrap();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map_or(String::new(), |v| v.to_str().unwrap().to_string())
    };
    let (ctype, allow) = (header("content-type"), header("allow"));
    let status = resp.status().as_u16();
    (status, ctype, allow, resp.text().await.unwrap())
}

/// The values of `attr="..."` in `html`, in order.
fn attr_values<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    let needle = format!("{attr}=\"");
    html.match_indices(&needle)
        .map(|(i, _)| {
            let rest = &html[i + needle.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect()
}

/// `GET /` is the page: HTML, with a link to `/docs`.
#[tokio::test]
async fn root_serves_the_page_with_a_docs_link() {
    let app = TestApp::spawn().await;
    let (status, ctype, _, html) = fetch(&app, Method::GET, "/").await;
    assert_eq!(status, 200);
    assert_eq!(ctype, "text/html; charset=utf-8");
    assert!(html.starts_with("<!doctype html>"));
    assert!(attr_values(&html, "href").contains(&"/docs"), "no link to /docs");
}

/// Every local asset the page references is served, with the right content type.
#[tokio::test]
async fn referenced_assets_are_served_with_their_content_types() {
    let app = TestApp::spawn().await;
    let (_, _, _, html) = fetch(&app, Method::GET, "/").await;
    let mut assets: Vec<&str> = attr_values(&html, "src");
    // `/docs` is a page, and `data:` URLs (the empty favicon) are inline, not requests.
    let linked = attr_values(&html, "href").into_iter();
    assets.extend(linked.filter(|h| *h != "/docs" && !h.starts_with("data:")));
    assert!(!assets.is_empty());
    let (mut js, mut css) = (0, 0);
    for path in assets {
        assert!(path.starts_with('/'), "{path}: only local assets, no CDN");
        let want = match path.rsplit('.').next() {
            Some("js") => {
                js += 1;
                "text/javascript; charset=utf-8"
            }
            Some("css") => {
                css += 1;
                "text/css; charset=utf-8"
            }
            other => panic!("{path}: unexpected asset type {other:?}"),
        };
        let (status, ctype, _, body) = fetch(&app, Method::GET, path).await;
        assert_eq!((status, ctype.as_str()), (200, want), "{path}");
        assert!(!body.is_empty(), "{path} is empty");
    }
    assert_eq!((js, css), (1, 1));
}

/// The page's paths answer GET only: another method is a 405 with `Allow: GET`, and unknown
/// files beside the assets are 404.
#[tokio::test]
async fn page_paths_are_get_only() {
    let app = TestApp::spawn().await;
    for path in ["/", "/demo/app.js", "/demo/style.css"] {
        let (status, _, allow, body) = fetch(&app, Method::POST, path).await;
        assert_eq!((status, allow.as_str()), (405, "GET"), "POST {path}");
        assert!(body.contains("Method Not Allowed"));
    }
    let (status, _, _, _) = fetch(&app, Method::GET, "/demo/nope.js").await;
    assert_eq!(status, 404);
}
