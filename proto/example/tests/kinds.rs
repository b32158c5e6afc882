//! Generated code for a proto with all four kinds of RPC, blocking and async,
//! end to end through the router; partial implementations; and the v2 proto
//! (one more method) against the v1 implementation.

mod common;

use common::{AsyncMemoryChannel, MemoryChannel};
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio_example::kinds::{v1, v2};
use grpc_sansio_service::{
    AsyncBidiStream, AsyncRequestStream, AsyncResponseSink, AsyncRouter, BidiStream, CallContext,
    RequestOptions, RequestStream, ResponseSink, Router,
};
use prost::Message;

/// The v1 implementation, written once and applied to both versions of the
/// trait: the v2 trait has one more method, `Negate`, which this code has
/// never heard of, and it compiles all the same.
macro_rules! impl_kinds {
    ($pkg:ident) => {
        impl $pkg::kinds_server::Kinds for Full {
            fn double(
                &self,
                _ctx: &mut CallContext,
                request: $pkg::Item,
            ) -> Result<$pkg::Item, Status> {
                Ok($pkg::Item {
                    value: request.value * 2,
                    ..request
                })
            }

            fn expand(
                &self,
                ctx: &mut CallContext,
                request: $pkg::ExpandRequest,
                mut responses: ResponseSink<'_, $pkg::Item>,
            ) -> Result<(), Status> {
                ctx.set_header("x-count", &request.count.to_string())?;
                for i in 1..=request.count {
                    responses.send(&$pkg::Item {
                        name: format!("item-{i}"),
                        value: i64::from(i),
                    })?;
                }
                ctx.set_trailer("x-done", "yes")?;
                Ok(())
            }

            fn sum(
                &self,
                _ctx: &mut CallContext,
                requests: RequestStream<'_, $pkg::Item>,
            ) -> Result<$pkg::Summary, Status> {
                let mut summary = $pkg::Summary::default();
                for item in requests {
                    summary.count += 1;
                    summary.total += item?.value;
                }
                Ok(summary)
            }

            fn mirror(
                &self,
                _ctx: &mut CallContext,
                mut stream: BidiStream<'_, $pkg::Item, $pkg::Item>,
            ) -> Result<(), Status> {
                while let Some(item) = stream.recv()? {
                    stream.send(&$pkg::Item {
                        name: item.name.to_uppercase(),
                        ..item
                    })?;
                }
                Ok(())
            }
        }
    };
}

/// Implements every v1 method.
struct Full;

impl_kinds!(v1);
impl_kinds!(v2);

fn item(name: &str, value: i64) -> v1::Item {
    v1::Item {
        name: name.into(),
        value,
    }
}

fn v1_client() -> v1::kinds_client::KindsClient {
    let mut router = Router::new();
    v1::kinds_server::register(&mut router, Full);
    v1::kinds_client::KindsClient::new(MemoryChannel::new(router))
}

#[test]
fn all_four_kinds_through_generated_blocking_code() {
    let client = v1_client();

    assert_eq!(
        client.double(&item("a", 21), None).unwrap().into_inner(),
        item("a", 42)
    );

    let mut items = client
        .expand(&v1::ExpandRequest { count: 3 }, None)
        .unwrap();
    assert_eq!(items.headers().unwrap().get("x-count"), Some("3"));
    let names: Vec<String> = items.by_ref().map(|i| i.unwrap().name).collect();
    assert_eq!(names, ["item-1", "item-2", "item-3"]);
    assert_eq!(items.trailers().unwrap().get("x-done"), Some("yes"));

    let mut sum = client.sum(None).unwrap();
    for value in [1, 2, 3, 4] {
        sum.send(&item("x", value)).unwrap();
    }
    let summary = sum.close_and_recv().unwrap().message;
    assert_eq!(
        summary,
        v1::Summary {
            count: 4,
            total: 10
        }
    );

    // Bidi, interleaved: each reply comes back before the next request.
    let mut mirror = client.mirror(None).unwrap();
    for name in ["ping", "pong"] {
        mirror.send(&item(name, 1)).unwrap();
        assert_eq!(mirror.recv().unwrap().unwrap().name, name.to_uppercase());
    }
    mirror.close_send();
    assert_eq!(mirror.recv().unwrap(), None);
    assert!(mirror.finish().is_ok());
}

/// Overrides `double` only.
struct DoubleOnly;

impl v1::kinds_server::Kinds for DoubleOnly {
    fn double(&self, _ctx: &mut CallContext, request: v1::Item) -> Result<v1::Item, Status> {
        Ok(request)
    }
}

impl v1::kinds_server::AsyncKinds for DoubleOnly {
    async fn double(&self, _ctx: &mut CallContext, request: v1::Item) -> Result<v1::Item, Status> {
        Ok(request)
    }
}

fn assert_unimplemented<T: std::fmt::Debug>(result: Result<T, Status>, path: &str) {
    let err = result.unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented, "{path}: {err}");
    assert_eq!(err.message(), format!("{path} is not implemented"));
}

#[test]
fn methods_left_out_answer_unimplemented() {
    let mut router = Router::new();
    v1::kinds_server::register(&mut router, DoubleOnly);
    let client = v1::kinds_client::KindsClient::new(MemoryChannel::new(router));
    assert_eq!(
        client.double(&item("same", 1), None).unwrap().into_inner(),
        item("same", 1)
    );

    use v1::kinds_paths as paths;
    let mut expand = client
        .expand(&v1::ExpandRequest { count: 2 }, None)
        .unwrap();
    assert_unimplemented(expand.recv(), paths::EXPAND);
    let mut sum = client.sum(None).unwrap();
    // The server may already have answered; either way the status is the same.
    let _ = sum.send(&item("x", 1));
    assert_unimplemented(sum.close_and_recv(), paths::SUM);
    let mut mirror = client.mirror(None).unwrap();
    assert_unimplemented(mirror.recv(), paths::MIRROR);
}

#[tokio::test]
async fn methods_left_out_answer_unimplemented_async() {
    let mut router = AsyncRouter::new();
    v1::kinds_server::register_async(&mut router, DoubleOnly);
    let client = v1::kinds_client::AsyncKindsClient::new(AsyncMemoryChannel::new(router));
    assert_eq!(
        client
            .double(&item("same", 1), None)
            .await
            .unwrap()
            .into_inner(),
        item("same", 1)
    );
    let mut expand = client
        .expand(&v1::ExpandRequest { count: 2 }, None)
        .await
        .unwrap();
    assert_unimplemented(expand.recv().await, v1::kinds_paths::EXPAND);
    let sum = client.sum(None).await.unwrap();
    assert_unimplemented(sum.close_and_recv().await, v1::kinds_paths::SUM);
}

#[test]
fn the_v2_proto_compiles_against_the_v1_implementation() {
    // `Full` implements v2's trait with v1's methods only (see `impl_kinds!`).
    let mut router = Router::new();
    v2::kinds_server::register(&mut router, Full);
    let client = v2::kinds_client::KindsClient::new(MemoryChannel::new(router));
    let doubled = client
        .double(
            &v2::Item {
                name: "n".into(),
                value: 4,
            },
            None,
        )
        .unwrap();
    assert_eq!(doubled.message.value, 8);
    // The method added in v2 answers UNIMPLEMENTED until implemented.
    assert_unimplemented(
        client.negate(&v2::Item::default(), None),
        v2::kinds_paths::NEGATE,
    );
    assert_eq!(v2::kinds_paths::NEGATE, "/kinds.v2.Kinds/Negate");
}

/// The async implementation of every method.
struct AsyncFull;

impl v1::kinds_server::AsyncKinds for AsyncFull {
    async fn double(&self, _ctx: &mut CallContext, request: v1::Item) -> Result<v1::Item, Status> {
        Ok(v1::Item {
            value: request.value * 2,
            ..request
        })
    }

    async fn expand(
        &self,
        _ctx: &mut CallContext,
        request: v1::ExpandRequest,
        mut responses: AsyncResponseSink<'_, v1::Item>,
    ) -> Result<(), Status> {
        for i in 1..=request.count {
            responses.send(&item("n", i64::from(i))).await?;
        }
        Ok(())
    }

    async fn sum(
        &self,
        _ctx: &mut CallContext,
        mut requests: AsyncRequestStream<'_, v1::Item>,
    ) -> Result<v1::Summary, Status> {
        let mut summary = v1::Summary::default();
        while let Some(item) = requests.recv().await? {
            summary.count += 1;
            summary.total += item.value;
        }
        Ok(summary)
    }

    async fn mirror(
        &self,
        _ctx: &mut CallContext,
        mut stream: AsyncBidiStream<'_, v1::Item, v1::Item>,
    ) -> Result<(), Status> {
        while let Some(item) = stream.recv().await? {
            stream
                .send(&v1::Item {
                    name: item.name.to_uppercase(),
                    ..item
                })
                .await?;
        }
        Ok(())
    }
}

#[tokio::test]
async fn all_four_kinds_through_generated_async_code() {
    let mut router = AsyncRouter::new();
    v1::kinds_server::register_async(&mut router, AsyncFull);
    let client = v1::kinds_client::AsyncKindsClient::new(AsyncMemoryChannel::new(router));

    assert_eq!(
        client
            .double(&item("a", 5), None)
            .await
            .unwrap()
            .into_inner(),
        item("a", 10)
    );

    let mut items = client
        .expand(&v1::ExpandRequest { count: 2 }, None)
        .await
        .unwrap();
    assert_eq!(items.recv().await.unwrap(), Some(item("n", 1)));
    assert_eq!(items.recv().await.unwrap(), Some(item("n", 2)));
    assert_eq!(items.recv().await.unwrap(), None);

    let mut sum = client.sum(None).await.unwrap();
    sum.send(&item("a", 40)).await.unwrap();
    sum.send(&item("b", 2)).await.unwrap();
    assert_eq!(
        sum.close_and_recv().await.unwrap().message,
        v1::Summary {
            count: 2,
            total: 42
        }
    );

    let mut mirror = client.mirror(None).await.unwrap();
    mirror.send(&item("echo", 0)).await.unwrap();
    assert_eq!(mirror.recv().await.unwrap().unwrap().name, "ECHO");
    mirror.close_send().await;
    assert_eq!(mirror.recv().await.unwrap(), None);
}

#[tokio::test]
async fn an_async_bidi_call_splits_into_a_sender_and_a_receiver_for_two_tasks() {
    let mut router = AsyncRouter::new();
    v1::kinds_server::register_async(&mut router, AsyncFull);
    let client = v1::kinds_client::AsyncKindsClient::new(AsyncMemoryChannel::new(router));
    let (mut requests, mut responses) = client.mirror(None).await.unwrap().split();
    // The receiver waits first: the sender is not locked out by the wait.
    let receiver = tokio::spawn(async move {
        let mut names = Vec::new();
        while let Some(item) = responses.recv().await.unwrap() {
            names.push(item.name);
        }
        (names, responses.trailers())
    });
    tokio::task::yield_now().await;
    for name in ["a", "b", "c"] {
        requests.send(&item(name, 0)).await.unwrap();
    }
    requests.close_send().await;
    let (names, trailers) = receiver.await.unwrap();
    assert_eq!(names, ["A", "B", "C"]);
    assert!(trailers.is_some(), "the call ended");
}

#[test]
fn per_call_options_reach_the_server() {
    struct Inspect;
    impl v1::kinds_server::Kinds for Inspect {
        fn double(&self, ctx: &mut CallContext, _: v1::Item) -> Result<v1::Item, Status> {
            let remaining = ctx.remaining().expect("a deadline");
            Ok(v1::Item {
                name: ctx
                    .metadata()
                    .get("x-tenant")
                    .unwrap_or_default()
                    .to_owned(),
                value: i64::try_from(remaining.as_secs()).unwrap(),
            })
        }
    }
    let mut router = Router::new();
    v1::kinds_server::register(&mut router, Inspect);
    let client = v1::kinds_client::KindsClient::new(MemoryChannel::new(router));
    let mut options = RequestOptions::new().with_timeout(std::time::Duration::from_secs(60));
    options.metadata.insert("x-tenant", "acme").unwrap();
    let reply = client.double(&item("", 0), options).unwrap().message;
    assert_eq!(reply.name, "acme");
    assert!((58..=60).contains(&reply.value), "{}", reply.value);
}

#[test]
fn a_deadline_cancels_a_waiting_handler() {
    struct Slow;
    impl v1::kinds_server::Kinds for Slow {
        fn mirror(
            &self,
            ctx: &mut CallContext,
            mut stream: BidiStream<'_, v1::Item, v1::Item>,
        ) -> Result<(), Status> {
            // Waits for requests that never come; the deadline ends it.
            while let Some(item) = stream.recv()? {
                ctx.check()?;
                stream.send(&item)?;
            }
            Ok(())
        }
    }
    let mut router = Router::new();
    v1::kinds_server::register(&mut router, Slow);
    let client = v1::kinds_client::KindsClient::new(MemoryChannel::new(router));
    let mut mirror = client
        .mirror(RequestOptions::new().with_timeout(std::time::Duration::from_millis(50)))
        .unwrap();
    let err = mirror.recv().unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded);
}

#[test]
fn path_constants_and_the_descriptor_set() {
    assert_eq!(v1::kinds_paths::SERVICE_NAME, "kinds.v1.Kinds");
    assert_eq!(v1::kinds_paths::DOUBLE, "/kinds.v1.Kinds/Double");
    assert_eq!(v1::kinds_paths::EXPAND, "/kinds.v1.Kinds/Expand");
    assert_eq!(v1::kinds_paths::SUM, "/kinds.v1.Kinds/Sum");
    assert_eq!(v1::kinds_paths::MIRROR, "/kinds.v1.Kinds/Mirror");

    let fds = prost_types::FileDescriptorSet::decode(v1::FILE_DESCRIPTOR_SET).unwrap();
    let file = fds
        .file
        .iter()
        .find(|f| f.package() == "kinds.v1")
        .expect("kinds_v1.proto in the set");
    let service = &file.service[0];
    assert_eq!(service.name(), "Kinds");
    let methods: Vec<(&str, bool, bool)> = service
        .method
        .iter()
        .map(|m| (m.name(), m.client_streaming(), m.server_streaming()))
        .collect();
    assert_eq!(
        methods,
        [
            ("Double", false, false),
            ("Expand", false, true),
            ("Sum", true, false),
            ("Mirror", true, true)
        ]
    );
    assert!(file.source_code_info.is_none(), "kept small for reflection");
    let names: Vec<&str> = fds.file.iter().map(|f| f.name()).collect();
    assert!(names.contains(&"google/protobuf/empty.proto"), "{names:?}");
    assert!(names.contains(&"user.proto"), "{names:?}");
}
