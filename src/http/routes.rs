//! Every route, written once: its path template, its method and its metrics label. The warp
//! filters match paths through it ([`Route::path`] and friends), and the request log's label
//! and the 405's `Allow` header read it ([`route_of`]).

use warp::path::FullPath;
use warp::{Filter, Rejection};

/// One route: `{name}` segments match any non-empty segment, raw (not percent-decoded).
#[derive(Debug)]
pub struct Route {
    pub template: &'static str,
    /// Its methods, as a 405's `Allow` lists them (`GET, POST`).
    pub method: &'static str,
    /// The metrics label (the template, unless routes share one).
    pub label: &'static str,
    /// Whether any further segments belong to it too (Swagger UI's assets).
    prefix: bool,
}

impl Route {
    const fn new(template: &'static str, method: &'static str) -> Self {
        Self {
            template,
            method,
            label: template,
            prefix: false,
        }
    }
}

pub const CREATE_CHAT: Route = Route::new("/chat", "POST");
pub const GET_CHAT: Route = Route::new("/chat/{chat_id}", "GET");
pub const CHAT_MESSAGES: Route = Route::new("/chat/{chat_id}/messages", "GET, POST");
pub const ADD_PARTICIPANT: Route = Route::new("/chat/{chat_id}/participants", "POST");
pub const REMOVE_PARTICIPANT: Route = Route::new("/chat/{chat_id}/participants/{user_id}", "DELETE");
pub const CREATE_USER: Route = Route::new("/user", "POST");
pub const GET_USER: Route = Route::new("/user/{user_id}", "GET");
pub const USER_CHATS: Route = Route::new("/user/{user_id}/chats", "GET");
pub const WEBSOCKET: Route = Route::new("/ws/{user_id}", "GET");
pub const HEALTH: Route = Route::new("/health", "GET");
pub const READY: Route = Route::new("/ready", "GET");
pub const METRICS: Route = Route::new("/metrics", "GET");
pub const OPENAPI: Route = Route::new("/openapi.json", "GET");
pub const ASYNCAPI: Route = Route::new("/asyncapi.json", "GET");
pub const DOCS: Route = Route {
    prefix: true,
    ..Route::new("/docs", "GET")
};
pub const DEMO_PAGE: Route = Route::new("/", "GET");
pub const DEMO_JS: Route = Route {
    label: "/demo",
    ..Route::new("/demo/app.js", "GET")
};
pub const DEMO_CSS: Route = Route {
    label: "/demo",
    ..Route::new("/demo/style.css", "GET")
};

/// The table.
pub const ROUTES: [&Route; 18] = [
    &CREATE_CHAT,
    &GET_CHAT,
    &CHAT_MESSAGES,
    &ADD_PARTICIPANT,
    &REMOVE_PARTICIPANT,
    &CREATE_USER,
    &GET_USER,
    &USER_CHATS,
    &WEBSOCKET,
    &HEALTH,
    &READY,
    &METRICS,
    &OPENAPI,
    &ASYNCAPI,
    &DOCS,
    &DEMO_PAGE,
    &DEMO_JS,
    &DEMO_CSS,
];

impl Route {
    /// The `{…}` segments of `path` if it is this route's path (one trailing slash allowed,
    /// as with warp's `path!`; no empty segment).
    pub fn params<'p>(&self, path: &'p str) -> Option<Vec<&'p str>> {
        if self.template == "/" {
            return (path == "/").then(Vec::new);
        }
        let path = path.strip_suffix('/').unwrap_or(path);
        let mut segs = path.strip_prefix('/')?.split('/');
        let mut params = Vec::new();
        for t in self.template[1..].split('/') {
            let s = segs.next().filter(|s| !s.is_empty())?;
            if t.starts_with('{') {
                params.push(s);
            } else if t != s {
                return None;
            }
        }
        let rest_ok = if self.prefix {
            segs.all(|s| !s.is_empty())
        } else {
            segs.next().is_none()
        };
        rest_ok.then_some(params)
    }

    /// A filter that passes requests on this route's path (any method), extracting its
    /// parameters; others are a 404 rejection.
    pub fn path(&'static self) -> impl Filter<Extract = (Vec<String>,), Error = Rejection> + Clone {
        warp::path::full().and_then(move |full: FullPath| async move {
            match self.params(full.as_str()) {
                Some(p) => Ok(p.into_iter().map(String::from).collect()),
                None => Err(warp::reject::not_found()),
            }
        })
    }

    /// [`Route::path`] for a route without parameters.
    pub fn path0(&'static self) -> impl Filter<Extract = (), Error = Rejection> + Clone {
        self.path().map(drop).untuple_one()
    }

    /// [`Route::path`] for a route with one parameter.
    pub fn path1(&'static self) -> impl Filter<Extract = (String,), Error = Rejection> + Clone {
        self.path().map(|mut p: Vec<String>| p.swap_remove(0))
    }

    /// [`Route::path`] for a route with two parameters.
    pub fn path2(&'static self) -> impl Filter<Extract = (String, String), Error = Rejection> + Clone {
        self.path()
            .map(|mut p: Vec<String>| {
                let second = p.swap_remove(1);
                (p.swap_remove(0), second)
            })
            .untuple_one()
    }
}

/// The route `path` belongs to (one route per path: its methods are the 405's `Allow`).
pub fn route_of(path: &str) -> Option<&'static Route> {
    ROUTES.into_iter().find(|r| r.params(path).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(path: &str) -> Option<(&'static str, &'static str)> {
        route_of(path).map(|r| (r.label, r.method))
    }

    #[test]
    fn route_table() {
        let some = |l: &'static str, m: &'static str| Some((l, m));
        assert_eq!(of("/chat"), some("/chat", "POST"));
        assert_eq!(
            of("/chat/c1/participants/u1"),
            some("/chat/{chat_id}/participants/{user_id}", "DELETE")
        );
        assert_eq!(of("/user/u1/chats"), some("/user/{user_id}/chats", "GET"));
        assert_eq!(
            of("/chat/c1/messages"),
            some("/chat/{chat_id}/messages", "GET, POST")
        );
        assert_eq!(of("/chat/"), some("/chat", "POST"));
        assert_eq!(of("/docs/index.css"), some("/docs", "GET"));
        assert_eq!(of("/docs"), some("/docs", "GET"));
        assert_eq!(of("/demo/app.js"), some("/demo", "GET"));
        assert_eq!(of("/demo/x.js"), None);
        assert_eq!(of("/chat//x"), None);
        assert_eq!(of("/docs//x"), None);
        assert_eq!(of("/"), some("/", "GET"));
        assert_eq!(of("//"), None);
        assert_eq!(of("/nope"), None);
        assert_eq!(of("/chat/a/b"), None);
    }

    #[test]
    fn params_are_the_raw_segments() {
        assert_eq!(
            REMOVE_PARTICIPANT.params("/chat/a%40b/participants/u/"),
            Some(vec!["a%40b", "u"])
        );
        assert_eq!(CREATE_CHAT.params("/chat"), Some(vec![]));
        assert_eq!(GET_CHAT.params("/chat"), None);
    }

    /// No two routes share a path (so a 405's `Allow` is one route's methods), and every path
    /// of the OpenAPI document is in the table with the same methods.
    #[test]
    fn the_openapi_paths_are_in_the_table() {
        use utoipa::OpenApi;
        for r in ROUTES {
            let same = ROUTES.iter().filter(|o| o.template == r.template).count();
            assert_eq!(same, 1, "{} twice", r.template);
        }
        let doc = crate::http::docs::ApiDoc::openapi();
        for (path, item) in &doc.paths.paths {
            let methods = [("GET", &item.get), ("POST", &item.post), ("DELETE", &item.delete)];
            for (method, op) in methods {
                if op.is_some() {
                    assert!(
                        ROUTES
                            .iter()
                            .any(|r| r.template == path && r.method.split(", ").any(|m| m == method)),
                        "{method} {path} is documented but not in the route table"
                    );
                }
            }
        }
    }
}
