//! Differential tests against the independent `hpack` crate: its encoder's
//! output through our decoder, and our encoder's output through its decoder.
//!
//! Only valid blocks ever reach the `hpack` crate's decoder: it panics on some
//! malformed input.

mod hpack {
    use bytes::Bytes;
    use grpc_sansio::hpack::{Decoder, Encoder, Header, HuffmanPolicy, IndexPolicy};
    use proptest::prelude::*;

    type Field = (Vec<u8>, Vec<u8>);

    fn field() -> impl Strategy<Value = Field> {
        let name = prop_oneof![
            prop::sample::select(vec![
                ":path",
                ":method",
                ":authority",
                "content-type",
                "grpc-status",
                "cookie",
                "authorization",
                "date",
                "x",
            ])
            .prop_map(|s| s.as_bytes().to_vec()),
            prop::collection::vec(any::<u8>(), 0..20),
        ];
        let value = prop_oneof![
            prop::sample::select(vec!["", "GET", "POST", "/", "application/grpc", "0"])
                .prop_map(|s| s.as_bytes().to_vec()),
            prop::collection::vec(any::<u8>(), 0..80),
            prop::collection::vec(any::<u8>(), 0..1500),
        ];
        (name, value)
    }

    fn blocks() -> impl Strategy<Value = Vec<Vec<Field>>> {
        prop::collection::vec(prop::collection::vec(field(), 0..10), 1..6)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn hpack_their_encoder_our_decoder(blocks in blocks()) {
            let mut theirs = ::hpack::Encoder::new();
            let mut ours = Decoder::new(4096);
            ours.set_max_header_list_size(usize::MAX);
            for fields in blocks {
                let block = theirs.encode(fields.iter().map(|(n, v)| (&n[..], &v[..])));
                let decoded = ours.decode_to_vec(&Bytes::from(block)).unwrap();
                let decoded: Vec<Field> = decoded
                    .into_iter()
                    .map(|h| (h.name.to_vec(), h.value.to_vec()))
                    .collect();
                prop_assert_eq!(decoded, fields);
            }
        }

        #[test]
        fn hpack_our_encoder_their_decoder(
            blocks in blocks(),
            sensitive in any::<bool>(),
            index in prop::sample::select(vec![IndexPolicy::Default, IndexPolicy::Always, IndexPolicy::Never]),
            coding in prop::sample::select(vec![HuffmanPolicy::WhenShorter, HuffmanPolicy::Always, HuffmanPolicy::Never]),
            table_size in prop::option::of(0usize..4096),
        ) {
            let mut ours = Encoder::new();
            ours.set_index_policy(index);
            ours.set_huffman_policy(coding);
            let mut theirs = ::hpack::Decoder::new();
            if let Some(size) = table_size {
                // Their decoder follows our size update without a setting of its own.
                ours.set_max_table_size(size);
            }
            for fields in blocks {
                let headers: Vec<Header> = fields
                    .iter()
                    .map(|(n, v)| Header {
                        name: Bytes::copy_from_slice(n),
                        value: Bytes::copy_from_slice(v),
                        sensitive,
                    })
                    .collect();
                let mut block = Vec::new();
                ours.encode(&headers, &mut block);
                let decoded = theirs.decode(&block).unwrap();
                prop_assert_eq!(decoded, fields);
            }
        }
    }

    /// A typical gRPC exchange, both ways, so that a regression shows up with a
    /// readable failure before any proptest shrinking.
    #[test]
    fn hpack_grpc_headers_both_ways() {
        let request = [
            Header::new(":method", "POST"),
            Header::new(":scheme", "http"),
            Header::new(":path", "/helloworld.Greeter/SayHello"),
            Header::new(":authority", "localhost:50051"),
            Header::new("content-type", "application/grpc"),
            Header::new("te", "trailers"),
            Header::new("grpc-timeout", "99m"),
            Header::new("user-agent", "grpc-sansio/0.1"),
        ];
        let mut ours = Encoder::new();
        let mut theirs = ::hpack::Decoder::new();
        for _ in 0..3 {
            let mut block = Vec::new();
            ours.encode(&request, &mut block);
            let decoded = theirs.decode(&block).unwrap();
            let expected: Vec<Field> = request
                .iter()
                .map(|h| (h.name.to_vec(), h.value.to_vec()))
                .collect();
            assert_eq!(decoded, expected);
        }

        let mut theirs = ::hpack::Encoder::new();
        let mut ours = Decoder::new(4096);
        for _ in 0..3 {
            let block = theirs.encode(request.iter().map(|h| (&h.name[..], &h.value[..])));
            assert_eq!(ours.decode_to_vec(&Bytes::from(block)).unwrap(), request);
        }
    }
}
