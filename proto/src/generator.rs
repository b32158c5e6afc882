//! The service generator: per service, a module of method paths, a server
//! module (blocking and async traits whose methods default to UNIMPLEMENTED,
//! and the functions that serve an implementation) and a client module
//! (blocking and async typed stubs).

use std::path::PathBuf;

use prost_build::{Method, Service};

use crate::docs::{item_doc, write_doc};

/// What to generate.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) server: bool,
    pub(crate) client: bool,
    pub(crate) blocking: bool,
    pub(crate) asynchronous: bool,
    /// The path of the service crate in generated code
    /// (`::grpc_sansio_service`).
    pub(crate) service: String,
    /// The encoded descriptor set, for `FILE_DESCRIPTOR_SET`.
    pub(crate) descriptor_set: Option<PathBuf>,
}

/// prost-build's hook.
#[derive(Debug)]
pub(crate) struct Generator {
    pub(crate) options: Options,
}

impl prost_build::ServiceGenerator for Generator {
    fn generate(&mut self, service: Service, buf: &mut String) {
        buf.push_str(&render_service(&self.options, &service));
    }

    fn finalize_package(&mut self, _package: &str, buf: &mut String) {
        if let Some(path) = &self.options.descriptor_set {
            buf.push_str(&render_descriptor_set(path));
        }
    }
}

/// The `FILE_DESCRIPTOR_SET` constant of a package with services.
pub(crate) fn render_descriptor_set(path: &std::path::Path) -> String {
    let mut out = String::new();
    write_doc(
        &mut out,
        0,
        &[
            "The encoded `google.protobuf.FileDescriptorSet` of the compiled `.proto`".into(),
            "files and their imports (without source info), for server reflection.".into(),
        ],
    );
    out.push_str(&format!(
        "pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!({:?});\n",
        path.to_string_lossy()
    ));
    out
}

/// RPC names are not Rust API names: `New` or `FromCache` become methods that
/// clippy's naming conventions would flag.
const ALLOW_RPC_NAMES: &str =
    "    #[allow(clippy::new_ret_no_self, clippy::wrong_self_convention, clippy::should_implement_trait)]\n";

/// The four kinds of RPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Unary,
    ServerStreaming,
    ClientStreaming,
    Bidi,
}

impl Kind {
    fn of(method: &Method) -> Kind {
        match (method.client_streaming, method.server_streaming) {
            (false, false) => Kind::Unary,
            (false, true) => Kind::ServerStreaming,
            (true, false) => Kind::ClientStreaming,
            (true, true) => Kind::Bidi,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::Unary => "a unary call",
            Kind::ServerStreaming => "a server-streaming call",
            Kind::ClientStreaming => "a client-streaming call",
            Kind::Bidi => "a bidirectional-streaming call",
        }
    }
}

/// Names derived for one method.
struct MethodNames {
    /// The trait method (prost's snake case, maybe a raw identifier).
    ident: String,
    /// The stub method: `ident`, renamed if it collides with a stub's own.
    stub: String,
    /// The path constant.
    constant: String,
    /// `/package.Service/Method`.
    path: String,
}

fn method_names(service_full: &str, method: &Method) -> MethodNames {
    let ident = method.name.clone();
    let bare = ident.strip_prefix("r#").unwrap_or(&ident).to_owned();
    let stub = if matches!(bare.as_str(), "new" | "from_client" | "client") {
        format!("{bare}_rpc")
    } else {
        ident.clone()
    };
    let mut constant = bare.to_ascii_uppercase();
    if constant == "SERVICE_NAME" {
        constant.push_str("_METHOD");
    }
    MethodNames {
        stub,
        ident,
        constant,
        path: format!("/{service_full}/{}", method.proto_name),
    }
}

/// `UserService` → `user_service`.
pub(crate) fn to_snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1);
            let boundary = match prev {
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_uppercase() => next.is_some_and(|n| n.is_lowercase()),
                _ => false,
            };
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A message type as seen from the generated submodules (one level below the
/// package's module).
fn type_path(rust_type: &str) -> String {
    if rust_type == "()" || rust_type.starts_with("::") || rust_type.starts_with("crate::") {
        rust_type.to_owned()
    } else {
        format!("super::{rust_type}")
    }
}

/// Common paths in generated code.
struct Paths {
    status: String,
    ctx: String,
    service: String,
}

impl Paths {
    fn new(service: &str) -> Paths {
        Paths {
            status: format!("{service}::Status"),
            ctx: format!("{service}::CallContext"),
            service: service.to_owned(),
        }
    }

    fn result(&self, ok: &str) -> String {
        format!("::core::result::Result<{ok}, {}>", self.status)
    }
}

/// All the code for one service.
pub(crate) fn render_service(options: &Options, service: &Service) -> String {
    let full = if service.package.is_empty() {
        service.proto_name.clone()
    } else {
        format!("{}.{}", service.package, service.proto_name)
    };
    let snake = to_snake(&service.name);
    let paths_mod = format!("{snake}_paths");
    let names: Vec<MethodNames> = service
        .methods
        .iter()
        .map(|m| method_names(&full, m))
        .collect();
    let p = Paths::new(&options.service);
    let mut out = String::new();

    render_paths(&mut out, service, &full, &paths_mod, &names);
    if options.server && (options.blocking || options.asynchronous) {
        render_server(&mut out, options, &p, service, &full, &snake, &names);
    }
    if options.client && (options.blocking || options.asynchronous) {
        render_client(&mut out, options, &p, service, &full, &snake, &names);
    }
    out
}

fn render_paths(
    out: &mut String,
    service: &Service,
    full: &str,
    module: &str,
    names: &[MethodNames],
) {
    write_doc(
        out,
        0,
        &[format!(
            "The name of `{full}` and the paths of its methods."
        )],
    );
    out.push_str(&format!("pub mod {module} {{\n"));
    write_doc(
        out,
        1,
        &[format!("The full name of the service: `{full}`.")],
    );
    out.push_str(&format!("    pub const SERVICE_NAME: &str = {full:?};\n"));
    for (method, n) in service.methods.iter().zip(names) {
        write_doc(
            out,
            1,
            &[format!(
                "The path of `{}`, {}: `{}`.",
                method.proto_name,
                Kind::of(method).describe(),
                n.path
            )],
        );
        out.push_str(&format!(
            "    pub const {}: &str = {:?};\n",
            n.constant, n.path
        ));
    }
    out.push_str("}\n");
}

/// The parameters (after `&self, ctx`) and the success type of a trait method.
fn server_signature(
    p: &Paths,
    kind: Kind,
    asynchronous: bool,
    input: &str,
    output: &str,
) -> (String, Vec<&'static str>, String) {
    let prefix = if asynchronous { "Async" } else { "" };
    let s = &p.service;
    match kind {
        Kind::Unary => (
            format!("request: {input}"),
            vec!["request"],
            output.to_owned(),
        ),
        Kind::ServerStreaming => (
            format!("request: {input}, responses: {s}::{prefix}ResponseSink<'_, {output}>"),
            vec!["request", "responses"],
            "()".to_owned(),
        ),
        Kind::ClientStreaming => (
            format!("requests: {s}::{prefix}RequestStream<'_, {input}>"),
            vec!["requests"],
            output.to_owned(),
        ),
        Kind::Bidi => (
            format!("stream: {s}::{prefix}BidiStream<'_, {input}, {output}>"),
            vec!["stream"],
            "()".to_owned(),
        ),
    }
}

fn builder_method(kind: Kind) -> &'static str {
    match kind {
        Kind::Unary => "unary",
        Kind::ServerStreaming => "server_streaming",
        Kind::ClientStreaming => "client_streaming",
        Kind::Bidi => "bidi_streaming",
    }
}

#[allow(clippy::too_many_arguments)]
fn render_server(
    out: &mut String,
    options: &Options,
    p: &Paths,
    service: &Service,
    full: &str,
    snake: &str,
    names: &[MethodNames],
) {
    let paths_mod = format!("super::{snake}_paths");
    let trait_name = &service.name;
    let async_trait = format!("Async{trait_name}");
    write_doc(
        out,
        0,
        &[
            format!("The server side of `{full}`: the traits to implement and the"),
            "functions that serve an implementation.".into(),
        ],
    );
    out.push_str(&format!("pub mod {snake}_server {{\n"));

    for asynchronous in [false, true] {
        if (asynchronous && !options.asynchronous) || (!asynchronous && !options.blocking) {
            continue;
        }
        let name = if asynchronous {
            &async_trait
        } else {
            trait_name
        };
        let flavour = if asynchronous {
            "Async flavour, for async adapters: methods return futures (implement them with `async fn`)."
        } else {
            "Blocking flavour, for blocking adapters: methods run on the call's thread and may block."
        };
        let doc = item_doc(
            &service.comments,
            &format!("The `{full}` service."),
            &[
                flavour.to_owned(),
                String::new(),
                "Every method has a default body that answers UNIMPLEMENTED, so a method".into(),
                "added to the `.proto` never breaks an existing implementation: override".into(),
                "the methods you serve.".into(),
            ],
        );
        write_doc(out, 1, &doc);
        out.push_str(ALLOW_RPC_NAMES);
        out.push_str(&format!(
            "    pub trait {name}: ::core::marker::Send + ::core::marker::Sync + 'static {{\n"
        ));
        for (method, n) in service.methods.iter().zip(names) {
            let kind = Kind::of(method);
            let input = type_path(&method.input_type);
            let output = type_path(&method.output_type);
            let (params, args, ok) = server_signature(p, kind, asynchronous, &input, &output);
            let doc = item_doc(
                &method.comments,
                &format!("The `{}` method.", method.proto_name),
                &[format!("`{}`, {}.", n.path, Kind::of(method).describe())],
            );
            write_doc(out, 2, &doc);
            let result = p.result(&ok);
            let ret = if asynchronous {
                format!("impl ::core::future::Future<Output = {result}> + ::core::marker::Send")
            } else {
                result
            };
            let unimplemented = format!(
                "::core::result::Result::Err({}::unimplemented({paths_mod}::{}))",
                p.service, n.constant
            );
            let body = if asynchronous {
                format!("::core::future::ready({unimplemented})")
            } else {
                unimplemented
            };
            out.push_str(&format!(
                "        fn {}(&self, ctx: &mut {}, {params}) -> {ret} {{\n            let _ = (ctx, {});\n            {body}\n        }}\n",
                n.ident,
                p.ctx,
                args.join(", ")
            ));
        }
        out.push_str("    }\n");

        // into_service / register
        let (service_type, router_type, into, register) = if asynchronous {
            (
                "AsyncService",
                "AsyncRouter",
                "into_async_service",
                "register_async",
            )
        } else {
            ("Service", "Router", "into_service", "register")
        };
        write_doc(
            out,
            1,
            &[format!(
                "Wraps an implementation of [`{name}`] as a service for a [`{router_type}`]({}::{router_type}).",
                p.service
            )],
        );
        out.push_str(&format!(
            "    pub fn {into}<T: {name}>(service: T) -> {}::{service_type} {{\n",
            p.service
        ));
        if service.methods.is_empty() {
            out.push_str(&format!(
                "        let _ = service;\n        {}::{service_type}::new({paths_mod}::SERVICE_NAME)\n    }}\n",
                p.service
            ));
        } else {
            out.push_str(&format!(
                "        let service = ::std::sync::Arc::new(service);\n        let mut built = {}::{service_type}::new({paths_mod}::SERVICE_NAME);\n",
                p.service
            ));
            for (method, n) in service.methods.iter().zip(names) {
                let kind = Kind::of(method);
                let input = type_path(&method.input_type);
                let output = type_path(&method.output_type);
                let (_, args, _) = server_signature(p, kind, asynchronous, &input, &output);
                let args = args.join(", ");
                let call = format!("service.{}(ctx, {args})", n.ident);
                let closure = if asynchronous {
                    format!(
                        "move |ctx, {args}| {{ let service = ::std::sync::Arc::clone(&service); ::std::boxed::Box::pin(async move {{ {call}.await }}) }}"
                    )
                } else {
                    format!("move |ctx, {args}| {call}")
                };
                out.push_str(&format!(
                    "        {{\n            let service = ::std::sync::Arc::clone(&service);\n            built = built.{}::<{input}, {output}, _>({:?}, {closure});\n        }}\n",
                    builder_method(kind),
                    method.proto_name
                ));
            }
            out.push_str("        built\n    }\n");
        }
        write_doc(
            out,
            1,
            &[format!(
                "Serves an implementation of [`{name}`] on `router`: `router.add({into}(service))`."
            )],
        );
        out.push_str(&format!(
            "    pub fn {register}<T: {name}>(router: &mut {}::{router_type}, service: T) {{\n        router.add({into}(service));\n    }}\n",
            p.service
        ));
    }
    out.push_str("}\n");
}

#[allow(clippy::too_many_arguments)]
fn render_client(
    out: &mut String,
    options: &Options,
    p: &Paths,
    service: &Service,
    full: &str,
    snake: &str,
    names: &[MethodNames],
) {
    let paths_mod = format!("super::{snake}_paths");
    let s = &p.service;
    write_doc(out, 0, &[format!("Typed clients of `{full}`.")]);
    out.push_str(&format!("pub mod {snake}_client {{\n"));
    for asynchronous in [false, true] {
        if (asynchronous && !options.asynchronous) || (!asynchronous && !options.blocking) {
            continue;
        }
        let (prefix, client_type, transport, aw, fn_kw) = if asynchronous {
            (
                "Async",
                "AsyncClient",
                "AsyncClientTransport",
                ".await",
                "async fn",
            )
        } else {
            ("", "Client", "ClientTransport", "", "fn")
        };
        let name = format!("{prefix}{}Client", service.name);
        let doc = item_doc(
            &service.comments,
            &format!("The `{full}` service."),
            &[
                format!(
                    "{} client of `{full}`: one method per RPC, taking the request (if",
                    if asynchronous { "Async" } else { "Blocking" }
                ),
                "one) and per-call [`RequestOptions`](".to_owned()
                    + s
                    + "::RequestOptions)"
                    + " (deadline, metadata, compression),",
                "or `None` for the client's defaults. A unary or client-streaming".into(),
                "call answers a [`Response`](".to_owned()
                    + s
                    + "::Response)"
                    + ": the message with the server's headers and trailers.",
            ],
        );
        write_doc(out, 1, &doc);
        out.push_str(&format!(
            "    #[derive(Debug, Clone)]\n    pub struct {name} {{\n        inner: {s}::{client_type},\n    }}\n"
        ));
        out.push_str(ALLOW_RPC_NAMES);
        out.push_str(&format!("    impl {name} {{\n"));
        write_doc(
            out,
            2,
            &["A client over `transport` (an adapter's channel), with no interceptor.".into()],
        );
        out.push_str(&format!(
            "        pub fn new(transport: impl {s}::{transport} + 'static) -> Self {{\n            Self::from_client({s}::{client_type}::new(transport))\n        }}\n"
        ));
        write_doc(
            out,
            2,
            &[
                "A client over a configured typed client (interceptors, clock, default options)."
                    .into(),
            ],
        );
        out.push_str(&format!(
            "        pub fn from_client(inner: {s}::{client_type}) -> Self {{\n            Self {{ inner }}\n        }}\n"
        ));
        write_doc(out, 2, &["The typed client underneath.".into()]);
        out.push_str(&format!(
            "        pub fn client(&self) -> &{s}::{client_type} {{\n            &self.inner\n        }}\n"
        ));
        for (method, n) in service.methods.iter().zip(names) {
            let kind = Kind::of(method);
            let input = type_path(&method.input_type);
            let output = type_path(&method.output_type);
            let path = format!("{paths_mod}::{}", n.constant);
            let options =
                format!("impl ::core::convert::Into<::core::option::Option<{s}::RequestOptions>>");
            let (request_param, ok, call) = match kind {
                Kind::Unary => (
                    format!(", request: &{input}"),
                    format!("{s}::Response<{output}>"),
                    format!("self.inner.unary({path}, request, options){aw}"),
                ),
                Kind::ServerStreaming => (
                    format!(", request: &{input}"),
                    format!("{s}::{prefix}ResponseStream<{output}>"),
                    format!("self.inner.server_streaming({path}, request, options){aw}"),
                ),
                Kind::ClientStreaming => (
                    String::new(),
                    format!("{s}::{prefix}ClientStreamingCall<{input}, {output}>"),
                    format!("self.inner.client_streaming({path}, options){aw}"),
                ),
                Kind::Bidi => (
                    String::new(),
                    format!("{s}::{prefix}BidiCall<{input}, {output}>"),
                    format!("self.inner.bidi_streaming({path}, options){aw}"),
                ),
            };
            let doc = item_doc(
                &method.comments,
                &format!("Calls `{}`.", method.proto_name),
                &[format!(
                    "`{}`, {}; `options` (or `None`) are laid over the client's defaults.",
                    n.path,
                    kind.describe()
                )],
            );
            write_doc(out, 2, &doc);
            out.push_str(&format!(
                "        pub {fn_kw} {}(&self{request_param}, options: {options}) -> {} {{\n            {call}\n        }}\n",
                n.stub,
                p.result(&ok),
            ));
        }
        out.push_str("    }\n");
    }
    out.push_str("}\n");
}

#[cfg(test)]
mod tests {
    use prost_build::Comments;

    use super::*;

    fn comments(leading: &[&str]) -> Comments {
        Comments {
            leading_detached: vec![],
            leading: leading.iter().map(|s| s.to_string()).collect(),
            trailing: vec![],
        }
    }

    fn method(name: &str, proto: &str, cs: bool, ss: bool) -> Method {
        Method {
            name: name.into(),
            proto_name: proto.into(),
            comments: comments(&[]),
            input_type: "Req".into(),
            output_type: "::prost_types::Timestamp".into(),
            input_proto_type: ".pkg.Req".into(),
            output_proto_type: ".google.protobuf.Timestamp".into(),
            options: Default::default(),
            client_streaming: cs,
            server_streaming: ss,
        }
    }

    fn options() -> Options {
        Options {
            server: true,
            client: true,
            blocking: true,
            asynchronous: true,
            service: "::grpc_sansio_service".into(),
            descriptor_set: None,
        }
    }

    fn service(methods: Vec<Method>) -> Service {
        Service {
            name: "HTTPThing".into(),
            proto_name: "HTTPThing".into(),
            package: "pkg.v1".into(),
            comments: comments(&[" A thing."]),
            methods,
            options: Default::default(),
        }
    }

    #[test]
    fn snake_case() {
        assert_eq!(to_snake("UserService"), "user_service");
        assert_eq!(to_snake("HTTPThing"), "http_thing");
        assert_eq!(to_snake("Chat"), "chat");
        assert_eq!(to_snake("V2Api"), "v2_api");
    }

    #[test]
    fn type_paths_are_relative_to_the_package_module() {
        assert_eq!(type_path("UserRequest"), "super::UserRequest");
        assert_eq!(type_path("super::other::Msg"), "super::super::other::Msg");
        assert_eq!(
            type_path("::prost_types::Timestamp"),
            "::prost_types::Timestamp"
        );
        assert_eq!(type_path("()"), "()");
    }

    /// The generated code compiles in `proto/example` (including these names,
    /// from `edge.proto`); here only the names are checked.
    #[test]
    fn generated_code_names_things() {
        let code = render_service(
            &options(),
            &service(vec![
                method("get", "Get", false, false),
                method("r#type", "Type", false, true),
                method("new", "New", true, false),
                method("service_name", "ServiceName", true, true),
            ]),
        );
        for expected in [
            "pub mod http_thing_paths {",
            "pub const SERVICE_NAME: &str = \"pkg.v1.HTTPThing\";",
            "pub const GET: &str = \"/pkg.v1.HTTPThing/Get\";",
            "pub const TYPE: &str = \"/pkg.v1.HTTPThing/Type\";",
            "pub const SERVICE_NAME_METHOD: &str = \"/pkg.v1.HTTPThing/ServiceName\";",
            "pub trait HTTPThing:",
            "pub trait AsyncHTTPThing:",
            "fn r#type(&self",
            "pub fn r#type(&self, request: &super::Req, options",
            "pub fn new_rpc(&self, options",
            "pub async fn get(&self, request: &super::Req, options",
            "pub fn into_service<T: HTTPThing>",
            "pub fn register_async<T: AsyncHTTPThing>",
            "/// A thing.",
        ] {
            assert!(code.contains(expected), "missing {expected:?} in\n{code}");
        }
    }

    #[test]
    fn flavours_and_sides_can_be_left_out() {
        let blocking_server = render_service(
            &Options {
                client: false,
                asynchronous: false,
                ..options()
            },
            &service(vec![method("get", "Get", false, false)]),
        );
        assert!(blocking_server.contains("pub trait HTTPThing"));
        assert!(!blocking_server.contains("AsyncHTTPThing"));
        assert!(!blocking_server.contains("_client"));
        assert!(!code_has_with_variants(&render_service(
            &options(),
            &service(vec![method("get", "Get", false, false)])
        )));

        let empty = render_service(&options(), &service(vec![]));
        assert!(empty.contains("let _ = service;"));
    }

    /// One stub method per RPC: no `…_with` twin.
    fn code_has_with_variants(code: &str) -> bool {
        code.contains("fn get_with(")
    }

    #[test]
    fn descriptor_set_constant() {
        let code = render_descriptor_set(std::path::Path::new("/out/fds.bin"));
        assert!(code.contains("include_bytes!(\"/out/fds.bin\")"));
    }
}
