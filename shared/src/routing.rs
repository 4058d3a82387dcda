//! A function's routes, served from each handler's documented path and methods, with the OpenAPI
//! documentation built only when asked for — and linked only where it can be asked for.
//!
//! `utoipa_axum`'s `routes!` builds every operation and schema of a group when the router is
//! built, so a function that only serves paid for its whole documentation at every cold start
//! (about 2.5 MB of peak memory for `campaigns`). [`api_routes!`](crate::api_routes) reads only
//! what serving needs — the `#[utoipa::path]` item's `path()` and `methods()`. The documentation
//! itself (operations, schemas, the `ToSchema` code of every type) exists only with this crate's
//! `openapi` feature, which `make openapi` (`gobi-infra`) and the tests turn on through each
//! function's own `openapi` feature: there each group keeps a builder that [`ApiRouter::openapi`]
//! runs. A function's own build (`cargo lambda build`, `make bench`) leaves it out, so its binary
//! carries none of that code.

use axum::handler::Handler;
use axum::routing::MethodRouter;
use tower::Layer;
use utoipa::openapi::HttpMethod;
use utoipa_axum::PathItemExt;
#[cfg(feature = "openapi")]
use utoipa_axum::router::OpenApiRouter;

#[doc(hidden)]
pub use utoipa::Path as __Path;
#[doc(hidden)]
pub use utoipa_axum::paste as __paste;
#[doc(hidden)]
#[cfg(feature = "openapi")]
pub use utoipa_axum::router::OpenApiRouter as __OpenApiRouter;
#[doc(hidden)]
#[cfg(feature = "openapi")]
pub use utoipa_axum::routes as __documented_routes;

/// Builds the documentation of one group of handlers (the `routes!` of `utoipa_axum`).
#[cfg(feature = "openapi")]
type DocBuilder<S> = fn() -> OpenApiRouter<S>;

/// The handlers of one path (what [`api_routes!`](crate::api_routes) makes): served by method,
/// documented on demand.
pub struct ApiRoute<S> {
    path: Option<String>,
    method_router: MethodRouter<S>,
    #[cfg(feature = "openapi")]
    docs: DocBuilder<S>,
}

impl<S: Clone + Send + Sync + 'static> ApiRoute<S> {
    /// A group that keeps the builder of its documentation.
    #[doc(hidden)]
    #[cfg(feature = "openapi")]
    pub fn documented(docs: DocBuilder<S>) -> Self {
        Self {
            path: None,
            method_router: MethodRouter::new(),
            docs,
        }
    }

    /// A group that only serves (built without the `openapi` feature).
    #[doc(hidden)]
    #[cfg(not(feature = "openapi"))]
    pub fn undocumented() -> Self {
        Self {
            path: None,
            method_router: MethodRouter::new(),
        }
    }

    /// Serve `handler` at its documented `path` for each documented method. Every handler of a
    /// group shares one path (as in `routes!`); another is a programming error and panics when
    /// the router is built, which every test does.
    #[doc(hidden)]
    pub fn serve<H, T>(mut self, path: String, methods: Vec<HttpMethod>, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        match &self.path {
            Some(first) => assert_eq!(
                first, &path,
                "one api_routes! group serves one path: {first} and {path}"
            ),
            None => self.path = Some(path),
        }
        for method in methods {
            self.method_router = self
                .method_router
                .on(method.to_method_filter(), handler.clone());
        }
        self
    }

    /// A layer on this group's handlers alone (a body limit on an upload route).
    pub fn layer<L>(self, layer: L) -> Self
    where
        L: Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service: tower::Service<axum::extract::Request> + Clone + Send + Sync + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Response:
            axum::response::IntoResponse + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Error:
            Into<std::convert::Infallible> + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Future: Send + 'static,
    {
        Self {
            method_router: self.method_router.layer(layer),
            ..self
        }
    }
}

/// A function's routes: the axum router it serves and the builders of its documentation.
pub struct ApiRouter<S> {
    router: axum::Router<S>,
    #[cfg(feature = "openapi")]
    docs: Vec<DocBuilder<S>>,
}

impl<S: Clone + Send + Sync + 'static> Default for ApiRouter<S> {
    fn default() -> Self {
        Self {
            router: axum::Router::new(),
            #[cfg(feature = "openapi")]
            docs: Vec::new(),
        }
    }
}

impl<S: Clone + Send + Sync + 'static> ApiRouter<S> {
    /// Add one group made by [`api_routes!`](crate::api_routes).
    pub fn routes(mut self, route: ApiRoute<S>) -> Self {
        let path = route.path.expect("api_routes! names at least one handler");
        self.router = self.router.route(&path, route.method_router);
        #[cfg(feature = "openapi")]
        self.docs.push(route.docs);
        self
    }

    /// Add every route of `other` (a module's part of the function).
    pub fn merge(mut self, other: ApiRouter<S>) -> Self {
        self.router = self.router.merge(other.router);
        #[cfg(feature = "openapi")]
        self.docs.extend(other.docs);
        self
    }

    /// The router to serve, given the function's state. Builds no documentation.
    pub fn with_state(self, state: S) -> axum::Router {
        self.router.with_state(state)
    }

    /// The OpenAPI part these routes document: every group's operations and schemas.
    #[cfg(feature = "openapi")]
    pub fn openapi(&self) -> utoipa::openapi::OpenApi {
        self.docs
            .iter()
            .fold(OpenApiRouter::<S>::default(), |all, docs| all.merge(docs()))
            .into_openapi()
    }
}

/// `api_routes!(list_things, create_thing)`: the handlers of one path, each a
/// `#[utoipa::path]` function (a module path such as `events::report_events` works too), for
/// [`ApiRouter::routes`]. Serving reads each handler's documented path and methods; with the
/// `openapi` feature the group also keeps `utoipa_axum::routes!` of the same handlers, run by
/// [`ApiRouter::openapi`].
#[macro_export]
macro_rules! api_routes {
    ( $( $($segment:ident)::+ ),+ $(,)? ) => {{
        let route = $crate::__api_route!( $( $($segment)::+ ),+ );
        $(
            let route = route.serve(
                <$crate::api_routes!(@doc [] $($segment)::+) as $crate::routing::__Path>::path(),
                <$crate::api_routes!(@doc [] $($segment)::+) as $crate::routing::__Path>::methods(),
                $($segment)::+,
            );
        )+
        route
    }};
    (@doc [$($module:ident)*] $head:ident :: $($rest:tt)+) => {
        $crate::api_routes!(@doc [$($module)* $head] $($rest)+)
    };
    (@doc [$($module:ident)*] $handler:ident) => {
        $crate::routing::__paste! { $($module ::)* [<__path_ $handler>] }
    };
}

/// A new group of [`api_routes!`](crate::api_routes): with its documentation's builder when this
/// crate has the `openapi` feature (the macro is chosen here, where the feature is known, not in
/// the function that expands it).
#[doc(hidden)]
#[cfg(feature = "openapi")]
#[macro_export]
macro_rules! __api_route {
    ( $( $($segment:ident)::+ ),+ ) => {
        $crate::routing::ApiRoute::documented(|| {
            $crate::routing::__OpenApiRouter::default()
                .routes($crate::routing::__documented_routes!( $( $($segment)::+ ),+ ))
        })
    };
}

/// A new group of [`api_routes!`](crate::api_routes), serving only: built without the `openapi`
/// feature, no documentation code is expanded, so none is linked.
#[doc(hidden)]
#[cfg(not(feature = "openapi"))]
#[macro_export]
macro_rules! __api_route {
    ( $( $($segment:ident)::+ ),+ ) => {
        $crate::routing::ApiRoute::undocumented()
    };
}
